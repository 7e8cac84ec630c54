"""On a sped-up clock (PSC_CLOCK_SPEED, as the fault run and demos use) a send's lease still lasts as long on the
wall: through notify's real database, a second dispatcher does not take over a send that is still under way.

Found by the fault run: at x2000 the 5-minute lease lasted 0.15 s, so a slow send was taken over by another notify
replica and the parent got the message twice."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta
from typing import Any
from uuid import uuid4
from zoneinfo import ZoneInfo

import asyncpg
import pytest
import pytest_asyncio
from service_databases import migrated_pool

from services.notify import handlers
from services.notify.dispatcher import DeliveryDispatcher
from services.notify.domain import SendResult
from services.notify.templates import TemplateRenderer
from services.notify.unit_of_work import PostgresNotifyUnitOfWork
from shared.clock import ScaledClock, clock_span
from shared.contracts.inquiries import InquirySubmitted
from shared.settings import PlatformSettings

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]


@pytest_asyncio.fixture(loop_scope="session")
async def pool(platform: PlatformSettings) -> AsyncIterator[asyncpg.Pool]:
    async with migrated_pool(platform, "notify") as migrated:
        yield migrated


class SlowEmail:
    """An SMTP server that takes its time: each send waits until the test lets it finish."""

    def __init__(self) -> None:
        self.sent: list[Any] = []
        self.release = asyncio.Event()

    async def send_all(self, emails: list[Any]) -> list[SendResult]:
        self.sent.extend(emails)
        await self.release.wait()
        return [SendResult(email.delivery_id, ok=True, provider_message_id="m") for email in emails]


class NoTexts:
    async def send_all(self, texts: list[Any]) -> list[SendResult]:
        return []


async def test_a_send_under_way_is_not_taken_over_when_the_clock_runs_2000_times_faster(pool: asyncpg.Pool) -> None:
    clock = ScaledClock(2000)
    submitted = InquirySubmitted.model_validate(
        {
            "inquiry_id": uuid4(),
            "occurred_at": clock.now(),
            "correlation_id": "req-1",
            "reference": "PSC-26-000042",
            "category": "attendance",
            "channel": "walk_in",
            "parent": {"name": "Ana Lopez", "email": "ana@example.org", "preferred_language": "es"},
            "student": {"school_id": 609794, "grade": "K"},
        }
    )
    async with PostgresNotifyUnitOfWork(pool) as uow:
        await handlers.acknowledge_submissions(uow, [submitted], renderer=TemplateRenderer(), now=clock.now())
    email = SlowEmail()

    def dispatcher() -> DeliveryDispatcher:
        return DeliveryDispatcher(
            pool,
            email=email,
            sms=NoTexts(),
            clock=clock,
            batch_size=10,
            max_attempts=3,
            lease_seconds=60,  # type: ignore[arg-type]
        )

    first, second = dispatcher(), dispatcher()
    sending = asyncio.create_task(first.dispatch_due())
    async with asyncio.timeout(10):
        while not email.sent:
            await asyncio.sleep(0.01)
    await asyncio.sleep(0.5)  # 1,000 s of the clock's time: far past a 60 s lease, were it counted on that clock
    assert clock_span(clock, timedelta(seconds=60)) == timedelta(seconds=120_000)
    # The lease holds: the send under way is nobody else's (were it taken, the second send would wait forever).
    assert await asyncio.wait_for(second.dispatch_due(), timeout=10) == 0
    email.release.set()
    assert await sending == 1
    assert len(email.sent) == 1


class RecordingTexts:
    def __init__(self) -> None:
        self.sent: list[tuple[Any, str, str]] = []

    async def send_all(self, texts: list[tuple[Any, str, str]]) -> list[SendResult]:
        self.sent.extend(texts)
        return [
            SendResult(delivery_id, ok=True, provider_message_id=f"SM{n}")
            for n, (delivery_id, _, _) in enumerate(texts)
        ]


class NoEmail:
    async def send_all(self, emails: list[Any]) -> list[SendResult]:
        return []


async def test_a_text_held_for_quiet_hours_goes_out_at_eight_on_a_sped_up_clock(pool: asyncpg.Pool) -> None:
    # A clock 60 times faster than the wall, set so that it reads 07:59:00 in Chicago now: 08:00 comes after one real
    # second. (It reads origin + (wall - origin) x 60: an origin in the past puts its 'now' ahead of the wall's.)
    wall, chicago = datetime.now(UTC), ZoneInfo("America/Chicago")
    target = datetime.combine(wall.astimezone(chicago).date(), time(7, 59), tzinfo=chicago)
    if target <= wall + timedelta(minutes=1):
        target = datetime.combine(target.date() + timedelta(days=1), time(7, 59), tzinfo=chicago)
    clock = ScaledClock(60, origin=wall - (target - wall) / 59)
    morning = datetime.combine(target.date(), time(8, 0), tzinfo=chicago).astimezone(UTC)
    event = InquirySubmitted.model_validate(
        {
            "inquiry_id": uuid4(),
            "occurred_at": clock.now(),
            "correlation_id": "req-quiet",
            "reference": "PSC-26-000043",
            "category": "attendance",
            "channel": "phone",
            "parent": {"name": "Ana Lopez", "mobile_phone": "+13125550147", "sms_consent": True},
            "student": {"school_id": 609794, "grade": "K"},
        }
    )
    async with PostgresNotifyUnitOfWork(pool) as uow:
        await handlers.acknowledge_submissions(uow, [event], renderer=TemplateRenderer(), now=clock.now())
    texts = RecordingTexts()
    dispatcher = DeliveryDispatcher(
        pool,
        email=NoEmail(),
        sms=texts,
        clock=clock,
        batch_size=10,
        max_attempts=3,
        lease_seconds=60,  # type: ignore[arg-type]
    )
    assert await dispatcher.dispatch_due() == 0, "held: it is 07:59 in Chicago"
    async with asyncio.timeout(10):
        while not await dispatcher.dispatch_due():
            await asyncio.sleep(0.1)
    assert clock.now() >= morning and len(texts.sent) == 1
    async with PostgresNotifyUnitOfWork(pool) as uow:
        (entry,) = await uow.deliveries.of_inquiry(inquiry_id=event.inquiry_id)
    assert entry.status == "sent" and entry.next_attempt_at == morning
