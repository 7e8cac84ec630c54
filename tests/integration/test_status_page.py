"""The parent's status page through the real broker and database: two intake replicas and routing, in-process, with
fixed clocks. The token comes from ``inquiry.submitted`` on the broker, as notify gets it; the limits are counted in
PostgreSQL, so tries on either replica count together."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import pytest_asyncio
from auth import staff_headers
from fastapi import FastAPI
from kafka_events import first_event

from services.intake.app import create_app as create_intake
from services.intake.settings import IntakeSettings
from services.routing.app import create_app as create_routing
from services.routing.settings import RoutingSettings
from shared.clock import FixedClock
from shared.contracts.topics import INQUIRY_EVENTS
from shared.settings import PlatformSettings

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

# Wednesday 25 Nov 2026, 10:00 in Chicago.
NOW = datetime(2026, 11, 25, 16, 0, tzinfo=UTC)
PER_REFERENCE, PER_CLIENT, WINDOW = 3, 6, 600
STAFF_FILE = Path(__file__).parents[2] / "services" / "routing" / "data" / "staff_demo.yaml"
STAFF = staff_headers(staff_id="central-staff-1", role="central_staff", network_id="central")
PAGE_FIELDS = {"reference", "status", "status_text", "office", "expected_by", "asked_of_you", "notes"}


class Stack:
    def __init__(self, platform: PlatformSettings, apps: dict[str, FastAPI], clock: FixedClock) -> None:
        self.platform = platform
        self.apps = apps
        self.clock = clock
        self._clients: list[httpx.AsyncClient] = []

    def client(self, service: str, address: str = "198.51.100.1") -> httpx.AsyncClient:
        """A client of one app, calling from ``address`` (what the per-client limit counts)."""
        transport = httpx.ASGITransport(app=self.apps[service], client=(address, 40000))
        client = httpx.AsyncClient(transport=transport, base_url=f"http://{service}")
        self._clients.append(client)
        return client

    async def close(self) -> None:
        for client in self._clients:
            await client.aclose()


def intake_settings(platform: PlatformSettings) -> IntakeSettings:
    return IntakeSettings(
        platform=platform,
        status_max_failures_per_reference=PER_REFERENCE,
        status_max_failures_per_client=PER_CLIENT,
        status_failure_window_seconds=WINDOW,
    )


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(module_platform: PlatformSettings, topics: tuple[str, ...]) -> AsyncIterator[Stack]:
    clock = FixedClock(NOW)
    apps = {
        "intake": create_intake(intake_settings(module_platform), clock=clock),
        "intake-2": create_intake(intake_settings(module_platform), clock=clock),
        "routing": create_routing(
            RoutingSettings(platform=module_platform, staff_file=STAFF_FILE), clock=FixedClock(NOW)
        ),
    }
    running = Stack(module_platform, apps, clock)
    async with contextlib.AsyncExitStack() as exits:
        for name, app in apps.items():
            if name == "intake-2":
                # The replicas close one after the other with a pause: two members of one group leaving at the same
                # moment is what Tansu can lose (docs/architecture.md, consumer groups), and the next start would hang.
                exits.push_async_callback(asyncio.sleep, 3)
            await exits.enter_async_context(app.router.lifespan_context(app))

        async def staff_known() -> bool:  # intake follows routing's staff directory (staff.updated)
            answers = [
                await running.client(name).get("/v1/inquiries", headers=STAFF) for name in ("intake", "intake-2")
            ]
            return all(answer.status_code == 200 for answer in answers)

        await eventually(staff_known)
        yield running
        await running.close()


async def eventually(check: Any, timeout: float = 30.0) -> Any:
    async with asyncio.timeout(timeout):
        while not (found := await check()):
            await asyncio.sleep(0.1)
        return found


def submission(phone: str | None = "+13125550148", language: str = "en") -> dict[str, Any]:
    parent: dict[str, Any] = {"name": "Ana Lopez", "email": "ana.status@example.org", "preferred_language": language}
    if phone:
        parent["mobile_phone"] = phone
    return {
        "parent": parent,
        "student": {"school_id": 609794, "grade": "3"},
        "category": "special_education",
        "description": "Her IEP meeting was cancelled twice.",
        "channel": "phone",
    }


async def token_of(platform: PlatformSettings, inquiry_id: str) -> str:
    """The status token, from the inquiry's ``inquiry.submitted`` on the broker (what notify puts in its link)."""
    event = await first_event(
        platform, INQUIRY_EVENTS, lambda e: e["inquiry_id"] == inquiry_id and e["event_type"] == "inquiry.submitted"
    )
    return str(event["status_token"])


async def submitted(
    stack: Stack, *, phone: str | None = "+13125550148", assigned: bool = True, language: str = "en"
) -> dict[str, Any]:
    staff = stack.client("intake")
    created = await staff.post("/v1/inquiries", json=submission(phone, language), headers=STAFF)
    assert created.status_code == 201, created.text
    inquiry: dict[str, Any] = created.json()

    async def assignment() -> Any:
        return (await staff.get(f"/v1/inquiries/{inquiry['id']}", headers=STAFF)).json()["assignment"]

    if assigned:
        await eventually(assignment)
    inquiry["token"] = await token_of(stack.platform, inquiry["id"])
    return inquiry


async def database(platform: PlatformSettings) -> asyncpg.Connection:
    url = platform.database_url.get_secret_value()
    return await asyncpg.connect(url, server_settings={"search_path": "intake"})


def fresh_address() -> str:
    return f"client-{uuid.uuid4().hex[:12]}"


async def test_the_parent_sees_status_office_and_expected_date_with_either_factor(stack: Stack) -> None:
    inquiry = await submitted(stack)
    parent = stack.client("intake", fresh_address())
    by_phone = await parent.get(f"/v1/status/{inquiry['reference']}", params={"phone_last4": "0148"})
    assert by_phone.status_code == 200, by_phone.text
    page = by_phone.json()
    assert set(page) == PAGE_FIELDS
    assert page["reference"] == inquiry["reference"]
    assert (page["status"], page["office"]) == ("received", "Network 1")
    staff_view = await stack.client("intake").get(f"/v1/inquiries/{inquiry['id']}", headers=STAFF)
    assert page["expected_by"] == staff_view.json()["assignment"]["due_at"]  # the tier's deadline, as routing set it
    assert (page["asked_of_you"], page["notes"]) == (None, [])
    assert by_phone.headers["Cache-Control"] == "no-store"
    for private in ("Ana", "ana.status", "5550148", "IEP", "609794", "central-staff-1"):
        assert private not in by_phone.text
    # The reference in any case, and the token from the acknowledgment's link, on the other replica.
    by_token = await stack.client("intake-2", fresh_address()).get(
        f"/v1/status/{inquiry['reference'].lower()}", params={"token": inquiry["token"]}
    )
    assert (by_token.status_code, by_token.json()) == (200, page)


async def test_the_page_reads_in_every_language_notify_writes_in_urdu_right_to_left(stack: Stack) -> None:
    inquiry = await submitted(stack, language="ur")
    parent = stack.client("intake", fresh_address())
    page = await parent.get(f"/status/{inquiry['reference']}", params={"token": inquiry["token"]})
    assert page.status_code == 200, page.text
    assert 'lang="ur"' in page.text and 'dir="rtl"' in page.text, "the inquiry's language, right to left"
    assert "میری درخواست کس مرحلے پر ہے؟" in page.text and "Where does my inquiry stand?" not in page.text
    vietnamese = await stack.client("intake", fresh_address()).get("/status/", params={"lang": "vi"})
    assert 'lang="vi"' in vietnamese.text and 'dir="ltr"' in vietnamese.text
    assert "Yêu cầu của tôi đang đến đâu?" in vietnamese.text


async def test_the_token_is_kept_as_its_digest_and_not_shown_to_staff(stack: Stack) -> None:
    inquiry = await submitted(stack, assigned=False)
    staff_view = await stack.client("intake").get(f"/v1/inquiries/{inquiry['id']}", headers=STAFF)
    assert staff_view.status_code == 200 and inquiry["token"] not in staff_view.text
    assert "status_token" not in staff_view.json()
    conn = await database(stack.platform)
    try:
        digest = await conn.fetchval("SELECT digest FROM status_tokens WHERE inquiry_id = $1", uuid.UUID(inquiry["id"]))
        stored_anywhere = await conn.fetchval(
            "SELECT count(*) FROM inquiries WHERE id = $1 AND row_to_json(inquiries)::text LIKE '%' || $2 || '%'",
            uuid.UUID(inquiry["id"]),
            inquiry["token"],
        )
    finally:
        await conn.close()
    assert digest == hashlib.sha256(inquiry["token"].encode()).digest()
    assert stored_anywhere == 0


async def test_a_wrong_factor_answers_exactly_like_an_unknown_reference(stack: Stack) -> None:
    inquiry, other = await submitted(stack, assigned=False), await submitted(stack, assigned=False)
    answers = []
    for reference, factor in [
        (inquiry["reference"], {"phone_last4": "0149"}),  # the wrong digits
        (inquiry["reference"], {"token": other["token"]}),  # another inquiry's token
        (inquiry["reference"], {"token": "x" * 43}),
        ("PSC-26-999999", {"phone_last4": "0148"}),  # no such reference
        ("PSC-26-999999", {"token": inquiry["token"]}),
        ("not-a-reference", {"phone_last4": "0148"}),
    ]:
        answer = await stack.client("intake", fresh_address()).get(f"/v1/status/{reference}", params=factor)
        answers.append((answer.status_code, answer.content, answer.headers.get("Retry-After")))
    assert answers[0][0] == 404
    assert answers == [answers[0]] * len(answers)
    # An inquiry with no phone on file is never found by four digits, whatever they are.
    no_phone = await submitted(stack, phone=None, assigned=False)
    answer = await stack.client("intake", fresh_address()).get(
        f"/v1/status/{no_phone['reference']}", params={"phone_last4": "0000"}
    )
    assert (answer.status_code, answer.content) == (404, answers[0][1])


async def test_failed_tries_of_a_reference_are_limited_across_replicas_and_unknown_ones_alike(stack: Stack) -> None:
    inquiry = await submitted(stack, assigned=False)
    unknown = f"PSC-26-{uuid.uuid4().int % 900000 + 100000}"
    for reference in (inquiry["reference"], unknown):
        # Each try from another client, alternating replicas: only the reference's count can stop them.
        for n in range(PER_REFERENCE):
            replica = ("intake", "intake-2")[n % 2]
            wrong = await stack.client(replica, fresh_address()).get(
                f"/v1/status/{reference}", params={"phone_last4": "9999"}
            )
            assert wrong.status_code == 404, (reference, n)
        limited = await stack.client("intake-2", fresh_address()).get(
            f"/v1/status/{reference}", params={"phone_last4": "0148"}
        )
        assert limited.status_code == 429, reference
        assert 0 < int(limited.headers["Retry-After"]) <= WINDOW
    # The right digits wait like anyone else; the token from the link is answered all the same.
    by_token = await stack.client("intake", fresh_address()).get(
        f"/v1/status/{inquiry['reference']}", params={"token": inquiry["token"]}
    )
    assert by_token.status_code == 200
    stack.clock.advance(timedelta(seconds=WINDOW))
    try:
        again = await stack.client("intake", fresh_address()).get(
            f"/v1/status/{inquiry['reference']}", params={"phone_last4": "0148"}
        )
        assert again.status_code == 200
    finally:
        stack.clock.set(NOW)


async def test_failed_tries_from_one_client_are_limited_whatever_the_reference(stack: Stack) -> None:
    inquiry = await submitted(stack, assigned=False)
    address = fresh_address()
    for n in range(PER_CLIENT):
        replica = ("intake", "intake-2")[n % 2]
        unknown = await stack.client(replica, address).get(
            f"/v1/status/PSC-26-{900000 + n}", params={"token": "y" * 43}
        )
        assert unknown.status_code == 404, n
    stopped = await stack.client("intake", address).get(
        f"/v1/status/{inquiry['reference']}", params={"phone_last4": "0148"}
    )
    assert stopped.status_code == 429 and int(stopped.headers["Retry-After"]) > 0
    elsewhere = await stack.client("intake", fresh_address()).get(
        f"/v1/status/{inquiry['reference']}", params={"phone_last4": "0148"}
    )
    assert elsewhere.status_code == 200


async def test_a_right_answer_does_not_count_against_the_limit(stack: Stack) -> None:
    inquiry = await submitted(stack, assigned=False)
    address = fresh_address()
    for _ in range(PER_REFERENCE + PER_CLIENT + 1):
        seen = await stack.client("intake", address).get(
            f"/v1/status/{inquiry['reference']}", params={"phone_last4": "0148"}
        )
        assert seen.status_code == 200


async def test_the_page_follows_the_case_through_the_staff_actions(stack: Stack) -> None:
    inquiry = await submitted(stack)
    staff, parent = stack.client("intake"), stack.client("intake", fresh_address())

    async def act(action: str, body: dict[str, Any]) -> None:
        stack.clock.advance(timedelta(minutes=1))  # each action after the one before
        done = await staff.post(f"/v1/inquiries/{inquiry['id']}/{action}", json=body, headers=STAFF)
        assert done.status_code == 200, (action, done.text)

    async def page() -> dict[str, Any]:
        answer = await parent.get(f"/v1/status/{inquiry['reference']}", params={"token": inquiry["token"]})
        assert answer.status_code == 200, answer.text
        assert "internal" not in answer.text and "Oak" not in answer.text and "central-staff" not in answer.text
        return dict(answer.json())

    try:
        await follow_the_case(act, page)
    finally:
        stack.clock.set(NOW)


async def follow_the_case(
    act: Callable[[str, dict[str, Any]], Awaitable[None]], page: Callable[[], Awaitable[dict[str, Any]]]
) -> None:
    await act("acknowledge", {})
    assert (await page())["status"] == "in_progress"
    await act("notes", {"text": "An internal remark.", "visible_to_parent": False})
    await act("notes", {"text": "We called the school.", "visible_to_parent": True})
    seen = await page()
    assert [note["text"] for note in seen["notes"]] == ["We called the school."]
    assert seen["notes"][0]["date"] == "2026-11-25T16:03:00Z" and set(seen["notes"][0]) == {"text", "date"}
    await act("request-info", {"question": "Which bus stop does she use?"})
    seen = await page()
    assert (seen["status"], seen["asked_of_you"]) == ("waiting_on_you", "Which bus stop does she use?")
    assert seen["expected_by"] is not None and seen["office"] == "Network 1"
    await act("parent-replies", {"reply": "Oak Ave and 5th."})
    seen = await page()
    assert (seen["status"], seen["asked_of_you"]) == ("in_progress", None)
    await act("resolve", {"summary": "The bus route now stops at Elm St."})
    seen = await page()
    assert (seen["status"], seen["expected_by"]) == ("resolved", None)
    assert [note["text"] for note in seen["notes"]][-1] == "The bus route now stops at Elm St."


async def test_a_missing_double_or_malformed_factor_is_a_422_naming_it_and_counts_nothing(stack: Stack) -> None:
    inquiry = await submitted(stack, assigned=False)
    conn = await database(stack.platform)
    try:
        before = await conn.fetch("SELECT * FROM status_attempts ORDER BY scope, key")
        client = stack.client("intake", fresh_address())
        path = f"/v1/status/{inquiry['reference']}"
        cases = [
            ({}, "phone_last4"),
            ({"phone_last4": "0148", "token": inquiry["token"]}, "phone_last4"),
            ({"phone_last4": "01a8"}, "phone_last4"),
            ({"phone_last4": "014"}, "phone_last4"),
            ({"token": "short"}, "token"),
            ({"token": "has spaces and a secret" + "z" * 20}, "token"),
        ]
        for params, field in cases:
            refused = await client.get(path, params=params)
            assert refused.status_code == 422, params
            assert [e["field"] for e in refused.json()["errors"]] == [field], params
            for value in params.values():
                assert value not in refused.text
        assert await conn.fetch("SELECT * FROM status_attempts ORDER BY scope, key") == before
    finally:
        await conn.close()
