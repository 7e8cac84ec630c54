"""Catalog's referral reply clock on the district calendar, through the real broker and database: routing and the
catalog running, a referral made, an emergency closure added on routing's API for the referral's due day; routing
announces it (``calendar.closure_added`` on ``psc.calendar.events``) and the catalog moves the referral's due time to
the next business day. The same closure delivered again changes nothing."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import httpx
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer, ConsumerRecord
from auth import staff_headers

from services.catalog.app import create_app as create_catalog
from services.catalog.settings import CatalogSettings
from services.routing.app import create_app as create_routing
from services.routing.settings import RoutingSettings
from shared.clock import FixedClock
from shared.contracts.calendar import CalendarClosureAdded
from shared.contracts.envelope import kafka_headers, to_bytes
from shared.contracts.topics import CALENDAR_EVENTS
from shared.kafka.connection import client_options, create_producer
from shared.settings import PlatformSettings

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

NOW = datetime(2026, 10, 13, 15, 30, tzinfo=UTC)  # a Tuesday, 10:30 in Chicago
DUE = "2026-10-16T15:30:00Z"  # three business days later: Friday 10:30
MOVED = "2026-10-19T15:30:00Z"  # Friday closed: Monday 10:30
STAFF = staff_headers(staff_id="staff-n4-1", role="network_staff", network_id="network-4")
CENTRAL_STAFF = staff_headers(staff_id="central-staff-1", role="central_staff", network_id="central")
DEPARTMENT = "students-in-temporary-living-situations"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def services(module_platform: PlatformSettings, topics: tuple[str, ...]) -> AsyncIterator[dict[str, Any]]:
    clock = FixedClock(NOW)
    routing = create_routing(RoutingSettings(platform=module_platform), clock=clock)
    catalog = create_catalog(CatalogSettings(platform=module_platform, referral_sweep_seconds=0.1), clock=clock)
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(routing.router.lifespan_context(routing))
        await stack.enter_async_context(catalog.router.lifespan_context(catalog))
        clients = {}
        for name, app in (("routing", routing), ("catalog", catalog)):
            transport = httpx.ASGITransport(app=app)
            clients[name] = await stack.enter_async_context(
                httpx.AsyncClient(transport=transport, base_url=f"http://{name}")
            )
        db = await asyncpg.connect(
            module_platform.database_url.get_secret_value(), server_settings={"search_path": "catalog"}
        )
        stack.push_async_callback(db.close)
        yield {**clients, "db": db, "platform": module_platform}


async def due_of(env: dict[str, Any], inquiry: str) -> str:
    listed = await env["catalog"].get(f"/v1/inquiries/{inquiry}/referrals", headers=STAFF)
    assert listed.status_code == 200, listed.text
    (referral,) = listed.json()
    return str(referral["reply_due_at"])


async def wait_for_due(env: dict[str, Any], inquiry: str, expected: str, *, within: float = 30.0) -> str:
    deadline = time.monotonic() + within
    found = await due_of(env, inquiry)
    while found != expected and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        found = await due_of(env, inquiry)
    return found


async def closure_record(platform: PlatformSettings, day: date) -> ConsumerRecord:
    """Routing's announcement of the closure of ``day``, as it is on the broker."""
    consumer = AIOKafkaConsumer(
        CALENDAR_EVENTS, **client_options(platform), auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    if record.key == day.isoformat().encode():
                        return record
    finally:
        await consumer.stop()
    raise AssertionError(f"no calendar.closure_added for {day} on {CALENDAR_EVENTS}")


async def test_a_closure_on_the_due_day_moves_the_referral_to_the_next_business_day_once(
    services: dict[str, Any],
) -> None:
    env = services
    inquiry = str(uuid.uuid4())
    body = {"service_id": DEPARTMENT, "reason": "Family asks about a fare card."}
    created = await env["catalog"].post(f"/v1/inquiries/{inquiry}/referrals", json=body, headers=STAFF)
    assert created.status_code == 201, created.text
    assert created.json()["reply_due_at"] == DUE

    closed = await env["routing"].post(
        "/v1/calendar/closures", json={"date": "2026-10-16", "reason": "snow day"}, headers=CENTRAL_STAFF
    )
    assert closed.status_code == 201, closed.text
    assert await wait_for_due(env, inquiry, MOVED) == MOVED
    warn_at = await env["db"].fetchval("SELECT warn_at FROM referral WHERE inquiry_id = $1", uuid.UUID(inquiry))
    assert warn_at == NOW + (datetime(2026, 10, 19, 15, 30, tzinfo=UTC) - NOW) * 0.75

    # Routing's record delivered again, then a marker on the same key (so the same partition, after it): once the
    # marker is applied, the redelivery has been seen, and it changed nothing.
    announced = await closure_record(env["platform"], date(2026, 10, 16))
    assert CalendarClosureAdded.model_validate_json(announced.value).reason == "snow day"
    marker = CalendarClosureAdded(occurred_at=NOW, correlation_id="marker", day=date(2026, 10, 16), reason="snow day")
    producer = create_producer(env["platform"], client_id="referral-calendar-test")
    await producer.start()
    try:
        await producer.send_and_wait(
            CALENDAR_EVENTS, announced.value, key=announced.key, headers=list(announced.headers)
        )
        await producer.send_and_wait(
            CALENDAR_EVENTS, to_bytes(marker), key=marker.partition_key().encode(), headers=kafka_headers(marker)
        )
    finally:
        await producer.stop()
    deadline = time.monotonic() + 30
    applied = 0
    while not applied and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        applied = await env["db"].fetchval(
            "SELECT count(*) FROM inbox WHERE subscriber = 'calendar-closures' AND event_id = $1", marker.event_id
        )
    assert applied == 1
    assert await due_of(env, inquiry) == MOVED
    closures = await env["db"].fetch("SELECT day, reason FROM calendar_closure")
    assert [(row["day"], row["reason"]) for row in closures] == [(date(2026, 10, 16), "snow day")]
    inbox = await env["db"].fetchval("SELECT count(*) FROM inbox WHERE subscriber = 'calendar-closures'")
    assert inbox == 2  # routing's announcement and the marker; the redelivery was left out

    # A referral made now counts the closure on file too.
    again = str(uuid.uuid4())
    made = await env["catalog"].post(f"/v1/inquiries/{again}/referrals", json=body, headers=STAFF)
    assert made.json()["reply_due_at"] == MOVED
