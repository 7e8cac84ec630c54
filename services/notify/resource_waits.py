"""The sweep that lets an acknowledgment go without resources when the catalog has not answered in time.

Each round times out the lookups past their wait (``PSC_NOTIFY_RESOURCES_WAIT_SECONDS`` on the database's wall clock,
so a sped-up or a test's fixed service clock waits as long) and releases their held emails to the dispatcher. Rows a
reply or another replica holds are skipped: each lookup is settled once, by its reply or by the sweep.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import asyncpg

from services.notify import handlers
from services.notify.unit_of_work import PostgresNotifyUnitOfWork
from shared.background import RoundWorker
from shared.clock import Clock


def resource_wait_sweeper(
    pool: asyncpg.Pool,
    *,
    clock: Clock,
    on_released: Callable[[], None],
    batch_size: int = 200,
    poll_interval: float = 0.5,
) -> RoundWorker:
    """A background worker (``start()``, ``await stop()``); ``on_released`` (the dispatcher's wake) is called after
    a round that released emails, so they go at once rather than at the dispatcher's next poll."""

    async def sweep() -> int:
        async with PostgresNotifyUnitOfWork(pool) as uow:
            released = await handlers.release_overdue(uow, limit=batch_size, now=clock.now())
        if released:
            on_released()
        return released

    async def release_overdue() -> int:
        # A stop never cuts a round short: cancelled while its transaction starts, a round would keep its connection
        # and the pool's close would wait for it for ever. The stop waits for the round (milliseconds) instead.
        round_ = asyncio.ensure_future(sweep())
        try:
            return await asyncio.shield(round_)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await round_
            raise

    return RoundWorker("resource-wait-sweeper", release_overdue, batch_size=batch_size, poll_interval=poll_interval)
