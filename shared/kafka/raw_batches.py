"""Batches reach our code as the broker gave them: bytes, whatever their headers hold.

FastStream's own batch parser decodes every header value as UTF-8 and its decoder reads every body as JSON (or text,
by the content-type header) before any of our code runs; one record with a header value such as ``b"\\xff\\xfe"``
made it raise, and the whole batch was lost with nothing parked. These two replace that step for our subscribers:
the framework gets header values it can decode (only for its own bookkeeping: correlation id, reply-to), while
``message.raw_message`` stays the untouched records, and bodies are never decoded by the framework. Reading a record
is ``shared.kafka.records``' job, where a bad value is a reason to park one record, not a batch.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import ConsumerRecord
from faststream.message import StreamMessage

Records = tuple[ConsumerRecord, ...]


def _readable(value: bytes | None) -> bool:
    if value is None:
        return False
    try:
        value.decode()
    except UnicodeDecodeError:
        return False
    return True


def _with_readable_headers(record: ConsumerRecord) -> ConsumerRecord:
    headers = [(key, value if _readable(value) else b"") for key, value in record.headers or ()]
    return dataclasses.replace(record, headers=headers)


async def parse_raw_batch(
    records: Records, original: Callable[[Records], Awaitable[StreamMessage[Records]]]
) -> StreamMessage[Records]:
    """FastStream's parser, given copies whose unreadable header values are blanked; the message keeps the originals.

    Copies are made only for a batch that has such a value: the common batch costs one decode per header, as before.
    """
    if all(_readable(value) for record in records for _, value in record.headers or ()):
        return await original(records)
    message = await original(tuple(_with_readable_headers(record) for record in records))
    message.raw_message = records
    return message


async def keep_bodies_as_bytes(message: StreamMessage[Any]) -> Any:
    """The decoder: bodies stay the bytes the broker gave (our subscribers parse each record on its own)."""
    return message.body
