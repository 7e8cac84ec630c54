"""The whole stack as real processes, started by the same command as `make run`, driven from outside over HTTP and
Kafka like a newcomer (and other district systems) would: an inquiry over HTTP and over Kafka, and a resource search."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from shared.contracts.topics import INQUIRY_EVENTS, INQUIRY_REJECTIONS, INQUIRY_SUBMISSIONS, NOTIFICATION_EVENTS

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]
EDISON = 609794  # Thomas A Edison Regional Gifted Center ES, served by Network 1
ENGLEWOOD_STEM = 610592  # a school with no network in the district's list


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    var_dir = tmp_path_factory.mktemp("stack")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PSC_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "psc.cli", "run", "--var-dir", str(var_dir), "--free-ports"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        text=True,
    )
    stack_json = var_dir / "stack.json"
    deadline = time.monotonic() + 180
    while not stack_json.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            output = process.stdout.read() if process.poll() is not None and process.stdout else ""
            process.kill()
            pytest.fail(f"the stack did not come up:\n{output}\n{_logs(var_dir)}")
        time.sleep(0.2)
    info = json.loads(stack_json.read_text())
    yield info
    process.send_signal(signal.SIGINT)  # what Ctrl-C does
    try:
        code = process.wait(60)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail("the stack did not stop within 60 s of Ctrl-C")
    output = process.stdout.read() if process.stdout else ""
    assert code == 0, output
    assert "stopped." in output
    for name, pid in info["pids"].items():
        assert not _alive(pid), f"{name} (pid {pid}) still runs after Ctrl-C"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def _logs(var_dir: Path) -> str:
    return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted((var_dir / "log").glob("*.log")))


@pytest_asyncio.fixture(loop_scope="session")
async def http(stack: dict[str, Any]) -> AsyncIterator[httpx.AsyncClient]:
    """A district system's client: the stack's demo API key (inquiries:submit and inquiries:read)."""
    async with httpx.AsyncClient(timeout=10, headers={"X-API-Key": stack["demo_api_keys"][0]["key"]}) as client:
        yield client


def inquiry_body(
    email: str, *, school_id: int = EDISON, language: str = "en", phone: str | None = None, urgency: str = "normal"
) -> dict[str, Any]:
    parent: dict[str, Any] = {"name": "Ana Lopez", "email": email, "preferred_language": language}
    if phone:
        parent |= {"mobile_phone": phone, "sms_consent": True}
    return {
        "parent": parent,
        "student": {"school_id": school_id, "grade": "3"},
        "category": "special_education",
        "description": "Her IEP meeting was cancelled twice and we have no new date.",
        "channel": "phone",
        "urgency": urgency,
    }


async def eventually(check: Any, *, timeout: float = 15.0, every: float = 0.2) -> Any:
    """Poll ``check`` (async, returning a value or None) until it returns something."""
    async with asyncio.timeout(timeout):
        while True:
            found = await check()
            if found:
                return found
            await asyncio.sleep(every)


async def mail_to(http: httpx.AsyncClient, stack: dict[str, Any], address: str) -> list[dict[str, Any]]:
    listing = (await http.get(stack["urls"]["mail_catcher_api"], params={"limit": 1000})).json()
    return [m for m in listing["messages"] if any(to["Address"] == address for to in m["To"])]


async def texts_to(http: httpx.AsyncClient, stack: dict[str, Any], number: str) -> list[dict[str, Any]]:
    texts: list[dict[str, Any]] = (await http.get(stack["urls"]["sms_sink_api"], params={"to": number})).json()
    return texts


async def test_the_stack_prints_every_url_and_each_service_is_healthy(
    stack: dict[str, Any], http: httpx.AsyncClient
) -> None:
    urls = stack["urls"]
    for name in ("intake", "routing", "notify", "catalog"):
        assert (await http.get(urls[f"{name}_health"])).json()["status"] == "ok"
        ready = (await http.get(urls[f"{name}_ready"])).json()
        assert ready["ready"] is True, ready
    assert (await http.get(urls["intake_openapi"])).json()["paths"]["/v1/inquiries"]["post"]
    assert (await http.get(urls["mail_catcher"])).status_code == 200


async def test_an_inquiry_posted_to_intake_is_assigned_and_the_parent_is_told_by_email_and_text(
    stack: dict[str, Any], http: httpx.AsyncClient
) -> None:
    email, phone = f"ana.{uuid.uuid4().hex[:8]}@example.org", "+13125550147"
    # Urgent: texted at once at any hour (a normal inquiry's texts wait for 08:00 Chicago time in quiet hours).
    body = inquiry_body(email, language="es", phone=phone, urgency="urgent")
    created = await http.post(stack["urls"]["intake_api"], json=body)
    assert created.status_code == 201, created.text
    inquiry = created.json()
    assert inquiry["reference"].startswith("PSC-")

    async def assigned() -> dict[str, Any] | None:
        current = (await http.get(f"{stack['urls']['intake_api']}/{inquiry['id']}")).json()
        return current if current["assignment"] else None

    seen = await eventually(assigned)
    assert seen["assignment"]["network_name"] == "Network 1"
    assert seen["assignment"]["queue"] == "network" and seen["assignment"]["due_at"]

    (mail,) = await eventually(lambda: mail_to(http, stack, email))
    assert inquiry["reference"] in mail["Subject"] and mail["Subject"].startswith("Recibimos su inquietud")
    body = (await http.get(f"{stack['urls']['mail_catcher_api'].rsplit('/', 1)[0]}/message/{mail['ID']}")).json()
    assert "Estimado/a Ana Lopez" in body["Text"]
    assert email.split("@")[0] not in body["MessageID"], "the Message-ID must not carry the parent's address"

    texts = await eventually(lambda: texts_to(http, stack, phone))
    assert any(inquiry["reference"] in t["body"] for t in texts)

    # The acknowledgment by email and text come first (one dispatcher round); then 'Network 1 has your inquiry' by
    # text, and the SMS provider's delivery reports.
    told = await _events_about(stack, NOTIFICATION_EVENTS, inquiry["id"], expect=3)
    sent = [e for e in told if e["event_type"] == "notification.sent" and e["template"] == "inquiry_received"]
    assert sorted((e["event_type"], e["channel"]) for e in sent) == [
        ("notification.sent", "email"),
        ("notification.sent", "sms"),
    ]
    assert all(e["correlation_id"] == inquiry["correlation_id"] for e in sent)
    assert email not in json.dumps(sent) and phone not in json.dumps(sent), "notify's events carry no addresses"

    by_reference = (await http.get(f"{stack['urls']['intake_api']}/{inquiry['reference']}")).json()
    assert by_reference["id"] == inquiry["id"]


async def test_an_invalid_http_body_gets_422_naming_each_field(stack: dict[str, Any], http: httpx.AsyncClient) -> None:
    body = inquiry_body("not-an-email")
    body["student"]["grade"] = "13"
    response = await http.post(stack["urls"]["intake_api"], json=body)
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {"parent.email", "student.grade"}
    assert "not-an-email" not in response.text


async def _producer(stack: dict[str, Any]) -> AIOKafkaProducer:
    producer = AIOKafkaProducer(bootstrap_servers=stack["kafka_bootstrap"], acks="all", enable_idempotence=False)
    await producer.start()
    return producer


async def _first_event(stack: dict[str, Any], topic: str, correlation_id: str, timeout: float = 20.0) -> dict[str, Any]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=stack["kafka_bootstrap"], auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    try:
        async with asyncio.timeout(timeout):
            while True:
                for records in (await consumer.getmany(timeout_ms=200)).values():
                    for record in records:
                        event: dict[str, Any] = json.loads(record.value)
                        if event.get("correlation_id") == correlation_id:
                            return event
    finally:
        await consumer.stop()


async def _events_about(stack: dict[str, Any], topic: str, inquiry_id: str, *, expect: int) -> list[dict[str, Any]]:
    """The first ``expect`` events keyed by this inquiry on ``topic``."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=stack["kafka_bootstrap"], auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    found: list[dict[str, Any]] = []
    try:
        async with asyncio.timeout(20):
            while len(found) < expect:
                for records in (await consumer.getmany(timeout_ms=200)).values():
                    found += [json.loads(r.value) for r in records if r.key == inquiry_id.encode()]
    finally:
        await consumer.stop()
    return found


async def test_a_submission_published_to_the_submissions_topic_takes_the_same_path(
    stack: dict[str, Any], http: httpx.AsyncClient
) -> None:
    email, correlation_id = f"kafka.{uuid.uuid4().hex[:8]}@example.org", f"sis-{uuid.uuid4()}"
    producer = await _producer(stack)
    try:
        message = {**inquiry_body(email, school_id=ENGLEWOOD_STEM), "correlation_id": correlation_id}
        await producer.send_and_wait(INQUIRY_SUBMISSIONS, json.dumps(message).encode(), key=correlation_id.encode())
        # Redelivered by an at-least-once submitter: the correlation id doubles as the idempotency key.
        await producer.send_and_wait(INQUIRY_SUBMISSIONS, json.dumps(message).encode(), key=correlation_id.encode())
    finally:
        await producer.stop()

    submitted = await _first_event(stack, INQUIRY_EVENTS, correlation_id)
    assert submitted["event_type"] == "inquiry.submitted"

    async def assigned() -> dict[str, Any] | None:
        current = (await http.get(f"{stack['urls']['intake_api']}/{submitted['inquiry_id']}")).json()
        return current if current["assignment"] else None

    seen = await eventually(assigned)
    assert seen["source"] == "kafka" and seen["correlation_id"] == correlation_id
    assert seen["assignment"]["queue"] == "central"  # the school has no network
    assert seen["assignment"]["network_name"] == "Parent Support Center"
    # No mobile: the acknowledgment and then 'Parent Support Center has your inquiry' both come by email.
    received = f"We received your concern ({submitted['reference']})"
    taken = f"Parent Support Center has your inquiry ({submitted['reference']})"

    async def subjects() -> list[str]:
        return sorted(str(m["Subject"]) for m in await mail_to(http, stack, email))

    async def both() -> list[str] | None:
        told = await subjects()
        return told if taken in told else None

    await eventually(both)
    await asyncio.sleep(1.0)
    assert await subjects() == sorted([received, taken]), "the repeated submission must not create a second inquiry"


async def test_an_invalid_submission_on_the_topic_is_rejected_with_the_submitters_correlation_id(
    stack: dict[str, Any],
) -> None:
    correlation_id = f"sis-{uuid.uuid4()}"
    producer = await _producer(stack)
    try:
        bad = {**inquiry_body("ana@example.org"), "category": "lunch", "correlation_id": correlation_id}
        del bad["channel"]
        await producer.send_and_wait(INQUIRY_SUBMISSIONS, json.dumps(bad).encode())
    finally:
        await producer.stop()
    rejection = await _first_event(stack, INQUIRY_REJECTIONS, correlation_id)
    assert rejection["event_type"] == "inquiry.submission_rejected"
    assert {e["field"] for e in rejection["errors"]} == {"category", "channel"}
    assert rejection["origin_topic"] == INQUIRY_SUBMISSIONS


async def test_the_catalog_answers_resource_lookups_from_its_directory(
    stack: dict[str, Any], http: httpx.AsyncClient
) -> None:
    found = (await http.get(stack["urls"]["catalog_api"], params={"q": "special education workshops"})).json()
    pep = next(r for r in found["results"] if "Parent and Educator Partnership" in r["name"])
    assert any("553-1800" in phone["number"] for phone in pep["phones"])
    assert any("125 South Clark" in (loc["address_1"] or "") for loc in pep["locations"])
    for query in ("attendance", "GoCPS enrollment", "community partners", "parent support center"):
        assert (await http.get(stack["urls"]["catalog_api"], params={"q": query})).json()["total"] > 0, query


async def test_no_personal_data_reached_any_log(stack: dict[str, Any]) -> None:
    """Runs last in this module: by now parents' names, addresses, phones and concerns have crossed every process."""
    personal = ["Ana Lopez", "@example.org", "+13125550147", "555-0147", "IEP meeting was cancelled"]
    logs = await asyncio.to_thread(_read_logs, Path(stack["logs"]))
    assert {"intake.log", "routing.log", "notify.log", "catalog.log"} <= set(logs)
    leaks = {name: [p for p in personal if p in text] for name, text in logs.items()}
    assert not any(leaks.values()), leaks


def _read_logs(log_dir: Path) -> dict[str, str]:
    return {path.name: path.read_text(errors="replace") for path in log_dir.glob("*.log")}


async def test_psc_run_makes_a_demo_account_per_role_and_network_that_signs_in(stack: dict[str, Any]) -> None:
    accounts = stack["demo_accounts"]
    assert {tuple(sorted(a)) for a in accounts} == {("network_id", "password", "role", "username")}
    by_network: dict[str, set[str]] = {}
    for account in accounts:
        by_network.setdefault(account["network_id"], set()).add(account["role"])
    assert by_network.pop("central") == {"central_staff", "auditor"}
    assert len(by_network) > 10
    assert all(roles == {"network_staff", "psa"} for roles in by_network.values())
    assert stack["demo_api_keys"][0]["scopes"] == ["inquiries:read", "inquiries:submit"]
    intake = stack["urls"]["intake_api"].removesuffix("/v1/inquiries")
    async with httpx.AsyncClient(timeout=10) as anonymous:
        assert (await anonymous.get(stack["urls"]["intake_api"])).status_code == 401
        tokens = {}
        for account in accounts:
            form = {"username": account["username"], "password": account["password"]}
            answer = await anonymous.post(f"{intake}/v1/auth/token", data=form)
            assert answer.status_code == 200, (account["username"], answer.text)
            tokens[account["role"]] = {"Authorization": f"Bearer {answer.json()['access_token']}"}
        assert (await anonymous.get(f"{intake}/v1/audit", headers=tokens["auditor"])).status_code == 200
        assert (await anonymous.get(f"{intake}/v1/audit", headers=tokens["psa"])).status_code == 403
        assert (await anonymous.get(stack["urls"]["intake_api"], headers=tokens["network_staff"])).status_code == 200
