"""A background worker that runs rounds: at once while there is a backlog, on ``wake()``, or after a poll interval.

The outbox relay and notify's dispatcher are such workers: each round handles up to a batch; a full batch means
more is waiting, so the next round starts at once; otherwise the worker sleeps until woken (a local commit, a
PostgreSQL NOTIFY) or until the poll interval passes (or sooner, when ``idle_timeout`` says when work falls due:
routing's deadline worker sleeps until its next deadline). A failing round is retried with growing pauses.
"""

from __future__ import annotations

import asyncio
import contextlib
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from datetime import datetime

from shared.clock import Clock, real_seconds
from shared.logging import get_logger

log = get_logger(__name__)


class RoundWorker:
    def __init__(
        self,
        name: str,
        round_: Callable[[], Awaitable[int]],
        *,
        batch_size: int,
        poll_interval: float = 1.0,
        max_backoff: float = 10.0,
        idle_timeout: Callable[[], float] | None = None,
    ) -> None:
        self.name = name
        self._round = round_
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._max_backoff = max_backoff
        self._idle_timeout = idle_timeout
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        self._wakeup.set()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        backoff = 0.1
        while True:
            # Cleared before the round, not after: a wake() that comes while the round runs (a commit of work this
            # round did not see) must start another round, not be lost until the poll interval.
            self._wakeup.clear()
            try:
                handled = await self._round()
                backoff = 0.1
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("round failed; will retry", worker=self.name, error=type(exc).__name__, retry_in=backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff)
                continue
            if handled >= self._batch_size:
                continue
            timeout = self._poll_interval
            if self._idle_timeout is not None:
                timeout = max(0.0, min(timeout, self._idle_timeout()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), timeout=timeout)


class DueTimeWorker(RoundWorker, ABC):
    """A worker over rows that fall due at a time on the service clock (intake's closing sweep, catalog's referral
    clock): each round ``fire``s up to a batch of what is due now, in one transaction, and says when the next row
    falls due; between rounds the worker sleeps until then (in wall seconds, whatever the clock's speed), never longer
    than the poll interval, so a row another replica added (or a clock a test moved) is seen within it.
    """

    MIN_SLEEP = 0.05
    """A row already due but locked by another replica must not make this one spin."""

    def __init__(self, name: str, *, clock: Clock, batch_size: int, poll_interval: float) -> None:
        super().__init__(
            name, self.fire_due, batch_size=batch_size, poll_interval=poll_interval, idle_timeout=self._until_next
        )
        self._clock = clock
        self._next: datetime | None = None

    @abstractmethod
    async def fire(self, *, now: datetime, limit: int) -> tuple[int, datetime | None]:
        """Fire up to ``limit`` rows due at ``now``; how many it claimed, and when the next one falls due."""

    async def fire_due(self) -> int:
        """One round; returns how many rows it claimed."""
        claimed, self._next = await self.fire(now=self._clock.now(), limit=self._batch_size)
        return claimed

    def _until_next(self) -> float:
        if self._next is None:
            return self._poll_interval
        return max(self.MIN_SLEEP, real_seconds(self._clock, self._next - self._clock.now()))
