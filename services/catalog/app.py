"""The catalog's composition root: settings, runtime (pool, broker, relay), the directory's seed, subscribers and the
HTTP app.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from aiokafka import AIOKafkaProducer
from fastapi import FastAPI

from services.catalog import api, directory_api, handlers
from services.catalog.api import CatalogContext
from services.catalog.domain import SeedCatalog
from services.catalog.places import School, read_school_list
from services.catalog.querying import parse_synonyms
from services.catalog.referral_clock import ReferralClock
from services.catalog.searching import SearchCache
from services.catalog.settings import CatalogSettings
from services.catalog.staff import serve_access
from services.catalog.subscribers import ClosuresSubscriber, LookupsSubscriber, ReplyTopics, UpsertsSubscriber
from services.catalog.unit_of_work import PostgresCatalogUnitOfWork
from shared.business_calendar import DistrictCalendar, FileProblem, district_calendar
from shared.clock import Clock
from shared.contracts.catalog import (
    InquiryReferralAnswered,
    InquiryReferralEscalated,
    InquiryReferralWarning,
    InquiryReferred,
    LookupRejected,
    LookupReplied,
    ResourceUpdated,
    ResourceUpsertRejected,
)
from shared.contracts.topics import CALENDAR_EVENTS, CATALOG_EVENTS, CATALOG_LOOKUPS, CATALOG_REPLIES, CATALOG_UPSERTS
from shared.http import create_http_app
from shared.logging import get_logger
from shared.service import run_service, running_service

log = get_logger(__name__)

NAME = "catalog"
MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: CatalogSettings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or CatalogSettings()
    clock = clock or settings.platform.clock()
    calendar = load_calendar(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with running_service(app, name=NAME, settings=settings, migrations=MIGRATIONS) as runtime:
            seed = await _read_seed(settings.seed_path)
            synonyms = parse_synonyms(await asyncio.to_thread(settings.synonyms_path.read_text))
            schools = await _read_schools(settings.schools_csv)
            async with runtime.unit_of_work(PostgresCatalogUnitOfWork) as uow:
                await handlers.prepare_directory(uow, seed, now=clock.now(), schools=schools, synonyms=synonyms)
            reply_topics = ReplyTopics(
                lambda: _broker_topics(runtime.producer), refresh_after=settings.reply_topics_refresh_seconds
            )
            runtime.subscribe(
                LookupsSubscriber(clock=clock, reply_topics=reply_topics, synonyms=synonyms),
                topic=CATALOG_LOOKUPS,
                unit_of_work=PostgresCatalogUnitOfWork,
            )
            runtime.subscribe(
                ClosuresSubscriber(calendar=calendar, reply_business_days=settings.referral_reply_business_days),
                topic=CALENDAR_EVENTS,
                unit_of_work=PostgresCatalogUnitOfWork,
            )
            search_cache = SearchCache(ttl=settings.search_cache_seconds)
            runtime.subscribe(
                UpsertsSubscriber(clock=clock, on_change=search_cache.clear),
                topic=CATALOG_UPSERTS,
                unit_of_work=PostgresCatalogUnitOfWork,
            )
            serve_access(app, runtime)
            runtime.publishes(
                CATALOG_EVENTS,
                ResourceUpdated,
                ResourceUpsertRejected,
                InquiryReferred,
                InquiryReferralAnswered,
                InquiryReferralWarning,
                InquiryReferralEscalated,
                description="A service was added or changed, keyed by its id; or an upsert was refused, keyed by its "
                "correlation id; an inquiry was referred to a department, the referral's clock warned or escalated, "
                "or the department answered, keyed by the inquiry id.",
            )
            runtime.publishes(
                CATALOG_REPLIES,
                LookupReplied,
                LookupRejected,
                description="Answers to lookups, keyed by the requester's correlation id: here, or on the topic the "
                "request's reply_to names when the broker has it.",
            )
            await runtime.start()
            referral_clock = ReferralClock(
                runtime.pool, clock=clock, poll_interval=settings.referral_sweep_seconds, on_commit=runtime.relay.wake
            )
            referral_clock.start()
            app.state.context = CatalogContext(
                runtime,
                clock,
                calendar,
                synonyms=synonyms,
                referral_reply_business_days=settings.referral_reply_business_days,
                search_cache=search_cache,
                referral_clock=referral_clock,
            )
            try:
                yield
            finally:
                await referral_clock.stop()

    app = create_http_app(
        service=NAME,
        title="Parent Support Center: catalog",
        description="Find the district program or office for a family's need: search, read and maintain the directory.",
        lifespan=lifespan,
        settings=settings,
    )
    app.include_router(api.router)
    app.include_router(directory_api.router)
    return app


def load_calendar(settings: CatalogSettings) -> DistrictCalendar:
    """The district calendar referral reply clocks run on (public holidays and the district file; the emergency
    closures on file are added in each transaction); a bad file raises ``FileProblem`` and the service does not
    start."""
    return district_calendar(
        timezone=settings.timezone,
        holiday_subdivision=settings.holiday_subdivision,
        calendar_file=settings.calendar_file,
    )


async def _read_seed(path: Path | None) -> SeedCatalog | None:
    """The seed file's resources (read off the event loop), or None when the directory is managed by upserts only."""
    if path is None:
        return None
    return SeedCatalog.model_validate_json(await asyncio.to_thread(path.read_bytes))


async def _read_schools(path: Path | None) -> list[School]:
    """The school list's schools (a bad line is logged by number and left out), or none."""
    if path is None:
        return []
    schools, problems = read_school_list(await asyncio.to_thread(path.read_text))
    for problem in problems:
        log.warning("school list line left out", file=path.name, line=problem.line, reason=problem.reason)
    return schools


async def _broker_topics(producer: AIOKafkaProducer) -> set[str]:
    metadata = await producer.client.fetch_all_metadata()
    return set(metadata.topics())


def serve() -> None:
    settings = CatalogSettings()
    try:
        app = create_app(settings)
    except FileProblem as problem:
        # A bad district calendar file: say which line and why, and do not start.
        raise SystemExit(f"catalog does not start: {problem}") from None
    run_service(name=NAME, settings=settings, app=app)
