"""Access control of intake through the real broker and database: sign-in (success, failure, rate limit), disabled
accounts, staff made inactive by routing's staff.updated, the access matrix of intake's endpoints and the audit log."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from auth import api_key_headers, staff_headers
from fastapi import FastAPI

from services.intake import access
from services.intake.access_repository import PostgresAccessUnitOfWork
from services.intake.app import create_app as create_intake
from services.intake.settings import IntakeSettings
from services.routing.app import create_app as create_routing
from services.routing.files import DEMO_STAFF
from services.routing.settings import RoutingSettings
from shared.auth import Scope
from shared.contracts.routing import StaffUpdated
from shared.contracts.topics import STAFF_EVENTS
from shared.db.pool import create_pool
from shared.kafka.connection import create_producer
from shared.settings import PlatformSettings

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

OWN, OTHER = "network-1", "network-2"
OWN_SCHOOL, OTHER_SCHOOL = 609794, 610122


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def env(module_platform: PlatformSettings, topics: tuple[str, ...]) -> AsyncIterator[dict[str, Any]]:
    platform = module_platform
    routing = create_routing(RoutingSettings(platform=platform, staff_file=DEMO_STAFF))
    intake = create_intake(IntakeSettings(platform=platform), routing_transport=httpx.ASGITransport(app=routing))
    async with contextlib.AsyncExitStack() as stack:
        for app in (intake, routing):
            await stack.enter_async_context(app.router.lifespan_context(app))
        pool = await create_pool(platform, schema="intake", application_name="psc-test-access")
        stack.push_async_callback(pool.close)
        producer = create_producer(platform, client_id="psc-test-access")
        await producer.start()
        stack.push_async_callback(producer.stop)
        yield {"intake": intake, "pool": pool, "producer": producer}


def client(env: dict[str, Any], host: str = "127.0.0.1") -> httpx.AsyncClient:
    app: FastAPI = env["intake"]
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(host, 4711)), base_url="http://intake")


async def eventually(check: Any, timeout: float = 20.0) -> Any:
    async with asyncio.timeout(timeout):
        while not (found := await check()):
            await asyncio.sleep(0.1)
        return found


async def staff_event(
    env: dict[str, Any], staff_id: str, role: str, network_id: str, *, active: bool = True, at: datetime | None = None
) -> None:
    """What routing publishes when its directory changes; waits until intake has applied it."""
    event = StaffUpdated(
        occurred_at=at or datetime.now(UTC),
        correlation_id=f"test-{staff_id}",
        staff_id=staff_id,
        role=role,  # type: ignore[arg-type]
        network_id=network_id,
        active=active,
    )
    await env["producer"].send_and_wait(STAFF_EVENTS, event.model_dump_json().encode(), key=staff_id.encode())

    async def applied() -> bool:
        member = await env["intake"].state.staff_directory.staff_member(staff_id)
        return member is not None and member.active == active and member.role == role

    await eventually(applied)


async def account(env: dict[str, Any], staff_id: str, role: str, network_id: str, password: str) -> None:
    await staff_event(env, staff_id, role, network_id)
    async with PostgresAccessUnitOfWork(env["pool"]) as uow:
        await access.set_password(uow, username=staff_id, password=password, now=datetime.now(UTC))


def _id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def sign_in(c: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await c.post("/v1/auth/token", data={"username": username, "password": password})


async def test_a_staff_member_signs_in_and_the_token_opens_the_api(env: dict[str, Any]) -> None:
    auditor = _id("auditor")
    await account(env, auditor, "auditor", "central", "correct horse battery")
    async with client(env, "10.0.1.1") as c:
        answer = await sign_in(c, auditor, "correct horse battery")
        assert answer.status_code == 200, answer.text
        token = answer.json()
        assert token["token_type"] == "bearer"
        assert token["expires_in"] == 900
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        assert (await c.get("/v1/audit", headers=headers)).status_code == 200
        refused = await c.post("/v1/inquiries", json=_body(OWN_SCHOOL), headers=headers)
        assert refused.status_code == 403  # auditors read only


@pytest.mark.parametrize("case", ["wrong password", "unknown user", "no credential"])
async def test_failed_sign_ins_are_401_alike(env: dict[str, Any], case: str) -> None:
    username = _id("psa")
    if case != "unknown user":
        await staff_event(env, username, "psa", OWN)
    if case == "wrong password":
        async with PostgresAccessUnitOfWork(env["pool"]) as uow:
            await access.set_password(uow, username=username, password="the right one", now=datetime.now(UTC))
    async with client(env, "10.0.1.2") as c:
        answer = await sign_in(c, username, "a guess")
    assert answer.status_code == 401
    assert answer.json() == {"detail": "wrong username or password"}
    assert answer.headers["WWW-Authenticate"] == "Bearer"


async def test_sign_in_is_a_form_with_bounded_fields(env: dict[str, Any]) -> None:
    async with client(env, "10.0.1.3") as c:
        as_json = await c.post("/v1/auth/token", json={"username": "a", "password": "b"})
        too_long = await c.post("/v1/auth/token", data={"username": "a" * 201, "password": "b"})
        missing = await c.post("/v1/auth/token", data={"username": "a"})
    assert as_json.status_code == 415
    assert too_long.status_code == 422
    assert [e["field"] for e in too_long.json()["errors"]] == ["username"]
    assert "a" * 201 not in too_long.text
    assert [e["field"] for e in missing.json()["errors"]] == ["password"]


async def test_sign_in_is_rate_limited_per_username_across_clients(env: dict[str, Any]) -> None:
    username = _id("staff")
    await account(env, username, "network_staff", OWN, "right password")
    for attempt in range(5):
        async with client(env, f"10.0.2.{attempt}") as c:
            assert (await sign_in(c, username, "wrong")).status_code == 401
    async with client(env, "10.0.2.99") as c:
        limited = await sign_in(c, username, "right password")  # even the right password waits
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["Retry-After"]) <= 900
    # The limit is in PostgreSQL: a second replica of intake counts the same failures.
    async with PostgresAccessUnitOfWork(env["pool"]) as uow:
        failures = await uow.access.failures_since(
            subjects=[f"user:{username}"], since=datetime.now(UTC) - timedelta(hours=1)
        )
    assert failures[f"user:{username}"][0] == 5


async def test_sign_in_is_rate_limited_per_client(env: dict[str, Any]) -> None:
    async with client(env, "10.0.3.1") as c:
        for _ in range(20):
            assert (await sign_in(c, _id("nobody"), "wrong")).status_code == 401
        limited = await sign_in(c, _id("nobody"), "wrong")
    assert limited.status_code == 429
    assert "Retry-After" in limited.headers
    async with client(env, "10.0.3.2") as other:
        assert (await sign_in(other, _id("nobody"), "wrong")).status_code == 401


async def test_a_disabled_account_cannot_sign_in_and_its_tokens_stop_working(env: dict[str, Any]) -> None:
    username = _id("psa")
    await account(env, username, "psa", OWN, "pw for psa")
    async with client(env, "10.0.4.1") as c:
        token = (await sign_in(c, username, "pw for psa")).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        assert (await c.get("/v1/inquiries", headers=headers)).status_code == 200
        async with PostgresAccessUnitOfWork(env["pool"]) as uow:
            assert await uow.access.disable_credential(username=username, now=datetime.now(UTC))
        refused = await c.get("/v1/inquiries", headers=headers)
        assert (refused.status_code, refused.json()) == (401, {"detail": "this account is not active"})
        assert (await sign_in(c, username, "pw for psa")).status_code == 401


async def test_staff_made_inactive_by_routing_lose_access(env: dict[str, Any]) -> None:
    username = _id("staff")
    await account(env, username, "network_staff", OWN, "pw for staff")
    async with client(env, "10.0.5.1") as c:
        token = (await sign_in(c, username, "pw for staff")).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        assert (await c.get("/v1/inquiries", headers=headers)).status_code == 200
        await staff_event(env, username, "network_staff", OWN, active=False)
        assert (await c.get("/v1/inquiries", headers=headers)).status_code == 401
        assert (await sign_in(c, username, "pw for staff")).status_code == 401
        # An older event, delivered late, does not make them active again.
        await env["producer"].send_and_wait(
            STAFF_EVENTS,
            StaffUpdated(
                occurred_at=datetime.now(UTC) - timedelta(days=1),
                correlation_id="late",
                staff_id=username,
                role="network_staff",
                network_id=OWN,
                active=True,
            )
            .model_dump_json()
            .encode(),
            key=username.encode(),
        )
        await staff_event(env, _id("marker"), "psa", OWN)  # applied after the late one (same partition or not)
        await asyncio.sleep(0.5)
        assert (await env["intake"].state.staff_directory.staff_member(username)).active is False


def _body(school_id: int) -> dict[str, Any]:
    return {
        "parent": {"name": "Ana Lopez", "email": f"ana.{uuid.uuid4().hex[:6]}@example.org"},
        "student": {"school_id": school_id, "grade": "3"},
        "category": "special_education",
        "description": "Her IEP meeting was cancelled twice.",
        "channel": "web",
    }


# Each staff action with a valid body, so that what answers is access (or the lifecycle), never validation.
ACTIONS: dict[str, dict[str, Any]] = {
    "acknowledge": {},
    "notes": {"text": "Called the school."},
    "request-info": {"question": "Which meeting date was cancelled?"},
    "parent-replies": {"reply": "The 12th."},
    "resolve": {"summary": "The meeting is set for Monday."},
    "reopen": {"reason": "The meeting was cancelled again."},
    "reassign": {"staff_id": "network-1-staff-1"},
    "link": {"duplicate_of": "PSC-26-999999"},
}
REACHED = {200, 201, 409, 422}  # the handler ran: what it answered is the lifecycle's business
STAFF = {
    "network_staff": ("m-network-staff", "network_staff", OWN),
    "psa": ("m-psa", "psa", OWN),
    "other_network_staff": ("m-other-staff", "network_staff", OTHER),
    "other_psa": ("m-other-psa", "psa", OTHER),
    "central_staff": ("m-central", "central_staff", "central"),
    "auditor": ("m-auditor", "auditor", "central"),
}
BOTH = (Scope.SUBMIT, Scope.READ)
# who -> (submit, queue, read, history, actions, audit): a status code, or REACHED
MATRIX: dict[str, tuple[Any, ...]] = {
    "nobody": (401, 401, 401, 401, 401, 401),
    "network_staff": (201, 200, 200, 200, REACHED, 403),
    "psa": (201, 200, 200, 200, REACHED, 403),
    "other_network_staff": (201, 200, 404, 404, 404, 403),
    "other_psa": (201, 200, 404, 404, 404, 403),
    "central_staff": (201, 200, 200, 200, REACHED, 200),
    "auditor": (403, 200, 200, 200, 403, 200),
    "key:both": (201, 200, 200, 200, 403, 403),
    "key:submit": (201, 403, 403, 403, 403, 403),
    "key:read": (403, 200, 200, 200, 403, 403),
    "key:none": (403, 403, 403, 403, 403, 403),
}


def headers_of(who: str) -> dict[str, str]:
    if who == "nobody":
        return {}
    if who.startswith("key:"):
        scopes = {"both": BOTH, "submit": (Scope.SUBMIT,), "read": (Scope.READ,), "none": ()}[who[4:]]
        return api_key_headers(scopes)
    staff_id, role, network_id = STAFF[who]
    return staff_headers(staff_id=staff_id, role=role, network_id=network_id)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def routed(env: dict[str, Any]) -> dict[str, Any]:
    """An inquiry of network-1, assigned by routing, and the staff of the matrix known to intake."""
    for staff_id, role, network_id in STAFF.values():
        await staff_event(env, staff_id, role, network_id)
    async with client(env) as c:
        created = await c.post("/v1/inquiries", json=_body(OWN_SCHOOL), headers=api_key_headers(BOTH))
        assert created.status_code == 201, created.text
        inquiry = created.json()

        async def assigned() -> bool:
            seen = await c.get(f"/v1/inquiries/{inquiry['id']}", headers=headers_of("central_staff"))
            return seen.json()["assignment"] is not None

        await eventually(assigned)
    return inquiry


def _check(answer: httpx.Response, expected: Any, what: str) -> None:
    ok = answer.status_code in expected if isinstance(expected, set) else answer.status_code == expected
    assert ok, f"{what}: {answer.status_code} {answer.text[:200]}"
    if answer.status_code == 401:
        assert answer.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("who", list(MATRIX))
async def test_the_access_matrix_of_intakes_endpoints(env: dict[str, Any], routed: dict[str, Any], who: str) -> None:
    submit, queue, read, history, act, audit = MATRIX[who]
    headers, path = headers_of(who), f"/v1/inquiries/{routed['reference']}"
    async with client(env) as c:
        _check(await c.post("/v1/inquiries", json=_body(OTHER_SCHOOL), headers=headers), submit, "submit")
        listed = await c.get("/v1/inquiries", headers=headers)
        _check(listed, queue, "queue")
        _check(await c.get(path, headers=headers), read, "read")
        _check(await c.get(f"{path}/history", headers=headers), history, "history")
        for action, body in ACTIONS.items():
            _check(await c.post(f"{path}/{action}", json=body, headers=headers), act, action)
        _check(await c.get("/v1/audit", headers=headers), audit, "audit")
    if listed.status_code == 200:
        ids = {item["id"] for item in listed.json()["items"]}
        sees_own_network = read == 200
        assert (routed["id"] in ids) is sees_own_network


async def test_an_unknown_inquiry_and_another_networks_answer_alike(
    env: dict[str, Any], routed: dict[str, Any]
) -> None:
    other = headers_of("other_network_staff")
    async with client(env) as c:
        hidden = await c.get(f"/v1/inquiries/{routed['id']}", headers=other)
        unknown = await c.get(f"/v1/inquiries/{uuid.uuid4()}", headers=other)
    assert (
        (hidden.status_code, hidden.json())
        == (unknown.status_code, unknown.json())
        == (404, {"detail": "no such inquiry"})
    )


async def test_reads_of_personal_data_are_audited_and_auditors_query_them(
    env: dict[str, Any], routed: dict[str, Any]
) -> None:
    reader = _id("reader")
    await staff_event(env, reader, "psa", OWN)
    headers = staff_headers(staff_id=reader, role="psa", network_id=OWN)
    auditor = headers_of("auditor")
    before = datetime.now(UTC) - timedelta(minutes=1)
    async with client(env) as c:
        assert (await c.get(f"/v1/inquiries/{routed['reference']}", headers=headers)).status_code == 200
        assert (await c.get(f"/v1/inquiries/{routed['id']}/history", headers=headers)).status_code == 200
        assert (await c.get("/v1/inquiries", headers=headers)).status_code == 200  # the queue has no personal data
        assert (await c.get(f"/v1/inquiries/{routed['id']}", headers=api_key_headers([Scope.READ]))).status_code == 200

        page = (await c.get("/v1/audit", params={"staff_id": reader}, headers=auditor)).json()
        assert [(e["action"], e["inquiry_id"], e["actor_kind"], e["actor_role"]) for e in page["entries"]] == [
            ("history", routed["id"], "staff", "psa"),
            ("inquiry", routed["id"], "staff", "psa"),
        ]
        assert page["next_cursor"] is None
        assert all(datetime.fromisoformat(e["at"]) >= before for e in page["entries"])

        first = (await c.get("/v1/audit", params={"staff_id": reader, "limit": 1}, headers=auditor)).json()
        assert [e["action"] for e in first["entries"]] == ["history"]
        second = await c.get(
            "/v1/audit", params={"staff_id": reader, "limit": 1, "cursor": first["next_cursor"]}, headers=auditor
        )
        assert [e["action"] for e in second.json()["entries"]] == ["inquiry"]

        by_inquiry = (await c.get("/v1/audit", params={"inquiry": routed["reference"]}, headers=auditor)).json()
        actors = {(e["actor_id"], e["actor_kind"]) for e in by_inquiry["entries"]}
        assert (reader, "staff") in actors
        assert any(kind == "api_key" for _, kind in actors)

        later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        assert (await c.get("/v1/audit", params={"since": later}, headers=auditor)).json()["entries"] == []
        until = await c.get("/v1/audit", params={"staff_id": reader, "until": before.isoformat()}, headers=auditor)
        assert until.json()["entries"] == []
        central = await c.get("/v1/audit", params={"staff_id": reader}, headers=headers_of("central_staff"))
        assert len(central.json()["entries"]) == 2
