"""The catalog's unit of work: what its use cases need (Protocols, so an in-memory fake can stand in for PostgreSQL in
unit tests) and the PostgreSQL one the service runs with."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from types import TracebackType
from typing import Any, Literal, Protocol, Self
from uuid import UUID

from asyncpg.pool import PoolConnectionProxy

from services.catalog.domain import EventSchedule, LocationFilters, Match, ResourcePage, SearchFilters, TaxonomyTerm
from services.catalog.places import School
from services.catalog.referrals import AwaitingReply, DueReferral, MovedDue, NewReferral
from services.catalog.repository import (
    CalendarRepository,
    DirectoryRepository,
    ReferralRepository,
    ResourceRepository,
)
from shared.contracts.catalog import (
    ContactDetails,
    LocationDetails,
    OrganizationDetails,
    PhoneDetails,
    ReferralView,
    ResourceCategory,
    ResourceView,
    ScheduleDetails,
    ServiceDetails,
)
from shared.contracts.envelope import Event
from shared.db.unit_of_work import Outbox, UnitOfWork


class Resources(Protocol):
    async def search_services(
        self, *, match: Match, filters: SearchFilters, limit: int, offset: int
    ) -> ResourcePage: ...

    async def all_service_ids(self) -> list[str]: ...

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
        contacts: Sequence[ContactDetails] = (),
        schedules: Sequence[ScheduleDetails] = (),
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


class Directory(Protocol):
    async def refresh_lexicon(self, *, extra_words: Sequence[str]) -> None: ...

    async def correct_words(self, *, words: Sequence[str]) -> dict[str, str]: ...

    async def upsert_schools(self, *, organization_id: str, schools: Sequence[School]) -> int: ...

    async def school_point(self, *, school_id: str) -> tuple[float, float] | None: ...

    async def list_locations(
        self, *, filters: LocationFilters, limit: int, offset: int
    ) -> tuple[int, list[dict[str, Any]]]: ...

    async def get_location(self, *, location_id: str) -> dict[str, Any] | None: ...

    async def list_organizations(self, *, limit: int, offset: int) -> tuple[int, list[dict[str, Any]]]: ...

    async def get_organization(self, *, organization_id: str) -> dict[str, Any] | None: ...

    async def list_taxonomy_terms(self) -> list[dict[str, Any]]: ...

    async def event_schedules(self, *, service_id: str | None, language: str | None) -> list[EventSchedule]: ...


class Referrals(Protocol):
    async def department_name(self, *, service_id: str) -> str | None: ...

    async def add(self, *, referral: NewReferral) -> ReferralView | None: ...

    async def by_request_key(self, *, request_key: str) -> ReferralView | None: ...

    async def get(self, *, referral_id: UUID) -> ReferralView | None: ...

    async def of_inquiry(self, *, inquiry_id: UUID) -> list[ReferralView]: ...

    async def answer(self, *, referral_id: UUID, answer: str, answered_by: str, now: datetime) -> bool: ...

    async def claim_due(self, *, now: datetime, limit: int) -> list[DueReferral]: ...

    async def next_due(self) -> datetime | None: ...

    async def lock_awaiting_reply(self, *, due_from: datetime) -> list[AwaitingReply]: ...

    async def move_due(self, *, moved: Sequence[MovedDue]) -> None: ...


class Calendar(Protocol):
    async def closures(self) -> dict[date, str]: ...

    async def add_closure(self, *, day: date, reason: str, now: datetime) -> bool: ...


class CatalogUnitOfWork(Outbox, Protocol):
    @property
    def resources(self) -> Resources: ...

    @property
    def directory(self) -> Directory: ...

    @property
    def referrals(self) -> Referrals: ...

    @property
    def calendar(self) -> Calendar: ...


class PostgresCatalogUnitOfWork(UnitOfWork):
    resources: ResourceRepository
    directory: DirectoryRepository
    referrals: ReferralRepository
    calendar: CalendarRepository

    def _bind(self, conn: PoolConnectionProxy) -> None:
        self.resources = ResourceRepository(conn)
        self.directory = DirectoryRepository(conn)
        self.referrals = ReferralRepository(conn)
        self.calendar = CalendarRepository(conn)


class PostgresCatalogReader(PostgresCatalogUnitOfWork):
    """Reads only: one pooled connection and no transaction (a search is one statement, a view one more); nothing
    is emitted, so there is nothing to commit and no relay to wake."""

    async def __aenter__(self) -> Self:
        self._conn = await self._pool.acquire()
        self._bind(self._conn)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._conn is not None
        try:
            await self._pool.release(self._conn)
        finally:
            self._conn = None

    def emit(self, topic: str, event: Event) -> None:
        raise RuntimeError("a reader emits nothing: use the unit of work")
