"""The envelope every event carries, and how events go to and from Kafka bytes."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Union
from uuid import UUID, uuid4

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from shared.contracts.text import Text, is_storable, storable_or


class FrozenModel(BaseModel):
    """Messages are values: immutable, and strict about fields nobody declared."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class Event(FrozenModel):
    """Envelope fields; each concrete event adds ``event_type`` as a literal and its own payload fields."""

    event_id: UUID = Field(default_factory=uuid4, description="Unique id of this event; consumers deduplicate on it")
    event_type: str = Field(description="What happened, past tense, dotted: 'inquiry.submitted'")
    version: StrictInt = Field(1, ge=1, description="Schema version of this event type")
    occurred_at: AwareDatetime = Field(description="When it happened (UTC)")
    correlation_id: Text = Field(description="Id that ties this event to the request or message that caused it")

    @abstractmethod
    def partition_key(self) -> str:
        """The Kafka key: events of one aggregate stay in order on one partition."""


class InquiryEvent(Event):
    """An event about one inquiry: keyed by the inquiry id."""

    inquiry_id: UUID = Field(description="The inquiry this event is about; also the Kafka message key")

    def partition_key(self) -> str:
        return str(self.inquiry_id)


def to_bytes(event: Event) -> bytes:
    return event.model_dump_json().encode()


def kafka_headers(event: Event) -> list[tuple[str, bytes]]:
    """Headers let a consumer skip event types it does not handle without parsing the body."""
    return [
        ("event_type", event.event_type.encode()),
        ("correlation_id", event.correlation_id.encode()),
        ("event_id", str(event.event_id).encode()),
    ]


def event_parser(*event_types: type[Event]) -> TypeAdapter[Any]:
    """A parser for the events a consumer handles, told apart by ``event_type``."""
    if len(event_types) == 1:
        return TypeAdapter(event_types[0])
    union: Any = Annotated[Union[event_types], Field(discriminator="event_type")]  # noqa: UP007 - a runtime tuple
    return TypeAdapter(union)


def declared_event_type(event_cls: type[Event]) -> str:
    default = event_cls.model_fields["event_type"].default
    if not isinstance(default, str):
        raise TypeError(f"{event_cls.__name__} has no literal event_type default")
    return default


class FieldError(FrozenModel):
    """One reason an input was refused. Never carries the offending value: it may be personal data."""

    field: Text = Field(description="Dotted path of the field, e.g. 'parent.email'")
    reason: Text = Field(description="Why it was refused, for a person to read")


class Rejection(Event):
    """A message was refused: each field and why, and where the message stood. Keyed by the sender's correlation id,
    so the answers to one sender stay in order on one partition."""

    errors: list[FieldError] = Field(description="Each field refused and why")
    origin_topic: Text = Field(description="Topic the refused message came from")
    origin_partition: int = Field(description="Partition the refused message came from")
    origin_offset: int = Field(description="Offset of the refused message")

    def partition_key(self) -> str:
        return self.correlation_id

    @model_validator(mode="before")
    @classmethod
    def _echo_only_what_can_be_stored(cls, data: Any) -> Any:
        """A rejection echoes what it could read of the refused message (its correlation id, its idempotency key).
        Text PostgreSQL cannot store was not readable: the correlation id becomes where the message stood, and an
        optional field is left out, so the rejection itself can go through the outbox."""
        if not isinstance(data, dict):
            return data
        echoed = dict(data)
        for name, value in data.items():
            if not isinstance(value, str) or is_storable(value):
                continue
            if name == "correlation_id":
                echoed[name] = f"{data.get('origin_topic')}/{data.get('origin_partition')}/{data.get('origin_offset')}"
            elif name in cls.model_fields and cls.model_fields[name].default is None:
                echoed[name] = None
        return echoed


def field_errors(error: ValidationError) -> list[FieldError]:
    """Turn pydantic's errors into field/reason pairs (the same on HTTP and on Kafka)."""
    return field_errors_of(error.errors(include_input=False, include_url=False))


def field_errors_of(
    errors: Iterable[Mapping[str, Any]], *, where: frozenset[str] = frozenset(), whole: str = "(message)"
) -> list[FieldError]:
    """Field/reason pairs from pydantic-shaped error dicts.

    ``where`` names location prefixes to leave out (FastAPI puts ``body``, ``query`` or ``path`` first); ``whole``
    names an error about the input as a whole. The offending value is never copied.
    """
    out: list[FieldError] = []
    for item in errors:
        # A field's name can come from the input (an undeclared key): what could not be stored is replaced.
        loc = [storable_or(str(part), "\ufffd") for part in item["loc"]]
        if loc and loc[0] in where:
            loc = loc[1:]
        reason = storable_or(str(item.get("msg", "invalid")).removeprefix("Value error, "), "\ufffd")
        out.append(FieldError(field=".".join(loc) or whole, reason=reason))
    return out
