"""Notify through the real broker, database, mail catcher and SMS sink: two notify replicas served on loopback, events
published to Kafka as intake and routing publish them (twice, to play a redelivery), a fixed clock moved by hand.

One inquiry's whole life gives exactly the expected messages, once; STOP (played through the sink) stops texts and
the next step goes by email; HELP is answered; the sink's status callbacks reach the delivery log; a bad signature is
refused; a number that is not a mobile falls back to email; a mail server's 4xx is retried and delivered; the one-click
unsubscribe of List-Unsubscribe works; a text in quiet hours waits for 08:00 Chicago time."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaProducer
from auth import staff_headers

from devstack.mailcatcher import serve_mailcatcher
from devstack.processes import free_port
from devstack.serving import start_http, stop_http
from devstack.smssink import serve_smssink
from devstack.stack import SMS_ACCOUNT_SID
from services.notify.app import create_app as create_notify
from services.notify.settings import NotifySettings
from shared.clock import FixedClock
from shared.contracts.envelope import Event, kafka_headers, to_bytes
from shared.contracts.inquiries import InquirySubmitted
from shared.contracts.lifecycle import (
    InquiryAcknowledged,
    InquiryNoteAdded,
    InquiryReopened,
    InquiryResolved,
    InquiryWaitingOnParent,
)
from shared.contracts.routing import InquiryAssigned, InquirySlaWarning, StaffUpdated
from shared.contracts.topics import INQUIRY_EVENTS, ROUTING_EVENTS, STAFF_EVENTS
from shared.kafka.connection import create_producer
from shared.settings import PlatformSettings

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

# Wednesday 25 Nov 2026, 10:00 in Chicago: texts go at once.
NOON = datetime(2026, 11, 25, 16, 0, tzinfo=UTC)
STAFF = staff_headers(staff_id="ps-1", role="central_staff", network_id="central")
T = TypeVar("T")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(module_platform: PlatformSettings, topics: tuple[str, ...]) -> AsyncIterator[dict[str, Any]]:
    ports = {
        "smtp": free_port(),
        "mail": free_port(),
        "sms": free_port(),
        "notify": free_port(),
        "notify2": free_port(),
    }
    notify_url = f"http://127.0.0.1:{ports['notify']}"
    mail_ready, sms_ready = asyncio.Event(), asyncio.Event()
    sinks = [
        asyncio.create_task(
            serve_mailcatcher(host="127.0.0.1", smtp_port=ports["smtp"], http_port=ports["mail"], ready=mail_ready)
        ),
        asyncio.create_task(
            serve_smssink(
                host="127.0.0.1",
                port=ports["sms"],
                ready=sms_ready,
                inbound_url=f"{notify_url}/v1/sms/inbound",
                auth_token="sink-token",
            )
        ),
    ]
    await asyncio.wait_for(asyncio.gather(mail_ready.wait(), sms_ready.wait()), 10)
    clock = FixedClock(NOON)
    settings = NotifySettings(
        platform=module_platform,
        smtp_port=ports["smtp"],
        sms_api_url=f"http://127.0.0.1:{ports['sms']}",
        sms_account_sid=SMS_ACCOUNT_SID,
        sms_auth_token="sink-token",
        sms_status_callback_url=f"{notify_url}/v1/sms/status",
        status_page_base_url="https://parents.district.example",
        public_base_url=notify_url,
        contact_key_secret="test-secret",
        help_contact="773-553-1000",
        # No catalog runs in this module: the acknowledgment goes at once (its resources: test_notify_resources.py).
        resources_wait_seconds=0,
    )
    servers = []
    producer = create_producer(module_platform, client_id="test-notify-messages")
    await producer.start()
    async with contextlib.AsyncExitStack() as exits:
        for name in ("notify", "notify2"):  # two replicas: the same database, the same consumer groups
            server, task = await start_http(
                create_notify(settings, clock=clock), host="127.0.0.1", port=ports[name], name=name, lifespan="on"
            )
            servers.append((server, task))
        http = await exits.enter_async_context(httpx.AsyncClient(timeout=10))
        yield {
            "ports": ports,
            "clock": clock,
            "http": http,
            "producer": producer,
            "notify": notify_url,
            "platform": module_platform,
        }
        for server, task in reversed(servers):  # one replica at a time leaves its groups
            await stop_http(server, task)
            # With a pause between: Tansu can lose two members' LeaveGroups that arrive together, and the next
            # module's notify start then hangs until the lost member times out.
            await asyncio.sleep(3)
    await producer.stop()
    for task in sinks:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def eventually(check: Callable[[], Awaitable[T | None]], timeout: float = 30.0) -> T:
    async with asyncio.timeout(timeout):
        while not (found := await check()):
            await asyncio.sleep(0.1)
        assert found is not None
        return found


async def publish(producer: AIOKafkaProducer, topic: str, *events: Event) -> None:
    for event in events:
        await producer.send_and_wait(
            topic, value=to_bytes(event), key=event.partition_key().encode(), headers=kafka_headers(event)
        )


async def mail_to(s: dict[str, Any], address: str) -> list[dict[str, Any]]:
    listing = (await s["http"].get(f"http://127.0.0.1:{s['ports']['mail']}/api/v1/messages?limit=10000")).json()
    return [m for m in reversed(listing["messages"]) if any(t["Address"] == address for t in m["To"])]


async def texts_to(s: dict[str, Any], number: str) -> list[dict[str, Any]]:
    answer = await s["http"].get(f"http://127.0.0.1:{s['ports']['sms']}/api/messages", params={"to": number})
    return list(reversed(answer.json()))


async def deliveries(s: dict[str, Any], inquiry_id: uuid.UUID) -> list[dict[str, Any]]:
    answer = await s["http"].get(f"{s['notify']}/v1/inquiries/{inquiry_id}/deliveries", headers=STAFF)
    assert answer.status_code == 200, answer.text
    return list(answer.json())


def new_number() -> str:
    return f"+1312555{uuid.uuid4().int % 10000:04d}"


def submitted(
    email: str | None, phone: str | None, *, language: str = "es", urgency: str = "normal"
) -> InquirySubmitted:
    return InquirySubmitted.model_validate(
        {
            "inquiry_id": uuid.uuid4(),
            "occurred_at": NOON,
            "correlation_id": f"req-{uuid.uuid4().hex[:8]}",
            "reference": f"PSC-26-{uuid.uuid4().int % 1_000_000:06d}",
            "category": "transportation",
            "channel": "phone",
            "urgency": urgency,
            "status_token": "tok3n",
            "parent": {
                "name": "Ana Lopez",
                "email": email,
                "mobile_phone": phone,
                "preferred_language": language,
                "sms_consent": phone is not None,
            },
            "student": {"school_id": 609794, "grade": "3"},
        }
    )


def common(event: InquirySubmitted) -> dict[str, Any]:
    return {"inquiry_id": event.inquiry_id, "occurred_at": NOON, "correlation_id": event.correlation_id}


def assigned(event: InquirySubmitted, assignee: str | None = None) -> InquiryAssigned:
    """Routing's assignment to Network 4 (a network queue), due in two days."""
    where = {"network_id": "n4", "network_name": "Network 4", "queue": "network", "tier": "network"}
    why = {"reason": "school_network", "school_id": 609794, "due_at": NOON + timedelta(days=2)}
    return InquiryAssigned.model_validate({**common(event), **where, **why, "assignee_id": assignee})


async def test_a_whole_case_tells_the_parent_and_staff_each_step_once_despite_redelivery_and_two_replicas(
    stack: dict[str, Any],
) -> None:
    email, phone = f"ana.{uuid.uuid4().hex[:6]}@example.org", new_number()
    staff_email = f"alex.{uuid.uuid4().hex[:6]}@district.example"
    staff_id = f"ns-{uuid.uuid4().hex[:6]}"
    await publish(
        stack["producer"],
        STAFF_EVENTS,
        StaffUpdated(
            occurred_at=NOON,
            correlation_id="s",
            staff_id=staff_id,
            role="network_staff",
            network_id="n4",
            active=True,
            name="Alex A.",
            email=staff_email,
        ),
    )
    first = submitted(email, phone)
    by = {"by": staff_id}
    case = [
        first,
        InquiryAcknowledged(**common(first), **by),
        InquiryWaitingOnParent(**common(first), **by, question="¿Puede enviarnos el pase de autobús?"),
        InquiryNoteAdded(**common(first), **by, note_id=uuid.uuid4(), visible_to_parent=False),
        InquiryNoteAdded(**common(first), **by, note_id=uuid.uuid4(), visible_to_parent=True),
        InquiryResolved(**common(first), **by, summary="La parada se movió a la esquina."),
        InquiryReopened(**common(first), **by),
    ]
    routing = [
        assigned(first, staff_id),
        InquirySlaWarning(
            **common(first),
            tier="network",
            clock="first_response",
            network_id="n4",
            assignee_id=staff_id,
            escalates_at=NOON + timedelta(hours=5),
        ),
    ]
    await eventually(lambda: _staff_known(stack, staff_id))
    for _ in range(2):  # the second time plays a redelivery
        await publish(stack["producer"], INQUIRY_EVENTS, *case)
        await publish(stack["producer"], ROUTING_EVENTS, *routing)
    texts = await eventually(lambda: _at_least(texts_to(stack, phone), 6))
    mails = await eventually(lambda: _at_least(mail_to(stack, email), 1))
    staff_mails = await eventually(lambda: _at_least(mail_to(stack, staff_email), 2))
    await asyncio.sleep(2)  # time for a duplicate to show, were there one
    texts, mails, staff_mails = (
        await texts_to(stack, phone),
        await mail_to(stack, email),
        await mail_to(stack, staff_email),
    )
    assert [m["Subject"] for m in mails] == [f"Recibimos su inquietud ({first.reference})"]
    assert len(texts) == 6, [t["body"] for t in texts]
    bodies = " | ".join(t["body"] for t in texts)
    for expected in ("recibimos su inquietud", "Network 4", "pase de autobús", "novedad", "caso resuelto", "reabrimos"):
        assert expected in bodies
    assert "https://parents.district.example/status/" + first.reference + "?token=tok3n" in texts[0]["body"]
    assert sorted(m["Subject"] for m in staff_mails) == sorted(
        [f"Assigned to you: inquiry {first.reference}", f"Time is running out: inquiry {first.reference}"]
    )
    log = await deliveries(stack, first.inquiry_id)
    assert len(log) == 9 and {d["status"] for d in log} == {"sent"}


async def _staff_known(stack: dict[str, Any], staff_id: str) -> bool:
    """Notify follows staff from psc.routing.staff (another topic than the inquiry's): wait until it has this one."""
    conn = await asyncpg.connect(stack["platform"].database_url.get_secret_value())
    try:
        return bool(await conn.fetchval("SELECT count(*) FROM notify.staff WHERE staff_id = $1", staff_id))
    finally:
        await conn.close()


async def _at_least(found: Awaitable[list[T]], count: int) -> list[T] | None:
    items = await found
    return items if len(items) >= count else None


async def test_stop_through_the_sink_then_the_next_step_is_emailed_and_the_text_suppressed(
    stack: dict[str, Any],
) -> None:
    email, phone = f"bea.{uuid.uuid4().hex[:6]}@example.org", new_number()
    first = submitted(email, phone, language="en")
    await publish(stack["producer"], INQUIRY_EVENTS, first)
    await eventually(lambda: _at_least(texts_to(stack, phone), 1))
    sink = f"http://127.0.0.1:{stack['ports']['sms']}"
    stopped = await stack["http"].post(f"{sink}/api/inbound", json={"from": phone, "body": "Stop"})
    assert stopped.status_code == 200 and "<Message>" not in stopped.text
    await publish(stack["producer"], ROUTING_EVENTS, assigned(first))
    (mail, *_) = await eventually(lambda: _at_least(_subjects(stack, email, "Network 4 has your inquiry"), 1))
    assert mail
    assert len(await texts_to(stack, phone)) == 1, "no text after STOP"
    log = await deliveries(stack, first.inquiry_id)
    by_key = {(d["template"], d["channel"]): d for d in log}
    assert by_key[("inquiry_assigned", "sms")]["status"] == "suppressed"
    assert by_key[("inquiry_assigned", "sms")]["reason"] == "recipient opted out"
    contact = (
        await stack["http"].get(f"{stack['notify']}/v1/inquiries/{first.inquiry_id}/contact", headers=STAFF)
    ).json()
    assert [(s["channel"], s["kind"]) for s in contact["suppressions"]] == [("sms", "opted_out")]
    assert phone not in str(contact)
    started = await stack["http"].post(f"{sink}/api/inbound", json={"from": phone, "body": "START"})
    assert "You will get texts about your inquiry again" in started.text


async def _subjects(stack: dict[str, Any], address: str, part: str) -> list[dict[str, Any]]:
    return [m for m in await mail_to(stack, address) if part in m["Subject"]]


async def test_help_is_answered_with_the_office_s_contact_and_any_other_text_with_where_to_write(
    stack: dict[str, Any],
) -> None:
    sink = f"http://127.0.0.1:{stack['ports']['sms']}"
    helped = await stack["http"].post(f"{sink}/api/inbound", json={"from": new_number(), "body": "HELP"})
    assert helped.status_code == 200 and helped.headers["content-type"].startswith("text/xml")
    assert "<Message>Parent Support Center: for help call or write 773-553-1000." in helped.text
    other = await stack["http"].post(f"{sink}/api/inbound", json={"from": new_number(), "body": "hello?"})
    assert "This number does not read replies" in other.text


async def test_the_sink_s_status_callbacks_reach_the_delivery_log(stack: dict[str, Any]) -> None:
    phone = new_number()
    first = submitted(None, phone, language="zh")
    await publish(stack["producer"], INQUIRY_EVENTS, first)

    async def reported() -> list[dict[str, Any]]:
        return [d for d in await deliveries(stack, first.inquiry_id) if d["provider_status"] == "delivered"]

    (text,) = await eventually(reported)
    assert (text["channel"], text["status"], text["segments"]) == ("sms", "sent", 2)
    attempts = (
        await stack["http"].get(f"{stack['notify']}/v1/inquiries/{first.inquiry_id}/delivery-attempts", headers=STAFF)
    ).json()
    assert [a["outcome"] for a in attempts] == ["sent", "reported"]


async def test_a_webhook_without_a_good_signature_is_refused_and_changes_nothing(stack: dict[str, Any]) -> None:
    form = {"MessageSid": "SMx", "MessageStatus": "delivered"}
    unsigned = await stack["http"].post(f"{stack['notify']}/v1/sms/status", data=form)
    forged = await stack["http"].post(
        f"{stack['notify']}/v1/sms/inbound",
        data={"From": "+13125550100", "Body": "STOP", "MessageSid": "SMy"},
        headers={"X-Twilio-Signature": "AAAAAAAAAAAAAAAAAAAAAAAAAAA="},
    )
    assert (unsigned.status_code, forged.status_code) == (403, 403)
    malformed = await stack["http"].post(f"{stack['notify']}/v1/sms/status", data={"MessageStatus": "delivered"})
    assert malformed.status_code == 422 and "MessageSid" in malformed.text


async def test_a_number_that_is_not_a_mobile_is_suppressed_and_the_message_falls_back_to_email(
    stack: dict[str, Any],
) -> None:
    email, phone = f"cai.{uuid.uuid4().hex[:6]}@example.org", new_number()
    sink = f"http://127.0.0.1:{stack['ports']['sms']}"
    first = submitted(email, phone, language="pl")
    await publish(stack["producer"], INQUIRY_EVENTS, first)
    await eventually(lambda: _at_least(texts_to(stack, phone), 1))
    # The carrier now says the number is a landline: Twilio refuses the send with 21614.
    refused = await stack["http"].put(f"{sink}/api/numbers/{phone}/failure", json={"error_code": 21614, "at": "send"})
    assert refused.status_code == 204
    await publish(stack["producer"], ROUTING_EVENTS, assigned(first))
    await eventually(lambda: _at_least(_subjects(stack, email, "Network 4"), 1))
    log = await deliveries(stack, first.inquiry_id)
    assigned_ = {d["channel"]: d for d in log if d["template"] == "inquiry_assigned"}
    assert assigned_["sms"]["status"] == "failed" and "21614" in assigned_["sms"]["reason"]
    assert assigned_["email"]["fallback_of"] == assigned_["sms"]["id"]
    assert len(await texts_to(stack, phone)) == 1, "only the acknowledgment, before the number was refused"
    contact = (
        await stack["http"].get(f"{stack['notify']}/v1/inquiries/{first.inquiry_id}/contact", headers=STAFF)
    ).json()
    assert [(s["channel"], s["kind"]) for s in contact["suppressions"]] == [("sms", "bounced")]
    await stack["http"].delete(f"{sink}/api/numbers/{phone}/failure")


async def test_a_mail_server_s_4xx_is_retried_with_backoff_and_delivered(stack: dict[str, Any]) -> None:
    email = f"dee.{uuid.uuid4().hex[:6]}@example.org"
    mail_api = f"http://127.0.0.1:{stack['ports']['mail']}"
    assert (
        await stack["http"].put(f"{mail_api}/api/faults/{email}", json={"code": 451, "times": 1})
    ).status_code == 204
    first = submitted(email, None, language="ar")

    async def retrying() -> list[dict[str, Any]]:
        return [d for d in await deliveries(stack, first.inquiry_id) if d["attempts"] == 1 and d["status"] == "pending"]

    await publish(stack["producer"], INQUIRY_EVENTS, first)
    (pending,) = await eventually(retrying)
    assert "451" in pending["reason"] and await mail_to(stack, email) == []
    stack["clock"].advance(timedelta(seconds=40))  # past 30 s and its jitter (at most a fifth more)
    try:
        (mail,) = await eventually(lambda: mail_to(stack, email))
    finally:
        stack["clock"].set(NOON)
    detail = (await stack["http"].get(f"{mail_api}/api/v1/message/{mail['ID']}")).json()
    assert 'dir="rtl"' in detail["HTML"] and 'lang="ar"' in detail["HTML"]
    (sent,) = await deliveries(stack, first.inquiry_id)
    assert (sent["status"], sent["attempts"]) == ("sent", 2)


async def test_optional_mail_carries_a_one_click_unsubscribe_that_works(stack: dict[str, Any]) -> None:
    email = f"eve.{uuid.uuid4().hex[:6]}@example.org"
    first = submitted(email, None, language="en")
    await publish(stack["producer"], INQUIRY_EVENTS, first)
    await publish(stack["producer"], ROUTING_EVENTS, assigned(first))
    (mail,) = await eventually(lambda: _subjects(stack, email, "has your inquiry"))
    mail_api = f"http://127.0.0.1:{stack['ports']['mail']}"
    headers = (await stack["http"].get(f"{mail_api}/api/v1/message/{mail['ID']}/headers")).json()
    assert headers["List-Unsubscribe-Post"] == ["List-Unsubscribe=One-Click"]
    link = headers["List-Unsubscribe"][0].strip("<>")
    assert urlsplit(link).path.startswith("/v1/unsubscribe/")
    (received,) = await _subjects(stack, email, "We received")
    received_headers = (await stack["http"].get(f"{mail_api}/api/v1/message/{received['ID']}/headers")).json()
    assert "List-Unsubscribe" not in received_headers, "the acknowledgment is essential mail"
    tampered = await stack["http"].post(link[:-3] + "xyz", data={"List-Unsubscribe": "One-Click"})
    assert tampered.status_code == 403
    done = await stack["http"].post(link, data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200 and done.json() == {"status": "unsubscribed"}
    await publish(
        stack["producer"],
        INQUIRY_EVENTS,
        InquiryReopened(**common(first), by="ns-1"),
        InquiryResolved(**common(first), by="ns-1", summary="Done."),
    )
    await eventually(lambda: _subjects(stack, email, "is resolved"))
    log = {d["template"]: d for d in await deliveries(stack, first.inquiry_id)}
    assert log["inquiry_reopened"]["status"] == "suppressed" and log["inquiry_resolved"]["status"] == "sent"


async def test_a_text_in_quiet_hours_waits_for_the_morning_and_an_urgent_one_does_not(stack: dict[str, Any]) -> None:
    night = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)  # 21:00 in Chicago
    quiet, urgent = new_number(), new_number()
    stack["clock"].set(night)
    try:
        await publish(
            stack["producer"],
            INQUIRY_EVENTS,
            submitted(None, quiet, language="vi"),
            submitted(None, urgent, language="vi", urgency="urgent"),
        )
        await eventually(lambda: texts_to(stack, urgent))
        await asyncio.sleep(2)
        assert await texts_to(stack, quiet) == [], "held until morning"
        stack["clock"].set(datetime(2026, 11, 26, 14, 0, 1, tzinfo=UTC))  # 08:00:01 in Chicago: the sweep sends it
        (text,) = await eventually(lambda: texts_to(stack, quiet))
        assert "PSC" in text["body"]
    finally:
        stack["clock"].set(NOON)


async def test_staff_resend_a_failed_message_by_hand(stack: dict[str, Any]) -> None:
    email = f"fay.{uuid.uuid4().hex[:6]}@example.org"
    mail_api = f"http://127.0.0.1:{stack['ports']['mail']}"
    await stack["http"].put(f"{mail_api}/api/faults/{email}", json={"code": 552, "times": 1})  # permanent, not a bounce
    first = submitted(email, None, language="en")
    await publish(stack["producer"], INQUIRY_EVENTS, first)

    async def failed() -> list[dict[str, Any]]:
        return [d for d in await deliveries(stack, first.inquiry_id) if d["status"] == "failed"]

    (delivery,) = await eventually(failed)
    unsigned = await stack["http"].post(f"{stack['notify']}/v1/deliveries/{delivery['id']}/resend")
    assert unsigned.status_code == 401
    resent = await stack["http"].post(f"{stack['notify']}/v1/deliveries/{delivery['id']}/resend", headers=STAFF)
    assert resent.status_code == 202, resent.text
    await eventually(lambda: mail_to(stack, email))
    again = await stack["http"].post(f"{stack['notify']}/v1/deliveries/{delivery['id']}/resend", headers=STAFF)
    assert again.status_code == 409


async def test_a_template_preview_renders_sample_data_in_a_language_along_the_fallback_chain(
    stack: dict[str, Any],
) -> None:
    answer = await stack["http"].get(
        f"{stack['notify']}/v1/templates/inquiry_resolved/preview",
        params={"language": "es-MX", "channel": "sms"},
        headers=STAFF,
    )
    assert answer.status_code == 200, answer.text
    preview = answer.json()
    assert preview["body"].startswith("PSC-26-000042: caso resuelto.") and preview["sms_segments"] in (1, 2)
    received = await stack["http"].get(
        f"{stack['notify']}/v1/templates/inquiry_received/preview", params={"language": "es"}, headers=STAFF
    )
    assert "- Parent and Educator Partnership (PEP): (773) 553-1800, https://www.cps.edu" in received.json()["body"]
    assert received.json()["html"].count("<li>") == 2, "the acknowledgment shows its resources as a parent gets them"
    missing = await stack["http"].get(f"{stack['notify']}/v1/templates/nope/preview", headers=STAFF)
    assert missing.status_code == 404
