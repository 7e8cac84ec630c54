"""Routing's composition root: the files it reads (school list, SLA policies, district calendar, staff), the
subscribers, the deadline worker and the HTTP app."""

from __future__ import annotations

import contextlib
import csv
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from services.routing import api, handlers
from services.routing.access import serve_access
from services.routing.api import RoutingContext
from services.routing.deadlines import DeadlineWorker
from services.routing.files import read_policies, read_staff
from services.routing.policies import Rules
from services.routing.settings import RoutingSettings
from services.routing.subscribers import InquirySubmittedSubscriber, SchoolListSubscriber
from services.routing.unit_of_work import PostgresRoutingUnitOfWork
from shared.business_calendar import FileProblem, district_calendar
from shared.clock import Clock
from shared.contracts.calendar import CalendarClosureAdded
from shared.contracts.directory import SchoolListRejected
from shared.contracts.routing import (
    InquiryAssigned,
    InquiryDeadlineMoved,
    InquiryEscalated,
    InquiryReassigned,
    InquiryRerouted,
    InquirySlaBreached,
    InquirySlaWarning,
    StaffUpdated,
)
from shared.contracts.topics import CALENDAR_EVENTS, DIRECTORY_UPDATES, INQUIRY_EVENTS, ROUTING_EVENTS, STAFF_EVENTS
from shared.http import create_http_app
from shared.logging import get_logger
from shared.service import ServiceRuntime, run_service, running_service

NAME = "routing"
MIGRATIONS = Path(__file__).parent / "migrations"
log = get_logger(__name__)


def load_rules(settings: RoutingSettings) -> Rules:
    """The district calendar and the SLA policies from their files; a bad file raises ``FileProblem`` (file, line,
    reason) and the service does not start."""
    calendar = district_calendar(
        timezone=settings.timezone,
        opens=settings.business_opens,
        closes=settings.business_closes,
        holiday_subdivision=settings.holiday_subdivision,
        calendar_file=settings.calendar_file,
    )
    policies = read_policies(settings.policy_file, business_day_seconds=calendar.business_day_seconds)
    return Rules(calendar=calendar, policies=policies)


async def load_school_list(runtime: ServiceRuntime, schools_csv: Path) -> int:
    """Read the district's school list and load it into the directory; the number of schools loaded."""
    with schools_csv.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    async with runtime.unit_of_work(PostgresRoutingUnitOfWork) as uow:
        loaded = await handlers.load_directory(uow, rows)
    return loaded.schools


def create_app(settings: RoutingSettings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or RoutingSettings()
    clock = clock or settings.platform.clock()
    rules = load_rules(settings)
    staff = read_staff(settings.staff_file) if settings.staff_file else []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with (
            running_service(app, name=NAME, settings=settings, migrations=MIGRATIONS) as runtime,
            contextlib.AsyncExitStack() as resources,
        ):
            loaded = await load_school_list(runtime, settings.schools_csv)
            log.info("directory loaded", schools=loaded)
            async with runtime.unit_of_work(PostgresRoutingUnitOfWork) as uow:
                seeded = await handlers.put_staff(uow, staff, now=clock.now(), only_new=True)
            log.info("staff seeded", added=len(seeded), on_file=len(staff), policies=rules.policies.version)
            async with runtime.unit_of_work(PostgresRoutingUnitOfWork) as uow:
                clocked = await handlers.start_missing_clocks(uow, rules=rules, now=clock.now())
            if clocked:
                log.info("clocks started for inquiries assigned before clocks existed", inquiries=clocked)
            worker = DeadlineWorker(
                runtime.pool,
                rules=rules,
                clock=clock,
                batch_size=settings.deadline_batch,
                on_commit=runtime.relay.wake,
                poll_interval=settings.deadline_poll_seconds,
                gather_seconds=settings.deadline_gather_seconds,
            )
            runtime.subscribe(
                InquirySubmittedSubscriber(clock=clock, rules=rules),
                topic=INQUIRY_EVENTS,
                unit_of_work=PostgresRoutingUnitOfWork,
                also_on_commit=worker.wake,
            )
            runtime.publishes(
                ROUTING_EVENTS,
                InquiryAssigned,
                InquirySlaWarning,
                InquiryEscalated,
                InquirySlaBreached,
                InquiryDeadlineMoved,
                InquiryRerouted,
                InquiryReassigned,
                description="Where an inquiry went and what its SLA clocks did: assigned, warned, escalated, "
                "breached, deadline moved, rerouted, reassigned; keyed by inquiry id.",
            )
            runtime.subscribe(
                SchoolListSubscriber(clock=clock, rules=rules),
                topic=DIRECTORY_UPDATES,
                unit_of_work=PostgresRoutingUnitOfWork,
                also_on_commit=worker.wake,
            )
            runtime.publishes(
                STAFF_EVENTS, StaffUpdated, description="A staff member was added or changed; keyed by staff id."
            )
            runtime.publishes(
                CALENDAR_EVENTS,
                CalendarClosureAdded,
                description="An emergency closure day was added (POST /v1/calendar/closures); keyed by the day.",
            )
            runtime.publishes(
                DIRECTORY_UPDATES,
                SchoolListRejected,
                description="A published school list with bad rows was not loaded; each bad line is named.",
            )
            await runtime.start()
            worker.start()
            resources.push_async_callback(worker.stop)
            app.state.context = RoutingContext(runtime, clock, rules, worker)
            serve_access(app, runtime)

            async def readiness() -> dict[str, bool]:
                return {**await runtime.readiness(), "deadline_worker": worker.running}

            app.state.readiness = readiness
            yield

    app = create_http_app(
        service=NAME,
        title="Parent Support Center: routing",
        description="The directory of networks, schools and staff; which queue and who holds each inquiry; its SLA "
        "clocks on the district calendar, warnings and escalation network -> PSA -> central.",
        lifespan=lifespan,
        settings=settings,
    )
    app.include_router(api.router)
    return app


def serve() -> None:
    settings = RoutingSettings()
    try:
        app = create_app(settings)
    except FileProblem as problem:
        # A bad policy, calendar or staff file: say which file, which line and why, and do not start.
        raise SystemExit(f"routing does not start: {problem}") from None
    run_service(name=NAME, settings=settings, app=app)
