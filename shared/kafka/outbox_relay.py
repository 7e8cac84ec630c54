"""The outbox relay: publishes committed outbox rows to Kafka (acks=all) in id order and marks them published.

One relay per schema publishes at a time (a transaction-scoped advisory lock), so scaled replicas never reorder one
inquiry's events; the others stand by and take over when it stops. A relay wakes on PostgreSQL NOTIFY from the outbox
trigger (any replica's commit), on ``wake()`` (this process's commits), or after ``poll_interval`` at the latest.
A publish that fails rolls the round back: the rows stay unpublished and go again (consumers deduplicate).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer

from shared.db.pool import checked_schema
from shared.logging import get_logger

log = get_logger(__name__)


class OutboxRelay:
    def __init__(
        self,
        pool: asyncpg.Pool,
        producer: AIOKafkaProducer,
        *,
        schema: str,
        batch_size: int = 500,
        poll_interval: float = 1.0,
        retention_days: int = 7,
    ) -> None:
        self._pool = pool
        self._producer = producer
        self._schema = checked_schema(schema)
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._retention_days = retention_days
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._listener: asyncpg.Connection | None = None
        self.published_total = 0

    def wake(self) -> None:
        self._wakeup.set()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self, listener: asyncpg.Connection | None = None) -> None:
        """Start relaying; ``listener`` is a dedicated connection for LISTEN (optional: polling still works)."""
        if listener is not None:
            self._listener = listener
            await listener.add_listener(f"{self._schema}_outbox", self._on_notify)
        self._task = asyncio.create_task(self._run(), name=f"outbox-relay-{self._schema}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.close()

    def _on_notify(self, *_: Any) -> None:
        self._wakeup.set()

    async def _run(self) -> None:
        backoff = 0.1
        rounds = 0
        while True:
            try:
                published = await self.publish_pending()
                backoff = 0.1
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("outbox publish failed; will retry", error=type(exc).__name__, retry_in=backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            rounds += 1
            if rounds % 1000 == 0:
                await self.delete_published_before_retention()
            if published >= self._batch_size:
                continue  # more may be waiting: no pause while there is a backlog
            self._wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), timeout=self._poll_interval)

    async def publish_pending(self) -> int:
        """One round: publish up to ``batch_size`` rows and mark them; 0 when another replica holds the lock."""
        async with self._pool.acquire() as conn, conn.transaction():
            if not await conn.fetchval("SELECT pg_try_advisory_xact_lock(hashtext($1))", f"{self._schema}.outbox"):
                return 0
            rows = await conn.fetch(
                "SELECT id, topic, key, payload::text AS payload, headers FROM outbox"
                " WHERE published_at IS NULL ORDER BY id LIMIT $1",
                self._batch_size,
            )
            if not rows:
                return 0
            deliveries = [
                await self._producer.send(
                    row["topic"],
                    value=row["payload"].encode(),
                    key=row["key"].encode(),
                    headers=[(name, value.encode()) for name, value in row["headers"]],
                )
                for row in rows
            ]
            await asyncio.gather(*deliveries)
            await conn.execute(
                "UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])", [row["id"] for row in rows]
            )
        self.published_total += len(rows)
        return len(rows)

    async def delete_published_before_retention(self) -> None:
        async with self._pool.acquire() as conn:
            await conn.execute(
                "DELETE FROM outbox WHERE published_at < now() - make_interval(days => $1)", self._retention_days
            )
