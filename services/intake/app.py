"""Intake's composition root: settings, runtime (pool, broker, relay), subscribers and the HTTP app."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import httpx
from fastapi import FastAPI

from services.intake import access, access_api, api, handlers, open311, status
from services.intake.api import IntakeContext
from services.intake.closing import ClosingWorker
from services.intake.console import web as console
from services.intake.settings import IntakeSettings
from services.intake.subscribers import NotifyEventsSubscriber, RoutingEventsSubscriber, SubmissionsSubscriber
from services.intake.unit_of_work import PostgresIntakeUnitOfWork
from shared.clock import Clock
from shared.contracts.inquiries import InquirySubmitted, SubmissionRejected
from shared.contracts.lifecycle import CASE_EVENTS
from shared.contracts.topics import (
    INQUIRY_EVENTS,
    INQUIRY_REJECTIONS,
    INQUIRY_SUBMISSIONS,
    NOTIFICATION_EVENTS,
    ROUTING_EVENTS,
)
from shared.http import create_http_app
from shared.service import run_service, running_service

NAME = "intake"
MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(
    settings: IntakeSettings | None = None,
    *,
    clock: Clock | None = None,
    routing_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """``routing_transport``: how to reach routing's HTTP API (tests pass routing's app in-process); by default
    ``PSC_INTAKE_ROUTING_URL`` over the network."""
    settings = settings or IntakeSettings()
    clock = clock or settings.platform.clock()
    duplicate_window = timedelta(days=settings.duplicate_window_days) if settings.duplicate_window_days else None
    policy = handlers.Policy(
        reopen_window_days=settings.reopen_window_days,
        reference_prefix=settings.reference_prefix,
        duplicate_window=duplicate_window,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with (
            running_service(app, name=NAME, settings=settings, migrations=MIGRATIONS) as runtime,
            contextlib.AsyncExitStack() as resources,
        ):
            runtime.subscribe(
                SubmissionsSubscriber(
                    clock=clock, reference_prefix=settings.reference_prefix, duplicate_window=duplicate_window
                ),
                topic=INQUIRY_SUBMISSIONS,
                unit_of_work=PostgresIntakeUnitOfWork,
            )
            runtime.subscribe(RoutingEventsSubscriber(), topic=ROUTING_EVENTS, unit_of_work=PostgresIntakeUnitOfWork)
            runtime.subscribe(
                NotifyEventsSubscriber(), topic=NOTIFICATION_EVENTS, unit_of_work=PostgresIntakeUnitOfWork
            )
            runtime.publishes(
                INQUIRY_EVENTS,
                InquirySubmitted,
                *CASE_EVENTS,
                description="An inquiry was recorded, and every change staff made to it after (acknowledged, note"
                " added, waiting on the parent, parent replied, resolved, reopened, closed, linked); keyed by its id.",
            )
            runtime.publishes(
                INQUIRY_REJECTIONS,
                SubmissionRejected,
                description="A submitted inquiry was refused, with the field errors; keyed by its correlation id.",
            )
            closing = ClosingWorker(
                runtime.pool,
                clock=clock,
                batch_size=settings.close_batch,
                on_commit=runtime.relay.wake,
                poll_interval=settings.close_poll_seconds,
            )
            routing = await resources.enter_async_context(
                httpx.AsyncClient(base_url=settings.routing_url, transport=routing_transport, timeout=10.0)
            )
            access.serve_access(app, runtime)
            await runtime.start()
            closing.start()
            resources.push_async_callback(closing.stop)
            app.state.context = IntakeContext(
                runtime, clock, settings.reference_prefix, policy=policy, routing=routing, on_commit=closing.wake
            )

            async def readiness() -> dict[str, bool]:
                return {**await runtime.readiness(), "closing_sweep": closing.running}

            app.state.readiness = readiness
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
    open311.install(app)
    console.install(app, settings)
    app.include_router(access_api.router)
    return app


def serve() -> None:
    settings = IntakeSettings()
    run_service(name=NAME, settings=settings, app=create_app(settings))
