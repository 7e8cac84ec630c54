"""Replay after a broker lost a topic (shared/kafka/outbox_replay.py, `psc replay`), through the real broker and
database: exactly the rows published since T go out again, in order per key, and a consumer with an inbox applies
nothing twice."""

# ruff: noqa: F401, F811

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

# The outbox tests' fixtures (the plumbing schema with its ``applied`` table, a producer), their events and their
# marker-counting subscriber. The fixtures are imported to be named as test arguments, which ruff takes for unused
# imports redefined (F401, F811).
from test_outbox_inbox_dead_letters import (
    SCHEMA,
    RecordsMarkers,
    happened,
    pool,
    producer,
    read_all,
    wait_for_markers,
)

from shared.contracts.topics import ROUTING_EVENTS
from shared.db.pool import connect
from shared.db.unit_of_work import UnitOfWork
from shared.kafka.batch_consumer import BatchConsumer, subscribe_batch
from shared.kafka.connection import client_options, create_broker
from shared.kafka.dead_letters import DeadLetters
from shared.kafka.outbox_relay import OutboxRelay
from shared.kafka.outbox_replay import ReplayError, UnknownService, replay, replay_outbox
from shared.settings import PlatformSettings

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]


def an_hour_ago() -> datetime:
    return datetime.now(UTC) - timedelta(hours=1)


async def admin_call(platform: PlatformSettings, call: str, *args: object) -> object:
    admin = AIOKafkaAdminClient(**client_options(platform))
    await admin.start()
    try:
        return await getattr(admin, call)(*args)
    finally:
        await admin.close()


async def consume_once(
    platform: PlatformSettings, pool: asyncpg.Pool, producer: AIOKafkaProducer, topic: str, markers: set[str]
) -> dict[str, int]:
    """Run the inbox consumer over ``topic`` (a new group: from the earliest offset) until ``markers`` are applied."""
    broker = create_broker(platform, client_id="test")
    consumer = BatchConsumer(
        RecordsMarkers(),
        unit_of_work=lambda: UnitOfWork(pool),
        dead_letters=DeadLetters(producer, topic=f"{topic}.dead"),
    )
    subscribe_batch(broker, consumer, topic=topic, group_id=f"test-{uuid.uuid4().hex[:6]}")
    await broker.start()
    try:
        await wait_for_markers(pool, markers)
        await asyncio.sleep(0.5)  # an event applied a second time would show up now
    finally:
        await broker.stop()
    return {row["marker"]: row["times"] for row in await pool.fetch("SELECT marker, times FROM applied")}


async def test_a_replay_after_a_topic_was_lost_republishes_exactly_the_rows_since_t_and_nothing_is_applied_twice(
    platform: PlatformSettings, pool: asyncpg.Pool, producer: AIOKafkaProducer
) -> None:
    topic = f"test.{uuid.uuid4().hex[:10]}"
    await admin_call(platform, "create_topics", [NewTopic(topic, 3, 1)])
    first, second = uuid.uuid4(), uuid.uuid4()
    markers = [(first if n % 2 else second, f"event-{n}") for n in range(1, 9)]
    async with UnitOfWork(pool) as uow:
        for inquiry, marker in markers:
            uow.emit(topic, happened(marker, inquiry))
    relay = OutboxRelay(pool, producer, schema=SCHEMA)
    assert await relay.publish_pending() == 8
    assert await consume_once(platform, pool, producer, topic, {m for _, m in markers}) == {m: 1 for _, m in markers}

    # Events 1-3 went out three hours ago, 4-8 half an hour ago; event 9 is committed but not published yet.
    await pool.execute(
        "UPDATE outbox SET published_at = now() - CASE WHEN payload->>'marker' IN ('event-1', 'event-2', 'event-3')"
        " THEN interval '3 hours' ELSE interval '30 minutes' END"
    )
    async with UnitOfWork(pool) as uow:
        uow.emit(topic, happened("event-9", first))

    # The topic is lost (deleted by mistake, or a broker that forgot it) and made again, empty.
    await admin_call(platform, "delete_topics", [topic])
    await asyncio.sleep(0.5)
    await admin_call(platform, "create_topics", [NewTopic(topic, 3, 1)])

    conn = await connect(platform)
    try:
        result = await replay_outbox(
            conn,
            producer,
            schema=SCHEMA,
            since=an_hour_ago(),
            topics_on_broker={topic},
        )
    finally:
        await conn.close()
    assert result.republished == 5 and result.by_topic == {topic: 5} and result.skipped == {}

    records = await read_all(platform, topic, expect=5)
    replayed = [(record.key, json.loads(record.value)["marker"]) for record in records]
    assert sorted(marker for _, marker in replayed) == [f"event-{n}" for n in range(4, 9)]
    for inquiry in (first, second):  # each key's events in their original order
        in_order = [marker for key, marker in replayed if key == str(inquiry).encode()]
        expected = [marker for i, marker in markers[3:] if i == inquiry]
        assert in_order == expected
    assert dict(records[0].headers)["event_type"] == b"test.something_happened"
    unpublished = await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
    assert unpublished == 1, "a replay leaves unpublished rows to the relay"

    # The consumer reads the replayed events again (a new group, from the start) and applies none of them twice;
    # the unpublished event follows through the relay and is applied once.
    assert await relay.publish_pending() == 1
    applied = await consume_once(platform, pool, producer, topic, {"event-9"})
    assert applied == {m: 1 for _, m in markers} | {"event-9": 1}


async def test_a_replay_refuses_when_a_platform_topic_is_missing_and_skips_other_missing_topics(
    platform: PlatformSettings, pool: asyncpg.Pool, producer: AIOKafkaProducer
) -> None:
    async with UnitOfWork(pool) as uow:
        uow.emit(ROUTING_EVENTS, happened("on-a-platform-topic"))
        uow.emit("psc.someones.replies", happened("on-a-requesters-own-topic"))
    await pool.execute("UPDATE outbox SET published_at = now()")
    conn = await connect(platform)
    try:
        with pytest.raises(ReplayError, match=r"no topic psc\.routing\.events: create the topics first"):
            await replay_outbox(conn, producer, schema=SCHEMA, since=an_hour_ago(), topics_on_broker=set())
        await pool.execute("DELETE FROM outbox WHERE topic = $1", ROUTING_EVENTS)
        result = await replay_outbox(conn, producer, schema=SCHEMA, since=an_hour_ago(), topics_on_broker=set())
    finally:
        await conn.close()
    assert result.republished == 0 and result.skipped == {"psc.someones.replies": 1}


async def test_replaying_a_service_the_database_does_not_have_names_the_ones_it_has(
    platform: PlatformSettings, pool: asyncpg.Pool
) -> None:
    with pytest.raises(UnknownService, match=rf"no service 'billing' in this database .*{SCHEMA}"):
        await replay(platform, service="billing", since=an_hour_ago())


def psc_replay(platform: PlatformSettings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PSC_")}
    env |= {
        "PSC_KAFKA_BOOTSTRAP": platform.kafka_bootstrap,
        "PSC_DATABASE_URL": platform.database_url.get_secret_value(),
    }
    return subprocess.run(
        [sys.executable, "-m", "psc.cli", "replay", *args], env=env, capture_output=True, text=True, timeout=60
    )


async def test_psc_replay_as_an_operator_runs_it(
    platform: PlatformSettings, pool: asyncpg.Pool, producer: AIOKafkaProducer
) -> None:
    topic = f"test.{uuid.uuid4().hex[:10]}"
    await admin_call(platform, "create_topics", [NewTopic(topic, 1, 1)])
    async with UnitOfWork(pool) as uow:
        for marker in ("old", "recent-1", "recent-2"):
            uow.emit(topic, happened(marker))
    await OutboxRelay(pool, producer, schema=SCHEMA).publish_pending()
    await pool.execute("UPDATE outbox SET published_at = now() - interval '2 days' WHERE payload->>'marker' = 'old'")

    done = await asyncio.to_thread(psc_replay, platform, "--service", SCHEMA, "--since", "1h")
    assert done.returncode == 0, done.stderr
    assert f"republished 2 events ({topic} 2)" in done.stdout
    records = await read_all(platform, topic, expect=5)
    assert [json.loads(r.value)["marker"] for r in records] == ["old", "recent-1", "recent-2", "recent-1", "recent-2"]

    unknown = await asyncio.to_thread(psc_replay, platform, "--service", "billing", "--since", "1h")
    assert unknown.returncode == 1
    assert f"psc replay: no service 'billing' in this database (services with an outbox: {SCHEMA})" in unknown.stderr
