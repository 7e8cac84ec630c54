"""Kafka clients built from settings alone, so any Kafka (Tansu, Apache Kafka, a managed cluster) is one env away.

Producers use acks=all and never the idempotent producer: Tansu refuses InitProducerId, and exactly-once effects come
from the outbox and inbox, not from the producer.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from faststream.kafka import KafkaBroker
from faststream.kafka.security import parse_security
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from shared.settings import PlatformSettings


def broker_security(settings: PlatformSettings) -> BaseSecurity | None:
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    context = settings.kafka_ssl_context()
    use_ssl = protocol in ("SSL", "SASL_SSL")
    if protocol == "SSL":
        return BaseSecurity(ssl_context=context, use_ssl=True)
    sasl: dict[str, type[SASLPlaintext | SASLScram256 | SASLScram512]] = {
        "PLAIN": SASLPlaintext,
        "SCRAM-SHA-256": SASLScram256,
        "SCRAM-SHA-512": SASLScram512,
    }
    return sasl[settings.kafka_sasl_mechanism](
        username=settings.kafka_sasl_username,
        password=settings.kafka_sasl_password.get_secret_value(),
        ssl_context=context,
        use_ssl=use_ssl,
    )


def client_options(settings: PlatformSettings) -> dict[str, Any]:
    """Bootstrap and security options for plain aiokafka clients, derived from the same security object."""
    return {"bootstrap_servers": settings.kafka_bootstrap, **parse_security(broker_security(settings))}


class ConcurrentlyStartingKafkaBroker(KafkaBroker):
    """A KafkaBroker whose subscribers join their consumer groups at the same time, not one after another.

    A consumer's start waits for its first group assignment, and a broker holds a new group's first join back for
    a while (Kafka's group.initial.rebalance.delay.ms, 3 s by default; Tansu half the session timeout). FastStream
    starts subscribers in turn, so a service with six subscriptions waited six times that before it consumed
    anything. Each subscription has a group of its own (``ServiceRuntime.subscribe``), so the joins do not
    disturb each other. Everything else is FastStream's own ``start``: connect, subscribers, publishers, running.
    """

    async def start(self) -> None:
        await self.connect()
        await asyncio.gather(*(subscriber.start() for subscriber in self.subscribers))
        for publisher in self.publishers:
            await publisher.start()
        self.running = True


def create_broker(settings: PlatformSettings, *, client_id: str) -> KafkaBroker:
    return ConcurrentlyStartingKafkaBroker(
        settings.kafka_bootstrap,
        security=broker_security(settings),
        client_id=client_id,
        acks="all",
        enable_idempotence=False,
        graceful_timeout=10.0,
        # FastStream's own lines go through our redacting JSON pipeline; "Received/Processed" per batch is DEBUG.
        logger=logging.getLogger("psc.faststream"),
        log_level=logging.DEBUG,
    )


def create_producer(settings: PlatformSettings, *, client_id: str) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        **client_options(settings),
        client_id=client_id,
        acks="all",
        enable_idempotence=False,
        linger_ms=2,
        max_batch_size=256 * 1024,
    )


async def ensure_topics(settings: PlatformSettings, topics: tuple[str, ...] | list[str]) -> list[str]:
    """Create the topics that do not exist yet; return the ones created. Idempotent."""
    admin = AIOKafkaAdminClient(**client_options(settings), client_id="psc-admin")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [name for name in topics if name not in existing]
        if not missing:
            return []
        response = await admin.create_topics(
            [NewTopic(name, settings.topic_partitions, settings.topic_replication) for name in missing]
        )
        created = []
        for topic_error in response.topic_errors:
            name, code = topic_error[0], topic_error[1]
            if code == 0:
                created.append(name)
            elif code != TopicAlreadyExistsError.errno:
                raise RuntimeError(f"could not create topic {name}: error code {code}")
        return created
    finally:
        await admin.close()
