"""Every service refuses a disabled staff member's token at once, through the real broker and database: routing (which
owns the directory), notify and the catalog (which follow its ``staff.updated``) each answer 401 "this account is not
active" to a token that has not expired, within seconds of routing making the staff member inactive."""

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
from auth import staff_headers
from fastapi import FastAPI

from services.catalog.app import create_app as create_catalog
from services.catalog.settings import CatalogSettings
from services.notify.app import create_app as create_notify
from services.notify.settings import NotifySettings
from services.routing.app import create_app as create_routing
from services.routing.files import DEMO_STAFF
from services.routing.settings import RoutingSettings
from shared.contracts.routing import StaffUpdated
from shared.contracts.topics import STAFF_EVENTS
from shared.kafka.connection import create_producer
from shared.settings import PlatformSettings

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

# Demo staff of routing's file (services/routing/data/staff_demo.yaml).
MEMBER = {"staff_id": "network-1-staff-1", "role": "network_staff", "network_id": "network-1"}
CENTRAL = staff_headers(staff_id="central-staff-1", role="central_staff", network_id="central")
NOT_ACTIVE = "this account is not active"
INQUIRY = uuid.uuid4()
# A read route each service keeps for signed-in staff.
STAFF_READS = {
    "routing": "/v1/staff?network_id=network-1",
    "notify": f"/v1/inquiries/{INQUIRY}/deliveries",
    "catalog": f"/v1/inquiries/{INQUIRY}/referrals",
}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def apps(module_platform: PlatformSettings, topics: tuple[str, ...]) -> AsyncIterator[dict[str, FastAPI]]:
    platform = module_platform
    apps = {
        "routing": create_routing(RoutingSettings(platform=platform, staff_file=DEMO_STAFF)),
        "notify": create_notify(
            NotifySettings(platform=platform, sms_account_sid="AC-test", contact_key_secret="test-secret")
        ),
        "catalog": create_catalog(CatalogSettings(platform=platform)),
    }
    async with contextlib.AsyncExitStack() as stack:
        for app in apps.values():
            await stack.enter_async_context(app.router.lifespan_context(app))
            # Services leave their consumer groups one at a time (Tansu can lose LeaveGroups that arrive together).
            stack.push_async_callback(asyncio.sleep, 1)
        yield apps


async def get(app: FastAPI, path: str, headers: dict[str, str]) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://service") as client:
        return await client.get(path, headers=headers)


async def until(check: Any, timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.1)


async def test_a_disabled_staff_members_token_is_refused_at_every_service(apps: dict[str, FastAPI]) -> None:
    token = staff_headers(**MEMBER)
    for service, path in STAFF_READS.items():
        answer = await get(apps[service], path, token)
        assert answer.status_code == 200, (service, answer.text)

    async def everyone_knows_them_active() -> bool:
        for service in ("notify", "catalog"):
            member = await apps[service].state.staff_directory.staff_member(MEMBER["staff_id"])
            if member is None or not member.active:
                return False
        return True

    # The seed's staff.updated reached the followers: the disabling below is a change over a known row.
    await until(everyone_knows_them_active)

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=apps["routing"]), base_url="http://routing") as c:
        body = {"name": "Blair H.", "role": "network_staff", "network_id": "network-1", "active": False}
        changed = await c.put(f"/v1/staff/{MEMBER['staff_id']}", json=body, headers=CENTRAL)
    assert changed.status_code == 200, changed.text
    assert changed.json()["active"] is False

    # Routing owns the directory: refused at once.
    refused = await get(apps["routing"], STAFF_READS["routing"], token)
    assert refused.status_code == 401
    assert NOT_ACTIVE in refused.text
    assert refused.headers["WWW-Authenticate"] == "Bearer"

    for service in ("notify", "catalog"):

        async def refused_there(service: str = service) -> bool:
            return (await get(apps[service], STAFF_READS[service], token)).status_code == 401

        await until(refused_there)
        answer = await get(apps[service], STAFF_READS[service], token)
        assert NOT_ACTIVE in answer.text, (service, answer.text)

    # Another staff member's token still opens every service.
    colleague = staff_headers(staff_id="network-1-staff-2", role="network_staff", network_id="network-1")
    for service, path in STAFF_READS.items():
        assert (await get(apps[service], path, colleague)).status_code == 200, service


async def test_an_older_staff_event_does_not_make_an_inactive_member_active_again_at_the_catalog(
    apps: dict[str, FastAPI], module_platform: PlatformSettings
) -> None:
    directory = apps["catalog"].state.staff_directory
    staff_id, marker = f"late-{uuid.uuid4().hex[:8]}", f"marker-{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC)
    producer = create_producer(module_platform, client_id="test-staff-everywhere")
    await producer.start()
    try:
        # Made inactive, then an event from before that (a redelivery, a replay) comes after it; then a marker.
        for member, active, at in (
            (staff_id, False, now),
            (staff_id, True, now - timedelta(minutes=5)),
            (marker, True, now),
        ):
            event = StaffUpdated(
                occurred_at=at,
                correlation_id="test-late",
                staff_id=member,
                role="psa",
                network_id="network-2",
                active=active,
            )
            await producer.send_and_wait(STAFF_EVENTS, event.model_dump_json().encode(), key=member.encode())
    finally:
        await producer.stop()

    async def marker_applied() -> bool:
        return await directory.staff_member(marker) is not None

    await until(marker_applied)
    await until(lambda: _inactive(directory, staff_id))
    member = await directory.staff_member(staff_id)
    assert member is not None and not member.active
    token = staff_headers(staff_id=staff_id, role="psa", network_id="network-2")
    answer = await get(apps["catalog"], STAFF_READS["catalog"], token)
    assert answer.status_code == 401 and NOT_ACTIVE in answer.text


async def _inactive(directory: Any, staff_id: str) -> bool:
    member = await directory.staff_member(staff_id)
    return member is not None and not member.active
