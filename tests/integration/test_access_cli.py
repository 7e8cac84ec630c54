"""``psc users add|disable|list`` against the real database and broker, with intake and routing running: the user
is added to routing's directory (its staff.updated reaches intake) and signs in; disabled, they are locked out."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from auth import staff_headers

from services.intake.app import create_app as create_intake
from services.intake.settings import IntakeSettings
from services.routing.app import create_app as create_routing
from services.routing.settings import RoutingSettings
from shared.settings import PlatformSettings

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(module_platform: PlatformSettings, topics: tuple[str, ...]) -> AsyncIterator[dict[str, Any]]:
    intake = create_intake(IntakeSettings(platform=module_platform))
    routing = create_routing(RoutingSettings(platform=module_platform))
    async with contextlib.AsyncExitStack() as exits:
        for app in (intake, routing):
            await exits.enter_async_context(app.router.lifespan_context(app))
        client = await exits.enter_async_context(
            httpx.AsyncClient(transport=httpx.ASGITransport(app=intake), base_url="http://intake")
        )
        central = staff_headers(staff_id="central-1", role="central_staff", network_id="central")
        routing_client = await exits.enter_async_context(
            httpx.AsyncClient(transport=httpx.ASGITransport(app=routing), base_url="http://routing", headers=central)
        )
        yield {"platform": module_platform, "intake": client, "routing": routing_client}


def psc(platform: PlatformSettings, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PSC_DATABASE_URL": platform.database_url.get_secret_value(),
        "PSC_KAFKA_BOOTSTRAP": platform.kafka_bootstrap,
    }
    return subprocess.run(
        [sys.executable, "-m", "psc.cli", *args], env=env, input=stdin, capture_output=True, text=True, timeout=120
    )


async def sign_in(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await client.post("/v1/auth/token", data={"username": username, "password": password})


async def eventually_signed_in(client: httpx.AsyncClient, username: str, password: str) -> str:
    async with asyncio.timeout(20):
        while (answer := await sign_in(client, username, password)).status_code != 200:
            assert answer.status_code == 401, answer.text
            await asyncio.sleep(0.2)
    token: str = answer.json()["access_token"]
    return token


async def test_a_user_added_signs_in_is_listed_and_once_disabled_is_locked_out(stack: dict[str, Any]) -> None:
    platform, intake = stack["platform"], stack["intake"]
    added = psc(
        platform,
        *("users", "add", "alex.a", "--role", "psa", "--network", "network-1", "--name", "Alex A."),
        *("--email", "alex.a@district.example", "--generate-password"),
    )
    assert added.returncode == 0, added.stderr
    lines = added.stdout.splitlines()
    assert lines[0] == "added alex.a (psa, network network-1)"
    password = lines[1].removeprefix("password: ")
    assert len(password) >= 16

    token = await eventually_signed_in(intake, "alex.a", password)
    headers = {"Authorization": f"Bearer {token}"}
    assert (await intake.get("/v1/inquiries", headers=headers)).status_code == 200

    # In routing's directory as given (its staff.updated carried the name and email to whoever follows).
    staff = (await stack["routing"].get("/v1/staff", params={"network_id": "network-1"})).json()
    (member,) = [m for m in staff if m["id"] == "alex.a"]
    assert (member["name"], member["role"], member["email"], member["active"]) == (
        "Alex A.",
        "psa",
        "alex.a@district.example",
        True,
    )

    listed = psc(platform, "users", "list")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines()[0].split() == ["USERNAME", "ROLE", "NETWORK", "STATUS"]
    assert listed.stdout.splitlines()[1].split() == ["alex.a", "psa", "network-1", "active"]

    disabled = psc(platform, "users", "disable", "alex.a")
    assert (disabled.returncode, disabled.stdout.strip()) == (0, "disabled alex.a"), disabled.stderr
    assert (await intake.get("/v1/inquiries", headers=headers)).status_code == 401
    assert (await sign_in(intake, "alex.a", password)).status_code == 401
    assert psc(platform, "users", "list").stdout.splitlines()[1].split() == ["alex.a", "psa", "network-1", "disabled"]
    staff = (await stack["routing"].get("/v1/staff", params={"network_id": "network-1"})).json()
    assert [(m["active"], m["email"]) for m in staff if m["id"] == "alex.a"] == [(False, "alex.a@district.example")]


async def test_a_typed_password_and_an_auditor_who_belongs_to_central(stack: dict[str, Any]) -> None:
    platform, intake = stack["platform"], stack["intake"]
    typed = "a long typed password"
    added = psc(platform, "users", "add", "audit.one", "--role", "auditor", stdin=f"{typed}\n{typed}\n")
    assert added.returncode == 0, added.stderr
    assert "added audit.one (auditor, network central)" in added.stdout
    assert typed not in added.stdout
    token = await eventually_signed_in(intake, "audit.one", typed)
    headers = {"Authorization": f"Bearer {token}"}
    assert (await intake.get("/v1/audit", headers=headers)).status_code == 200
    assert (await intake.post("/v1/inquiries", json={}, headers=headers)).status_code == 403


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (
            ["users", "add", "x", "--role", "admin", "--generate-password"],
            2,
            "must be network_staff, psa, central_staff or auditor",
        ),
        (
            ["users", "add", "x", "--role", "psa", "--network", "network-99", "--generate-password"],
            1,
            "no such network in the directory: network-99",
        ),
        (
            ["users", "add", " x", "--role", "psa", "--network", "network-1", "--generate-password"],
            2,
            "no leading or trailing spaces",
        ),
        (["users", "disable", "nobody-at-all"], 1, "no such user: nobody-at-all"),
        (["users", "add", "x", "--role", "psa", "--network", "network-1", "--email", "not-mail"], 2, "is not an email"),
    ],
)
async def test_bad_input_is_refused_with_the_reason(
    stack: dict[str, Any], args: list[str], code: int, says: str
) -> None:
    refused = psc(stack["platform"], *args)
    assert refused.returncode == code, refused.stdout
    assert says in " ".join(refused.stderr.replace("│", " ").split())
    assert psc(stack["platform"], "users", "list").stdout.count("\nx ") == 0


async def test_a_short_typed_password_is_refused(stack: dict[str, Any]) -> None:
    refused = psc(
        stack["platform"], "users", "add", "y", "--role", "psa", "--network", "network-1", stdin="short\nshort\n"
    )
    assert refused.returncode == 2
    assert "must be at least 12 characters" in " ".join(refused.stderr.replace("│", " ").split())
