"""Intake's unit of work: what its use cases need (Protocols, so an in-memory fake can stand in for PostgreSQL in unit
tests) and the PostgreSQL one the service runs with."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol
from uuid import UUID

from asyncpg.pool import PoolConnectionProxy

from services.intake.domain import Assignment, Inquiry
from services.intake.parents import Attempts, ParentRecord
from services.intake.repository import InquiryRepository, StatusPageRepository
from shared.db.unit_of_work import Outbox, UnitOfWork


class Inquiries(Protocol):
    async def next_reference_numbers(self, *, count: int) -> list[int]: ...

    async def claim_keys(self, *, claims: Sequence[tuple[str, str, UUID]]) -> set[UUID]: ...

    async def find_keys(self, *, keys: Sequence[str]) -> dict[str, tuple[str, UUID]]: ...

    async def add(self, *, inquiries: Sequence[Inquiry]) -> None: ...

    async def get(self, *, inquiry_id: UUID | None = None, reference: str | None = None) -> Inquiry | None: ...

    async def assignments_for_update(self, *, inquiry_ids: Sequence[UUID]) -> dict[UUID, Assignment | None]: ...

    async def save_assignments(self, *, assignments: Mapping[UUID, Assignment]) -> None: ...


class StatusPages(Protocol):
    """The parent's status page: tokens, what the parent may see, attempts per reference and client."""

    async def add_tokens(self, *, digests: Mapping[UUID, bytes]) -> None: ...

    async def parent_record(self, *, reference: str) -> ParentRecord | None: ...

    async def count_attempts(
        self, *, keys: Sequence[tuple[str, str]], now: datetime, window_ends: datetime
    ) -> dict[str, Attempts]: ...

    async def take_back(self, *, keys: Sequence[tuple[str, str]]) -> None: ...

    async def prune_attempts(self, *, now: datetime, limit: int = 100) -> None: ...


class IntakeUnitOfWork(Outbox, Protocol):
    @property
    def inquiries(self) -> Inquiries: ...

    @property
    def status_pages(self) -> StatusPages: ...


class PostgresIntakeUnitOfWork(UnitOfWork):
    inquiries: InquiryRepository
    status_pages: StatusPageRepository

    def _bind(self, conn: PoolConnectionProxy) -> None:
        self.inquiries = InquiryRepository(conn)
        self.status_pages = StatusPageRepository(conn)
