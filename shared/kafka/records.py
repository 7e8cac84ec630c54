"""Reading Kafka records: headers and the event type, without trusting either to be there."""

from __future__ import annotations

import json

from aiokafka import ConsumerRecord


def header(record: ConsumerRecord, name: str) -> str | None:
    for key, value in record.headers or ():
        if key == name and value:
            return bytes(value).decode(errors="replace")
    return None


def body_field(record: ConsumerRecord, name: str) -> str | None:
    """A top-level string field of a JSON body, or None when the body is not such JSON."""
    try:
        data = json.loads(record.value)
    except (TypeError, ValueError):
        return None
    value = data.get(name) if isinstance(data, dict) else None
    return value if isinstance(value, str) and value else None


def event_type_of(record: ConsumerRecord) -> str | None:
    """From the header the outbox sets; from the body for producers that set no headers."""
    return header(record, "event_type") or body_field(record, "event_type")
