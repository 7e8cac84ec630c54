"""Parking a message no consumer can process: on the dead-letter topic, with the reason and origin in headers.

The original key, value and headers travel unchanged, so an operator can read, fix and replay it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer, ConsumerRecord

from shared.contracts.topics import DEAD_LETTERS
from shared.kafka import records
from shared.logging import get_logger

log = get_logger(__name__)

# Header names, for whoever reads the dead-letter topic.
REASON = "dlq.reason"
ORIGIN_TOPIC = "dlq.origin.topic"
ORIGIN_PARTITION = "dlq.origin.partition"
ORIGIN_OFFSET = "dlq.origin.offset"
SUBSCRIBER = "dlq.subscriber"
SERVICE = "dlq.service"  # with the subscriber: the consumer group (two services may name subscribers alike)
FAILED_AT = "dlq.failed_at"


class DeadLetters:
    def __init__(self, producer: AIOKafkaProducer, *, topic: str = DEAD_LETTERS, service: str | None = None) -> None:
        self._producer = producer
        self._topic = topic
        self._service = [(SERVICE, service.encode())] if service else []

    async def park(self, record: ConsumerRecord, *, subscriber: str, reason: str) -> None:
        headers = [
            *(record.headers or ()),
            (REASON, reason[:1000].encode()),
            (ORIGIN_TOPIC, record.topic.encode()),
            (ORIGIN_PARTITION, str(record.partition).encode()),
            (ORIGIN_OFFSET, str(record.offset).encode()),
            (SUBSCRIBER, subscriber.encode()),
            *self._service,
            (FAILED_AT, datetime.now(UTC).isoformat().encode()),
        ]
        delivery = await self._producer.send(self._topic, value=record.value, key=record.key, headers=headers)
        await delivery
        log.warning(
            "message parked on the dead-letter topic",
            subscriber=subscriber,
            correlation_id=records.header(record, "correlation_id"),
            origin_topic=record.topic,
            origin_partition=record.partition,
            origin_offset=record.offset,
            reason=reason[:200],
        )
