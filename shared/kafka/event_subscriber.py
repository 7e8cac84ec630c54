"""The common shape of a subscriber to events: take the types it handles, skip the rest, deduplicate by event id."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar, Generic, TypeVar
from uuid import UUID

from aiokafka import ConsumerRecord
from pydantic import TypeAdapter, ValidationError

from shared.contracts.envelope import Event, FieldError, declared_event_type, event_parser, field_errors
from shared.kafka import records
from shared.kafka.batch_consumer import Incoming
from shared.kafka.records import InvalidMessage

E = TypeVar("E", bound=Event)
U = TypeVar("U")


class EventSubscriber(ABC, Generic[E, U]):
    """Subclasses name themselves, list the event classes they handle, and write ``handle`` (which calls the use
    case with ``U``, the service's unit of work).

    An event of a type not listed is skipped (other consumers' business, or a newer type this version does not know);
    a listed type that fails validation, or carries a version other than the one its class declares, goes to the
    dead-letter topic with the reason.
    """

    name: ClassVar[str]
    handles: ClassVar[tuple[type[Event], ...]]
    _parser: TypeAdapter[E]
    _types: frozenset[str]

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if getattr(cls, "handles", None):
            cls._parser = event_parser(*cls.handles)
            cls._types = frozenset(declared_event_type(event_cls) for event_cls in cls.handles)

    def parse(self, record: ConsumerRecord) -> E | None:
        if records.event_type_of(record) not in self._types:
            return None
        try:
            event = self._parser.validate_json(record.value)
        except ValidationError as exc:
            raise InvalidMessage(field_errors(exc)) from exc
        known = type(event).model_fields["version"].default
        if event.version != known:
            # Never applied as another version: a newer producer's event waits, parked, for a consumer that knows it.
            reason = f"version {event.version} of {event.event_type} is not known here (this consumer reads {known})"
            raise InvalidMessage([FieldError(field="version", reason=reason)])
        return event

    def dedup_id(self, message: E) -> UUID | None:
        return message.event_id

    @abstractmethod
    async def handle(self, uow: U, batch: list[Incoming[E]]) -> None: ...

    async def reject(self, uow: U, record: ConsumerRecord, error: InvalidMessage) -> bool:
        return False
