"""Reading Kafka records: headers and the event type, without trusting either to be there."""

from __future__ import annotations

import json
from typing import TypeVar

from aiokafka import ConsumerRecord
from pydantic import BaseModel, ValidationError

from shared.contracts.envelope import FieldError, field_errors

C = TypeVar("C", bound=BaseModel)


class InvalidMessage(Exception):
    """A record that can never be processed as it is: the reasons name the fields."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.reason}" for e in errors))
        self.errors = errors


def _raw_header(record: ConsumerRecord, name: str) -> bytes | None:
    for key, value in record.headers or ():
        if key == name and value:
            return bytes(value)
    return None


def header(record: ConsumerRecord, name: str) -> str | None:
    """A header as text, for echoing back (a correlation id): bytes that are not UTF-8 are replaced, not refused."""
    raw = _raw_header(record, name)
    return raw.decode(errors="replace") if raw is not None else None


def body_field(record: ConsumerRecord, name: str) -> str | None:
    """A top-level string field of a JSON body, or None when the body is not such JSON."""
    try:
        data = json.loads(record.value)
    except (TypeError, ValueError):
        return None
    value = data.get(name) if isinstance(data, dict) else None
    return value if isinstance(value, str) and value else None


def event_type_of(record: ConsumerRecord) -> str | None:
    """From the header the outbox sets; from the body for producers that set no headers.

    An ``event_type`` header that is not UTF-8 cannot say which event this is: InvalidMessage (the record is parked).
    """
    raw = _raw_header(record, "event_type")
    if raw is None:
        return body_field(record, "event_type")
    try:
        return raw.decode()
    except UnicodeDecodeError as exc:
        raise InvalidMessage([FieldError(field="headers.event_type", reason="is not UTF-8 text")]) from exc


def correlation_id_of(record: ConsumerRecord) -> str | None:
    """The sender's correlation id, from the body or else the header."""
    correlation_id = body_field(record, "correlation_id") or header(record, "correlation_id")
    return correlation_id[:200] if correlation_id else None


def correlation_id_or_position(record: ConsumerRecord) -> str:
    """For answering a sender: its correlation id, or where its message stood when it sent none."""
    return correlation_id_of(record) or f"{record.topic}/{record.partition}/{record.offset}"


def parse_command(record: ConsumerRecord, model: type[C]) -> C:
    """A command's JSON body as ``model``; a correlation id sent only as a header counts as the body's.

    Raises InvalidMessage naming each refused field, so the subscriber can answer with a rejection.
    """
    try:
        data = json.loads(record.value)
    except (TypeError, ValueError) as exc:
        raise InvalidMessage([FieldError(field="(message)", reason="is not a JSON object")]) from exc
    if isinstance(data, dict) and "correlation_id" not in data:
        sent_as_header = header(record, "correlation_id")
        if sent_as_header:
            data["correlation_id"] = sent_as_header
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidMessage(field_errors(exc)) from exc
