"""The catalog's unit of work in memory, with sample data.

Searching is PostgreSQL's full text (tests/integration/test_catalog_service.py): here a search ignores the words and
keeps the filters, enough for the use cases that pass a page on.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any, Literal
from uuid import UUID

from fakes import FakeOutbox
from services.catalog.domain import (
    EventSchedule,
    LocationFilters,
    Match,
    ResourcePage,
    SearchFilters,
    SeedCatalog,
    TaxonomyTerm,
)
from services.catalog.places import School
from services.catalog.referrals import AwaitingReply, DueReferral, MovedDue, NewReferral, warn_at
from services.catalog.settings import DISTRICT_RESOURCES
from shared.contracts.catalog import (
    ContactDetails,
    LocationDetails,
    LocationView,
    OrganizationDetails,
    OrganizationRef,
    PhoneDetails,
    PhoneView,
    ReferralView,
    ResourceCategory,
    ResourceUpsert,
    ResourceView,
    ScheduleDetails,
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
    contacts: tuple[ContactDetails, ...] = ()
    schedules: tuple[ScheduleDetails, ...] = ()


class FakeResources:
    def __init__(self) -> None:
        self.organizations: dict[str, OrganizationDetails] = {}
        self.locations: dict[str, tuple[str, LocationDetails]] = {}
        self.services: dict[str, StoredService] = {}
        self.terms: dict[str, TaxonomyTerm] = {}
        self.seed_locks = 0
        self.searches: list[Match] = []

    async def search_services(self, *, match: Match, filters: SearchFilters, limit: int, offset: int) -> ResourcePage:
        self.searches.append(match)
        category, language = filters.category, filters.language
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

    async def all_service_ids(self) -> list[str]:
        return sorted(self.services)

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
        contacts: Sequence[ContactDetails] = (),
        schedules: Sequence[ScheduleDetails] = (),
    ) -> None:
        if not {category.value for category in categories} <= {term.code for term in self.terms.values()}:
            raise RuntimeError("a category has no taxonomy term: ensure_taxonomy must run before upserts")
        self.services[service_id] = replace(
            self.services[service_id],
            phones=tuple(phones),
            languages=tuple(languages),
            categories=tuple(categories),
            location_ids=tuple(location_ids),
            contacts=tuple(contacts),
            schedules=tuple(schedules),
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
            # name, description, url, status...: the view shows them as sent
            **stored.details.model_dump(mode="json", exclude={"translations", "grades"}),
            translations={code: t.model_dump() for code, t in stored.details.translations.items()},
            grades=list(stored.details.grades),
            contacts=[c.model_dump() for c in stored.contacts],
            schedules=[h.model_dump() for h in stored.schedules],
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


class FakeDirectory:
    """The lexicon, schools and events in memory: enough for the use cases that read them."""

    def __init__(self) -> None:
        self.lexicon: set[str] = set()
        self.schools: dict[str, School] = {}
        self.events: list[EventSchedule] = []

    async def refresh_lexicon(self, *, extra_words: Sequence[str]) -> None:
        self.lexicon.update(extra_words)

    async def correct_words(self, *, words: Sequence[str]) -> dict[str, str]:
        """The nearest lexicon word by difflib's ratio (PostgreSQL uses trigrams)."""
        corrections = {}
        for word in words:
            if len(word) > 3 and word not in self.lexicon:
                close = difflib.get_close_matches(word, sorted(self.lexicon), n=1, cutoff=0.7)
                if close:
                    corrections[word] = close[0]
        return corrections

    async def upsert_schools(self, *, organization_id: str, schools: Sequence[School]) -> int:
        changed = [school for school in schools if self.schools.get(school.id) != school]
        self.schools.update((school.id, school) for school in changed)
        return len(changed)

    async def school_point(self, *, school_id: str) -> tuple[float, float] | None:
        for school in self.schools.values():
            if school.school_id == school_id and school.latitude is not None and school.longitude is not None:
                return school.latitude, school.longitude
        return None

    async def list_locations(
        self, *, filters: LocationFilters, limit: int, offset: int
    ) -> tuple[int, list[dict[str, Any]]]:
        raise NotImplementedError("listing locations is PostgreSQL's (tests/integration/test_catalog_directory.py)")

    async def get_location(self, *, location_id: str) -> dict[str, Any] | None:
        raise NotImplementedError("reading locations is PostgreSQL's")

    async def list_organizations(self, *, limit: int, offset: int) -> tuple[int, list[dict[str, Any]]]:
        raise NotImplementedError("listing organizations is PostgreSQL's")

    async def get_organization(self, *, organization_id: str) -> dict[str, Any] | None:
        raise NotImplementedError("reading organizations is PostgreSQL's")

    async def list_taxonomy_terms(self) -> list[dict[str, Any]]:
        raise NotImplementedError("listing terms is PostgreSQL's")

    async def event_schedules(self, *, service_id: str | None, language: str | None) -> list[EventSchedule]:
        return [
            event
            for event in self.events
            if service_id in (None, event.service_id) and language in (None, event.schedule.language)
        ]


class FakeReferrals:
    def __init__(self, resources: FakeResources) -> None:
        self._resources = resources
        self.rows: dict[UUID, ReferralView] = {}
        self.keys: dict[str, UUID] = {}
        self.warned: set[UUID] = set()
        self.escalated: set[UUID] = set()
        self.business_days: dict[UUID, int] = {}

    async def department_name(self, *, service_id: str) -> str | None:
        stored = self._resources.services.get(service_id)
        return stored.details.name if stored is not None and stored.details.status == "active" else None

    async def add(self, *, referral: NewReferral) -> ReferralView | None:
        if referral.request_key is not None and referral.request_key in self.keys:
            return None
        self.rows[referral.id] = ReferralView(
            id=referral.id,
            inquiry_id=referral.inquiry_id,
            service_id=referral.service_id,
            department=referral.department,
            referred_by=referral.referred_by,
            network_id=referral.network_id,
            reason=referral.reason,
            status="open",
            referred_at=referral.referred_at,
            reply_due_at=referral.reply_due_at,
        )
        if referral.request_key is not None:
            self.keys[referral.request_key] = referral.id
        self.business_days[referral.id] = referral.reply_business_days
        return self.rows[referral.id]

    async def by_request_key(self, *, request_key: str) -> ReferralView | None:
        found = self.keys.get(request_key)
        return None if found is None else self.rows[found]

    async def get(self, *, referral_id: UUID) -> ReferralView | None:
        return self.rows.get(referral_id)

    async def of_inquiry(self, *, inquiry_id: UUID) -> list[ReferralView]:
        return [row for row in self.rows.values() if row.inquiry_id == inquiry_id]

    async def claim_due(self, *, now: datetime, limit: int) -> list[DueReferral]:
        due: list[DueReferral] = []
        for row in sorted(self.rows.values(), key=lambda r: (self.next_at(r), str(r.id))):
            if row.status != "open" or row.id in self.escalated or self.next_at(row) > now or len(due) == limit:
                continue
            warn = row.id not in self.warned and warn_at(row.referred_at, row.reply_due_at) <= now
            escalate = row.reply_due_at <= now
            self.warned.add(row.id)
            if escalate:
                self.escalated.add(row.id)
            due.append(
                DueReferral(row.id, row.inquiry_id, row.service_id, row.department, row.network_id,
                            row.reply_due_at, warn, escalate)
            )  # fmt: skip
        return due

    def next_at(self, row: ReferralView) -> datetime:
        return row.reply_due_at if row.id in self.warned else warn_at(row.referred_at, row.reply_due_at)

    async def next_due(self) -> datetime | None:
        open_ = [r for r in self.rows.values() if r.status == "open" and r.id not in self.escalated]
        return min((self.next_at(r) for r in open_), default=None)

    async def lock_awaiting_reply(self, *, due_from: datetime) -> list[AwaitingReply]:
        return [
            AwaitingReply(row.id, row.referred_at, row.reply_due_at, self.business_days.get(row.id))
            for row in sorted(self.rows.values(), key=lambda r: str(r.id))
            if row.status == "open" and row.id not in self.escalated and row.reply_due_at >= due_from
        ]

    async def move_due(self, *, moved: Sequence[MovedDue]) -> None:
        for m in moved:  # the warning time follows from the due time here (next_at)
            self.rows[m.id] = self.rows[m.id].model_copy(update={"reply_due_at": m.reply_due_at})

    async def answer(self, *, referral_id: UUID, answer: str, answered_by: str, now: datetime) -> bool:
        row = self.rows[referral_id]
        if row.status == "answered":
            return False
        self.rows[referral_id] = row.model_copy(
            update={"status": "answered", "answer": answer, "answered_by": answered_by, "answered_at": now}
        )
        return True


class FakeCalendar:
    def __init__(self) -> None:
        self.closed: dict[date, str] = {}

    async def closures(self) -> dict[date, str]:
        return dict(self.closed)

    async def add_closure(self, *, day: date, reason: str, now: datetime) -> bool:
        if day in self.closed:
            return False
        self.closed[day] = reason
        return True


class FakeCatalogUnitOfWork(FakeOutbox):
    def __init__(self) -> None:
        super().__init__()
        self.resources = FakeResources()
        self.directory = FakeDirectory()
        self.referrals = FakeReferrals(self.resources)
        self.calendar = FakeCalendar()


class FakeTopics:
    """The broker's topics, as ``handlers.KnownTopics``."""

    def __init__(self, *topics: str) -> None:
        self.topics = set(topics)

    async def exists(self, topic: str) -> bool:
        return topic in self.topics
