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
from shared.background import DueTimeWorker
from shared.clock import Clock


class ClosingWorker(DueTimeWorker):
    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        clock: Clock,
        batch_size: int,
        on_commit: Callable[[], None] | None = None,
        poll_interval: float = 1.0,
    ) -> None:
        super().__init__("closing-sweep", clock=clock, batch_size=batch_size, poll_interval=poll_interval)
        self._pool = pool
        self._on_commit = on_commit

    async def fire(self, *, now: datetime, limit: int) -> tuple[int, datetime | None]:
        async with PostgresIntakeUnitOfWork(self._pool, on_commit=self._on_commit) as uow:
            claimed = await handlers.close_due(uow, now=now, limit=limit)
            return claimed, await handlers.next_close_due(uow)
