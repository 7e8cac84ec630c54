"""Intake's unit of work: what its use cases need (Protocols, so an in-memory fake can stand in for PostgreSQL in unit
tests) and the PostgreSQL one the service runs with."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol
from uuid import UUID

from asyncpg.pool import PoolConnectionProxy

from services.intake.domain import CaseState, HistoryEntry, Inquiry, Link, Note, QueueFilter
from services.intake.parents import Attempts, ParentRecord
from services.intake.repository import InquiryRepository, StatusPageRepository
from shared.db.unit_of_work import Outbox, UnitOfWork


class Inquiries(Protocol):
    async def next_reference_numbers(self, *, count: int) -> list[int]: ...

    async def claim_keys(self, *, claims: Sequence[tuple[str, str, UUID]]) -> set[UUID]: ...

    async def find_keys(self, *, keys: Sequence[str]) -> dict[str, tuple[str, UUID]]: ...

    async def add(self, *, inquiries: Sequence[Inquiry]) -> None: ...

    async def get(
        self, *, inquiry_id: UUID | None = None, reference: str | None = None, for_update: bool = False
    ) -> Inquiry | None: ...

    async def lock_states(self, *, inquiry_ids: Sequence[UUID]) -> dict[UUID, CaseState]: ...

    async def save_states(self, *, states: Sequence[CaseState]) -> None: ...

    async def save(self, *, inquiries: Sequence[Inquiry]) -> None: ...

    async def add_note(self, *, note: Note) -> None: ...

    async def visible_notes(self, *, inquiry_id: UUID) -> list[Note]: ...

    async def add_history(self, *, entries: Sequence[HistoryEntry]) -> None: ...

    async def history(self, *, inquiry_id: UUID) -> list[HistoryEntry]: ...

    async def add_links(self, *, links: Sequence[Link]) -> None: ...

    async def links(self, *, inquiry_id: UUID, both_ways: bool = False) -> list[Link]: ...

    async def likely_duplicates(self, *, inquiries: Sequence[Inquiry], since: datetime) -> dict[UUID, UUID]: ...

    async def find_action_key(self, *, key: str) -> tuple[str, UUID] | None: ...

    async def claim_action_key(self, *, key: str, fingerprint: str, inquiry_id: UUID, answer_id: UUID) -> bool: ...

    async def due_for_closing(self, *, now: datetime, limit: int) -> list[Inquiry]: ...

    async def next_close_due(self) -> datetime | None: ...

    async def queue(self, *, where: QueueFilter, limit: int) -> list[Inquiry]: ...


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
