"""Load shedding through the real parts: intake with its database and broker, past its bound on requests in flight,
answers 503 with Retry-After at once; every request is either stored or shed, none fails otherwise."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from auth import api_key_headers

from services.intake.app import create_app as create_intake
from services.intake.settings import IntakeSettings
from shared.settings import PlatformSettings

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def intake(module_platform: PlatformSettings, topics: tuple[str, ...]) -> AsyncIterator[httpx.AsyncClient]:
    app = create_intake(IntakeSettings(platform=module_platform, http_max_in_flight=2, http_retry_after_seconds=2))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://intake", headers=api_key_headers()
        ) as client,
    ):
        yield client


def body(n: int) -> dict[str, Any]:
    return {
        "parent": {"name": "Ana Lopez", "email": f"ana.{n}@example.org"},
        "student": {"school_id": 609794, "grade": "3"},
        "category": "attendance",
        "description": "Absences marked wrongly.",
        "channel": "phone",
    }


async def test_past_the_bound_requests_are_shed_with_retry_after_and_the_rest_are_stored(
    intake: httpx.AsyncClient,
) -> None:
    answers = await asyncio.gather(*(intake.post("/v1/inquiries", json=body(n)) for n in range(30)))
    statuses = [a.status_code for a in answers]
    assert set(statuses) <= {201, 503}
    shed = [a for a in answers if a.status_code == 503]
    assert shed, "30 requests at once against a bound of 2 must shed some"
    assert all(a.headers["Retry-After"] == "2" for a in shed)
    stored = [a.json()["reference"] for a in answers if a.status_code == 201]
    assert len(stored) >= 2
    for reference in stored:  # every admitted request was really stored
        assert (await intake.get(f"/v1/inquiries/{reference}")).status_code == 200
    assert (await intake.get("/health")).status_code == 200
