"""Notify's composition root: templates, providers, dispatcher, subscribers and the HTTP app."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from services.notify import api
from services.notify.api import NotifyContext
from services.notify.dispatcher import DeliveryDispatcher
from services.notify.providers import SmsSender, SmtpSender
from services.notify.settings import NotifySettings
from services.notify.subscribers import InquirySubmittedSubscriber
from services.notify.templates import TemplateRenderer
from services.notify.unit_of_work import PostgresNotifyUnitOfWork
from shared.clock import Clock
from shared.contracts.notifications import NotificationFailed, NotificationSent, NotificationSuppressed
from shared.contracts.topics import INQUIRY_EVENTS, NOTIFICATION_EVENTS
from shared.http import create_http_app
from shared.service import run_service, running_service

NAME = "notify"
MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: NotifySettings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or NotifySettings()
    clock = clock or settings.platform.clock()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with (
            running_service(app, name=NAME, settings=settings, migrations=MIGRATIONS) as runtime,
            contextlib.AsyncExitStack() as resources,
        ):
            email = SmtpSender(
                host=settings.smtp_host,
                port=settings.smtp_port,
                sender=settings.mail_from,
                username=settings.smtp_username,
                password=settings.smtp_password.get_secret_value(),
                starttls=settings.smtp_starttls,
                connections=settings.smtp_connections,
            )
            resources.push_async_callback(email.close)
            sms = SmsSender(
                api_url=settings.sms_api_url,
                account_sid=settings.sms_account_sid,
                auth_token=settings.sms_auth_token.get_secret_value(),
                sender=settings.sms_from,
            )
            resources.push_async_callback(sms.close)
            dispatcher = DeliveryDispatcher(
                runtime.pool,
                email=email,
                sms=sms,
                clock=clock,
                batch_size=settings.dispatch_batch,
                max_attempts=settings.max_attempts,
                lease_seconds=settings.sending_lease_seconds,
                on_commit=runtime.relay.wake,
            )
            runtime.subscribe(
                InquirySubmittedSubscriber(clock=clock, renderer=TemplateRenderer()),
                topic=INQUIRY_EVENTS,
                unit_of_work=PostgresNotifyUnitOfWork,
                also_on_commit=dispatcher.wake,
            )
            runtime.publishes(
                NOTIFICATION_EVENTS,
                NotificationSent,
                NotificationFailed,
                NotificationSuppressed,
                description="A message to a parent was sent, failed after its retries, or will not be sent (and why); "
                "keyed by inquiry id.",
            )
            await runtime.start()
            await dispatcher.start()
            resources.push_async_callback(dispatcher.stop)  # stops first: callbacks run in reverse
            app.state.context = NotifyContext(runtime)

            async def readiness() -> dict[str, bool]:
                return {**await runtime.readiness(), "dispatcher": dispatcher.running}

            app.state.readiness = readiness
            yield

    app = create_http_app(
        service=NAME,
        title="Parent Support Center: notify",
        description="Tells parents by email and text, in their language, what happens to their inquiry.",
        lifespan=lifespan,
        settings=settings,
    )
    app.include_router(api.router)
    return app


def serve() -> None:
    settings = NotifySettings()
    run_service(name=NAME, settings=settings, app=create_app(settings))
