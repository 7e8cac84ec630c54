"""The background round worker (outbox relay, delivery dispatcher) and the due-time worker (closing sweep, referral
clock): no broker or database needed."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from shared.background import DueTimeWorker, RoundWorker
from shared.clock import Clock, FixedClock, ScaledClock

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_a_full_batch_runs_the_next_round_at_once_and_a_wake_runs_one_more() -> None:
    backlog = [3, 3, 1]  # two full batches of 3, then one row: the worker must not wait between them
    rounds: list[int] = []

    async def round_() -> int:
        handled = backlog.pop(0) if backlog else 0
        rounds.append(handled)
        return handled

    worker = RoundWorker("test", round_, batch_size=3, poll_interval=60)
    worker.start()
    await asyncio.sleep(0.05)
    assert rounds == [3, 3, 1]  # the last partial round ends the burst; a 60 s poll would follow
    worker.wake()
    await asyncio.sleep(0.05)
    assert rounds == [3, 3, 1, 0]
    await worker.stop()
    assert not worker.running


async def test_a_failing_round_is_retried_without_stopping_the_worker() -> None:
    outcomes: list[str] = []

    async def round_() -> int:
        if len(outcomes) < 2:
            outcomes.append("failed")
            raise ConnectionResetError("broker away")
        outcomes.append("ok")
        return 0

    worker = RoundWorker("test", round_, batch_size=10, poll_interval=60)
    worker.start()
    await asyncio.sleep(0.5)  # backoff 0.1 s, then 0.2 s
    assert outcomes == ["failed", "failed", "ok"] and worker.running
    await worker.stop()


async def test_an_idle_timeout_wakes_the_worker_when_work_falls_due_before_the_poll_interval() -> None:
    rounds: list[int] = []
    three = asyncio.Event()

    async def round_() -> int:
        rounds.append(0)
        if len(rounds) >= 3:
            three.set()
        return 0

    # The poll interval alone would wait a minute between rounds; the next due time says "now".
    worker = RoundWorker("test", round_, batch_size=3, poll_interval=60, idle_timeout=lambda: 0.0)
    worker.start()
    await asyncio.wait_for(three.wait(), timeout=10)
    await worker.stop()


class Due(DueTimeWorker):
    """Fires from a list of due times: those at or before ``now``, up to the batch."""

    def __init__(self, clock: Clock, due: list[datetime]) -> None:
        super().__init__("due", clock=clock, batch_size=2, poll_interval=30)
        self.due = sorted(due)
        self.fired: list[datetime] = []

    async def fire(self, *, now: datetime, limit: int) -> tuple[int, datetime | None]:
        ready = [d for d in self.due if d <= now][:limit]
        self.fired += ready
        self.due = [d for d in self.due if d not in ready]
        return len(ready), (self.due[0] if self.due else None)


async def test_a_due_time_worker_fires_what_is_due_and_sleeps_until_the_next_at_most_its_poll() -> None:
    now = datetime(2026, 11, 25, 16, 0, tzinfo=UTC)
    worker = Due(
        FixedClock(now), [now - timedelta(minutes=1), now, now + timedelta(seconds=2), now + timedelta(days=1)]
    )
    assert await worker.fire_due() == 2 and worker.fired == [now - timedelta(minutes=1), now]
    assert worker._until_next() == 2.0, "until the next one"
    worker.due = [now + timedelta(days=1)]
    await worker.fire_due()
    assert worker._until_next() == 86400.0  # RoundWorker sleeps the smaller of this and its poll interval
    worker.due = []
    await worker.fire_due()
    assert worker._until_next() == 30, "nothing due: the poll interval"
    worker.due = [now - timedelta(seconds=5)] * 3  # due, but (say) locked by another replica: no spinning
    worker._next = now - timedelta(seconds=5)
    assert worker._until_next() == DueTimeWorker.MIN_SLEEP


async def test_a_due_time_worker_sleeps_wall_seconds_on_a_sped_up_clock() -> None:
    clock = ScaledClock(1000)
    worker = Due(clock, [clock.now() + timedelta(seconds=2000)])
    assert await worker.fire_due() == 0
    assert 1.5 < worker._until_next() <= 2.0, "2,000 clock seconds are 2 wall seconds at x1000"


async def test_a_wake_while_a_round_runs_starts_another_round_not_a_wait_for_the_poll() -> None:
    rounds = 0
    second = asyncio.Event()

    async def round_() -> int:
        nonlocal rounds
        rounds += 1
        if rounds == 1:
            worker.wake()  # a commit of new work lands while this round is under way
            await asyncio.sleep(0)
        else:
            second.set()
        return 0

    worker = RoundWorker("test", round_, batch_size=10, poll_interval=3600)
    worker.start()
    try:
        await asyncio.wait_for(second.wait(), timeout=5)  # not an hour's poll
    finally:
        await worker.stop()
    assert rounds == 2
