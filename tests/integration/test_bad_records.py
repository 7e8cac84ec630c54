"""Records no framework may lose: through the real broker and database, one bad record is parked alone (or applied,
when what is odd about it does not matter) and its neighbours in the batch are applied."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from fastapi import FastAPI

from services.intake.app import create_app as create_intake
from services.intake.settings import IntakeSettings
from shared.contracts.topics import INQUIRY_SUBMISSIONS
from shared.kafka.connection import create_producer
from shared.settings import PlatformSettings

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def intake(module_platform: PlatformSettings, topics: tuple[str, ...]) -> AsyncIterator[FastAPI]:
    app = create_intake(IntakeSettings(platform=module_platform))
    async with app.router.lifespan_context(app):
        yield app


def submission(correlation_id: str) -> bytes:
    return json.dumps(
        {
            "correlation_id": correlation_id,
            "parent": {"name": "Ana Lopez", "email": "ana@example.org"},
            "student": {"school_id": 609794, "grade": "3"},
            "category": "attendance",
            "description": "Absences marked wrongly.",
            "channel": "web",
        }
    ).encode()


async def inquiries_with_prefix(platform: PlatformSettings, prefix: str) -> int:
    conn = await asyncpg.connect(platform.database_url.get_secret_value())
    try:
        count = await conn.fetchval("SELECT count(*) FROM intake.inquiries WHERE correlation_id LIKE $1", f"{prefix}%")
        return int(count)
    finally:
        await conn.close()


async def test_a_header_that_is_not_utf8_loses_nothing_of_its_batch(
    intake: FastAPI, module_platform: PlatformSettings
) -> None:
    prefix = f"batch-{uuid.uuid4().hex[:8]}-"
    producer = create_producer(module_platform, client_id="bad-headers")
    await producer.start()
    try:
        sends: list[Any] = []
        for n in range(20):
            sends.append(await producer.send(INQUIRY_SUBMISSIONS, submission(f"{prefix}{n}"), key=b"same-partition"))
            if n == 10:  # in the middle of the batch: a valid submission whose trace header is not UTF-8
                odd = [("x-trace", b"\xff\xfe"), ("content-type", b"application/json")]
                sends.append(
                    await producer.send(
                        INQUIRY_SUBMISSIONS, submission(f"{prefix}odd-header"), key=b"same-partition", headers=odd
                    )
                )
        await asyncio.gather(*sends)
    finally:
        await producer.stop()

    async with asyncio.timeout(30):
        while (stored := await inquiries_with_prefix(module_platform, prefix)) < 21:
            await asyncio.sleep(0.2)
    assert stored == 21  # the 20 and the odd one: its header does not matter to a submission
