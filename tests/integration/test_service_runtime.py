"""A service in a process of its own opens its HTTP door before its consumers have joined their groups: through
intake's real database and broker, a submission is taken while the consumers are still joining, and they join."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from auth import api_key_headers

from services.intake.app import create_app as create_intake
from services.intake.settings import IntakeSettings
from shared.settings import PlatformSettings

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

BODY: dict[str, Any] = {
    "parent": {"name": "Ana Lopez", "email": "ana@example.org"},
    "student": {"school_id": 609794, "grade": "3"},
    "category": "attendance",
    "description": "Absences marked wrongly.",
    "channel": "phone",
}


async def test_in_its_own_process_a_service_takes_requests_while_its_consumers_join_in_the_background(
    platform: PlatformSettings, topics: tuple[str, ...]
) -> None:
    app = create_intake(IntakeSettings(platform=platform))
    app.state.own_process = True  # as run_service marks it
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://intake", headers=api_key_headers()
        ) as client,
    ):
        runtime = app.state.runtime
        assert runtime.consumers_in_background
        created = await client.post("/v1/inquiries", json=BODY)  # the door is open whatever the consumers do
        assert created.status_code == 201
        async with asyncio.timeout(60):
            while (ready := await client.get("/ready")).status_code != 200:
                assert ready.json()["checks"]["database"] is True
                await asyncio.sleep(0.2)
        assert ready.json()["checks"]["broker"] is True
