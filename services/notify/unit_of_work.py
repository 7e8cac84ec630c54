"""Notify's unit of work: what its use cases need (Protocols, so an in-memory fake can stand in for PostgreSQL in unit
tests) and the PostgreSQL one the service runs with."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from asyncpg.pool import PoolConnectionProxy

from services.notify.domain import (
    AttemptOutcome,
    ClaimedDelivery,
    Contact,
    DeliveryEntry,
    PlannedDelivery,
    Rendered,
    StaffMember,
    Suppressed,
)
from services.notify.repository import (
    ContactRepository,
    DeliveryRepository,
    StaffRepository,
    SuppressionRepository,
    WaitingEventRepository,
)
from services.notify.resource_lookups import HeldAcknowledgment, ResourceLookupRepository
from services.notify.resources import ResourceWait
from shared.contracts.catalog import ResourceView
from shared.db.unit_of_work import Outbox, UnitOfWork


class Contacts(Protocol):
    async def upsert(self, *, contacts: Sequence[Contact], now: datetime) -> None: ...

    async def of(self, *, inquiry_ids: Collection[UUID]) -> dict[UUID, Contact]: ...

    async def lock(self, *, inquiry_ids: Collection[UUID]) -> None: ...

    async def set_offices(self, *, offices: Sequence[tuple[UUID, str]], now: datetime) -> None: ...

    async def latest_by_phone(self, *, phone: str) -> Contact | None: ...


class Staff(Protocol):
    async def upsert(self, *, staff: Sequence[tuple[StaffMember, datetime]]) -> None: ...

    async def of(self, *, staff_ids: Collection[str]) -> dict[str, StaffMember]: ...


class WaitingEvents(Protocol):
    async def park(self, *, events: Sequence[tuple[UUID, UUID, str, str]], now: datetime) -> None: ...

    async def take(self, *, inquiry_ids: Collection[UUID]) -> list[str]: ...


class Suppressions(Protocol):
    async def state(self, *, addresses: Sequence[tuple[str, str]]) -> Suppressed: ...

    async def among(self, *, addresses: Sequence[tuple[str, str]]) -> set[tuple[str, str]]: ...

    async def add(self, *, channel: str, address: str, reason: str, kind: str = "manual") -> bool: ...

    async def lift(self, *, channel: str, address: str) -> bool: ...

    async def entries(self, *, addresses: Sequence[tuple[str, str]]) -> list[dict[str, Any]]: ...


class Deliveries(Protocol):
    async def insert(self, *, planned: Sequence[PlannedDelivery], now: datetime) -> set[UUID]: ...

    async def claim_due(self, *, limit: int, now: datetime, lease_seconds: float) -> list[ClaimedDelivery]: ...

    async def record_outcomes(
        self, *, outcomes: Sequence[tuple[UUID, AttemptOutcome, str | None]], now: datetime
    ) -> None: ...

    async def log_attempts(self, *, attempts: Sequence[tuple[UUID, int, str, str | None]], now: datetime) -> None: ...

    async def of_inquiry(self, *, inquiry_id: UUID) -> list[DeliveryEntry]: ...

    async def attempts_of(self, *, inquiry_id: UUID) -> list[dict[str, Any]]: ...

    async def get(self, *, delivery_id: UUID) -> tuple[ClaimedDelivery, str, dict[str, str | None]] | None: ...

    async def by_provider_id(self, *, provider_message_id: str) -> tuple[ClaimedDelivery, str] | None: ...

    async def report(
        self, *, delivery_id: UUID, provider_status: str, error_code: str | None, now: datetime
    ) -> None: ...

    async def requeue(
        self, *, delivery_id: UUID, at: datetime, reason: str | None, now: datetime, statuses: Sequence[str]
    ) -> bool: ...

    async def lock_messages(self, *, message_sids: Collection[str]) -> None: ...

    async def hold_report(self, *, message_sid: str, status: str, error_code: str | None, now: datetime) -> None: ...

    async def take_reports(self, *, message_sids: Collection[str]) -> list[tuple[str, str, str | None]]: ...

    async def fail(self, *, delivery_id: UUID, reason: str, now: datetime) -> None: ...


class ResourceLookups(Protocol):
    async def start(self, *, waits: Sequence[ResourceWait], wait_seconds: float, now: datetime) -> set[UUID]: ...

    async def settle(
        self, *, request_ids: Collection[UUID], outcome: str, resources: int | None, now: datetime
    ) -> list[UUID]: ...

    async def keep_answers(
        self, *, answers: Sequence[tuple[UUID, Sequence[ResourceView]]]
    ) -> dict[str, list[ResourceView]]: ...

    async def settle_answered(self, *, found: Mapping[str, int], now: datetime) -> dict[UUID, str]: ...

    async def fresh_answers(
        self, *, categories: Collection[str], fresh_seconds: float
    ) -> dict[str, list[ResourceView]]: ...

    async def settle_overdue(self, *, limit: int, now: datetime) -> list[UUID]: ...

    async def held(self, *, event_ids: Collection[UUID]) -> list[HeldAcknowledgment]: ...

    async def release(
        self, *, releases: Sequence[tuple[UUID, Rendered, dict[str, str | None]]], now: datetime
    ) -> None: ...

    async def release_as_planned(self, *, event_ids: Collection[UUID], now: datetime) -> None: ...


class NotifyUnitOfWork(Outbox, Protocol):
    @property
    def contacts(self) -> Contacts: ...

    @property
    def staff(self) -> Staff: ...

    @property
    def waiting(self) -> WaitingEvents: ...

    @property
    def suppressions(self) -> Suppressions: ...

    @property
    def deliveries(self) -> Deliveries: ...

    @property
    def resources(self) -> ResourceLookups: ...


class PostgresNotifyUnitOfWork(UnitOfWork):
    contacts: ContactRepository
    staff: StaffRepository
    waiting: WaitingEventRepository
    suppressions: SuppressionRepository
    deliveries: DeliveryRepository
    resources: ResourceLookupRepository

    def _bind(self, conn: PoolConnectionProxy) -> None:
        self.contacts = ContactRepository(conn)
        self.staff = StaffRepository(conn)
        self.waiting = WaitingEventRepository(conn)
        self.suppressions = SuppressionRepository(conn)
        self.deliveries = DeliveryRepository(conn)
        self.resources = ResourceLookupRepository(conn)
