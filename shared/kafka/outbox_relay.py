"""The outbox relay: publishes committed outbox rows to Kafka (acks=all) in id order and marks them published.

One relay per schema publishes at a time (a transaction-scoped advisory lock), so scaled replicas never reorder one
inquiry's events; the others stand by and take over when it stops. A relay wakes on PostgreSQL NOTIFY from the outbox
trigger (any replica's commit), on ``wake()`` (this process's commits), or after ``poll_interval`` at the latest.
A publish that fails rolls the round back: the rows stay unpublished and go again (consumers deduplicate).

Published rows are kept ``retention_days`` (``PSC_OUTBOX_RETENTION_DAYS``), so that after a broker loses its topics
``psc replay`` (``shared/kafka/outbox_replay.py``) can publish them again, under the same lock and in the same order.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer

from shared.background import RoundWorker
from shared.db.pool import checked_schema

# The outbox's columns as the relay and a replay read them.
OUTBOX_COLUMNS = "id, topic, key, payload::text AS payload, headers"


def outbox_lock(schema: str) -> str:
    """The advisory lock (``hashtext`` of this name) held by whoever publishes ``schema``'s outbox: one at a time."""
    return f"{checked_schema(schema)}.outbox"


async def publish_rows(producer: AIOKafkaProducer, rows: Sequence[asyncpg.Record]) -> None:
    """Send outbox rows in their order (acks=all, the producer's settings) and wait until the broker has them all."""
    deliveries = [
        await producer.send(
            row["topic"],
            value=row["payload"].encode(),
            key=row["key"].encode(),
            headers=[(name, value.encode()) for name, value in row["headers"]],
        )
        for row in rows
    ]
    await asyncio.gather(*deliveries)


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
        self._retention_days = retention_days
        self._worker = RoundWorker(
            f"outbox-relay-{self._schema}", self._round, batch_size=batch_size, poll_interval=poll_interval
        )
        self._listener: asyncpg.Connection | None = None
        self._rounds = 0
        self.published_total = 0

    def wake(self) -> None:
        self._worker.wake()

    @property
    def running(self) -> bool:
        return self._worker.running

    async def start(self, listener: asyncpg.Connection | None = None) -> None:
        """Start relaying; ``listener`` is a dedicated connection for LISTEN (optional: polling still works)."""
        if listener is not None:
            self._listener = listener
            await listener.add_listener(f"{self._schema}_outbox", self._on_notify)
        self._worker.start()

    async def stop(self) -> None:
        await self._worker.stop()
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.close()

    def _on_notify(self, *_: Any) -> None:
        self._worker.wake()

    async def _round(self) -> int:
        self._rounds += 1
        if self._rounds % 1000 == 0:
            await self.delete_published_before_retention()
        return await self.publish_pending()

    async def publish_pending(self) -> int:
        """One round: publish up to ``batch_size`` rows and mark them; 0 when another replica holds the lock."""
        async with self._pool.acquire() as conn, conn.transaction():
            if not await conn.fetchval("SELECT pg_try_advisory_xact_lock(hashtext($1))", outbox_lock(self._schema)):
                return 0
            rows = await conn.fetch(
                f"SELECT {OUTBOX_COLUMNS} FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT $1",  # noqa: S608
                self._batch_size,
            )
            if not rows:
                return 0
            await publish_rows(self._producer, rows)
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
