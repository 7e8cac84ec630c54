"""The catalog's use cases. Each takes a unit of work with the catalog's repository on it, calls the domain, saves, and
emits events through the unit of work's outbox; transport (Kafka in ``subscribers.py``, HTTP in ``api.py``, the seed
in ``app.py``) calls them.

Searching: HTTP and lookups use ``find_resources``. Upserting: HTTP, the upserts topic and the seed use
``apply_upsert``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from services.catalog import domain
from services.catalog.domain import InvalidSeed, ResourcePage, ResourceQuery, SeedCatalog
from services.catalog.unit_of_work import CatalogUnitOfWork
from shared.contracts.catalog import LookupResources, ResourceUpsert, ResourceView
from shared.contracts.envelope import FieldError
from shared.contracts.topics import CATALOG_EVENTS
from shared.logging import get_logger

log = get_logger(__name__)


# --- Searching ----------------------------------------------------------------------------------------------------


async def find_resources(uow: CatalogUnitOfWork, query: ResourceQuery) -> ResourcePage:
    """Try the domain's plan in order; the first way that finds anything answers (usually the first: one query)."""
    page = ResourcePage(total=0, results=[])
    for match in domain.search_plan(query.q):
        page = await uow.resources.search_services(
            match=match,
            category=query.category,
            language=query.language,
            limit=query.limit,
            offset=query.offset,
        )
        if page.total:
            break
    return page


async def find_resource(uow: CatalogUnitOfWork, service_id: str) -> ResourceView | None:
    found = await uow.resources.get_services(service_ids=[service_id])
    return found.get(service_id)


# --- Upserting ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Applied:
    view: ResourceView
    created: bool
    changed: bool


@dataclass(frozen=True)
class Refused:
    """Refused for these reasons; nothing was stored or answered."""

    errors: list[FieldError]


UpsertOutcome = Applied | Refused


async def apply_upsert(
    uow: CatalogUnitOfWork, service_id: str, upsert: ResourceUpsert, *, now: datetime, correlation_id: str
) -> UpsertOutcome:
    """Store the service with its organization and locations; emit ``ResourceUpdated`` for every service whose view
    changed (an organization's new name changes all of its services). An identical upsert changes nothing.
    """
    resources = uow.resources
    problems = domain.upsert_problems(upsert)
    if not problems:
        owners = await resources.location_owners(location_ids=[location.id for location in upsert.locations])
        problems = domain.location_conflicts(upsert, owners)
    if problems:
        return Refused(problems)
    organization_id = upsert.organization.id
    organization_changed = await resources.upsert_organization(organization=upsert.organization)
    changed_locations = await resources.upsert_locations(organization_id=organization_id, locations=upsert.locations)
    written = await resources.upsert_service(
        service_id=service_id,
        organization_id=organization_id,
        service=upsert.service,
        fingerprint=domain.fingerprint(upsert),
        now=now,
    )
    if written:
        await resources.replace_service_details(
            service_id=service_id,
            phones=upsert.phones,
            languages=upsert.languages,
            categories=upsert.categories,
            location_ids=[location.id for location in upsert.locations],
        )
    touched = sorted(
        await resources.touch_services(
            service_ids=[service_id] if written else [],
            organization_ids=[organization_id] if organization_changed else [],
            location_ids=changed_locations,
            now=now,
        )
    )
    views = await resources.get_services(service_ids=[*touched, service_id])
    for touched_id in touched:
        created = touched_id == service_id and written == "created"
        uow.emit(
            CATALOG_EVENTS,
            domain.resource_updated(views[touched_id], created=created, correlation_id=correlation_id, now=now),
        )
    return Applied(views[service_id], created=written == "created", changed=service_id in touched)


async def prepare_directory(uow: CatalogUnitOfWork, seed: SeedCatalog | None, *, now: datetime) -> None:
    """At start: the taxonomy, then the seed (if any), through the same upsert as everyone (a second start changes
    nothing; an edited seed updates what it changed). A seed that breaks a rule raises InvalidSeed: the start stops.
    """
    upserts = domain.seed_upserts(seed) if seed is not None else []
    correlation_id = f"catalog-seed:{uuid.uuid4()}"
    await uow.resources.lock_for_seeding()
    renamed = await uow.resources.ensure_taxonomy(terms=domain.taxonomy_terms())
    await uow.resources.refresh_search_documents(taxonomy_term_ids=renamed)
    changed = 0
    for i, (service_id, upsert) in enumerate(upserts):
        outcome = await apply_upsert(uow, service_id, upsert, now=now, correlation_id=correlation_id)
        if isinstance(outcome, Refused):
            raise InvalidSeed([FieldError(field=f"services.{i}.{e.field}", reason=e.reason) for e in outcome.errors])
        changed += outcome.changed
    log.info("resource directory ready", seed_services=len(upserts), seed_services_changed=changed)


# --- Lookups ------------------------------------------------------------------------------------------------------


class KnownTopics(Protocol):
    """Which topics the broker has (``subscribers.ReplyTopics`` asks it)."""

    async def exists(self, topic: str) -> bool: ...


@dataclass(frozen=True)
class Answered:
    reply_to: str


LookupOutcome = Answered | Refused
SearchesOfTheBatch = dict[tuple[object, ...], ResourcePage]
"""Pages found so far for a batch of lookups, by ``domain.query_key``: one search asked twice is run once."""


async def answer_lookup(
    uow: CatalogUnitOfWork,
    request: LookupResources,
    *,
    topics: KnownTopics,
    now: datetime,
    searched: SearchesOfTheBatch,
) -> LookupOutcome:
    """Search the directory and emit the reply on the topic the request names; refused (nothing emitted) when the
    broker has no such topic: a request may neither make the catalog create topics nor leave an undeliverable reply.
    """
    if not await topics.exists(request.reply_to):
        return Refused([FieldError(field="reply_to", reason="names a topic the broker does not have")])
    query = domain.query_of_lookup(request)
    key = domain.query_key(query)
    if key not in searched:
        searched[key] = await find_resources(uow, query)
    uow.emit(request.reply_to, domain.lookup_replied(request, searched[key], now=now))
    return Answered(request.reply_to)
