"""Consuming a batch of records with the delivery guarantees of docs/architecture.md, so each service's subscriber
only says how to read a record and which use case applies it.

For each batch:
1. every record is parsed on its own: one bad record never fails its neighbours. Records the subscriber does not
   handle (other event types) are skipped; records that fail validation go to ``reject`` (a rejection event, say)
   or, by default, to the dead-letter topic;
2. the rest are applied in ONE transaction together with their inbox rows (events applied before are left out),
   so a redelivered event changes nothing;
3. a transient fault (database or broker unreachable, serialization failure) retries the batch with backoff;
   after the last attempt the records are parked on the dead-letter topic;
4. any other failure splits the batch in halves until the record that causes it stands alone; that one is parked,
   the others are applied. The partition keeps flowing.
The caller commits the Kafka offsets only after ``process`` returns.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import UnionType
from typing import Annotated, Any, Generic, Protocol, TypeVar, Union, get_args, get_origin, get_type_hints
from uuid import UUID

import asyncpg
from aiokafka import ConsumerRecord
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.middlewares import AckPolicy
from pydantic import Field, SkipValidation
from structlog.contextvars import bound_contextvars
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from shared.db.unit_of_work import UnitOfWork
from shared.kafka.dead_letters import DeadLetters
from shared.kafka.raw_batches import keep_bodies_as_bytes, parse_raw_batch
from shared.kafka.records import InvalidMessage
from shared.logging import get_logger

log = get_logger(__name__)

M = TypeVar("M")
U = TypeVar("U", bound=UnitOfWork)
U_contra = TypeVar("U_contra", contravariant=True)

TRANSIENT_FAULTS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.ConnectionDoesNotExistError,  # the connection dropped mid-query; other InterfaceErrors are bugs
    asyncpg.TooManyConnectionsError,
    asyncpg.CannotConnectNowError,
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
    KafkaConnectionError,
    KafkaTimeoutError,
)


@dataclass(frozen=True)
class Incoming(Generic[M]):
    record: ConsumerRecord
    message: M


class Subscriber(Protocol[M, U_contra]):
    """What a service writes for one subscription (its ``subscribers.py``); ``BatchConsumer`` does the rest.

    ``U_contra`` is the unit of work its use cases take: the service's own, with its repositories on it.
    """

    @property
    def name(self) -> str:
        """Names the subscription: its consumer group, inbox rows and log lines."""

    def parse(self, record: ConsumerRecord) -> M | None:
        """The message, None to skip it, or raise InvalidMessage."""

    def dedup_id(self, message: M) -> UUID | None:
        """Inbox key (normally the event id); None when the handler deduplicates by itself."""

    async def handle(self, uow: U_contra, batch: list[Incoming[M]]) -> None:
        """Apply the messages (each new to this subscriber) inside ``uow``'s transaction."""

    async def reject(self, uow: U_contra, record: ConsumerRecord, error: InvalidMessage) -> bool:
        """Answer an invalid record inside the transaction; False sends it to the dead-letter topic."""


class BatchConsumer(Generic[M, U]):
    """Applies a subscriber's batches, each in a fresh ``unit_of_work()`` (a transaction with the inbox rows)."""

    def __init__(
        self,
        subscriber: Subscriber[M, U],
        *,
        unit_of_work: Callable[[], U],
        dead_letters: DeadLetters,
        retry_attempts: int = 5,
        retry_max_wait: float = 5.0,
    ) -> None:
        self.subscriber = subscriber
        self._unit_of_work = unit_of_work
        self._dead_letters = dead_letters
        self._retry_attempts = retry_attempts
        self._retry_max_wait = retry_max_wait

    async def process(self, records: Sequence[ConsumerRecord]) -> None:
        with bound_contextvars(subscriber=self.subscriber.name):
            await self._process(records)

    async def _process(self, records: Sequence[ConsumerRecord]) -> None:
        parsed: list[Incoming[M]] = []
        invalid: list[tuple[ConsumerRecord, InvalidMessage]] = []
        for record in records:
            try:
                message = self.subscriber.parse(record)
            except InvalidMessage as error:
                invalid.append((record, error))
                continue
            if message is not None:
                parsed.append(Incoming(record, message))
        if parsed or invalid:
            await self._apply_or_isolate(parsed, invalid)

    async def _apply_or_isolate(
        self, parsed: list[Incoming[M]], invalid: list[tuple[ConsumerRecord, InvalidMessage]]
    ) -> None:
        try:
            await self._apply_with_retries(parsed, invalid)
        except TRANSIENT_FAULTS as fault:
            reason = f"transient fault persisted after {self._retry_attempts} attempts: {type(fault).__name__}"
            for record in [item.record for item in parsed] + [record for record, _ in invalid]:
                await self._park(record, reason)
        except Exception as failure:
            if len(parsed) + len(invalid) == 1:
                record = parsed[0].record if parsed else invalid[0][0]
                await self._park(record, f"{type(failure).__name__}: {failure}")
                return
            # Halve until the failing record stands alone; invalid ones go with the first half.
            middle = len(parsed) // 2
            await self._apply_or_isolate(parsed[:middle], invalid)
            await self._apply_or_isolate(parsed[middle:], [])

    async def _apply_with_retries(
        self, parsed: list[Incoming[M]], invalid: list[tuple[ConsumerRecord, InvalidMessage]]
    ) -> None:
        async for attempt in AsyncRetrying(
            retry=retry_if_exception_type(TRANSIENT_FAULTS),
            stop=stop_after_attempt(self._retry_attempts),
            wait=wait_exponential(multiplier=0.1, max=self._retry_max_wait),
            reraise=True,
        ):
            with attempt:
                to_park = await self._apply_once(parsed, invalid)
        for record, error in to_park:
            await self._park(record, f"invalid message: {error}")

    async def _apply_once(
        self, parsed: list[Incoming[M]], invalid: list[tuple[ConsumerRecord, InvalidMessage]]
    ) -> list[tuple[ConsumerRecord, InvalidMessage]]:
        to_park: list[tuple[ConsumerRecord, InvalidMessage]] = []
        async with self._unit_of_work() as uow:
            fresh = await self._not_applied_before(uow, parsed)
            if fresh:
                await self.subscriber.handle(uow, fresh)
            for record, error in invalid:
                if not await self.subscriber.reject(uow, record, error):
                    to_park.append((record, error))
        return to_park

    async def _not_applied_before(self, uow: U, parsed: list[Incoming[M]]) -> list[Incoming[M]]:
        keyed = [(self.subscriber.dedup_id(item.message), item) for item in parsed]
        ids = [key for key, _ in keyed if key is not None]
        fresh_ids = await uow.claim_inbox(subscriber=self.subscriber.name, event_ids=ids) if ids else set()
        out: list[Incoming[M]] = []
        for key, item in keyed:
            if key is None:
                out.append(item)
            elif key in fresh_ids:
                fresh_ids.discard(key)  # the same event twice in one batch is applied once
                out.append(item)
        return out

    async def _park(self, record: ConsumerRecord, reason: str) -> None:
        await self._dead_letters.park(record, subscriber=self.subscriber.name, reason=reason)


def one_of(*models: type[Any]) -> Any:
    """The type of a message that is one of ``models``: the model itself, or events told apart by ``event_type``."""
    if len(models) == 1:
        return models[0]
    return Annotated[Union[models], Field(discriminator="event_type")]  # noqa: UP007 - a runtime tuple


def message_type(subscriber: Subscriber[Any, Any]) -> Any:
    """The model a subscriber reads, for the AsyncAPI document: the event classes it ``handles`` (an
    ``EventSubscriber``), else the type its ``parse`` returns (a command's), None left out.

    TypeError when neither names a model: every subscription is documented with what it reads.
    """
    handles: tuple[type[Any], ...] = tuple(getattr(subscriber, "handles", ()))
    if handles:
        return one_of(*handles)
    returned = get_type_hints(type(subscriber).parse).get("return")
    if get_origin(returned) in (Union, UnionType):
        read = [arg for arg in get_args(returned) if arg is not type(None)]
    else:
        read = [returned]
    if len(read) != 1 or read[0] is None or isinstance(read[0], TypeVar):
        raise TypeError(
            f"subscriber {subscriber.name!r} names no message model: list `handles`, or annotate what `parse` returns"
        )
    return read[0]


def _summary(doc: str | None) -> str | None:
    """A class's own docstring (``__doc__`` is not inherited), first paragraph: the subscription's description."""
    return inspect.cleandoc(doc).split("\n\n")[0] if doc else None


def subscribe_batch(
    broker: KafkaBroker,
    consumer: BatchConsumer[M, U],
    *,
    topic: str,
    group_id: str,
    max_records: int = 500,
    batch_timeout_ms: int = 50,
    fetch_max_wait_ms: int = 100,
    session_timeout_ms: int = 10_000,
) -> None:
    """Attach ``consumer`` to ``topic`` as a FastStream batch subscriber that commits offsets after each batch.

    NACK_ON_ERROR: if ``process`` still raises (the dead-letter topic itself unreachable), the batch is not
    committed and comes again. ``fetch_max_wait_ms`` (aiokafka's default is 500) bounds how long an idle fetch
    holds a new message back: each hop of the inquiry path pays it.
    """

    async def on_batch(bodies: Any, message: KafkaMessage) -> None:
        raw = message.raw_message
        await consumer.process(raw if isinstance(raw, tuple) else (raw,))

    # FastStream documents a subscriber's payload from its handler's signature: ``bodies`` names the model the
    # subscriber reads, and SkipValidation keeps fast_depends from checking the bodies against it (``process``
    # parses each record on its own, so a bad one never fails its batch in the framework). Any: mypy knows
    # ``SkipValidation[T]`` only as an annotation, not built at runtime as here.
    unchecked: Any = SkipValidation
    on_batch.__annotations__["bodies"] = unchecked[message_type(consumer.subscriber)]

    broker.subscriber(
        topic,
        group_id=group_id,
        batch=True,
        max_records=max_records,
        batch_timeout_ms=batch_timeout_ms,
        fetch_max_wait_ms=fetch_max_wait_ms,
        session_timeout_ms=session_timeout_ms,
        heartbeat_interval_ms=session_timeout_ms // 3,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        # Records reach ``process`` as the broker gave them, whatever their headers or bodies hold (raw_batches).
        parser=parse_raw_batch,
        decoder=keep_bodies_as_bytes,
        title=f"{group_id}:{consumer.subscriber.name}",
        description=_summary(type(consumer.subscriber).__doc__),
    )(on_batch)
