"""The inquiry path in-process, through the real broker and database: intake, routing and notify apps with a fixed
clock, the real mail catcher and SMS sink on loopback. What the e2e test cannot do: check the SLA arithmetic
against a known 'now', and redeliver an event on purpose."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer
from auth import api_key_headers, staff_headers
from fastapi import FastAPI

from devstack.mailcatcher import serve_mailcatcher
from devstack.processes import free_port
from devstack.smssink import serve_smssink
from devstack.stack import SMS_ACCOUNT_SID
from services.intake.app import create_app as create_intake
from services.intake.settings import IntakeSettings
from services.notify.app import create_app as create_notify
from services.notify.settings import NotifySettings
from services.routing.app import create_app as create_routing
from services.routing.settings import RoutingSettings
from shared.clock import FixedClock
from shared.contracts.topics import INQUIRY_EVENTS
from shared.kafka.connection import client_options, create_producer
from shared.settings import PlatformSettings

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

# Wednesday 25 Nov 2026, 10:00 in Chicago; Thanksgiving (26th) is a holiday, so two business days end Monday 30th.
NOW = datetime(2026, 11, 25, 16, 0, tzinfo=UTC)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def sinks() -> AsyncIterator[dict[str, int]]:
    ports = {"smtp": free_port(), "mail_http": free_port(), "sms": free_port()}
    mail_ready, sms_ready = asyncio.Event(), asyncio.Event()
    tasks = [
        asyncio.create_task(
            serve_mailcatcher(host="127.0.0.1", smtp_port=ports["smtp"], http_port=ports["mail_http"], ready=mail_ready)
        ),
        asyncio.create_task(serve_smssink(host="127.0.0.1", port=ports["sms"], ready=sms_ready)),
    ]
    await asyncio.wait_for(asyncio.gather(mail_ready.wait(), sms_ready.wait()), 10)
    yield ports
    for task in tasks:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


# Intake is called as a district system would (the API key submits and reads); routing and notify as central staff.
CREDENTIALS = {
    "intake": api_key_headers(),
    "routing": staff_headers(staff_id="central-1", role="central_staff", network_id="central"),
    "notify": staff_headers(staff_id="central-1", role="central_staff", network_id="central"),
}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def apps(
    module_platform: PlatformSettings, topics: tuple[str, ...], sinks: dict[str, int]
) -> AsyncIterator[dict[str, Any]]:
    platform = module_platform
    clock = FixedClock(NOW)
    built: dict[str, FastAPI] = {
        "intake": create_intake(IntakeSettings(platform=platform), clock=clock),
        "routing": create_routing(RoutingSettings(platform=platform), clock=clock),
        "notify": create_notify(
            NotifySettings(
                platform=platform,
                smtp_port=sinks["smtp"],
                sms_api_url=f"http://127.0.0.1:{sinks['sms']}",
                sms_account_sid=SMS_ACCOUNT_SID,
            ),
            clock=clock,
        ),
    }
    async with contextlib.AsyncExitStack() as stack:
        clients = {}
        for name, app in built.items():
            await stack.enter_async_context(app.router.lifespan_context(app))
            clients[name] = await stack.enter_async_context(
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app), base_url=f"http://{name}", headers=CREDENTIALS[name]
                )
            )
        sink = await stack.enter_async_context(httpx.AsyncClient(timeout=10))
        yield {"clients": clients, "sink": sink, "ports": sinks, "clock": clock, "platform": platform}


async def eventually(check: Any, timeout: float = 20.0) -> Any:
    async with asyncio.timeout(timeout):
        while not (found := await check()):
            await asyncio.sleep(0.1)
        return found


def body(email: str, phone: str | None = None, consent: bool = True) -> dict[str, Any]:
    parent: dict[str, Any] = {"name": "Ana Lopez", "email": email, "preferred_language": "zh"}
    if phone:
        parent |= {"mobile_phone": phone, "sms_consent": consent}
    return {
        "parent": parent,
        "student": {"school_id": 609794, "grade": "3"},
        "category": "special_education",
        "description": "Her IEP meeting was cancelled twice.",
        "channel": "phone",
    }


async def mail_to(env: dict[str, Any], address: str) -> list[dict[str, Any]]:
    url = f"http://127.0.0.1:{env['ports']['mail_http']}/api/v1/messages"
    listing = (await env["sink"].get(url, params={"limit": 10000})).json()
    return [m for m in listing["messages"] if any(t["Address"] == address for t in m["To"])]


async def submitted_record(platform: PlatformSettings, inquiry_id: str) -> Any:
    consumer = AIOKafkaConsumer(INQUIRY_EVENTS, **client_options(platform), auto_offset_reset="earliest")
    await consumer.start()
    try:
        async with asyncio.timeout(15):
            while True:
                for records in (await consumer.getmany(timeout_ms=200)).values():
                    for record in records:
                        if record.key == inquiry_id.encode():
                            return record
    finally:
        await consumer.stop()


async def test_an_inquiry_is_assigned_due_on_the_business_calendar_and_acknowledged_once_despite_redelivery(
    apps: dict[str, Any],
) -> None:
    clients, email, phone = apps["clients"], f"ana.{uuid.uuid4().hex[:6]}@example.org", "+13125550148"
    created = await clients["intake"].post("/v1/inquiries", json=body(email, phone))
    assert created.status_code == 201, created.text
    inquiry = created.json()

    async def assigned() -> dict[str, Any] | None:
        seen = (await clients["intake"].get(f"/v1/inquiries/{inquiry['id']}")).json()
        return seen["assignment"]

    assignment = await eventually(assigned)
    assert assignment["network_name"] == "Network 1"
    assert assignment["due_at"] == "2026-11-30T23:00:00Z"  # Monday 17:00 in Chicago, Thanksgiving skipped
    routing_view = (await clients["routing"].get(f"/v1/assignments/{inquiry['id']}")).json()
    assert routing_view["reason"] == "school_network"

    (mail,) = await eventually(lambda: mail_to(apps, email))
    assert mail["Subject"] == f"我们已收到您的问题（{inquiry['reference']}）"

    async def both_sent() -> list[dict[str, Any]] | None:
        deliveries = (await clients["notify"].get(f"/v1/inquiries/{inquiry['id']}/deliveries")).json()
        received = [d for d in deliveries if d["template"] == "inquiry_received"]
        told = any(d["template"] == "inquiry_assigned" and d["status"] == "sent" for d in deliveries)
        return received if [d["status"] for d in received] == ["sent", "sent"] and told else None

    deliveries = await eventually(both_sent)
    assert {d["channel"] for d in deliveries} == {"email", "sms"}

    # The broker hands inquiry.submitted over again (a consumer crashed before committing, say): nothing changes.
    record = await submitted_record(apps["platform"], inquiry["id"])
    producer = create_producer(apps["platform"], client_id="redeliver")
    await producer.start()
    try:
        await producer.send_and_wait(INQUIRY_EVENTS, record.value, key=record.key, headers=list(record.headers))
    finally:
        await producer.stop()
    await asyncio.sleep(2.0)
    assert len(await mail_to(apps, email)) == 1
    texts = (
        await apps["sink"].get(f"http://127.0.0.1:{apps['ports']['sms']}/api/messages", params={"to": phone})
    ).json()
    # The acknowledgment by email and text, then 'Network 1 has your inquiry' by text (the parent consented).
    assert sorted(t["body"].split("：")[0] for t in texts) == sorted(["家长支持中心", inquiry["reference"]])
    log = (await clients["notify"].get(f"/v1/inquiries/{inquiry['id']}/deliveries")).json()
    assert sorted((d["template"], d["channel"]) for d in log) == [
        ("inquiry_assigned", "sms"),
        ("inquiry_received", "email"),
        ("inquiry_received", "sms"),
    ]


async def test_no_text_without_consent_and_no_mail_to_a_suppressed_address(apps: dict[str, Any]) -> None:
    clients, email = apps["clients"], f"bounced.{uuid.uuid4().hex[:6]}@example.org"
    added = await clients["notify"].post(
        "/v1/suppressions", json={"channel": "email", "address": email, "reason": "hard bounce"}
    )
    assert added.status_code == 204
    created = await clients["intake"].post("/v1/inquiries", json=body(email, "+13125550149", consent=False))
    inquiry_id = created.json()["id"]

    async def recorded() -> list[dict[str, Any]] | None:
        deliveries = (await clients["notify"].get(f"/v1/inquiries/{inquiry_id}/deliveries")).json()
        received = [d for d in deliveries if d["template"] == "inquiry_received"]
        return received if len(received) == 2 else None

    deliveries = {d["channel"]: d for d in await eventually(recorded)}
    assert deliveries["email"]["status"] == "suppressed" and "suppression list" in deliveries["email"]["reason"]
    assert deliveries["sms"]["status"] == "suppressed" and deliveries["sms"]["reason"] == "no consent to text messages"
    assert await mail_to(apps, email) == []


async def test_the_same_idempotency_key_creates_one_inquiry_and_a_different_body_is_refused(
    apps: dict[str, Any],
) -> None:
    intake, key = apps["clients"]["intake"], f"key-{uuid.uuid4()}"
    first = await intake.post("/v1/inquiries", json=body("a@example.org"), headers={"Idempotency-Key": key})
    again = await intake.post("/v1/inquiries", json=body("a@example.org"), headers={"Idempotency-Key": key})
    other = await intake.post("/v1/inquiries", json=body("b@example.org"), headers={"Idempotency-Key": key})
    assert (first.status_code, again.status_code, other.status_code) == (201, 200, 409)
    assert again.json()["id"] == first.json()["id"]


async def test_routing_shows_the_directory_it_loaded_from_the_school_list(apps: dict[str, Any]) -> None:
    routing = apps["clients"]["routing"]
    networks = {n["id"]: n for n in (await routing.get("/v1/networks")).json()}
    assert networks["network-1"] == {"id": "network-1", "name": "Network 1", "kind": "network", "schools": 35}
    assert networks["central"]["kind"] == "central" and networks["central"]["schools"] == 0
    assert sum(n["schools"] for n in networks.values()) == 654  # 660 schools, 6 of them without a network

    edison = (await routing.get("/v1/schools/609794")).json()
    assert (edison["long_name"], edison["network_name"]) == ("Thomas A Edison Regional Gifted Center ES", "Network 1")
    englewood = (await routing.get("/v1/schools/610592")).json()
    assert englewood["network_id"] is None
    assert (await routing.get("/v1/schools/999999")).status_code == 404
    refused = await routing.get("/v1/schools/12")
    assert refused.status_code == 422 and [e["field"] for e in refused.json()["errors"]] == ["school_id"]
