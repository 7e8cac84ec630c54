"""What the services published, read back from the broker in integration tests: ``from kafka_events import
first_event``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer

from shared.kafka.connection import client_options
from shared.settings import PlatformSettings


async def first_event(
    platform: PlatformSettings, topic: str, match: Callable[[dict[str, Any]], bool], *, timeout: float = 20.0
) -> dict[str, Any]:
    """The first event on ``topic`` (from its start) that ``match`` accepts; TimeoutError if none comes."""
    consumer = AIOKafkaConsumer(topic, **client_options(platform), auto_offset_reset="earliest")
    await consumer.start()
    try:
        async with asyncio.timeout(timeout):
            while True:
                for records in (await consumer.getmany(timeout_ms=200)).values():
                    for record in records:
                        event: dict[str, Any] = json.loads(record.value)
                        if match(event):
                            return event
    finally:
        await consumer.stop()
