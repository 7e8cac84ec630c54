"""The referral clock: a background worker that warns and escalates unanswered referrals when they fall due."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import asyncpg

from services.catalog import handlers
from services.catalog.unit_of_work import PostgresCatalogUnitOfWork
from shared.background import DueTimeWorker
from shared.clock import Clock


class ReferralClock(DueTimeWorker):
    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        clock: Clock,
        batch_size: int = 500,
        poll_interval: float = 30.0,
        on_commit: Callable[[], None] | None = None,
    ) -> None:
        super().__init__("referral-clock", clock=clock, batch_size=batch_size, poll_interval=poll_interval)
        self._pool = pool
        self._on_commit = on_commit

    async def fire(self, *, now: datetime, limit: int) -> tuple[int, datetime | None]:
        async with PostgresCatalogUnitOfWork(self._pool, on_commit=self._on_commit) as uow:
            claimed = await handlers.fire_due_referrals(uow, now=now, limit=limit)
            return claimed, await uow.referrals.next_due()
