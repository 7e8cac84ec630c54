"""The input rules through the real parts (intake, catalog and notify on the real broker and database): text
PostgreSQL cannot store is refused on every way in, naming the field and never echoing the value; booleans and
integers are strict; a body that is not JSON is a 400, one declared in another charset a 415; a 405 lists every
method of its path."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer
from auth import staff_headers

from devstack.stack import SMS_ACCOUNT_SID
from services.catalog.app import create_app as create_catalog
from services.catalog.settings import CatalogSettings
from services.intake.app import create_app as create_intake
from services.intake.settings import IntakeSettings
from services.notify.app import create_app as create_notify
from services.notify.settings import NotifySettings
from shared.contracts.topics import (
    CATALOG_EVENTS,
    CATALOG_LOOKUPS,
    CATALOG_REPLIES,
    CATALOG_UPSERTS,
    INQUIRY_EVENTS,
    INQUIRY_REJECTIONS,
    INQUIRY_SUBMISSIONS,
)
from shared.kafka.connection import client_options, create_producer
from shared.settings import PlatformSettings

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

NUL = "\u0000"
SECRET = "Ana's private words"  # in every refused value: a refusal must never carry it back


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def clients(module_platform: PlatformSettings, topics: tuple[str, ...]) -> AsyncIterator[dict[str, Any]]:
    apps = {
        "intake": create_intake(IntakeSettings(platform=module_platform)),
        "catalog": create_catalog(CatalogSettings(platform=module_platform)),
        "notify": create_notify(NotifySettings(platform=module_platform, sms_account_sid=SMS_ACCOUNT_SID)),
    }
    async with contextlib.AsyncExitStack() as stack:
        started = {}
        for name, app in apps.items():
            await stack.enter_async_context(app.router.lifespan_context(app))
            started[name] = await stack.enter_async_context(
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://{name}", headers=STAFF)
            )
        yield started


# Central staff may act on every service's write endpoints (a signed token of the suite's key).
STAFF = staff_headers(staff_id="central-1", role="central_staff", network_id="central")


def inquiry(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "parent": {"name": "Ana Lopez", "email": "ana@example.org"},
        "student": {"school_id": 609794, "grade": "3"},
        "category": "attendance",
        "description": "Absences marked wrongly.",
        "channel": "phone",
    }
    return body | changes


def resource(**service_changes: Any) -> dict[str, Any]:
    return {
        "service": {"name": "Input Rules Test Program", "description": "Tutoring.", **service_changes},
        "organization": {"id": "input-rules-org", "name": "Input Rules Organization"},
        "phones": [{"number": "773-553-1000"}],
        "languages": ["en"],
        "categories": ["academics"],
    }


def refused_fields(response: httpx.Response) -> list[str]:
    assert response.status_code == 422, response.text
    assert SECRET not in response.text and NUL not in response.json()["errors"][0]["field"]
    return [error["field"] for error in response.json()["errors"]]


# --- HTTP: text PostgreSQL cannot store ---------------------------------------------------------------------------


async def test_a_nul_in_a_submitted_inquiry_is_refused_naming_the_field(clients: dict[str, Any]) -> None:
    intake = clients["intake"]
    described = await intake.post("/v1/inquiries", json=inquiry(description=f"{SECRET}{NUL}b"))
    assert refused_fields(described) == ["description"]
    named = inquiry(parent={"name": f"Ana{NUL}{SECRET}", "email": "ana@example.org"})
    assert refused_fields(await intake.post("/v1/inquiries", json=named)) == ["parent.name"]


async def test_an_unpaired_surrogate_is_refused_like_a_nul(clients: dict[str, Any]) -> None:
    # json.dumps would refuse to write one; the escape is valid JSON text, and Python decodes it to a lone surrogate.
    raw = json.dumps(inquiry(description="PLACEHOLDER")).replace("PLACEHOLDER", f"{SECRET} \\ud800")
    response = await clients["intake"].post(
        "/v1/inquiries", content=raw.encode(), headers={"content-type": "application/json"}
    )
    assert refused_fields(response) == ["description"]


async def test_a_nul_in_a_path_or_query_parameter_is_refused_naming_it(clients: dict[str, Any]) -> None:
    assert refused_fields(await clients["intake"].get("/v1/inquiries/%00")) == ["inquiry"]
    assert refused_fields(await clients["intake"].get("/v1/inquiries/PSC-26-%00")) == ["inquiry"]
    assert refused_fields(await clients["catalog"].get("/v1/resources", params={"q": NUL})) == ["q"]
    assert refused_fields(await clients["catalog"].get("/v1/resources/abc%00")) == ["service_id"]


async def test_a_nul_in_a_resource_put_or_a_suppression_is_refused_naming_the_field(clients: dict[str, Any]) -> None:
    put = await clients["catalog"].put("/v1/resources/input-rules-nul", json=resource(description=f"a{NUL}{SECRET}"))
    assert refused_fields(put) == ["service.description"]
    assert (await clients["catalog"].get("/v1/resources/input-rules-nul")).status_code == 404
    suppression = {"channel": "email", "address": f"ana{NUL}@example.org", "reason": f"{SECRET}{NUL}"}
    assert refused_fields(await clients["notify"].post("/v1/suppressions", json=suppression)) == ["address", "reason"]


async def test_a_nul_in_a_header_or_an_undeclared_key_is_refused_without_echoing_it(clients: dict[str, Any]) -> None:
    intake = clients["intake"]
    headers = {"Idempotency-Key": f"key{NUL}", "X-Correlation-ID": "fine"}
    assert refused_fields(await intake.post("/v1/inquiries", json=inquiry(), headers=headers)) == [
        "header.Idempotency-Key"
    ]
    traced = await intake.post("/v1/inquiries", json=inquiry(), headers={"X-Correlation-ID": f"trace{NUL}"})
    assert refused_fields(traced) == ["header.X-Correlation-ID"]
    odd_key = await intake.post("/v1/inquiries", json=inquiry(**{f"note{NUL}": 1}))
    assert refused_fields(odd_key) == ["note\ufffd"]


# --- HTTP: what the OpenAPI documents say is what is enforced -----------------------------------------------------


async def test_booleans_and_integers_are_strict(clients: dict[str, Any]) -> None:
    intake = clients["intake"]
    parent = {"name": "Ana Lopez", "email": "ana@example.org", "mobile_phone": "+13125550148", "sms_consent": 0}
    assert refused_fields(await intake.post("/v1/inquiries", json=inquiry(parent=parent))) == ["parent.sms_consent"]
    student = {"school_id": "609794", "grade": "3"}
    assert refused_fields(await intake.post("/v1/inquiries", json=inquiry(student=student))) == ["student.school_id"]
    parent |= {"sms_consent": True}
    assert (await intake.post("/v1/inquiries", json=inquiry(parent=parent))).status_code == 201


@pytest.mark.parametrize(
    ("service", "method", "path"),
    [
        ("intake", "POST", "/v1/inquiries"),
        ("catalog", "PUT", "/v1/resources/x-y"),
        ("notify", "POST", "/v1/suppressions"),
    ],
)
async def test_a_body_that_is_not_json_is_400_and_one_in_another_charset_415(
    clients: dict[str, Any], service: str, method: str, path: str
) -> None:
    send: Callable[..., Any] = clients[service].request
    as_json = {"content-type": "application/json"}
    for unparseable in (b"{not json", b'{"a": "\xe9"}', b"\xff\xfe{}"):
        answer = await send(method, path, content=unparseable, headers=as_json)
        assert (answer.status_code, set(answer.json())) == (400, {"detail"}), unparseable
    latin1 = json.dumps({"parent": {"name": "José"}}, ensure_ascii=False).encode("latin-1")
    for declared in ("application/json; charset=latin-1", "text/plain", "application/x-www-form-urlencoded"):
        answer = await send(method, path, content=latin1, headers={"content-type": declared})
        assert answer.status_code == 415, declared
    assert (await send(method, path, content=b"{}")).status_code == 415  # a body with no type
    utf8 = await send(method, path, content=b"{}", headers={"content-type": "application/json; charset=UTF-8"})
    assert utf8.status_code == 422  # read, and refused for what it lacks


async def test_a_405_lists_every_method_of_the_path(clients: dict[str, Any]) -> None:
    refused = await clients["catalog"].delete("/v1/resources/parent-educator-partnership")
    assert refused.status_code == 405
    assert refused.headers["Allow"] == "GET, PUT"
    assert (await clients["intake"].put("/v1/inquiries")).headers["Allow"] == "GET, POST"


# --- Kafka: the same rules, answered with the rejection events -----------------------------------------------------


async def read_until(
    platform: PlatformSettings, topic: str, wanted: Callable[[dict[str, Any]], bool], *, timeout: float = 30.0
) -> dict[str, Any]:
    consumer = AIOKafkaConsumer(topic, **client_options(platform), auto_offset_reset="earliest")
    await consumer.start()
    try:
        async with asyncio.timeout(timeout):
            while True:
                for records in (await consumer.getmany(timeout_ms=200)).values():
                    for record in records:
                        message = json.loads(record.value)
                        if wanted(message):
                            return dict(message)
    finally:
        await consumer.stop()


async def send_raw(platform: PlatformSettings, topic: str, *bodies: str) -> None:
    producer = create_producer(platform, client_id="input-rules")
    await producer.start()
    try:
        for body in bodies:
            await producer.send_and_wait(topic, body.encode(), key=b"input-rules")
    finally:
        await producer.stop()


async def test_a_nul_in_a_kafka_submission_is_rejected_naming_the_field_and_its_neighbour_is_stored(
    clients: dict[str, Any], module_platform: PlatformSettings
) -> None:
    run = uuid.uuid4().hex[:8]
    bad = json.dumps(inquiry(description=f"{SECRET}{NUL}", correlation_id=f"nul-{run}"))
    bad_id = json.dumps(inquiry(correlation_id=f"id{NUL}{run}", idempotency_key=f"key{NUL}"))
    good = json.dumps(inquiry(correlation_id=f"good-{run}"))
    await send_raw(module_platform, INQUIRY_SUBMISSIONS, bad, bad_id, good)

    rejected = await read_until(module_platform, INQUIRY_REJECTIONS, lambda m: m["correlation_id"] == f"nul-{run}")
    assert [e["field"] for e in rejected["errors"]] == ["description"]
    assert SECRET not in json.dumps(rejected)
    # An id that cannot be stored cannot be echoed either: the rejection names where the message stood.
    unreadable = await read_until(
        module_platform,
        INQUIRY_REJECTIONS,
        lambda m: sorted(e["field"] for e in m["errors"]) == ["correlation_id", "idempotency_key"],
    )
    assert unreadable["correlation_id"].startswith(f"{INQUIRY_SUBMISSIONS}/")
    assert unreadable["idempotency_key"] is None
    await read_until(module_platform, INQUIRY_EVENTS, lambda m: m["correlation_id"] == f"good-{run}")


async def test_a_nul_in_a_kafka_lookup_or_upsert_is_rejected_naming_the_field(
    clients: dict[str, Any], module_platform: PlatformSettings
) -> None:
    run = uuid.uuid4().hex[:8]
    lookup = {"request_id": str(uuid.uuid4()), "correlation_id": f"lookup-{run}", "q": f"bus{NUL}"}
    upsert = {
        **resource(description=f"{SECRET}{NUL}"),
        "service_id": "input-rules-kafka",
        "correlation_id": f"upsert-{run}",
    }
    await send_raw(module_platform, CATALOG_LOOKUPS, json.dumps(lookup))
    await send_raw(module_platform, CATALOG_UPSERTS, json.dumps(upsert))

    replied = await read_until(module_platform, CATALOG_REPLIES, lambda m: m["correlation_id"] == f"lookup-{run}")
    assert (replied["event_type"], [e["field"] for e in replied["errors"]]) == ("catalog.lookup_rejected", ["q"])
    refused = await read_until(module_platform, CATALOG_EVENTS, lambda m: m["correlation_id"] == f"upsert-{run}")
    assert refused["event_type"] == "catalog.resource_upsert_rejected"
    assert [e["field"] for e in refused["errors"]] == ["service.description"]
    assert SECRET not in json.dumps(refused)
    assert (await clients["catalog"].get("/v1/resources/input-rules-kafka")).status_code == 404
