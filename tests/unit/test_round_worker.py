"""The background round worker (outbox relay, delivery dispatcher): no broker or database needed."""

import asyncio

import pytest

from shared.background import RoundWorker

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
