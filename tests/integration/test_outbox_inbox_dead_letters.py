"""The delivery guarantees (docs/architecture.md), through the real broker and database: outbox, inbox, dead letters."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Literal

import asyncpg
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from shared.contracts.envelope import InquiryEvent, kafka_headers, to_bytes
from shared.db.migrations import apply_migrations, plumbing_source
from shared.db.pool import connect, create_pool
from shared.db.unit_of_work import UnitOfWork
from shared.kafka import dead_letters as dl
from shared.kafka.batch_consumer import BatchConsumer, Incoming, subscribe_batch
from shared.kafka.connection import client_options, create_broker, create_producer
from shared.kafka.dead_letters import DeadLetters
from shared.kafka.event_subscriber import EventSubscriber
from shared.kafka.outbox_relay import OutboxRelay
from shared.settings import PlatformSettings

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]
SCHEMA = "plumbing"


class SomethingHappened(InquiryEvent):
    event_type: Literal["test.something_happened"] = "test.something_happened"
    marker: str


def happened(marker: str, inquiry_id: uuid.UUID | None = None) -> SomethingHappened:
    return SomethingHappened(
        inquiry_id=inquiry_id or uuid.uuid4(), occurred_at=datetime.now(UTC), correlation_id="test", marker=marker
    )


async def new_topic(platform: PlatformSettings, partitions: int = 1) -> str:
    name = f"test.{uuid.uuid4().hex[:10]}"
    admin = AIOKafkaAdminClient(**client_options(platform))
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        await admin.close()
    return name


async def read_all(
    platform: PlatformSettings, topic: str, *, expect: int, timeout: float = 15.0
) -> list[ConsumerRecord]:
    consumer = AIOKafkaConsumer(topic, **client_options(platform), auto_offset_reset="earliest", group_id=None)
    await consumer.start()
    records: list[ConsumerRecord] = []
    try:
        async with asyncio.timeout(timeout):
            while len(records) < expect:
                for batch in (await consumer.getmany(timeout_ms=200)).values():
                    records.extend(batch)
        await asyncio.sleep(0.3)  # anything beyond what was expected would show up now
        for batch in (await consumer.getmany(timeout_ms=200)).values():
            records.extend(batch)
    finally:
        await consumer.stop()
    return records


@pytest_asyncio.fixture(loop_scope="session")
async def pool(platform: PlatformSettings) -> AsyncIterator[asyncpg.Pool]:
    conn = await connect(platform)
    try:
        await apply_migrations(conn, schema=SCHEMA, sources=[plumbing_source()])
        await conn.execute(f"CREATE TABLE {SCHEMA}.applied (marker text PRIMARY KEY, times integer NOT NULL DEFAULT 1)")
    finally:
        await conn.close()
    pool = await create_pool(platform, schema=SCHEMA, application_name="test")
    yield pool
    await pool.close()


@pytest_asyncio.fixture(loop_scope="session")
async def producer(platform: PlatformSettings) -> AsyncIterator[AIOKafkaProducer]:
    producer = create_producer(platform, client_id="test")
    await producer.start()
    yield producer
    await producer.stop()


async def test_migrations_apply_once_even_when_replicas_start_together(platform: PlatformSettings) -> None:
    conns = [await connect(platform) for _ in range(3)]
    try:
        results = await asyncio.gather(
            *(apply_migrations(c, schema="racing", sources=[plumbing_source()]) for c in conns)
        )
        assert sorted(len(r) for r in results) == [0, 0, 1]
        assert await apply_migrations(conns[0], schema="racing", sources=[plumbing_source()]) == []
    finally:
        for c in conns:
            await c.close()


async def test_committed_events_are_published_in_order_and_rolled_back_ones_never(
    platform: PlatformSettings, pool: asyncpg.Pool, producer: AIOKafkaProducer
) -> None:
    topic = await new_topic(platform, partitions=3)
    inquiry = uuid.uuid4()
    async with UnitOfWork(pool) as uow:
        uow.emit(topic, happened("first", inquiry))
        uow.emit(topic, happened("second", inquiry))
    with pytest.raises(RuntimeError):
        async with UnitOfWork(pool) as uow:
            uow.emit(topic, happened("rolled-back", inquiry))
            raise RuntimeError("the change failed")

    relay = OutboxRelay(pool, producer, schema=SCHEMA)
    assert await relay.publish_pending() == 2
    assert await relay.publish_pending() == 0  # marked as published: nothing goes twice

    records = await read_all(platform, topic, expect=2)
    assert [json.loads(r.value)["marker"] for r in records] == ["first", "second"]
    assert {r.key for r in records} == {str(inquiry).encode()}
    assert ("event_type", b"test.something_happened") in records[0].headers
    unpublished = await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
    assert unpublished == 0


class RecordsMarkers(EventSubscriber[SomethingHappened, UnitOfWork]):
    """Applies each event by counting its marker; 'poison' fails every time, 'flaky' fails once (transiently)."""

    name = "records-markers"
    handles = (SomethingHappened,)

    def __init__(self) -> None:
        self.flaky_failures = 0

    async def handle(self, uow: UnitOfWork, batch: list[Incoming[SomethingHappened]]) -> None:
        for item in batch:
            if item.message.marker == "poison":
                raise ValueError("this event breaks the handler")
            if item.message.marker == "flaky" and self.flaky_failures == 0:
                self.flaky_failures += 1
                raise ConnectionResetError("the database went away for a moment")
            await uow.conn.execute(
                "INSERT INTO applied (marker) VALUES ($1) ON CONFLICT (marker) DO UPDATE SET times = applied.times + 1",
                item.message.marker,
            )


async def wait_for_markers(pool: asyncpg.Pool, markers: set[str], timeout: float = 30.0) -> dict[str, int]:
    async with asyncio.timeout(timeout):
        while True:
            rows = await pool.fetch("SELECT marker, times FROM applied WHERE marker = ANY($1::text[])", list(markers))
            if {r["marker"] for r in rows} == markers:
                return {r["marker"]: r["times"] for r in rows}
            await asyncio.sleep(0.1)


async def send(producer: AIOKafkaProducer, topic: str, value: bytes, headers: list[tuple[str, bytes]]) -> None:
    await (await producer.send(topic, value=value, key=b"k", headers=headers))


async def test_a_redelivered_event_changes_nothing_and_a_poison_message_is_parked_while_the_partition_flows(
    platform: PlatformSettings, pool: asyncpg.Pool, producer: AIOKafkaProducer
) -> None:
    topic, dead = await new_topic(platform), await new_topic(platform)
    once, poison, flaky, after = happened("once"), happened("poison"), happened("flaky"), happened("after")
    for event in (once, once, poison, flaky):  # 'once' is delivered twice
        await send(producer, topic, to_bytes(event), kafka_headers(event))
    not_json = [("event_type", b"test.something_happened")]
    await send(producer, topic, b"{not json", not_json)
    await send(producer, topic, to_bytes(after), kafka_headers(after))

    broker = create_broker(platform, client_id="test")
    consumer = BatchConsumer(
        RecordsMarkers(),
        unit_of_work=lambda: UnitOfWork(pool),
        dead_letters=DeadLetters(producer, topic=dead),
        retry_max_wait=0.2,
    )
    subscribe_batch(broker, consumer, topic=topic, group_id=f"test-{uuid.uuid4().hex[:6]}")
    await broker.start()
    try:
        applied = await wait_for_markers(pool, {"once", "flaky", "after"})
    finally:
        await broker.stop()
    assert applied == {"once": 1, "flaky": 1, "after": 1}

    parked = await read_all(platform, dead, expect=2)
    assert len(parked) == 2
    headers = [dict(r.headers) for r in parked]
    assert {h[dl.ORIGIN_TOPIC] for h in headers} == {topic.encode()}
    assert {int(h[dl.ORIGIN_OFFSET]) for h in headers} == {2, 4}
    reasons = sorted(h[dl.REASON].decode() for h in headers)
    assert reasons[0].startswith("ValueError: this event breaks the handler")
    assert reasons[1].startswith("invalid message")
    assert parked[0].value in (to_bytes(poison), b"{not json")


async def test_a_redelivery_after_a_crash_before_the_offset_commit_applies_nothing_twice(
    platform: PlatformSettings, pool: asyncpg.Pool, producer: AIOKafkaProducer
) -> None:
    topic, dead = await new_topic(platform), await new_topic(platform)
    event = happened("crash-then-redelivered")
    await send(producer, topic, to_bytes(event), kafka_headers(event))
    records = await read_all(platform, topic, expect=1)
    consumer = BatchConsumer(
        RecordsMarkers(), unit_of_work=lambda: UnitOfWork(pool), dead_letters=DeadLetters(producer, topic=dead)
    )
    await consumer.process(records)  # applied, but suppose the process died before committing the offset ...
    await consumer.process(records)  # ... so the broker hands the same record over again
    assert await pool.fetchval("SELECT times FROM applied WHERE marker = $1", "crash-then-redelivered") == 1


async def test_published_outbox_rows_past_retention_are_deleted_and_nothing_else(
    pool: asyncpg.Pool, producer: AIOKafkaProducer
) -> None:
    async with UnitOfWork(pool) as uow:
        for marker in ("old-published", "new-published", "unpublished"):
            uow.emit("test.retention", happened(marker))
    await pool.execute(
        "UPDATE outbox SET published_at = now() - interval '8 days' WHERE payload->>'marker' = 'old-published'"
    )
    await pool.execute("UPDATE outbox SET published_at = now() WHERE payload->>'marker' = 'new-published'")

    await OutboxRelay(pool, producer, schema=SCHEMA, retention_days=7).delete_published_before_retention()

    left = {r["marker"] for r in await pool.fetch("SELECT payload->>'marker' AS marker FROM outbox")}
    assert left == {"new-published", "unpublished"}


async def test_an_unreadable_event_type_header_or_an_unknown_version_is_parked_alone_and_neighbours_are_applied(
    platform: PlatformSettings, pool: asyncpg.Pool, producer: AIOKafkaProducer
) -> None:
    topic, dead = await new_topic(platform), await new_topic(platform)
    before, traced, after = happened("before"), happened("odd-trace"), happened("after")
    newer = happened("version-99")
    unreadable = happened("unreadable-type")
    await send(producer, topic, to_bytes(before), kafka_headers(before))
    await send(producer, topic, to_bytes(traced), [*kafka_headers(traced), ("x-trace", b"\xff\xfe")])
    await send(producer, topic, json.dumps(newer.model_dump(mode="json") | {"version": 99}).encode(), [])
    await send(producer, topic, to_bytes(unreadable), [("event_type", b"\xff\xfe\x00")])
    await send(producer, topic, to_bytes(after), kafka_headers(after))

    broker = create_broker(platform, client_id="test")
    parking = DeadLetters(producer, topic=dead, service="test-service")
    consumer = BatchConsumer(RecordsMarkers(), unit_of_work=lambda: UnitOfWork(pool), dead_letters=parking)
    subscribe_batch(broker, consumer, topic=topic, group_id=f"test-{uuid.uuid4().hex[:6]}")
    await broker.start()
    try:
        applied = await wait_for_markers(pool, {"before", "odd-trace", "after"})
    finally:
        await broker.stop()
    assert applied == {"before": 1, "odd-trace": 1, "after": 1}
    assert await pool.fetchval("SELECT count(*) FROM applied WHERE marker IN ('version-99', 'unreadable-type')") == 0

    parked = await read_all(platform, dead, expect=2)
    reasons = {int(dict(r.headers)[dl.ORIGIN_OFFSET]): dict(r.headers)[dl.REASON].decode() for r in parked}
    assert set(reasons) == {2, 3}
    assert "version: version 99 of test.something_happened is not known here" in reasons[2]
    assert "headers.event_type: is not UTF-8 text" in reasons[3]
    # Which consumer group parked each: the service with the subscription (two services may name theirs alike).
    assert {(dict(r.headers)[dl.SERVICE], dict(r.headers)[dl.SUBSCRIBER]) for r in parked} == {
        (b"test-service", b"records-markers")
    }
