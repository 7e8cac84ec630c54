"""Notify's unit of work: what its use cases need (Protocols, so an in-memory fake can stand in for PostgreSQL in unit
tests) and the PostgreSQL one the service runs with."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol
from uuid import UUID

from asyncpg.pool import PoolConnectionProxy

from services.notify.domain import AttemptOutcome, ClaimedDelivery, Contact, DeliveryEntry, PlannedDelivery
from services.notify.repository import ContactRepository, DeliveryRepository, SuppressionRepository
from shared.db.unit_of_work import Outbox, UnitOfWork


class Contacts(Protocol):
    async def upsert(self, *, contacts: Sequence[Contact], now: datetime) -> None: ...


class Suppressions(Protocol):
    async def among(self, *, addresses: Sequence[tuple[str, str]]) -> set[tuple[str, str]]: ...

    async def add(self, *, channel: str, address: str, reason: str) -> None: ...


class Deliveries(Protocol):
    async def insert(self, *, planned: Sequence[PlannedDelivery], now: datetime) -> set[UUID]: ...

    async def claim_due(self, *, limit: int, now: datetime, lease_seconds: float) -> list[ClaimedDelivery]: ...

    async def record_outcomes(
        self, *, outcomes: Sequence[tuple[UUID, AttemptOutcome, str | None]], now: datetime
    ) -> None: ...

    async def of_inquiry(self, *, inquiry_id: UUID) -> list[DeliveryEntry]: ...


class NotifyUnitOfWork(Outbox, Protocol):
    @property
    def contacts(self) -> Contacts: ...

    @property
    def suppressions(self) -> Suppressions: ...

    @property
    def deliveries(self) -> Deliveries: ...


class PostgresNotifyUnitOfWork(UnitOfWork):
    contacts: ContactRepository
    suppressions: SuppressionRepository
    deliveries: DeliveryRepository

    def _bind(self, conn: PoolConnectionProxy) -> None:
        self.contacts = ContactRepository(conn)
        self.suppressions = SuppressionRepository(conn)
        self.deliveries = DeliveryRepository(conn)
