"""The catalog's unit of work in memory, with sample data.

Searching is PostgreSQL's full text (tests/integration/test_catalog_service.py): here a search ignores the words and
keeps the filters, enough for the use cases that pass a page on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Literal

from fakes import FakeOutbox
from services.catalog.domain import Match, ResourcePage, SeedCatalog, TaxonomyTerm
from services.catalog.settings import DISTRICT_RESOURCES
from shared.contracts.catalog import (
    LocationDetails,
    LocationView,
    OrganizationDetails,
    OrganizationRef,
    PhoneDetails,
    PhoneView,
    ResourceCategory,
    ResourceUpsert,
    ResourceView,
    ServiceDetails,
)

# Sample data for the catalog's unit tests.
NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def pep_upsert(**changes: object) -> ResourceUpsert:
    body: dict[str, object] = {
        "service": {
            "name": "Parent and Educator Partnership (PEP)",
            "description": "Workshops for families of students with disabilities.",
        },
        "organization": {"id": "cps-odlss", "name": "Office of Diverse Learner Supports and Services"},
        "locations": [
            {
                "id": "odlss-125-s-clark",
                "name": "ODLSS offices",
                "address_1": "125 South Clark Street, 8th Floor",
                "city": "Chicago",
                "state_province": "IL",
                "postal_code": "60603",
            }
        ],
        "phones": [{"number": "(773) 553-1800"}],
        "languages": ["en", "es"],
        "categories": ["special_education"],
    }
    body.update(changes)
    return ResourceUpsert.model_validate(body)


def district_seed() -> SeedCatalog:
    return SeedCatalog.model_validate_json(DISTRICT_RESOURCES.read_text())


@dataclass(frozen=True)
class StoredService:
    organization_id: str
    details: ServiceDetails
    fingerprint: str
    updated_at: datetime
    phones: tuple[PhoneDetails, ...] = ()
    languages: tuple[str, ...] = ()
    categories: tuple[ResourceCategory, ...] = ()
    location_ids: tuple[str, ...] = ()


class FakeResources:
    def __init__(self) -> None:
        self.organizations: dict[str, OrganizationDetails] = {}
        self.locations: dict[str, tuple[str, LocationDetails]] = {}
        self.services: dict[str, StoredService] = {}
        self.terms: dict[str, TaxonomyTerm] = {}
        self.seed_locks = 0

    async def search_services(
        self,
        *,
        match: Match,
        category: ResourceCategory | None,
        language: str | None,
        limit: int,
        offset: int,
    ) -> ResourcePage:
        found = sorted(
            (
                self._view(service_id)
                for service_id, stored in self.services.items()
                if stored.details.status == "active"
                and category in (None, *stored.categories)
                and language in (None, *stored.languages)
            ),
            key=lambda view: (view.name, view.id),
        )
        return ResourcePage(total=len(found), results=found[offset : offset + limit])

    async def get_services(self, *, service_ids: Sequence[str]) -> dict[str, ResourceView]:
        return {service_id: self._view(service_id) for service_id in service_ids if service_id in self.services}

    async def ensure_taxonomy(self, *, terms: Sequence[TaxonomyTerm]) -> list[str]:
        changed = [term.id for term in terms if self.terms.get(term.id) != term]
        self.terms.update((term.id, term) for term in terms)
        return changed

    async def lock_for_seeding(self) -> None:
        self.seed_locks += 1

    async def location_owners(self, *, location_ids: Sequence[str]) -> dict[str, str]:
        return {i: self.locations[i][0] for i in location_ids if i in self.locations}

    async def upsert_organization(self, *, organization: OrganizationDetails) -> bool:
        if self.organizations.get(organization.id) == organization:
            return False
        self.organizations[organization.id] = organization
        return True

    async def upsert_locations(self, *, organization_id: str, locations: Sequence[LocationDetails]) -> list[str]:
        written: list[str] = []
        for location in locations:
            owner, stored = self.locations.get(location.id, (organization_id, None))
            if owner == organization_id and stored != location:
                self.locations[location.id] = (organization_id, location)
                written.append(location.id)
        return written

    async def upsert_service(
        self,
        *,
        service_id: str,
        organization_id: str,
        service: ServiceDetails,
        fingerprint: str,
        now: datetime,
    ) -> Literal["created", "updated"] | None:
        stored = self.services.get(service_id)
        if stored is not None and stored.fingerprint == fingerprint:
            return None
        self.services[service_id] = StoredService(organization_id, service, fingerprint, now)
        return "created" if stored is None else "updated"

    async def replace_service_details(
        self,
        *,
        service_id: str,
        phones: Sequence[PhoneDetails],
        languages: Sequence[str],
        categories: Sequence[ResourceCategory],
        location_ids: Sequence[str],
    ) -> None:
        if not {category.value for category in categories} <= {term.code for term in self.terms.values()}:
            raise RuntimeError("a category has no taxonomy term: ensure_taxonomy must run before upserts")
        self.services[service_id] = replace(
            self.services[service_id],
            phones=tuple(phones),
            languages=tuple(languages),
            categories=tuple(categories),
            location_ids=tuple(location_ids),
        )

    async def touch_services(
        self,
        *,
        service_ids: Sequence[str],
        organization_ids: Sequence[str],
        location_ids: Sequence[str],
        now: datetime,
    ) -> list[str]:
        touched = [
            service_id
            for service_id, stored in self.services.items()
            if service_id in service_ids
            or stored.organization_id in organization_ids
            or set(stored.location_ids) & set(location_ids)
        ]
        for service_id in touched:
            self.services[service_id] = replace(self.services[service_id], updated_at=now)
        return touched

    async def refresh_search_documents(self, *, taxonomy_term_ids: Sequence[str]) -> None:
        """Search documents are PostgreSQL's: nothing to keep here."""

    def _view(self, service_id: str) -> ResourceView:
        stored = self.services[service_id]
        organization = self.organizations[stored.organization_id]
        return ResourceView(
            id=service_id,
            **stored.details.model_dump(mode="json"),  # name, description, url, status...: the view shows them as sent
            organization=OrganizationRef(id=organization.id, name=organization.name),
            categories=list(stored.categories),
            languages=list(stored.languages),
            phones=[PhoneView(**phone.model_dump()) for phone in stored.phones],
            locations=[
                LocationView(**self.locations[i][1].model_dump(include=set(LocationView.model_fields)))
                for i in stored.location_ids
            ],
            updated_at=stored.updated_at,
        )


class FakeCatalogUnitOfWork(FakeOutbox):
    def __init__(self) -> None:
        super().__init__()
        self.resources = FakeResources()


class FakeTopics:
    """The broker's topics, as ``handlers.KnownTopics``."""

    def __init__(self, *topics: str) -> None:
        self.topics = set(topics)

    async def exists(self, topic: str) -> bool:
        return topic in self.topics
