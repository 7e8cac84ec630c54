"""The catalog's use cases. Each takes a unit of work with the catalog's repository on it, calls the domain, saves, and
emits events through the unit of work's outbox; transport (Kafka in ``subscribers.py``, HTTP in ``api.py``, the seed
in ``app.py``) calls them.

Searching: HTTP and lookups use ``find_resources``. Upserting: HTTP, the upserts topic and the seed use
``apply_upsert``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

from services.catalog import datapackage, domain, referrals
from services.catalog.domain import EventSchedule, InvalidSeed, ResourcePage, ResourceQuery, SeedCatalog
from services.catalog.places import School
from services.catalog.querying import NO_SYNONYMS, Synonyms, parse_query, with_corrections
from services.catalog.schedules import Occurrence, occurrences
from services.catalog.unit_of_work import CatalogUnitOfWork
from shared.business_calendar import DistrictCalendar
from shared.contracts.calendar import CalendarClosureAdded
from shared.contracts.catalog import (
    LookupResources,
    OrganizationDetails,
    ReferInquiry,
    ReferralReply,
    ReferralView,
    ResourceUpsert,
    ResourceView,
    Translation,
)
from shared.contracts.envelope import FieldError
from shared.contracts.topics import CATALOG_EVENTS
from shared.logging import get_logger

log = get_logger(__name__)


# --- Searching ----------------------------------------------------------------------------------------------------


async def find_resources(
    uow: CatalogUnitOfWork, query: ResourceQuery, synonyms: Synonyms = NO_SYNONYMS
) -> ResourcePage:
    """Try the domain's plan in order; the first way that finds anything answers (usually the first: one query).
    Before the last resort (names by trigrams), the words the directory does not know are corrected to the nearest
    ones it does ('atendance' → 'attendance', 'homless' → 'homeless') and the full-text searches run again.
    """
    plan = domain.search_plan(query.q, synonyms)
    page = await _first_found(uow, query, [match for match in plan if not isinstance(match, domain.Fuzzy)])
    if page.total or query.q is None:
        return page
    typed = parse_query(query.q, synonyms).typed_words
    corrections = await uow.directory.correct_words(words=typed) if typed else {}
    if corrections:
        corrected = domain.search_plan(with_corrections(query.q, corrections), synonyms)
        page = await _first_found(uow, query, [match for match in corrected if not isinstance(match, domain.Fuzzy)])
        if page.total:
            return page
    return await _first_found(uow, query, [match for match in plan if isinstance(match, domain.Fuzzy)])


async def _first_found(uow: CatalogUnitOfWork, query: ResourceQuery, matches: list[domain.Match]) -> ResourcePage:
    page = ResourcePage(total=0, results=[])
    for match in matches:
        page = await uow.resources.search_services(
            match=match, filters=query.filters, limit=query.limit, offset=query.offset
        )
        if page.total:
            break
    return page


async def point_of_school(uow: CatalogUnitOfWork, school_id: str) -> tuple[float, float] | None:
    return await uow.directory.school_point(school_id=school_id)


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
    uow: CatalogUnitOfWork,
    service_id: str,
    upsert: ResourceUpsert,
    *,
    now: datetime,
    correlation_id: str,
    refresh_lexicon: bool = True,
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
            contacts=upsert.contacts,
            schedules=upsert.schedules,
        )
    touched = sorted(
        await resources.touch_services(
            service_ids=[service_id] if written else [],
            organization_ids=[organization_id] if organization_changed else [],
            location_ids=changed_locations,
            now=now,
        )
    )
    if touched and refresh_lexicon:
        await uow.directory.refresh_lexicon(extra_words=[])
    views = await resources.get_services(service_ids=[*touched, service_id])
    for touched_id in touched:
        created = touched_id == service_id and written == "created"
        uow.emit(
            CATALOG_EVENTS,
            domain.resource_updated(views[touched_id], created=created, correlation_id=correlation_id, now=now),
        )
    return Applied(views[service_id], created=written == "created", changed=service_id in touched)


SCHOOLS_ORGANIZATION = OrganizationDetails(
    id="cps-schools",
    name="Chicago Public Schools: schools",
    description="The district's schools, each a location with its address, phone, network, grades and languages.",
    website="https://www.cps.edu",
    translations={
        "es": Translation(
            name="Escuelas Públicas de Chicago: escuelas",
            description="Las escuelas del distrito, cada una con su dirección, teléfono, red, grados e idiomas.",
        )
    },
)


async def prepare_directory(
    uow: CatalogUnitOfWork,
    seed: SeedCatalog | None,
    *,
    now: datetime,
    schools: Sequence[School] = (),
    synonyms: Synonyms = NO_SYNONYMS,
) -> None:
    """At start: the taxonomy, then the seed (if any), through the same upsert as everyone (a second start changes
    nothing; an edited seed updates what it changed), the schools as locations, and the lexicon for typos. A seed
    that breaks a rule raises InvalidSeed: the start stops.
    """
    upserts = domain.seed_upserts(seed) if seed is not None else []
    correlation_id = f"catalog-seed:{uuid.uuid4()}"
    await uow.resources.lock_for_seeding()
    renamed = await uow.resources.ensure_taxonomy(terms=domain.taxonomy_terms())
    await uow.resources.refresh_search_documents(taxonomy_term_ids=renamed)
    changed = await _apply_all(uow, upserts, now=now, correlation_id=correlation_id)
    schools_changed = 0
    if schools:
        await uow.resources.upsert_organization(organization=SCHOOLS_ORGANIZATION)
        schools_changed = await uow.directory.upsert_schools(organization_id=SCHOOLS_ORGANIZATION.id, schools=schools)
    await uow.directory.refresh_lexicon(extra_words=sorted(synonyms.vocabulary()))
    log.info(
        "resource directory ready",
        seed_services=len(upserts),
        seed_services_changed=changed,
        schools=len(schools),
        schools_changed=schools_changed,
        synonyms_version=synonyms.version,
    )


async def _apply_all(
    uow: CatalogUnitOfWork, upserts: Sequence[tuple[str, ResourceUpsert]], *, now: datetime, correlation_id: str
) -> int:
    """Apply a seed's or an import's upserts in order; how many changed. A refused one raises InvalidSeed naming
    it (the caller's transaction rolls back: nothing of it is stored)."""
    changed = 0
    for i, (service_id, upsert) in enumerate(upserts):
        outcome = await apply_upsert(
            uow, service_id, upsert, now=now, correlation_id=correlation_id, refresh_lexicon=False
        )
        if isinstance(outcome, Refused):
            raise InvalidSeed([FieldError(field=f"services.{i}.{e.field}", reason=e.reason) for e in outcome.errors])
        changed += outcome.changed
    return changed


# --- Export and import --------------------------------------------------------------------------------------------


async def export_directory(uow: CatalogUnitOfWork) -> SeedCatalog:
    """Every service with the organizations offering it and the locations it uses: the seed file's shape."""
    views = await uow.resources.get_services(service_ids=await uow.resources.all_service_ids())
    _, organizations = await uow.directory.list_organizations(limit=100_000, offset=0)
    return datapackage.package_of(list(views.values()), organizations)


@dataclass(frozen=True)
class Imported:
    services: int
    changed: int


async def import_directory(
    uow: CatalogUnitOfWork, package: SeedCatalog, *, now: datetime, correlation_id: str
) -> Imported:
    """Upsert every service of another directory's package (nothing is deleted); raises InvalidSeed with each bad
    entry, and then the caller's transaction stores none of it."""
    upserts = domain.seed_upserts(package)
    changed = await _apply_all(uow, upserts, now=now, correlation_id=correlation_id)
    await uow.directory.refresh_lexicon(extra_words=[])
    return Imported(services=len(upserts), changed=changed)


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
    synonyms: Synonyms = NO_SYNONYMS,
) -> LookupOutcome:
    """Search the directory and emit the reply on the topic the request names; refused (nothing emitted) when the
    broker has no such topic: a request may neither make the catalog create topics nor leave an undeliverable reply.
    """
    if not await topics.exists(request.reply_to):
        return Refused([FieldError(field="reply_to", reason="names a topic the broker does not have")])
    query = domain.query_of_lookup(request)
    key = domain.query_key(query)
    if key not in searched:
        searched[key] = await find_resources(uow, query, synonyms)
    uow.emit(request.reply_to, domain.lookup_replied(request, searched[key], now=now))
    return Answered(request.reply_to)


# --- Events -------------------------------------------------------------------------------------------------------


async def list_events(
    uow: CatalogUnitOfWork, *, start: datetime, end: datetime, language: str | None, service_id: str | None
) -> list[tuple[EventSchedule, Occurrence]]:
    """Every occurrence of the directory's events (or one service's) overlapping [start, end), soonest first."""
    found: list[tuple[EventSchedule, Occurrence]] = []
    for event in await uow.directory.event_schedules(service_id=service_id, language=language):
        found += [(event, occurrence) for occurrence in occurrences(event.schedule, start, end)]
    found.sort(key=lambda pair: (pair[1].start, pair[0].schedule.id))
    return found


# --- Referrals ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Referred:
    referral: ReferralView
    created: bool


@dataclass(frozen=True)
class NotFound:
    what: str


async def refer_inquiry(
    uow: CatalogUnitOfWork,
    inquiry_id: UUID,
    body: ReferInquiry,
    *,
    staff_id: str,
    network_id: str,
    now: datetime,
    reply_business_days: int,
    calendar: DistrictCalendar,
    correlation_id: str,
) -> Referred | NotFound:
    """Refer the inquiry to the department (a service of the directory) with its reply deadline, ``reply_business_days``
    business days on ``calendar`` with the emergency closures on file; announce it as ``inquiry.referred``. The same
    request key twice makes one referral (the first one is answered)."""
    if body.request_key is not None:
        existing = await uow.referrals.by_request_key(request_key=body.request_key)
        if existing is not None:
            return Referred(existing, created=False)
    department = await uow.referrals.department_name(service_id=body.service_id)
    if department is None:
        return NotFound("service_id")
    new = referrals.NewReferral(
        id=uuid.uuid4(),
        inquiry_id=inquiry_id,
        service_id=body.service_id,
        department=department,
        referred_by=staff_id,
        network_id=network_id,
        reason=body.reason,
        referred_at=now,
        reply_due_at=referrals.reply_due_at(
            now, business_days=reply_business_days, calendar=await calendar_with_closures(uow, calendar)
        ),
        request_key=body.request_key,
        reply_business_days=reply_business_days,
    )
    stored = await uow.referrals.add(referral=new)
    if stored is None:  # the same key, sent at the same moment by another request
        assert body.request_key is not None
        again = await uow.referrals.by_request_key(request_key=body.request_key)
        assert again is not None
        return Referred(again, created=False)
    uow.emit(CATALOG_EVENTS, referrals.referred(new, correlation_id=correlation_id))
    return Referred(stored, created=True)


@dataclass(frozen=True)
class AlreadyAnswered:
    referral: ReferralView


async def answer_referral(
    uow: CatalogUnitOfWork,
    inquiry_id: UUID,
    referral_id: UUID,
    body: ReferralReply,
    *,
    staff_id: str,
    now: datetime,
    correlation_id: str,
) -> ReferralView | NotFound | AlreadyAnswered:
    """Record the department's answer and announce ``inquiry.referral_answered`` (late when past the deadline)."""
    found = await uow.referrals.get(referral_id=referral_id)
    if found is None or found.inquiry_id != inquiry_id:
        return NotFound("referral")
    if not await uow.referrals.answer(referral_id=referral_id, answer=body.answer, answered_by=staff_id, now=now):
        return AlreadyAnswered(found)
    view = await uow.referrals.get(referral_id=referral_id)
    assert view is not None
    uow.emit(CATALOG_EVENTS, referrals.answered(view, correlation_id=correlation_id))
    return view


async def fire_due_referrals(uow: CatalogUnitOfWork, *, now: datetime, limit: int) -> int:
    """One sweep of the referral clock: warn what reached 75% of its reply time, escalate what passed its deadline
    (each once); returns how many referrals it claimed."""
    due = await uow.referrals.claim_due(now=now, limit=limit)
    for referral in due:
        for event in referrals.fired(referral, now=now):
            uow.emit(CATALOG_EVENTS, event)
    return len(due)


# --- The district calendar -----------------------------------------------------------------------------------------


async def calendar_with_closures(uow: CatalogUnitOfWork, base: DistrictCalendar) -> DistrictCalendar:
    """``base`` (public holidays and the district file) with the emergency closures on file, read in the caller's
    transaction: every replica, and a fresh start, counts on the closures routing announced so far."""
    return base.with_closures(await uow.calendar.closures())


async def apply_closure(
    uow: CatalogUnitOfWork, closure: CalendarClosureAdded, *, calendar: DistrictCalendar, reply_business_days: int
) -> int:
    """Routing closed the offices on a day: keep it, and move the due (and warning) time of every referral still
    awaiting a reply that falls due on or after that day, counted again from when it was referred. Returns how many
    moved; a closure delivered again moves none (the due times are already those of the calendar with it)."""
    await uow.calendar.add_closure(day=closure.day, reason=closure.reason, now=closure.occurred_at)
    current = await calendar_with_closures(uow, calendar)
    awaiting = await uow.referrals.lock_awaiting_reply(due_from=referrals.start_of(closure.day, current))
    moved = referrals.moved_by_calendar(awaiting, calendar=current, default_business_days=reply_business_days)
    await uow.referrals.move_due(moved=moved)
    if moved:
        log.info("referral due times moved by a closure", day=closure.day.isoformat(), moved=len(moved))
    return len(moved)
