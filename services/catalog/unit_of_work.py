"""The catalog's unit of work: what its use cases need (Protocols, so an in-memory fake can stand in for PostgreSQL in
unit tests) and the PostgreSQL one the service runs with."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal, Protocol

from asyncpg.pool import PoolConnectionProxy

from services.catalog.domain import Match, ResourcePage, TaxonomyTerm
from services.catalog.repository import ResourceRepository
from shared.contracts.catalog import (
    LocationDetails,
    OrganizationDetails,
    PhoneDetails,
    ResourceCategory,
    ResourceView,
    ServiceDetails,
)
from shared.db.unit_of_work import Outbox, UnitOfWork


class Resources(Protocol):
    async def search_services(
        self,
        *,
        match: Match,
        category: ResourceCategory | None,
        language: str | None,
        limit: int,
        offset: int,
    ) -> ResourcePage: ...

    async def get_services(self, *, service_ids: Sequence[str]) -> dict[str, ResourceView]: ...

    async def ensure_taxonomy(self, *, terms: Sequence[TaxonomyTerm]) -> list[str]: ...

    async def lock_for_seeding(self) -> None: ...

    async def location_owners(self, *, location_ids: Sequence[str]) -> dict[str, str]: ...

    async def upsert_organization(self, *, organization: OrganizationDetails) -> bool: ...

    async def upsert_locations(self, *, organization_id: str, locations: Sequence[LocationDetails]) -> list[str]: ...

    async def upsert_service(
        self,
        *,
        service_id: str,
        organization_id: str,
        service: ServiceDetails,
        fingerprint: str,
        now: datetime,
    ) -> Literal["created", "updated"] | None: ...

    async def replace_service_details(
        self,
        *,
        service_id: str,
        phones: Sequence[PhoneDetails],
        languages: Sequence[str],
        categories: Sequence[ResourceCategory],
        location_ids: Sequence[str],
    ) -> None: ...

    async def touch_services(
        self,
        *,
        service_ids: Sequence[str],
        organization_ids: Sequence[str],
        location_ids: Sequence[str],
        now: datetime,
    ) -> list[str]: ...

    async def refresh_search_documents(self, *, taxonomy_term_ids: Sequence[str]) -> None: ...


class CatalogUnitOfWork(Outbox, Protocol):
    @property
    def resources(self) -> Resources: ...


class PostgresCatalogUnitOfWork(UnitOfWork):
    resources: ResourceRepository

    def _bind(self, conn: PoolConnectionProxy) -> None:
        self.resources = ResourceRepository(conn)
