"""Intake's composition root: settings, runtime (pool, broker, relay), subscribers and the HTTP app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from services.intake import api, status
from services.intake.api import IntakeContext
from services.intake.settings import IntakeSettings
from services.intake.subscribers import RoutingEventsSubscriber, SubmissionsSubscriber
from services.intake.unit_of_work import PostgresIntakeUnitOfWork
from shared.clock import Clock
from shared.contracts.inquiries import InquirySubmitted, SubmissionRejected
from shared.contracts.topics import INQUIRY_EVENTS, INQUIRY_REJECTIONS, INQUIRY_SUBMISSIONS, ROUTING_EVENTS
from shared.http import create_http_app
from shared.service import run_service, running_service

NAME = "intake"
MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: IntakeSettings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or IntakeSettings()
    clock = clock or settings.platform.clock()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with running_service(app, name=NAME, settings=settings, migrations=MIGRATIONS) as runtime:
            runtime.subscribe(
                SubmissionsSubscriber(clock=clock, reference_prefix=settings.reference_prefix),
                topic=INQUIRY_SUBMISSIONS,
                unit_of_work=PostgresIntakeUnitOfWork,
            )
            runtime.subscribe(RoutingEventsSubscriber(), topic=ROUTING_EVENTS, unit_of_work=PostgresIntakeUnitOfWork)
            runtime.publishes(INQUIRY_EVENTS, InquirySubmitted, description="An inquiry was recorded; keyed by its id.")
            runtime.publishes(
                INQUIRY_REJECTIONS,
                SubmissionRejected,
                description="A submitted inquiry was refused, with the field errors; keyed by its correlation id.",
            )
            await runtime.start()
            app.state.context = IntakeContext(runtime, clock, settings.reference_prefix)
            yield

    app = create_http_app(
        service=NAME,
        title="Parent Support Center: intake",
        description="Record parents' inquiries and read them back with the queue that has them.",
        lifespan=lifespan,
        settings=settings,
    )
    app.include_router(api.router)
    status.install(app, settings)
    return app


def serve() -> None:
    settings = IntakeSettings()
    run_service(name=NAME, settings=settings, app=create_app(settings))
