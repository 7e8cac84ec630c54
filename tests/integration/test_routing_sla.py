"""Routing's SLA clocks through the real broker and database: two routing replicas (two app instances in this
process on one database, sharing a fixed clock the test moves), deadlines fired exactly once, redelivered events
changing nothing, lifecycle steps, a closure that moves deadlines and a school that changes network."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer
from auth import staff_headers
from fastapi import FastAPI

from services.routing import handlers
from services.routing.app import create_app as create_routing
from services.routing.files import DEMO_STAFF
from services.routing.settings import SCHOOLS_CSV, RoutingSettings
from shared.clock import FixedClock
from shared.contracts.directory import SchoolListPublished
from shared.contracts.envelope import Event, kafka_headers, to_bytes
from shared.contracts.inquiries import InquirySubmitted
from shared.contracts.lifecycle import InquiryAcknowledged
from shared.contracts.topics import DEAD_LETTERS, DIRECTORY_UPDATES, INQUIRY_EVENTS, ROUTING_EVENTS, STAFF_EVENTS
from shared.kafka.connection import client_options, create_producer
from shared.settings import PlatformSettings

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

# Monday 16 Nov 2026, 9:00 in Chicago. 'other', normal: the network has one business day to acknowledge.
NOW = datetime(2026, 11, 16, 15, 0, tzinfo=UTC)
NETWORK_DUE = datetime(2026, 11, 17, 15, 0, tzinfo=UTC)  # Tuesday 9:00 in Chicago
EDISON, NETWORK_1 = 609794, "network-1"
FRAZIER = 610503  # a school of Network 5, which no other test here sends inquiries to
# Operators' calls are a central staff member's (the write endpoints want a signed-in staff member).
CENTRAL_STAFF = staff_headers(staff_id="central-staff-1", role="central_staff", network_id="central")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def replicas(module_platform: PlatformSettings, topics: tuple[str, ...]) -> AsyncIterator[dict[str, Any]]:
    clock = FixedClock(NOW)
    # Small batches, so both replicas' deadline workers take part in firing the same due rows.
    settings = RoutingSettings(platform=module_platform, deadline_batch=10, staff_file=DEMO_STAFF)
    apps: list[FastAPI] = [create_routing(settings, clock=clock), create_routing(settings, clock=clock)]
    async with contextlib.AsyncExitStack() as stack:
        clients = []
        for i, app in enumerate(apps):
            if i:
                # Closed one after the other with a pause: two members of one group leaving at the same moment is
                # what Tansu can lose (docs/architecture.md, consumer groups), and the next start would then hang.
                stack.push_async_callback(asyncio.sleep, 3)
            await stack.enter_async_context(app.router.lifespan_context(app))
            clients.append(
                await stack.enter_async_context(
                    httpx.AsyncClient(
                        transport=httpx.ASGITransport(app=app), base_url=f"http://routing-{i}", headers=CENTRAL_STAFF
                    )
                )
            )
        producer = create_producer(module_platform, client_id="routing-sla-test")
        await producer.start()
        stack.push_async_callback(producer.stop)
        db = await asyncpg.connect(
            module_platform.database_url.get_secret_value(), server_settings={"search_path": "routing"}
        )
        stack.push_async_callback(db.close)
        yield {
            "apps": apps,
            "clients": clients,
            "clock": clock,
            "producer": producer,
            "platform": module_platform,
            "db": db,
        }


def submitted(school_id: int = EDISON, category: str = "other") -> InquirySubmitted:
    return InquirySubmitted.model_validate(
        {
            "inquiry_id": str(uuid.uuid4()),
            "occurred_at": NOW,
            "correlation_id": f"sla-test-{uuid.uuid4().hex[:8]}",
            "reference": "PSC-26-000001",
            "category": category,
            "channel": "phone",
            "parent": {"name": "Ana", "email": "ana@example.org"},
            "student": {"school_id": school_id, "grade": "3"},
        }
    )


async def publish(env: dict[str, Any], events: Sequence[Event]) -> None:
    for event in events:
        await env["producer"].send(
            INQUIRY_EVENTS, to_bytes(event), key=event.partition_key().encode(), headers=kafka_headers(event)
        )
    await env["producer"].flush()


async def eventually(check: Any, timeout: float = 30.0) -> Any:
    async with asyncio.timeout(timeout):
        while not (found := await check()):
            await asyncio.sleep(0.1)
        return found


async def assigned(env: dict[str, Any], ids: set[uuid.UUID]) -> None:
    async def all_there() -> bool:
        count = await env["db"].fetchval(
            "SELECT count(*) FROM assignments WHERE inquiry_id = ANY($1::uuid[])", list(ids)
        )
        return bool(count == len(ids))

    await eventually(all_there)


async def routing_events(
    env: dict[str, Any], ids: set[uuid.UUID], *, until: Any, settle: float = 2.0, timeout: float = 30.0
) -> list[dict[str, Any]]:
    """Routing's events about ``ids`` from the start of the topic, once ``until(events)`` holds and ``settle`` seconds
    more passed (anything fired twice would show up then)."""
    consumer = AIOKafkaConsumer(
        ROUTING_EVENTS, **client_options(env["platform"]), auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    keys = {str(i).encode() for i in ids}
    found: list[dict[str, Any]] = []
    try:
        async with asyncio.timeout(timeout):
            while not until(found):
                for records in (await consumer.getmany(timeout_ms=200)).values():
                    found.extend(json.loads(r.value) for r in records if r.key in keys)
        loop = asyncio.get_running_loop()
        end = loop.time() + settle
        while loop.time() < end:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                found.extend(json.loads(r.value) for r in records if r.key in keys)
    finally:
        await consumer.stop()
    return found


async def first_record(env: dict[str, Any], topic: str, matches: Any) -> Any:
    """The first record on ``topic`` (from its start) that ``matches``."""
    consumer = AIOKafkaConsumer(topic, **client_options(env["platform"]), auto_offset_reset="earliest", group_id=None)
    await consumer.start()
    try:
        async with asyncio.timeout(30):
            while True:
                for records in (await consumer.getmany(timeout_ms=200)).values():
                    for record in records:
                        if matches(record):
                            return record
    finally:
        await consumer.stop()


def of_type(events: list[dict[str, Any]], event_type: str) -> list[dict[str, Any]]:
    return [e for e in events if e["event_type"] == event_type]


def wake_all(env: dict[str, Any]) -> None:
    for app in env["apps"]:
        app.state.context.deadlines.wake()


async def test_two_replicas_fire_200_overdue_inquiries_exactly_once_and_redelivery_changes_nothing(
    replicas: dict[str, Any],
) -> None:
    env = replicas
    events = [submitted() for _ in range(200)]
    ids = {e.inquiry_id for e in events}
    await publish(env, events)
    await assigned(env, ids)

    env["clock"].set(NETWORK_DUE + timedelta(minutes=30))
    wake_all(env)
    seen = await routing_events(env, ids, until=lambda found: len(of_type(found, "inquiry.escalated")) >= 200)
    escalated = of_type(seen, "inquiry.escalated")
    assert len(escalated) == 200 and {e["inquiry_id"] for e in escalated} == {str(i) for i in ids}
    assert {(e["from_tier"], e["to_tier"], e["network_id"]) for e in escalated} == {("network", "psa", NETWORK_1)}
    assert {e["assignee_id"] for e in escalated} == {"network-1-psa"}
    assert len(of_type(seen, "inquiry.sla_warning")) == 200 and len(of_type(seen, "inquiry.assigned")) == 200
    fired = await env["db"].fetchval(
        "SELECT count(*) FROM sla_history WHERE event_type = 'inquiry.escalated' AND inquiry_id = ANY($1::uuid[])",
        list(ids),
    )
    assert fired == 200

    # The broker hands every submission over again, and a lifecycle step twice: nothing is assigned or fired again.
    ack = InquiryAcknowledged(
        inquiry_id=events[0].inquiry_id, occurred_at=env["clock"].now(), correlation_id="a", by="network-1-psa"
    )
    await publish(env, [*events, ack, ack])
    wake_all(env)
    await asyncio.sleep(3.0)
    again = await routing_events(env, ids, until=lambda found: len(found) >= len(seen))
    assert len(again) == len(seen)

    async def acknowledged() -> bool:
        state = (await env["clients"][0].get(f"/v1/inquiries/{events[0].inquiry_id}/routing")).json()
        return bool({c["name"]: c["state"] for c in state["clocks"]}["first_response"] == "stopped")

    await eventually(acknowledged)
    state = (await env["clients"][1].get(f"/v1/inquiries/{events[0].inquiry_id}/routing")).json()
    assert (state["tier"], state["assignee_id"]) == ("psa", "network-1-psa")
    assert [h["event_type"] for h in state["history"]] == ["inquiry.sla_warning", "inquiry.escalated"]
    staff = (await env["clients"][0].get("/v1/staff", params={"network_id": NETWORK_1})).json()
    assert {m["id"]: m["open_load"] for m in staff}["network-1-psa"] >= 200


async def test_a_lifecycle_event_for_an_inquiry_routing_never_saw_is_parked_with_the_reason(
    replicas: dict[str, Any],
) -> None:
    env = replicas
    stranger = InquiryAcknowledged(inquiry_id=uuid.uuid4(), occurred_at=NOW, correlation_id="x", by="network-1-psa")
    await publish(env, [stranger])
    record = await first_record(env, DEAD_LETTERS, lambda r: r.key == str(stranger.inquiry_id).encode())
    parked = dict(record.headers)
    assert b"never assigned" in parked["dlq.reason"]


async def test_a_closure_moves_the_deadlines_in_flight_and_a_past_day_is_refused(replicas: dict[str, Any]) -> None:
    env = replicas
    env["clock"].set(datetime(2026, 12, 7, 15, 0, tzinfo=UTC))  # Monday 7 Dec, 9:00
    events = [submitted() for _ in range(3)]
    ids = {e.inquiry_id for e in events}
    await publish(env, events)
    await assigned(env, ids)
    before = {i: (await env["clients"][0].get(f"/v1/assignments/{i}")).json()["due_at"] for i in ids}
    assert set(before.values()) == {"2026-12-08T15:00:00Z"}

    refused = await env["clients"][0].post("/v1/calendar/closures", json={"date": "2026-12-04", "reason": "late"})
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "date"
    closed = await env["clients"][1].post("/v1/calendar/closures", json={"date": "2026-12-08", "reason": "snow day"})
    assert closed.status_code == 201, closed.text
    assert closed.json()["moved"] >= 3
    twice = await env["clients"][0].post("/v1/calendar/closures", json={"date": "2026-12-08", "reason": "snow day"})
    assert twice.status_code == 409

    seen = await routing_events(env, ids, until=lambda found: len(of_type(found, "inquiry.deadline_moved")) >= 3)
    moved = of_type(seen, "inquiry.deadline_moved")
    assert len(moved) == 3 and {m["due_at"] for m in moved} == {"2026-12-09T15:00:00Z"}
    after = {i: (await env["clients"][1].get(f"/v1/assignments/{i}")).json()["due_at"] for i in ids}
    assert set(after.values()) == {"2026-12-09T15:00:00Z"}
    calendar = (await env["clients"][0].get("/v1/calendar", params={"from": "2026-12-08", "days": 1})).json()
    assert calendar["days"] == [{"date": "2026-12-08", "business_day": False, "closed_for": "snow day"}]
    assert date(2026, 12, 8).isoformat() == calendar["days"][0]["date"]


async def test_a_school_that_changes_network_takes_its_open_inquiries_along(replicas: dict[str, Any]) -> None:
    env = replicas
    event = submitted()
    await publish(env, [event])
    await assigned(env, {event.inquiry_id})
    old = (await env["clients"][0].get(f"/v1/inquiries/{event.inquiry_id}/routing")).json()
    text = SCHOOLS_CSV.read_text()
    header, *rows = text.splitlines()
    moved_rows = [row.replace(",Network 1,", ",Network 2,") if row.startswith(f"{EDISON},") else row for row in rows]
    assert moved_rows != rows

    bad = await env["clients"][0].put(
        "/v1/directory/schools", json={"csv": "\n".join([header, "12,X,X,Network 2", *moved_rows])}
    )
    assert bad.status_code == 422 and bad.json()["errors"] == [
        {"field": "csv", "reason": "line 2: school_id: is not a six-digit school id"}
    ]
    still = (await env["clients"][0].get(f"/v1/schools/{EDISON}")).json()
    assert still["network_id"] == NETWORK_1  # a list with a bad row loads nothing

    loaded = await env["clients"][1].put("/v1/directory/schools", json={"csv": "\n".join([header, *moved_rows])})
    assert loaded.status_code == 200, loaded.text
    assert loaded.json()["moved_schools"] == 1 and loaded.json()["rerouted"] >= 1
    seen = await routing_events(env, {event.inquiry_id}, until=lambda found: bool(of_type(found, "inquiry.rerouted")))
    (rerouted,) = of_type(seen, "inquiry.rerouted")
    assert (rerouted["from_network_id"], rerouted["to_network_id"], rerouted["tier"]) == (
        NETWORK_1,
        "network-2",
        old["tier"],
    )
    now = (await env["clients"][0].get(f"/v1/inquiries/{event.inquiry_id}/routing")).json()
    assert now["network_id"] == "network-2" and now["assignee_id"].startswith("network-2-staff-")
    assert now["due_at"] == old["due_at"]  # elapsed time kept
    queue = (await env["clients"][0].get("/v1/networks/network-2/queue")).json()
    assert str(event.inquiry_id) in {item["inquiry_id"] for item in queue}
    env["rerouted"] = event.inquiry_id


async def test_a_school_list_published_on_the_directory_topic_is_loaded_or_refused_whole(
    replicas: dict[str, Any],
) -> None:
    env = replicas
    inquiry_id = env["rerouted"]  # at network-2 since the last test moved its school there
    original = SCHOOLS_CSV.read_text()
    header, *rows = original.splitlines()

    def published(list_id: str, csv: str) -> SchoolListPublished:
        return SchoolListPublished(occurred_at=NOW, correlation_id=f"list-{list_id}", list_id=list_id, csv=csv)

    bad = published("bad", "\n".join([header, *rows[:3], "99,X,X,Network 1"]))
    good = published("original", original)
    for message in (bad, good):
        await env["producer"].send(
            DIRECTORY_UPDATES, to_bytes(message), key=message.partition_key().encode(), headers=kafka_headers(message)
        )
    await env["producer"].flush()

    record = await first_record(
        env,
        DIRECTORY_UPDATES,
        lambda r: (
            json.loads(r.value).get("event_type") == "directory.school_list_rejected"
            and json.loads(r.value).get("list_id") == "bad"
        ),
    )
    rejection = json.loads(record.value)
    assert rejection["errors"] == [{"field": "csv", "reason": "line 5: school_id: is not a six-digit school id"}]
    assert rejection["correlation_id"] == "list-bad"

    seen = await routing_events(
        env, {inquiry_id}, until=lambda found: len(of_type(found, "inquiry.rerouted")) >= 2, settle=0.5
    )
    back = of_type(seen, "inquiry.rerouted")[-1]
    assert (back["from_network_id"], back["to_network_id"]) == ("network-2", NETWORK_1)


async def test_reassignment_inside_the_tier_keeps_the_deadline_and_is_announced(replicas: dict[str, Any]) -> None:
    env = replicas
    event = submitted()
    await publish(env, [event])
    await assigned(env, {event.inquiry_id})
    before = (await env["clients"][0].get(f"/v1/inquiries/{event.inquiry_id}/routing")).json()
    other = "network-1-staff-2" if before["assignee_id"] == "network-1-staff-1" else "network-1-staff-1"
    wrong = await env["clients"][0].put(
        f"/v1/inquiries/{event.inquiry_id}/assignee", json={"staff_id": "network-2-psa"}
    )
    assert wrong.status_code == 409
    moved = await env["clients"][1].put(f"/v1/inquiries/{event.inquiry_id}/assignee", json={"staff_id": other})
    assert moved.status_code == 200, moved.text
    assert (moved.json()["assignee_id"], moved.json()["due_at"]) == (other, before["due_at"])
    seen = await routing_events(
        env, {event.inquiry_id}, until=lambda found: bool(of_type(found, "inquiry.reassigned")), settle=0.5
    )
    (reassigned,) = of_type(seen, "inquiry.reassigned")
    assert (reassigned["from_assignee_id"], reassigned["assignee_id"]) == (before["assignee_id"], other)


async def test_two_replicas_assigning_at_once_keep_the_least_loaded_choice_exact(replicas: dict[str, Any]) -> None:
    """Both replicas take submissions for one network at the same time (the group splits the partitions between
    them): each choice is confirmed against the loads another replica may just have changed, so the two network
    staff end up with loads at most one apart, and every inquiry is counted once."""
    env = replicas

    async def loads() -> dict[str, int]:
        staff = (await env["clients"][0].get("/v1/staff", params={"network_id": "network-5"})).json()
        return {m["id"]: m["open_load"] for m in staff if m["role"] == "network_staff"}

    before = await loads()
    events = [submitted(FRAZIER) for _ in range(101)]
    for i in range(0, len(events), 7):  # in small bursts, so both replicas' batches overlap
        await publish(env, events[i : i + 7])
    await assigned(env, {e.inquiry_id for e in events})
    after = await loads()
    assert sum(after.values()) - sum(before.values()) == 101
    assert max(after.values()) - min(after.values()) <= 1
    rows = await env["db"].fetch(
        "SELECT assignee_id, count(*) AS n FROM assignments WHERE status = 'open' AND tier = 'network'"
        " AND network_id = 'network-5' GROUP BY assignee_id"
    )
    assert {row["assignee_id"]: row["n"] for row in rows} == after  # the counts are the inquiries they hold


async def test_staff_carry_name_and_work_email_and_an_auditor_is_never_assigned(replicas: dict[str, Any]) -> None:
    env = replicas
    client = env["clients"][0]
    listed = {m["id"]: m for m in (await client.get("/v1/staff", params={"network_id": "central"})).json()}
    assert listed["central-auditor-1"]["role"] == "auditor"
    assert listed["central-staff-1"]["email"] == "oakley.u3@psc.example.org"

    put = await client.put(
        "/v1/staff/network-5-auditor",
        json={"name": "Rowan T.", "role": "auditor", "network_id": "network-5", "email": "rowan.t@psc.example.org"},
    )
    assert put.status_code == 200, put.text
    assert (put.json()["email"], put.json()["role"]) == ("rowan.t@psc.example.org", "auditor")
    bad = await client.put(
        "/v1/staff/network-5-x", json={"name": "X", "role": "psa", "network_id": "network-5", "email": "nope"}
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "email"
    assert "nope" not in bad.text
    central_psa = await client.put("/v1/staff/x", json={"name": "X", "role": "psa", "network_id": "central"})
    assert central_psa.status_code == 409

    record = await first_record(env, STAFF_EVENTS, lambda r: r.key == b"network-5-auditor")
    updated = json.loads(record.value)
    assert (updated["event_type"], updated["role"], updated["name"], updated["email"]) == (
        "staff.updated",
        "auditor",
        "Rowan T.",
        "rowan.t@psc.example.org",
    )

    events = [submitted(FRAZIER) for _ in range(4)]
    await publish(env, events)
    await assigned(env, {e.inquiry_id for e in events})
    holders = await env["db"].fetch(
        "SELECT DISTINCT assignee_id FROM assignments WHERE inquiry_id = ANY($1::uuid[])",
        [e.inquiry_id for e in events],
    )
    assert {row["assignee_id"] for row in holders} <= {"network-5-staff-1", "network-5-staff-2"}
    auditor = (await client.get("/v1/staff", params={"network_id": "network-5"})).json()
    assert {m["id"]: m["open_load"] for m in auditor}["network-5-auditor"] == 0


async def test_an_inquiry_assigned_before_clocks_existed_gets_them_at_start_and_escalates(
    replicas: dict[str, Any],
) -> None:
    """As migration 0003 left an inquiry assigned before it: no clocks, nobody on it. Routing gives it clocks at
    start (counted from when it was assigned), once whichever replica does it, and its deadline then fires."""
    env = replicas
    inquiry_id = uuid.uuid4()
    assigned_at = datetime(2026, 12, 14, 15, 0, tzinfo=UTC)  # Monday 14 Dec, 9:00 in Chicago
    env["clock"].set(assigned_at + timedelta(hours=1))
    await env["db"].execute(
        "INSERT INTO assignments (inquiry_id, category, school_id, network_id, queue, tier, reason, assigned_at,"
        " updated_at, due_at) VALUES ($1, 'other', $2, 'network-5', 'network', 'network', 'school_network',"
        " $3::timestamptz, $3, $3::timestamptz + interval '3 days')",
        inquiry_id,
        FRAZIER,
        assigned_at,
    )
    started = []
    for app in env["apps"]:  # what each replica does at start
        context = app.state.context
        async with context.unit_of_work() as uow:
            started.append(await handlers.start_missing_clocks(uow, rules=context.rules, now=env["clock"].now()))
    assert started == [1, 0]
    state = (await env["clients"][0].get(f"/v1/inquiries/{inquiry_id}/routing")).json()
    assert state["due_at"] == "2026-12-15T15:00:00Z"  # a business day from when it was assigned
    assert {c["name"]: c["state"] for c in state["clocks"]} == {"first_response": "running", "resolution": "running"}
    assert state["assignee_id"] in {"network-5-staff-1", "network-5-staff-2"}

    env["clock"].set(datetime(2026, 12, 15, 15, 30, tzinfo=UTC))
    wake_all(env)
    seen = await routing_events(
        env, {inquiry_id}, until=lambda found: bool(of_type(found, "inquiry.escalated")), settle=0.5
    )
    (escalated,) = of_type(seen, "inquiry.escalated")
    assert (escalated["from_tier"], escalated["to_tier"], escalated["due_at"]) == (
        "network",
        "psa",
        "2026-12-15T15:00:00Z",
    )
