"""Routing's unit of work: what its use cases need (Protocols, so an in-memory fake can stand in for PostgreSQL in
unit tests) and the PostgreSQL one the service runs with."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol
from uuid import UUID

from asyncpg.pool import PoolConnectionProxy

from services.routing.domain import Assignment, NetworkSummary, School, SlaPolicy
from services.routing.repository import AssignmentRepository, DirectoryRepository
from shared.db.unit_of_work import Outbox, UnitOfWork


class Directory(Protocol):
    async def upsert(self, *, schools: Sequence[School]) -> None: ...

    async def get_schools(self, *, school_ids: Sequence[int]) -> dict[int, School]: ...

    async def get_school(self, *, school_id: int) -> School | None: ...

    async def list_networks(self) -> list[NetworkSummary]: ...


class Assignments(Protocol):
    async def get_sla_policies(self) -> dict[str, SlaPolicy]: ...

    async def insert_new(self, *, assignments: Sequence[Assignment]) -> set[UUID]: ...

    async def get(self, *, inquiry_id: UUID) -> Assignment | None: ...


class RoutingUnitOfWork(Outbox, Protocol):
    @property
    def directory(self) -> Directory: ...

    @property
    def assignments(self) -> Assignments: ...


class PostgresRoutingUnitOfWork(UnitOfWork):
    directory: DirectoryRepository
    assignments: AssignmentRepository

    def _bind(self, conn: PoolConnectionProxy) -> None:
        self.directory = DirectoryRepository(conn)
        self.assignments = AssignmentRepository(conn)
