"""The catalog's handlers: searching (HTTP and lookups use ``find_resources``), upserting (HTTP, the upserts topic and
the seed use ``apply_upsert``), and the two Kafka subscribers.

Each reads what it needs, calls the domain, saves, and emits events through the unit of work's outbox.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from uuid import UUID

import asyncpg
from aiokafka import ConsumerRecord

from services.catalog import domain, repository
from services.catalog.domain import InvalidSeed, ResourcePage, ResourceQuery, SeedCatalog
from shared.clock import Clock
from shared.contracts.catalog import (
    LookupRejected,
    LookupResources,
    ResourceUpsert,
    ResourceUpsertRejected,
    ResourceView,
    UpsertResource,
    checked_reply_topic,
)
from shared.contracts.envelope import FieldError
from shared.contracts.topics import CATALOG_EVENTS, CATALOG_REPLIES
from shared.db.unit_of_work import UnitOfWork
from shared.kafka import records
from shared.kafka.batch_consumer import Incoming
from shared.kafka.records import InvalidMessage
from shared.logging import get_logger

log = get_logger(__name__)


# --- Searching ----------------------------------------------------------------------------------------------------


async def find_resources(conn: repository.Conn, query: ResourceQuery) -> ResourcePage:
    """Try the domain's plan in order; the first way that finds anything answers (usually the first: one query)."""
    page = ResourcePage(total=0, results=[])
    for match in domain.search_plan(query.q):
        page = await repository.search_services(
            conn,
            match=match,
            category=query.category,
            language=query.language,
            limit=query.limit,
            offset=query.offset,
        )
        if page.total:
            break
    return page


# --- Upserting ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Applied:
    view: ResourceView
    created: bool
    changed: bool


@dataclass(frozen=True)
class Refused:
    errors: list[FieldError]


UpsertOutcome = Applied | Refused


async def apply_upsert(
    uow: UnitOfWork, service_id: str, upsert: ResourceUpsert, *, now: datetime, correlation_id: str
) -> UpsertOutcome:
    """Store the service with its organization and locations; emit ``ResourceUpdated`` for every service whose view
    changed (an organization's new name changes all of its services). An identical upsert changes nothing.
    """
    conn = uow.conn
    problems = domain.upsert_problems(upsert)
    if not problems:
        owners = await repository.location_owners(conn, location_ids=[location.id for location in upsert.locations])
        problems = domain.location_conflicts(upsert, owners)
    if problems:
        return Refused(problems)
    organization_id = upsert.organization.id
    organization_changed = await repository.upsert_organization(conn, organization=upsert.organization)
    changed_locations = await repository.upsert_locations(
        conn, organization_id=organization_id, locations=upsert.locations
    )
    written = await repository.upsert_service(
        conn,
        service_id=service_id,
        organization_id=organization_id,
        service=upsert.service,
        fingerprint=domain.fingerprint(upsert),
        now=now,
    )
    if written:
        await repository.replace_service_details(
            conn,
            service_id=service_id,
            phones=upsert.phones,
            languages=upsert.languages,
            categories=upsert.categories,
            location_ids=[location.id for location in upsert.locations],
        )
    touched = sorted(
        await repository.touch_services(
            conn,
            service_ids=[service_id] if written else [],
            organization_ids=[organization_id] if organization_changed else [],
            location_ids=changed_locations,
            now=now,
        )
    )
    views = await repository.get_services(conn, service_ids=[*touched, service_id])
    for touched_id in touched:
        created = touched_id == service_id and written == "created"
        uow.emit(
            CATALOG_EVENTS,
            domain.resource_updated(views[touched_id], created=created, correlation_id=correlation_id, now=now),
        )
    return Applied(views[service_id], created=written == "created", changed=service_id in touched)


async def prepare_directory(
    pool: asyncpg.Pool, *, seed_path: Path | None, clock: Clock, on_commit: Callable[[], None] | None = None
) -> None:
    """At start: the taxonomy, then the seed file, through the same upsert as everyone (a second start changes
    nothing; an edited seed file updates what it changed). A seed file that breaks a rule stops the start.
    """
    upserts: list[tuple[str, ResourceUpsert]] = []
    if seed_path is not None:
        seed = SeedCatalog.model_validate_json(await asyncio.to_thread(seed_path.read_bytes))
        upserts = domain.seed_upserts(seed)
    correlation_id = f"catalog-seed:{uuid.uuid4()}"
    async with UnitOfWork(pool, on_commit=on_commit) as uow:
        await repository.lock_for_seeding(uow.conn)
        renamed = await repository.ensure_taxonomy(uow.conn, terms=domain.taxonomy_terms())
        await repository.refresh_search_documents(uow.conn, taxonomy_term_ids=renamed)
        now = clock.now()
        changed = 0
        for i, (service_id, upsert) in enumerate(upserts):
            outcome = await apply_upsert(uow, service_id, upsert, now=now, correlation_id=correlation_id)
            if isinstance(outcome, Refused):
                raise InvalidSeed(
                    [FieldError(field=f"services.{i}.{e.field}", reason=e.reason) for e in outcome.errors]
                )
            changed += outcome.changed
    log.info("resource directory ready", seed_services=len(upserts), seed_services_changed=changed)


# --- Kafka --------------------------------------------------------------------------------------------------------


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

    def __init__(self, *, clock: Clock, reply_topics: ReplyTopics) -> None:
        self._clock = clock
        self._reply_topics = reply_topics

    def parse(self, record: ConsumerRecord) -> LookupResources:
        return records.parse_command(record, LookupResources)

    def dedup_id(self, message: LookupResources) -> UUID | None:
        return message.request_id

    async def handle(self, uow: UnitOfWork, batch: list[Incoming[LookupResources]]) -> None:
        pages: dict[tuple[object, ...], ResourcePage] = {}
        for item in batch:
            request = item.message
            if not await self._reply_topics.exists(request.reply_to):
                errors = [FieldError(field="reply_to", reason="names a topic the broker does not have")]
                uow.emit(CATALOG_REPLIES, _lookup_rejected(item.record, errors, now=self._clock.now()))
                continue
            query = domain.query_of_lookup(request)
            key = domain.query_key(query)
            if key not in pages:
                pages[key] = await find_resources(uow.conn, query)
            uow.emit(request.reply_to, domain.lookup_replied(request, pages[key], now=self._clock.now()))

    async def reject(self, uow: UnitOfWork, record: ConsumerRecord, error: InvalidMessage) -> bool:
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

    def __init__(self, *, clock: Clock) -> None:
        self._clock = clock

    def parse(self, record: ConsumerRecord) -> UpsertResource:
        command = records.parse_command(record, UpsertResource)
        problems = domain.upsert_problems(command)
        if problems:
            raise InvalidMessage(problems)
        return command

    def dedup_id(self, message: UpsertResource) -> UUID | None:
        return message.request_id

    async def handle(self, uow: UnitOfWork, batch: list[Incoming[UpsertResource]]) -> None:
        # One after the other: an upsert reads what the previous one in the batch wrote (a shared organization).
        for item in batch:
            command = item.message
            outcome = await apply_upsert(
                uow, command.service_id, command, now=self._clock.now(), correlation_id=command.correlation_id
            )
            if isinstance(outcome, Refused):
                uow.emit(CATALOG_EVENTS, self._rejection(item.record, outcome.errors))

    async def reject(self, uow: UnitOfWork, record: ConsumerRecord, error: InvalidMessage) -> bool:
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
