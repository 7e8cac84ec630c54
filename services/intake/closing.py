"""The closing sweep: a resolved inquiry whose reopen window has passed is closed (``inquiry.closed``, reason
``reopen_window_passed``) without anyone touching it.

Like routing's deadline worker: each round claims up to a batch of due rows (``close_due_at``, partial index) with
``FOR UPDATE SKIP LOCKED`` and commits the new status, the history entries and the outbox events in one transaction,
so replicas share the work and each inquiry closes once. Between rounds it sleeps until the next window ends, at
most a poll interval, and wakes at once after a local commit that resolved an inquiry.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import asyncpg

from services.intake import handlers
from services.intake.unit_of_work import PostgresIntakeUnitOfWork
from shared.background import RoundWorker
from shared.clock import Clock, real_seconds


class ClosingWorker(RoundWorker):
    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        clock: Clock,
        batch_size: int,
        on_commit: Callable[[], None] | None = None,
        poll_interval: float = 1.0,
    ) -> None:
        super().__init__(
            "closing-sweep",
            self.close_due,
            batch_size=batch_size,
            poll_interval=poll_interval,
            idle_timeout=self._until_next,
        )
        self._pool = pool
        self._clock = clock
        self._on_commit = on_commit
        self._next: datetime | None = None

    async def close_due(self) -> int:
        """One round: close what is due now; returns how many inquiries it claimed."""
        async with PostgresIntakeUnitOfWork(self._pool, on_commit=self._on_commit) as uow:
            claimed = await handlers.close_due(uow, now=self._clock.now(), limit=self._batch_size)
        if claimed < self._batch_size:
            async with PostgresIntakeUnitOfWork(self._pool) as uow:
                self._next = await handlers.next_close_due(uow)
        return claimed

    def _until_next(self) -> float:
        if self._next is None:
            return self._poll_interval
        return real_seconds(self._clock, self._next - self._clock.now())
