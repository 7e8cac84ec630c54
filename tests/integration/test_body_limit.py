"""Every service refuses a body larger than its ``http_max_body_bytes`` with 413 before anything parses it, through
the real broker and database: declared by Content-Length, or streamed in chunks without one. Nothing stored changes,
the refusal carries the correlation id, and each service's OpenAPI document says it."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import pytest_asyncio
from auth import api_key_headers, staff_headers
from fastapi import FastAPI

from devstack.stack import SMS_ACCOUNT_SID
from services.catalog.app import create_app as create_catalog
from services.catalog.settings import CatalogSettings
from services.intake.app import create_app as create_intake
from services.intake.settings import IntakeSettings
from services.notify.app import create_app as create_notify
from services.notify.settings import NotifySettings
from services.routing.app import create_app as create_routing
from services.routing.settings import RoutingSettings
from shared.settings import PlatformSettings

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 4096
CENTRAL = staff_headers(staff_id="central-staff-1", role="central_staff", network_id="central")
BUILD: dict[str, Callable[[PlatformSettings], FastAPI]] = {
    "intake": lambda p: create_intake(IntakeSettings(platform=p, http_max_body_bytes=LIMIT)),
    "routing": lambda p: create_routing(RoutingSettings(platform=p, http_max_body_bytes=LIMIT)),
    "notify": lambda p: create_notify(
        NotifySettings(platform=p, sms_account_sid=SMS_ACCOUNT_SID, http_max_body_bytes=LIMIT)
    ),
    "catalog": lambda p: create_catalog(CatalogSettings(platform=p, http_max_body_bytes=LIMIT)),
}
PADDING = "x" * (LIMIT + 1)
# One write of each service, its body padded past the bound, and the table it would have written to.
WRITES: dict[str, tuple[str, str, dict[str, Any], dict[str, str], str]] = {
    "intake": (
        "POST",
        "/v1/inquiries",
        {
            "parent": {"name": "Ana Lopez", "email": "ana@example.org"},
            "student": {"school_id": 609794, "grade": "3"},
            "category": "attendance",
            "description": PADDING,
            "channel": "phone",
        },
        api_key_headers(),
        "intake.inquiries",
    ),
    "routing": (
        "POST",
        "/v1/calendar/closures",
        {"date": "2027-02-09", "reason": PADDING},
        CENTRAL,
        "routing.calendar_closures",
    ),
    "notify": (
        "POST",
        "/v1/suppressions",
        {"channel": "email", "address": "ana@example.org", "reason": PADDING},
        CENTRAL,
        "notify.suppressions",
    ),
    "catalog": (
        "PUT",
        "/v1/resources/body-limit-test",
        {
            "service": {"name": "Body Limit Test", "description": PADDING},
            "organization": {"id": "body-limit-org", "name": "Body Limit Organization"},
            "phones": [{"number": "773-553-1000"}],
            "languages": ["en"],
            "categories": ["academics"],
        },
        CENTRAL,
        "catalog.service",
    ),
}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def clients(module_platform: PlatformSettings, topics: tuple[str, ...]) -> AsyncIterator[dict[str, Any]]:
    async with contextlib.AsyncExitStack() as stack:
        started = {}
        for name, build in BUILD.items():
            app = build(module_platform)
            await stack.enter_async_context(app.router.lifespan_context(app))
            started[name] = await stack.enter_async_context(
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://{name}")
            )
        yield started


async def rows(platform: PlatformSettings, table: str) -> int:
    conn = await asyncpg.connect(platform.database_url.get_secret_value())
    try:
        return int(await conn.fetchval(f"SELECT count(*) FROM {table}"))  # noqa: S608 - the test's own constants
    finally:
        await conn.close()


@pytest.mark.parametrize("service", list(WRITES))
async def test_a_body_over_the_bound_is_a_413_and_stores_nothing(
    service: str, clients: dict[str, Any], module_platform: PlatformSettings
) -> None:
    method, path, body, headers, table = WRITES[service]
    client = clients[service]
    before = await rows(module_platform, table)
    content = json.dumps(body).encode()
    declared = await client.request(
        method,
        path,
        content=content,
        headers={**headers, "Content-Type": "application/json", "X-Correlation-ID": f"too-large-{service}"},
    )
    assert declared.status_code == 413, declared.text
    assert declared.json() == {"detail": "the body is larger than this service takes"}
    assert declared.headers["X-Correlation-ID"] == f"too-large-{service}"

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it comes
        for start in range(0, len(content), 1000):
            yield content[start : start + 1000]

    streamed = await client.request(
        method, path, content=chunks(), headers={**headers, "Content-Type": "application/json"}
    )
    assert streamed.status_code == 413, streamed.text
    assert "content-length" not in {k.lower() for k in streamed.request.headers}
    assert await rows(module_platform, table) == before
    # Without credentials too: the size is refused before anything else is looked at.
    anonymous = await client.request(method, path, content=content, headers={"Content-Type": "application/json"})
    assert anonymous.status_code == 413


@pytest.mark.parametrize("service", list(WRITES))
async def test_a_body_within_the_bound_is_taken(service: str, clients: dict[str, Any]) -> None:
    method, path, body, headers, _ = WRITES[service]
    small = json.loads(json.dumps(body).replace(PADDING, "short"))
    answer = await clients[service].request(method, path, json=small, headers=headers)
    assert answer.status_code < 300, answer.text


@pytest.mark.parametrize("service", list(WRITES))
async def test_every_operation_with_a_body_documents_its_413(service: str) -> None:
    document = json.loads((ROOT / "docs" / "openapi" / f"{service}.json").read_text())
    with_body = [
        (path, method, operation)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if "requestBody" in operation
    ]
    assert with_body
    for path, method, operation in with_body:
        assert "413" in operation["responses"], (service, method, path)
