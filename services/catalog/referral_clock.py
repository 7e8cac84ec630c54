"""The referral clock: a background worker that warns and escalates unanswered referrals when they fall due."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import asyncpg

from services.catalog import handlers
from services.catalog.unit_of_work import PostgresCatalogUnitOfWork
from shared.background import RoundWorker
from shared.clock import Clock, real_seconds


class ReferralClock(RoundWorker):
    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        clock: Clock,
        batch_size: int = 500,
        poll_interval: float = 30.0,
        on_commit: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(
            "referral-clock",
            self.fire_due,
            batch_size=batch_size,
            poll_interval=poll_interval,
            idle_timeout=self._until_next,
        )
        self._pool = pool
        self._clock = clock
        self._on_commit = on_commit
        self._next: datetime | None = None

    async def fire_due(self) -> int:
        """One round: fire what is due now; then note when the next one falls due."""
        async with PostgresCatalogUnitOfWork(self._pool, on_commit=self._on_commit) as uow:
            claimed = await handlers.fire_due_referrals(uow, now=self._clock.now(), limit=self._batch_size)
            self._next = await uow.referrals.next_due()
        return claimed

    def _until_next(self) -> float:
        """Sleep until the next warning or deadline, but never longer than the poll interval (a referral made on
        another replica, or a clock moved by a test, is seen within it)."""
        if self._next is None:
            return self._poll_interval
        return min(self._poll_interval, max(0.05, real_seconds(self._clock, self._next - self._clock.now())))
