"""Routing's composition root: directory load, business calendar, subscribers and the HTTP app."""

from __future__ import annotations

import csv
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import holidays
from fastapi import FastAPI

from services.routing import api, handlers
from services.routing.api import RoutingContext
from services.routing.domain import BusinessCalendar
from services.routing.settings import RoutingSettings
from services.routing.subscribers import InquirySubmittedSubscriber
from services.routing.unit_of_work import PostgresRoutingUnitOfWork
from shared.clock import Clock, SystemClock
from shared.contracts.routing import InquiryAssigned
from shared.contracts.topics import INQUIRY_EVENTS, ROUTING_EVENTS
from shared.http import create_http_app
from shared.logging import get_logger
from shared.service import ServiceRuntime, run_service, running_service

NAME = "routing"
MIGRATIONS = Path(__file__).parent / "migrations"
log = get_logger(__name__)


def business_calendar(settings: RoutingSettings) -> BusinessCalendar:
    return BusinessCalendar(
        timezone=settings.timezone,
        holidays=holidays.country_holidays("US", subdiv=settings.holiday_subdivision),
    )


async def load_school_list(runtime: ServiceRuntime, schools_csv: Path) -> int:
    """Read the district's school list and load it into the directory; the number of schools loaded."""
    with schools_csv.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    async with runtime.unit_of_work(PostgresRoutingUnitOfWork) as uow:
        loaded = await handlers.load_directory(uow, rows)
    return loaded.schools


def create_app(settings: RoutingSettings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or RoutingSettings()
    clock = clock or SystemClock()
    calendar = business_calendar(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with running_service(app, name=NAME, settings=settings, migrations=MIGRATIONS) as runtime:
            loaded = await load_school_list(runtime, settings.schools_csv)
            log.info("directory loaded", schools=loaded)
            runtime.subscribe(
                InquirySubmittedSubscriber(clock=clock, calendar=calendar),
                topic=INQUIRY_EVENTS,
                unit_of_work=PostgresRoutingUnitOfWork,
            )
            runtime.publishes(ROUTING_EVENTS, InquiryAssigned, description="An inquiry got its queue; keyed by its id.")
            await runtime.start()
            app.state.context = RoutingContext(runtime, clock, calendar)
            yield

    app = create_http_app(
        service=NAME,
        title="Parent Support Center: routing",
        description="The directory of networks and schools, and which queue holds each inquiry.",
        lifespan=lifespan,
        settings=settings,
    )
    app.include_router(api.router)
    return app


def serve() -> None:
    settings = RoutingSettings()
    run_service(name=NAME, settings=settings, app=create_app(settings))
