"""Routing's unit of work: what its use cases need (Protocols, so an in-memory fake can stand in for PostgreSQL in
unit tests) and the PostgreSQL one the service runs with."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Protocol
from uuid import UUID

from asyncpg.pool import PoolConnectionProxy
from pydantic_core import to_json

from services.routing.clocks import Assignment
from services.routing.directory import NetworkSummary, School
from services.routing.domain import HistoryEntry
from services.routing.repository import (
    AssignmentRepository,
    CalendarRepository,
    DirectoryRepository,
    StaffRepository,
)
from services.routing.staff import Staff, StaffPool
from shared.contracts.envelope import Event, kafka_headers
from shared.db.unit_of_work import Outbox, UnitOfWork


class Directory(Protocol):
    async def upsert(self, *, schools: Sequence[School]) -> None: ...

    async def get_schools(self, *, school_ids: Sequence[int]) -> dict[int, School]: ...

    async def get_school(self, *, school_id: int) -> School | None: ...

    async def list_networks(self) -> list[NetworkSummary]: ...


class Assignments(Protocol):
    async def insert_new(self, *, assignments: Sequence[Assignment]) -> set[UUID]: ...

    async def save(self, *, assignments: Sequence[Assignment], now: datetime) -> None: ...

    async def get(self, *, inquiry_id: UUID) -> Assignment | None: ...

    async def lock(self, *, inquiry_ids: Iterable[UUID]) -> dict[UUID, Assignment]: ...

    async def claim_due(self, *, now: datetime, limit: int) -> list[Assignment]: ...

    async def next_due(self) -> datetime | None: ...

    async def lock_open(self, *, school_ids: Sequence[int] | None = None) -> list[Assignment]: ...

    async def lock_without_clocks(self) -> list[Assignment]: ...

    async def open_in_network(self, *, network_id: str) -> list[Assignment]: ...

    async def add_history(self, *, entries: Sequence[HistoryEntry]) -> None: ...

    async def history(self, *, inquiry_id: UUID) -> list[HistoryEntry]: ...


class StaffDirectory(Protocol):
    async def pool(self, *, network_ids: Iterable[str]) -> StaffPool: ...

    async def confirm(self, *, staff: StaffPool) -> bool: ...

    async def add_load(self, *, changes: dict[str, int]) -> None: ...

    async def all(self, *, network_id: str | None = None) -> list[Staff]: ...

    async def get(self, *, staff_id: str) -> Staff | None: ...

    async def known_networks(self, *, network_ids: Iterable[str]) -> set[str]: ...

    async def upsert(self, *, staff: Sequence[Staff], only_new: bool, now: datetime) -> list[Staff]: ...


class Closures(Protocol):
    async def closures(self) -> dict[date, str]: ...

    async def add_closure(self, *, day: date, reason: str, now: datetime) -> bool: ...


class RoutingUnitOfWork(Outbox, Protocol):
    @property
    def directory(self) -> Directory: ...

    @property
    def assignments(self) -> Assignments: ...

    @property
    def staff(self) -> StaffDirectory: ...

    @property
    def calendar(self) -> Closures: ...


class PostgresRoutingUnitOfWork(UnitOfWork):
    directory: DirectoryRepository
    assignments: AssignmentRepository
    staff: StaffRepository
    calendar: CalendarRepository

    def _bind(self, conn: PoolConnectionProxy) -> None:
        self.directory = DirectoryRepository(conn)
        self.assignments = AssignmentRepository(conn)
        self.staff = StaffRepository(conn)
        self.calendar = CalendarRepository(conn)

    async def _write_outbox(self) -> None:
        """Right before the commit: the outbox rows as one JSON document, each event serialized once, straight into
        it (the deadline worker writes a thousand a round: an array per column costs asyncpg a Python check per
        element, and each payload would be parsed from text again); then, last, the staff loads (see
        ``StaffRepository.add_load``)."""
        if self._pending:
            await self.conn.execute(_INSERT_OUTBOX, outbox_json(self._pending))
        await self.staff.write_loads()


_INSERT_OUTBOX = (
    "INSERT INTO outbox (event_id, topic, key, event_type, payload, headers)"
    " SELECT (r->>0)::uuid, r->>1, r->>2, r->>3, r->4, r->5"
    " FROM jsonb_array_elements($1::text::jsonb) WITH ORDINALITY AS u(r, n) ORDER BY n"
)


def outbox_json(pending: Sequence[tuple[str, Event]]) -> str:
    """Outbox rows (event id, topic, key, type, the event, its Kafka headers) as one JSON array."""
    return to_json(
        [
            (
                event.event_id,
                topic,
                event.partition_key(),
                event.event_type,
                event,
                [[name, value.decode()] for name, value in kafka_headers(event)],
            )
            for topic, event in pending
        ]
    ).decode()
