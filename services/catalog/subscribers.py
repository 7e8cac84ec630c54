"""The catalog's Kafka transport: read records, pick dedup ids, answer refusals, know the broker's topics; the use
cases are in ``handlers.py``."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from uuid import UUID

from aiokafka import ConsumerRecord

from services.catalog import domain, handlers
from services.catalog.querying import NO_SYNONYMS, Synonyms
from services.catalog.unit_of_work import CatalogUnitOfWork
from shared.business_calendar import DistrictCalendar
from shared.clock import Clock
from shared.contracts.calendar import CalendarClosureAdded
from shared.contracts.catalog import (
    LookupRejected,
    LookupResources,
    ResourceUpsertRejected,
    UpsertResource,
    checked_reply_topic,
)
from shared.contracts.envelope import FieldError
from shared.contracts.topics import CATALOG_EVENTS, CATALOG_REPLIES
from shared.kafka import records
from shared.kafka.batch_consumer import Incoming
from shared.kafka.event_subscriber import EventSubscriber
from shared.kafka.records import InvalidMessage


class ReplyTopics:
    """Which topics the broker has, so a lookup's reply goes only to a topic that exists.

    Without this a request could make the catalog create topics at will (brokers that create on first use), or
    leave an outbox row the relay can never deliver (brokers that do not). Unknown names re-ask the broker at most
    once per ``refresh_after`` seconds, so a stream of made-up names cannot flood it.
    """

    def __init__(self, fetch: Callable[[], Awaitable[set[str]]], *, refresh_after: float) -> None:
        self._fetch = fetch
        self._refresh_after = refresh_after
        self._known: set[str] = set()
        self._fetched_at: float | None = None

    async def exists(self, topic: str) -> bool:
        if topic in self._known:
            return True
        if self._fetched_at is None or time.monotonic() - self._fetched_at >= self._refresh_after:
            self._known = await self._fetch()
            self._fetched_at = time.monotonic()
        return topic in self._known


class LookupsSubscriber:
    """``psc.catalog.lookups``: search the directory, reply on the topic the request names (via the outbox).

    Deduplicated by request id in the inbox: a request delivered twice is answered once.
    """

    name = "catalog-lookups"

    def __init__(self, *, clock: Clock, reply_topics: handlers.KnownTopics, synonyms: Synonyms = NO_SYNONYMS) -> None:
        self._clock = clock
        self._reply_topics = reply_topics
        self._synonyms = synonyms

    def parse(self, record: ConsumerRecord) -> LookupResources:
        return records.parse_command(record, LookupResources)

    def dedup_id(self, message: LookupResources) -> UUID | None:
        return message.request_id

    async def handle(self, uow: CatalogUnitOfWork, batch: list[Incoming[LookupResources]]) -> None:
        # One after the other, so answers and refusals go out in the order the requests came.
        searched: handlers.SearchesOfTheBatch = {}
        for item in batch:
            outcome = await handlers.answer_lookup(
                uow,
                item.message,
                topics=self._reply_topics,
                now=self._clock.now(),
                searched=searched,
                synonyms=self._synonyms,
            )
            if isinstance(outcome, handlers.Refused):
                uow.emit(CATALOG_REPLIES, _lookup_rejected(item.record, outcome.errors, now=self._clock.now()))

    async def reject(self, uow: CatalogUnitOfWork, record: ConsumerRecord, error: InvalidMessage) -> bool:
        if records.correlation_id_of(record) is None:
            return False  # nobody to answer: the dead-letter topic keeps it for an operator
        reply_to = await self._usable_reply_topic(records.body_field(record, "reply_to"))
        uow.emit(reply_to, _lookup_rejected(record, error.errors, now=self._clock.now()))
        return True

    async def _usable_reply_topic(self, requested: str | None) -> str:
        """The topic the request named when it is allowed and exists; the default reply topic otherwise."""
        if requested is None:
            return CATALOG_REPLIES
        try:
            topic = checked_reply_topic(requested.strip())
        except ValueError:
            return CATALOG_REPLIES
        return topic if await self._reply_topics.exists(topic) else CATALOG_REPLIES


class UpsertsSubscriber:
    """``psc.catalog.upserts``: the same upsert as ``PUT /v1/resources/{id}``; refusals go to the catalog's events.

    Deduplicated by request id when the sender gives one; without one an upsert delivered twice is still harmless
    (the second finds nothing changed).
    """

    name = "catalog-upserts"

    def __init__(self, *, clock: Clock, on_change: Callable[[], None] = lambda: None) -> None:
        self._clock = clock
        self._on_change = on_change

    def parse(self, record: ConsumerRecord) -> UpsertResource:
        command = records.parse_command(record, UpsertResource)
        problems = domain.upsert_problems(command)
        if problems:
            raise InvalidMessage(problems)
        return command

    def dedup_id(self, message: UpsertResource) -> UUID | None:
        return message.request_id

    async def handle(self, uow: CatalogUnitOfWork, batch: list[Incoming[UpsertResource]]) -> None:
        # One after the other: an upsert reads what the previous one in the batch wrote (a shared organization).
        for item in batch:
            command = item.message
            outcome = await handlers.apply_upsert(
                uow, command.service_id, command, now=self._clock.now(), correlation_id=command.correlation_id
            )
            if isinstance(outcome, handlers.Refused):
                uow.emit(CATALOG_EVENTS, self._rejection(item.record, outcome.errors))
            elif outcome.changed:
                self._on_change()

    async def reject(self, uow: CatalogUnitOfWork, record: ConsumerRecord, error: InvalidMessage) -> bool:
        if records.correlation_id_of(record) is None:
            return False
        uow.emit(CATALOG_EVENTS, self._rejection(record, error.errors))
        return True

    def _rejection(self, record: ConsumerRecord, errors: list[FieldError]) -> ResourceUpsertRejected:
        return ResourceUpsertRejected(
            occurred_at=self._clock.now(),
            correlation_id=records.correlation_id_or_position(record),
            errors=errors,
            service_id=records.body_field(record, "service_id"),
            request_id=_uuid_or_none(records.body_field(record, "request_id")),
            origin_topic=record.topic,
            origin_partition=record.partition,
            origin_offset=record.offset,
        )


class ClosuresSubscriber(EventSubscriber[CalendarClosureAdded, CatalogUnitOfWork]):
    """``psc.calendar.events``: an emergency closure routing announced is kept, and the referrals awaiting a reply
    that fall due on or after it get their due time counted again (deduplicated by event id in the inbox)."""

    name = "calendar-closures"
    handles = (CalendarClosureAdded,)

    def __init__(self, *, calendar: DistrictCalendar, reply_business_days: int) -> None:
        self._calendar = calendar
        self._reply_business_days = reply_business_days

    async def handle(self, uow: CatalogUnitOfWork, batch: list[Incoming[CalendarClosureAdded]]) -> None:
        for item in batch:
            await handlers.apply_closure(
                uow, item.message, calendar=self._calendar, reply_business_days=self._reply_business_days
            )


def _lookup_rejected(record: ConsumerRecord, errors: list[FieldError], *, now: datetime) -> LookupRejected:
    return LookupRejected(
        occurred_at=now,
        correlation_id=records.correlation_id_or_position(record),
        errors=errors,
        request_id=_uuid_or_none(records.body_field(record, "request_id")),
        origin_topic=record.topic,
        origin_partition=record.partition,
        origin_offset=record.offset,
    )


def _uuid_or_none(value: str | None) -> UUID | None:
    if value is None:
        return None
    try:
        return UUID(value)
    except ValueError:
        return None
