"""Replay: publish a service's already published outbox rows again, after a broker lost them.

A broker can forget what it had: the embedded one keeps everything in memory and starts empty, and on a real cluster
a topic can be deleted by mistake. The outbox keeps published rows for a retention window
(``PSC_OUTBOX_RETENTION_DAYS``), so the events published since a moment T can go out again: ``psc replay --service S
--since T`` (and the local stack after it restarts its broker). Consumers record every event they apply in their
inbox, so an event they had already applied changes nothing the second time.

A replay holds the outbox's publishing lock (the relay's advisory lock) for the whole run, so the relay of a running
service stands by meanwhile and the rows go out in id order, as they first did: each key's events keep their order,
and rows not yet published follow them. The producer is the platform's (acks=all); ``published_at`` is left as it was.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from shared.contracts.topics import ALL_TOPICS
from shared.db.pool import checked_schema, connect
from shared.kafka.connection import client_options, create_producer
from shared.kafka.outbox_relay import OUTBOX_COLUMNS, outbox_lock, publish_rows
from shared.settings import PlatformSettings


class ReplayError(Exception):
    """A replay that cannot run as asked (unknown service, a platform topic missing on the broker)."""


class UnknownService(ReplayError):
    """No schema of that name has an outbox in this database."""


@dataclass(frozen=True)
class ReplayResult:
    service: str
    since: datetime
    republished: int = 0
    by_topic: dict[str, int] = field(default_factory=dict)
    # Rows for topics the broker does not have and the platform does not create (a requester's own reply topic).
    skipped: dict[str, int] = field(default_factory=dict)
    # The oldest published row still kept: anything published before it is gone (retention) or never was.
    oldest_kept: datetime | None = None


async def outbox_schemas(conn: asyncpg.Connection) -> list[str]:
    """The schemas that have an outbox: the services that ever ran against this database."""
    rows = await conn.fetch(
        "SELECT table_schema FROM information_schema.tables WHERE table_name = 'outbox' ORDER BY table_schema"
    )
    return [row["table_schema"] for row in rows]


async def broker_topics(settings: PlatformSettings) -> set[str]:
    admin = AIOKafkaAdminClient(**client_options(settings), client_id="psc-replay")
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


async def replay_outbox(
    conn: asyncpg.Connection,
    producer: AIOKafkaProducer,
    *,
    schema: str,
    since: datetime,
    topics_on_broker: set[str],
    batch_size: int = 500,
) -> ReplayResult:
    """Publish again, in id order, every row of ``schema``'s outbox published at or after ``since``.

    Refuses (``ReplayError``, nothing sent) when a platform topic among those rows is missing on the broker: create
    the topics first. Rows for other missing topics are left out and counted in ``skipped``.
    """
    if since.tzinfo is None:
        raise ValueError("since must carry its time zone")
    outbox = f'"{checked_schema(schema)}".outbox'
    by_topic: dict[str, int] = {}
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", outbox_lock(schema))
        counts = await conn.fetch(
            f"SELECT topic, count(*) AS n FROM {outbox} WHERE published_at >= $1 GROUP BY topic",  # noqa: S608
            since,
        )
        wanted = {row["topic"]: row["n"] for row in counts}
        missing = sorted(topic for topic in wanted if topic not in topics_on_broker)
        missing_ours = [topic for topic in missing if topic in ALL_TOPICS]
        if missing_ours:
            raise ReplayError(
                f"the broker has no topic {', '.join(missing_ours)}: create the topics first (psc create-topics),"
                " then replay"
            )
        cursor = await conn.cursor(
            f"SELECT {OUTBOX_COLUMNS} FROM {outbox} WHERE published_at >= $1 ORDER BY id",  # noqa: S608
            since,
        )
        while rows := await cursor.fetch(batch_size):
            sendable = [row for row in rows if row["topic"] not in missing]
            await publish_rows(producer, sendable)
            for row in sendable:
                by_topic[row["topic"]] = by_topic.get(row["topic"], 0) + 1
        oldest = await conn.fetchval(f"SELECT min(published_at) FROM {outbox}")  # noqa: S608
    return ReplayResult(
        service=schema,
        since=since,
        republished=sum(by_topic.values()),
        by_topic=by_topic,
        skipped={topic: wanted[topic] for topic in missing},
        oldest_kept=oldest,
    )


async def replay(settings: PlatformSettings, *, service: str, since: datetime) -> ReplayResult:
    """``psc replay``: republish ``service``'s outbox rows published since ``since`` to the broker of ``settings``."""
    conn = await connect(settings)
    try:
        known = await outbox_schemas(conn)
        if service not in known:
            raise UnknownService(
                f"no service {service!r} in this database (services with an outbox: {', '.join(known) or 'none'})"
            )
        topics = await broker_topics(settings)
        producer = create_producer(settings, client_id=f"psc-replay-{service}")
        await producer.start()
        try:
            return await replay_outbox(conn, producer, schema=service, since=since, topics_on_broker=topics)
        finally:
            await producer.stop()
    finally:
        await conn.close()
