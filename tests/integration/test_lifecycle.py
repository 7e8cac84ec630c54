"""The case lifecycle through the real broker and database: intake and routing in-process with one fixed clock.
Every staff action with its event read back from psc.inquiries.events, refusals that change nothing, idempotent
retries, routing's and notify's events folded into the history (published here to their topics), likely
duplicates, the reopen window with its closing sweep and the follow-up inquiry, reassignment through routing, the
staff queue."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer
from auth import staff_headers

from services.intake.app import create_app as create_intake
from services.intake.closing import ClosingWorker
from services.intake.settings import IntakeSettings
from services.routing.app import create_app as create_routing
from services.routing.settings import RoutingSettings
from shared.clock import FixedClock
from shared.contracts.envelope import Event, kafka_headers, to_bytes
from shared.contracts.notifications import NotificationRetrying, NotificationSent
from shared.contracts.routing import InquirySlaWarning
from shared.contracts.topics import INQUIRY_EVENTS, NOTIFICATION_EVENTS, ROUTING_EVENTS
from shared.kafka.connection import client_options, create_producer
from shared.settings import PlatformSettings

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

NOW = datetime(2026, 11, 25, 16, 0, tzinfo=UTC)  # Wednesday, 10:00 in Chicago
STAFF_FILE = Path(__file__).parents[2] / "services" / "routing" / "data" / "staff_demo.yaml"
STAFF = "network-1-staff-1"  # school 609794 is in Network 1
CENTRAL = staff_headers(staff_id="central-staff-1", role="central_staff", network_id="central")
NETWORK_1 = staff_headers(staff_id=STAFF, role="network_staff", network_id="network-1")
NETWORK_2 = staff_headers(staff_id="network-2-staff-1", role="network_staff", network_id="network-2")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def env(module_platform: PlatformSettings, topics: tuple[str, ...]) -> AsyncIterator[dict[str, Any]]:
    clock = FixedClock(NOW)
    routing = create_routing(RoutingSettings(platform=module_platform, staff_file=STAFF_FILE), clock=clock)
    intake = create_intake(
        IntakeSettings(platform=module_platform, reopen_window_days=14, duplicate_window_days=30),
        clock=clock,
        routing_transport=httpx.ASGITransport(app=routing),
    )
    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(routing.router.lifespan_context(routing))
        await stack.enter_async_context(intake.router.lifespan_context(intake))
        routing_client = await stack.enter_async_context(
            httpx.AsyncClient(transport=httpx.ASGITransport(app=routing), base_url="http://routing", headers=CENTRAL)
        )
        client = await stack.enter_async_context(
            httpx.AsyncClient(transport=httpx.ASGITransport(app=intake), base_url="http://intake", headers=CENTRAL)
        )

        async def staff_known() -> bool:  # intake follows routing's staff directory (staff.updated)
            answers = [await client.get("/v1/inquiries", headers=h) for h in (CENTRAL, NETWORK_1, NETWORK_2)]
            return all(a.status_code == 200 for a in answers)

        await eventually(staff_known, timeout=30)
        producer = create_producer(module_platform, client_id="lifecycle-test")
        await producer.start()
        stack.push_async_callback(producer.stop)
        yield {
            "intake": client,
            "routing": routing_client,
            "intake_app": intake,
            "clock": clock,
            "platform": module_platform,
            "producer": producer,
        }


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 20.0) -> Any:
    async with asyncio.timeout(timeout):
        while not (found := await check()):
            await asyncio.sleep(0.1)
        return found


def submission(email: str, *, category: str = "attendance", grade: str = "3") -> dict[str, Any]:
    return {
        "parent": {"name": "Ana Lopez", "email": email},
        "student": {"school_id": 609794, "grade": grade},
        "category": category,
        "description": "Absences marked wrongly.",
        "channel": "phone",
    }


def an_email() -> str:
    return f"ana.{uuid.uuid4().hex[:8]}@example.org"


async def submit(env: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    created = await env["intake"].post("/v1/inquiries", json=body)
    assert created.status_code == 201, created.text
    inquiry: dict[str, Any] = created.json()
    return inquiry


async def get(env: dict[str, Any], inquiry_id: str) -> dict[str, Any]:
    answer = await env["intake"].get(f"/v1/inquiries/{inquiry_id}")
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


async def assigned(env: dict[str, Any]) -> dict[str, Any]:
    inquiry = await submit(env, submission(an_email()))

    async def seen() -> dict[str, Any] | None:
        found = await get(env, inquiry["id"])
        return found if found["status"] == "assigned" else None

    found: dict[str, Any] = await eventually(seen)
    return found


async def post(env: dict[str, Any], inquiry_id: str, action: str, body: dict[str, Any], **headers: str) -> Any:
    """As a network 1 staff member, unless ``headers`` say otherwise."""
    return await env["intake"].post(f"/v1/inquiries/{inquiry_id}/{action}", json=body, headers={**NETWORK_1, **headers})


async def history(env: dict[str, Any], inquiry_id: str) -> list[dict[str, Any]]:
    answer = await env["intake"].get(f"/v1/inquiries/{inquiry_id}/history")
    assert answer.status_code == 200, answer.text
    entries: list[dict[str, Any]] = answer.json()
    return entries


async def events_of(platform: PlatformSettings, inquiry_id: str, count: int) -> list[dict[str, Any]]:
    """The first ``count`` events on psc.inquiries.events keyed by this inquiry, in order."""
    consumer = AIOKafkaConsumer(INQUIRY_EVENTS, **client_options(platform), auto_offset_reset="earliest")
    await consumer.start()
    found: list[dict[str, Any]] = []
    try:
        async with asyncio.timeout(20):
            while len(found) < count:
                for records in (await consumer.getmany(timeout_ms=200)).values():
                    found.extend(json.loads(r.value) for r in records if r.key == inquiry_id.encode())
    finally:
        await consumer.stop()
    return found


async def publish(env: dict[str, Any], topic: str, event: Event) -> None:
    await env["producer"].send_and_wait(
        topic, to_bytes(event), key=event.partition_key().encode(), headers=kafka_headers(event)
    )


async def test_every_transition_changes_the_status_and_publishes_its_event_keyed_by_the_inquiry(
    env: dict[str, Any],
) -> None:
    inquiry = await assigned(env)
    steps: list[tuple[str, dict[str, Any], str, str]] = [
        ("acknowledge", {}, "acknowledged", "inquiry.acknowledged"),
        (
            "notes",
            {"text": "Called the school office.", "visible_to_parent": False},
            "in_progress",
            "inquiry.note_added",
        ),
        ("request-info", {"question": "Which dates were marked?"}, "waiting_on_parent", "inquiry.waiting_on_parent"),
        ("parent-replies", {"reply": "The 3rd and the 5th."}, "in_progress", "inquiry.parent_replied"),
        ("resolve", {"summary": "Both days are corrected."}, "resolved", "inquiry.resolved"),
        ("reopen", {"reason": "The 5th shows again."}, "in_progress", "inquiry.reopened"),
    ]
    for action, body, status, _ in steps:
        answer = await post(env, inquiry["reference"].lower(), action, body)  # the reference, any case
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == status
    events = await events_of(env["platform"], inquiry["id"], 1 + len(steps))
    assert [e["event_type"] for e in events] == ["inquiry.submitted", *(s[3] for s in steps)]
    lifecycle_events = events[1:]
    assert all(e["by"] == STAFF for e in lifecycle_events)
    assert "Called the school office." not in json.dumps(events) and "The 3rd and the 5th." not in json.dumps(events)
    assert lifecycle_events[2]["question"] == "Which dates were marked?"
    assert lifecycle_events[4]["summary"] == "Both days are corrected."
    resolved = await get(env, inquiry["id"])
    assert resolved["resolved_at"] is None and resolved["reopen_until"] is None  # reopened
    entries = await history(env, inquiry["id"])
    assert not {"parent", "student", "status_token"} & set(entries[0]["detail"])  # no personal data, no secret
    kinds = [(e["event_type"], e["note"]["visibility"] if e["note"] else None) for e in entries]
    assert kinds == [
        ("inquiry.submitted", None),
        ("inquiry.assigned", None),
        ("inquiry.acknowledged", None),
        ("inquiry.note_added", "staff"),
        ("inquiry.waiting_on_parent", "parent"),
        ("inquiry.parent_replied", "staff"),
        ("inquiry.resolved", "parent"),
        ("inquiry.reopened", "staff"),
    ]


async def test_a_refused_action_is_a_409_naming_status_and_action_and_changes_nothing(env: dict[str, Any]) -> None:
    inquiry = await assigned(env)
    before, before_history = await get(env, inquiry["id"]), await history(env, inquiry["id"])
    for action, body in [
        ("resolve", {"summary": "Done."}),
        ("parent-replies", {"reply": "Here."}),
        ("request-info", {"question": "When?"}),
        ("reopen", {"reason": "Again."}),
    ]:
        refused = await post(env, inquiry["id"], action, body, **{"Idempotency-Key": f"refused-{uuid.uuid4()}"})
        assert refused.status_code == 409, refused.text
        assert "assigned" in refused.json()["detail"] and action.split("-")[0] in refused.json()["detail"]
    unknown = await post(env, "PSC-26-999999", "acknowledge", {})
    assert unknown.status_code == 404
    bad = await post(env, inquiry["id"], "notes", {"text": "", "visible_to_parent": "yes"})
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"text", "visible_to_parent"}
    assert await get(env, inquiry["id"]) == before
    assert await history(env, inquiry["id"]) == before_history


async def test_the_same_idempotency_key_applies_once_and_a_different_request_with_it_is_refused(
    env: dict[str, Any],
) -> None:
    inquiry = await assigned(env)
    key = {"Idempotency-Key": f"ack-{uuid.uuid4()}"}
    first = await post(env, inquiry["id"], "acknowledge", {}, **key)
    again = await post(env, inquiry["id"], "acknowledge", {}, **key)
    assert (first.status_code, again.status_code) == (200, 200)
    assert first.json()["status"] == again.json()["status"] == "acknowledged"
    note_key = {"Idempotency-Key": f"note-{uuid.uuid4()}"}
    note = {"text": "Left a message.", "visible_to_parent": True}
    assert (await post(env, inquiry["id"], "notes", note, **note_key)).status_code == 200
    assert (await post(env, inquiry["id"], "notes", note, **note_key)).status_code == 200
    other = await post(env, inquiry["id"], "notes", {"text": "Other.", "visible_to_parent": True}, **note_key)
    assert other.status_code == 409
    kinds = [e["event_type"] for e in await history(env, inquiry["id"])]
    assert kinds.count("inquiry.acknowledged") == 1 and kinds.count("inquiry.note_added") == 1
    events = await events_of(env["platform"], inquiry["id"], 3)
    assert [e["event_type"] for e in events] == ["inquiry.submitted", "inquiry.acknowledged", "inquiry.note_added"]


async def test_routing_s_and_notify_s_events_fold_into_the_history_in_order_once_each(env: dict[str, Any]) -> None:
    inquiry = await assigned(env)
    now = env["clock"].now()
    sent = NotificationSent(
        inquiry_id=inquiry["id"],
        occurred_at=now + timedelta(seconds=1),
        correlation_id="notify-test",
        delivery_id=uuid.uuid4(),
        channel="email",
        template="inquiry_received",
        language="en",
    )
    retrying = NotificationRetrying(
        inquiry_id=inquiry["id"],
        occurred_at=now + timedelta(seconds=1, milliseconds=500),
        correlation_id="notify-test",
        delivery_id=uuid.uuid4(),
        channel="sms",
        template="inquiry_received",
        language="en",
        attempt=1,
        reason="provider answered 503",
        next_attempt_at=now + timedelta(minutes=1),
    )
    warning = InquirySlaWarning(
        inquiry_id=inquiry["id"],
        occurred_at=now + timedelta(seconds=2),
        correlation_id="routing-test",
        tier="network",
        clock="first_response",
        network_id="network-1",
        escalates_at=now + timedelta(hours=4),
    )
    pairs = [(sent, NOTIFICATION_EVENTS), (retrying, NOTIFICATION_EVENTS), (warning, ROUTING_EVENTS)]
    for event, topic in pairs * 2:  # each delivered twice
        await publish(env, topic, event)

    async def folded() -> list[dict[str, Any]] | None:
        entries = await history(env, inquiry["id"])
        return entries if {"notification.sent", "inquiry.sla_warning"} <= {e["event_type"] for e in entries} else None

    await eventually(folded)
    await asyncio.sleep(1.0)  # the redeliveries have had their chance
    entries = await history(env, inquiry["id"])
    assert [(e["event_type"], e["source"]) for e in entries] == [
        ("inquiry.submitted", "intake"),
        ("inquiry.assigned", "routing"),
        ("notification.sent", "notify"),
        ("notification.retrying", "notify"),
        ("inquiry.sla_warning", "routing"),
    ]
    assert entries[2]["detail"]["channel"] == "email" and entries[4]["detail"]["clock"] == "first_response"
    assert entries[3]["detail"]["attempt"] == 1


async def test_the_same_parent_student_and_category_is_linked_as_a_likely_duplicate_and_staff_link_others(
    env: dict[str, Any],
) -> None:
    email = an_email()
    first = await submit(env, submission(email))
    second = await submit(env, submission(email.upper()))
    other_grade = await submit(env, submission(email, grade="4"))
    assert (await get(env, other_grade["id"]))["links"] == []
    links = (await get(env, second["id"]))["links"]
    assert [(link["inquiry_id"], link["relation"], link["by"]) for link in links] == [
        (first["id"], "likely_duplicate_of", "intake")
    ]
    assert [(x["inquiry_id"], x["relation"]) for x in (await get(env, first["id"]))["links"]] == [
        (second["id"], "has_likely_duplicate")
    ]
    events = await events_of(env["platform"], second["id"], 2)
    assert events[1]["event_type"] == "inquiry.linked" and events[1]["relation"] == "likely_duplicate_of"
    assert events[1]["linked_inquiry_id"] == first["id"]

    # Central staff see them before routing has assigned them.
    linked = await post(env, other_grade["id"], "link", {"duplicate_of": first["reference"]}, **CENTRAL)
    assert linked.status_code == 200, linked.text
    assert [(x["inquiry_id"], x["relation"]) for x in linked.json()["links"]] == [(first["id"], "duplicate_of")]
    again = await post(env, other_grade["id"], "link", {"duplicate_of": first["id"]}, **CENTRAL)
    assert again.status_code == 409
    itself = await post(env, other_grade["id"], "link", {"duplicate_of": other_grade["id"]}, **CENTRAL)
    assert itself.status_code == 422 and itself.json()["errors"][0]["field"] == "duplicate_of"

    # The same phone under another email is the same parent too.
    by_phone = submission(an_email(), category="health_and_wellness")
    by_phone["parent"]["mobile_phone"] = "+13125550177"
    earlier = await submit(env, by_phone)
    by_phone["parent"]["email"] = an_email()
    later = await submit(env, by_phone)
    assert [(x["inquiry_id"], x["relation"]) for x in (await get(env, later["id"]))["links"]] == [
        (earlier["id"], "likely_duplicate_of")
    ]


async def test_reassignment_goes_through_routing_and_comes_back_as_routing_s_event(env: dict[str, Any]) -> None:
    inquiry = await assigned(env)
    current = inquiry["assignment"]["assignee_id"]
    target = "network-1-staff-2" if current != "network-1-staff-2" else "network-1-staff-1"
    moved = await post(env, inquiry["id"], "reassign", {"staff_id": target})
    assert moved.status_code == 200, moved.text

    async def reassigned() -> dict[str, Any] | None:
        found = await get(env, inquiry["id"])
        return found if found["assignment"]["assignee_id"] == target else None

    await eventually(reassigned)
    assert "inquiry.reassigned" in [e["event_type"] for e in await history(env, inquiry["id"])]
    outsider = await post(env, inquiry["id"], "reassign", {"staff_id": "network-2-staff-1"})
    assert outsider.status_code in (409, 422), outsider.text


async def test_the_queue_filters_searches_by_reference_and_pages(env: dict[str, Any]) -> None:
    inquiries = [await submit(env, submission(an_email(), category="transportation")) for _ in range(3)]
    listed = await env["intake"].get("/v1/inquiries", params={"category": "transportation", "limit": 2})
    assert listed.status_code == 200, listed.text
    page = listed.json()
    newest_first = sorted((i["id"] for i in inquiries), reverse=True)  # one fixed clock: same time, then by id
    assert [i["id"] for i in page["items"]] == newest_first[:2]
    assert "parent" not in page["items"][0]
    rest = await env["intake"].get(
        "/v1/inquiries", params={"category": "transportation", "limit": 2, "cursor": page["next_cursor"]}
    )
    assert rest.json()["items"][0]["id"] == newest_first[2]
    by_reference = await env["intake"].get("/v1/inquiries", params={"reference": inquiries[1]["reference"].lower()})
    assert [i["id"] for i in by_reference.json()["items"]] == [inquiries[1]["id"]]
    bad = await env["intake"].get("/v1/inquiries", params={"cursor": "bm90LWEtY3Vyc29y", "status": "lost"})
    assert bad.status_code == 422


async def test_past_the_reopen_window_the_case_closes_by_itself_and_a_reopen_opens_a_linked_follow_up(
    env: dict[str, Any],
) -> None:
    inquiry = await assigned(env)
    assert (await post(env, inquiry["id"], "acknowledge", {})).status_code == 200
    resolved = await post(env, inquiry["id"], "resolve", {"summary": "Corrected."})
    assert resolved.json()["reopen_until"] is not None

    async def routing_stopped_its_clocks() -> bool:  # else moving the clock would escalate it first
        answer = await env["routing"].get(f"/v1/assignments/{inquiry['id']}")
        return bool(answer.status_code == 200 and answer.json()["status"] == "resolved")

    await eventually(routing_stopped_its_clocks)
    env["clock"].advance(timedelta(days=14, seconds=1))

    async def closed() -> dict[str, Any] | None:
        found = await get(env, inquiry["id"])
        return found if found["status"] == "closed" else None

    await eventually(closed)
    events = await events_of(env["platform"], inquiry["id"], 4)
    assert events[-1]["event_type"] == "inquiry.closed" and events[-1]["reason"] == "reopen_window_passed"
    key = {"Idempotency-Key": f"reopen-{uuid.uuid4()}"}
    follow_up = await post(env, inquiry["id"], "reopen", {"reason": "Marked absent again."}, **key)
    assert follow_up.status_code == 201, follow_up.text
    again = await post(env, inquiry["id"], "reopen", {"reason": "Marked absent again."}, **key)
    assert again.status_code == 201 and again.json()["id"] == follow_up.json()["id"]
    unkeyed = await post(env, inquiry["id"], "reopen", {"reason": "Still marked absent."})
    assert unkeyed.status_code == 200, "the follow-up made before is open: no second one"
    assert unkeyed.json()["id"] == follow_up.json()["id"]
    assert unkeyed.headers["Location"] == f"/v1/inquiries/{follow_up.json()['id']}"
    new = follow_up.json()
    assert new["id"] != inquiry["id"] and new["status"] == "received"
    assert new["description"] == "Marked absent again." and new["parent"] == inquiry["parent"]
    assert [(x["inquiry_id"], x["relation"]) for x in new["links"]] == [(inquiry["id"], "follow_up_of")]
    assert (await get(env, inquiry["id"]))["status"] == "closed"
    new_events = await events_of(env["platform"], new["id"], 2)
    assert [e["event_type"] for e in new_events] == ["inquiry.submitted", "inquiry.linked"]


async def test_another_network_s_staff_get_the_404_of_an_unknown_inquiry_and_nobody_signed_in_gets_401(
    env: dict[str, Any],
) -> None:
    inquiry = await assigned(env)
    for path in (f"/v1/inquiries/{inquiry['id']}", f"/v1/inquiries/{inquiry['id']}/history"):
        assert (await env["intake"].get(path, headers=NETWORK_2)).status_code == 404
        assert (await env["intake"].get(path, headers=NETWORK_1)).status_code == 200
    assert (await post(env, inquiry["id"], "acknowledge", {}, **NETWORK_2)).status_code == 404
    listed = await env["intake"].get("/v1/inquiries", params={"reference": inquiry["reference"]}, headers=NETWORK_2)
    assert listed.status_code == 200 and listed.json()["items"] == []
    anonymous = httpx.AsyncClient(transport=env["intake"]._transport, base_url="http://intake")
    async with anonymous:
        assert (await anonymous.get(f"/v1/inquiries/{inquiry['id']}/history")).status_code == 401
        assert (await anonymous.post(f"/v1/inquiries/{inquiry['id']}/acknowledge", json={})).status_code == 401
    assert (await get(env, inquiry["id"]))["status"] == "assigned"


async def test_reads_of_a_case_are_in_the_audit_log_with_who_what_and_when(env: dict[str, Any]) -> None:
    inquiry = await assigned(env)
    assert (await env["intake"].get(f"/v1/inquiries/{inquiry['id']}/history", headers=NETWORK_1)).status_code == 200
    assert (await post(env, inquiry["id"], "acknowledge", {})).status_code == 200
    audit = await env["intake"].get("/v1/audit", params={"inquiry": inquiry["id"]})
    assert audit.status_code == 200, audit.text
    mine = [(e["actor_id"], e["action"]) for e in audit.json()["entries"] if e["actor_id"] == STAFF]
    assert sorted(mine) == [(STAFF, "history"), (STAFF, "inquiry")]
    assert all(e["at"] == env["clock"].now().isoformat().replace("+00:00", "Z") for e in audit.json()["entries"])


async def test_sweeps_of_several_replicas_close_each_due_inquiry_once(env: dict[str, Any]) -> None:
    resolved = []
    for _ in range(8):
        inquiry = await assigned(env)
        assert (await post(env, inquiry["id"], "acknowledge", {})).status_code == 200
        assert (await post(env, inquiry["id"], "resolve", {"summary": "Done."})).status_code == 200
        resolved.append(inquiry["id"])

    async def routing_resolved_all() -> bool:
        answers = [await env["routing"].get(f"/v1/assignments/{i}") for i in resolved]
        return all(a.status_code == 200 and a.json()["status"] == "resolved" for a in answers)

    await eventually(routing_resolved_all)
    env["clock"].advance(timedelta(days=15))
    pool = env["intake_app"].state.runtime.pool
    # Two more replicas' sweeps, small batches, racing each other and the app's own sweep.
    sweeps = [ClosingWorker(pool, clock=env["clock"], batch_size=2) for _ in range(2)]
    await asyncio.gather(*(sweep.fire_due() for sweep in sweeps for _ in range(4)))

    async def all_closed() -> bool:
        return all([(await get(env, i))["status"] == "closed" for i in resolved])

    await eventually(all_closed)
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT key, payload FROM outbox WHERE event_type = 'inquiry.closed' AND key = ANY($1::text[])", resolved
        )
    assert sorted(row["key"] for row in rows) == sorted(resolved)  # one each
    assert {row["payload"]["reason"] for row in rows} == {"reopen_window_passed"}
