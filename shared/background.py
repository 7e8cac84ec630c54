"""A background worker that runs rounds: at once while there is a backlog, on ``wake()``, or after a poll interval.

The outbox relay and notify's dispatcher are such workers: each round handles up to a batch; a full batch means
more is waiting, so the next round starts at once; otherwise the worker sleeps until woken (a local commit, a
PostgreSQL NOTIFY) or until the poll interval passes (or sooner, when ``idle_timeout`` says when work falls due:
routing's deadline worker sleeps until its next deadline). A failing round is retried with growing pauses.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

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
            self._wakeup.clear()
            timeout = self._poll_interval
            if self._idle_timeout is not None:
                timeout = max(0.0, min(timeout, self._idle_timeout()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), timeout=timeout)
