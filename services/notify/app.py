"""Notify's composition root: templates, providers, dispatcher, subscribers and the HTTP app."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI

from services.notify import api
from services.notify.api import NotifyContext
from services.notify.dispatcher import DeliveryDispatcher
from services.notify.handlers import Rules
from services.notify.providers import SmsSender, SmtpSender
from services.notify.resource_waits import resource_wait_sweeper
from services.notify.settings import NotifySettings
from services.notify.subscribers import (
    CatalogRepliesSubscriber,
    InquiryEventsSubscriber,
    RoutingEventsSubscriber,
    StaffSubscriber,
)
from services.notify.templates import TemplateRenderer
from services.notify.unit_of_work import PostgresNotifyUnitOfWork
from shared.auth.staff_table import PooledStaffDirectory
from shared.clock import Clock, clock_span
from shared.contracts.catalog import LookupResources
from shared.contracts.notifications import (
    ContactOptedIn,
    ContactOptedOut,
    NotificationDeliveryReported,
    NotificationFailed,
    NotificationRetrying,
    NotificationSent,
    NotificationSuppressed,
)
from shared.contracts.topics import (
    CATALOG_LOOKUPS,
    INQUIRY_EVENTS,
    NOTIFICATION_EVENTS,
    NOTIFY_CATALOG_REPLIES,
    ROUTING_EVENTS,
    STAFF_EVENTS,
)
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
                rate_per_second=settings.email_rate_per_second,
            )
            resources.push_async_callback(email.close)
            sms = SmsSender(
                api_url=settings.sms_api_url,
                account_sid=settings.sms_account_sid,
                auth_token=settings.sms_auth_token.get_secret_value(),
                sender=settings.sms_from,
                status_callback=settings.sms_status_callback_url
                or f"{settings.public_base_url.rstrip('/')}/v1/sms/status",
                rate_per_second=settings.sms_rate_per_second,
                connections=settings.sms_connections,
            )
            resources.push_async_callback(sms.close)
            renderer = TemplateRenderer()
            rules = Rules(
                status_base_url=settings.status_page_base_url,
                contact_key_secret=settings.contact_key_secret.get_secret_value(),
                help_contact=settings.help_contact,
                max_attempts=settings.max_attempts,
                time_scale=clock_span(clock, timedelta(seconds=1)).total_seconds(),
                resources_wait_seconds=settings.resources_wait_seconds,
                resources_fresh_seconds=settings.resources_fresh_seconds,
            )
            dispatcher = DeliveryDispatcher(
                runtime.pool,
                email=email,
                sms=sms,
                clock=clock,
                batch_size=settings.dispatch_batch,
                max_attempts=settings.max_attempts,
                lease_seconds=settings.sending_lease_seconds,
                on_commit=runtime.relay.wake,
                renderer=renderer,
                rules=rules,
                public_base_url=settings.public_base_url,
            )
            for subscriber, topic in (
                (InquiryEventsSubscriber(clock=clock, renderer=renderer, rules=rules), INQUIRY_EVENTS),
                (RoutingEventsSubscriber(clock=clock, renderer=renderer, rules=rules), ROUTING_EVENTS),
                (StaffSubscriber(clock=clock), STAFF_EVENTS),
                (CatalogRepliesSubscriber(clock=clock, renderer=renderer), NOTIFY_CATALOG_REPLIES),
            ):
                runtime.subscribe(
                    subscriber, topic=topic, unit_of_work=PostgresNotifyUnitOfWork, also_on_commit=dispatcher.wake
                )
            runtime.publishes(
                NOTIFICATION_EVENTS,
                NotificationSent,
                NotificationRetrying,
                NotificationFailed,
                NotificationSuppressed,
                NotificationDeliveryReported,
                ContactOptedOut,
                ContactOptedIn,
                description="A message to a parent or staff was sent, will be retried, failed, will not be sent (and"
                " why), or the SMS provider reported on it: keyed by inquiry id. A parent opted out of or back in to a"
                " channel: keyed by the contact key (an HMAC of the number or address, never the number itself).",
            )
            runtime.broker.publisher(
                CATALOG_LOOKUPS,
                schema=LookupResources,
                description="The acknowledgment's resources: a lookup by the inquiry's category, its reply to"
                f" {NOTIFY_CATALOG_REPLIES}, keyed by the submission's correlation id (request id: one per"
                " acknowledgment).",
            )
            sweeper = resource_wait_sweeper(runtime.pool, clock=clock, on_released=dispatcher.wake)
            await runtime.start()
            await dispatcher.start()
            resources.push_async_callback(dispatcher.stop)  # stops first: callbacks run in reverse
            sweeper.start()
            resources.push_async_callback(sweeper.stop)
            # Notify follows staff.updated into its staff table (for staff emails): every staff token is checked
            # against it, so a staff member made inactive is refused at once.
            app.state.staff_directory = PooledStaffDirectory(runtime.pool)
            app.state.context = NotifyContext(
                runtime,
                renderer=renderer,
                rules=rules,
                clock=clock,
                sms_auth_token=settings.sms_auth_token.get_secret_value(),
                signature_url_base=settings.sms_signature_url_base,
                on_commit=dispatcher.wake,
            )

            async def readiness() -> dict[str, bool]:
                return {
                    **await runtime.readiness(),
                    "dispatcher": dispatcher.running,
                    "resource_wait_sweeper": sweeper.running,
                }

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
    app.include_router(api.webhooks)
    return app


def serve() -> None:
    settings = NotifySettings()
    run_service(name=NAME, settings=settings, app=create_app(settings))
