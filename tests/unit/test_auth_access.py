"""How routes declare access and what ``shared.http.authorize`` answers (an app of shared.http, in process)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import jwt
import pytest
from auth import TEST_SIGNING_KEY, api_key_headers, auth_settings_for_tests, staff_headers
from fastapi import APIRouter, Depends, FastAPI

from shared.auth import (
    PUBLIC,
    Actor,
    Principal,
    Role,
    Scope,
    Staff,
    StaffRecord,
    require_role,
    require_scope,
    visible_or_404,
)
from shared.http import create_http_app
from shared.settings import PlatformSettings, ServiceSettings

router = APIRouter()


@router.get("/open", dependencies=[PUBLIC])
async def open_route() -> dict[str, str]:
    return {"ok": "yes"}


@router.get("/staff")
async def staff_route(who: Staff) -> dict[str, str]:
    return {"id": who.id}


@router.post("/act")
async def act_route(who: Actor) -> dict[str, str]:
    return {"id": who.id}


@router.get("/read")
async def read_route(who: Principal = Depends(require_scope(Scope.READ))) -> dict[str, str]:
    return {"id": who.id}


@router.get("/audit", dependencies=[Depends(require_role(Role.AUDITOR, Role.CENTRAL_STAFF))])
async def audit_route() -> dict[str, str]:
    return {"ok": "yes"}


@router.get("/cases/{network}")
async def case_route(network: str, who: Staff) -> dict[str, str]:
    visible_or_404(who, network)
    return {"network": network}


class Directory:
    def __init__(self) -> None:
        self.members: dict[str, StaffRecord] = {}

    async def staff_member(self, staff_id: str) -> StaffRecord | None:
        return self.members.get(staff_id)


@asynccontextmanager
async def _nothing(_: FastAPI) -> AsyncIterator[None]:
    yield


def _app() -> FastAPI:
    settings = ServiceSettings(platform=PlatformSettings(auth=auth_settings_for_tests()))
    app = create_http_app(service="test", title="t", description="t", lifespan=_nothing, settings=settings)
    app.include_router(router)
    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=_app()), base_url="http://test") as c:
        yield c


def _staff(role: str, network: str = "n1") -> dict[str, str]:
    return staff_headers(staff_id=f"{role}-1", role=role, network_id=network)


async def test_public_routes_admit_anyone_even_with_a_bad_token(client: httpx.AsyncClient) -> None:
    assert (await client.get("/open")).status_code == 200
    assert (await client.get("/open", headers={"Authorization": "Bearer nonsense"})).status_code == 200
    assert (await client.get("/health")).status_code == 200


@pytest.mark.parametrize("path", ["/staff", "/read", "/audit", "/cases/n1"])
async def test_no_credentials_is_401_with_bearer_challenge(client: httpx.AsyncClient, path: str) -> None:
    answer = await client.get(path)
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"] == "Bearer"


async def test_a_post_without_credentials_is_401_before_validation(client: httpx.AsyncClient) -> None:
    assert (await client.post("/act")).status_code == 401


@pytest.mark.parametrize(
    ("role", "staff", "act", "read", "audit"),
    [
        ("network_staff", 200, 200, 200, 403),
        ("psa", 200, 200, 200, 403),
        ("central_staff", 200, 200, 200, 200),
        ("auditor", 200, 403, 200, 200),
    ],
)
async def test_each_role_on_each_requirement(
    client: httpx.AsyncClient, role: str, staff: int, act: int, read: int, audit: int
) -> None:
    headers = _staff(role)
    assert (await client.get("/staff", headers=headers)).status_code == staff
    assert (await client.post("/act", headers=headers)).status_code == act
    assert (await client.get("/read", headers=headers)).status_code == read
    assert (await client.get("/audit", headers=headers)).status_code == audit


@pytest.mark.parametrize(("role", "other_network"), [("network_staff", 404), ("psa", 404), ("central_staff", 200)])
async def test_another_networks_case_is_404(client: httpx.AsyncClient, role: str, other_network: int) -> None:
    assert (await client.get("/cases/n1", headers=_staff(role))).status_code == 200
    assert (await client.get("/cases/n2", headers=_staff(role))).status_code == other_network


async def test_api_keys_by_scope(client: httpx.AsyncClient) -> None:
    assert (await client.get("/read", headers=api_key_headers([Scope.READ]))).status_code == 200
    assert (await client.get("/read", headers=api_key_headers([Scope.SUBMIT]))).status_code == 403
    assert (await client.get("/read", headers=api_key_headers(()))).status_code == 403
    assert (await client.get("/staff", headers=api_key_headers())).status_code == 403
    assert (await client.post("/act", headers=api_key_headers())).status_code == 403
    unknown = await client.get("/read", headers={"X-API-Key": "guessed"})
    assert unknown.status_code == 401
    assert unknown.json() == {"detail": "unknown API key"}


def _signed(claims: dict[str, object], key: str = TEST_SIGNING_KEY, algorithm: str = "HS256") -> dict[str, str]:
    base: dict[str, object] = {"iss": "psc", "aud": "psc", "sub": "s-1", "role": "psa", "network_id": "n1"}
    base["exp"] = int(time.time()) + 24 * 3600  # made at collection: the suite may reach the test many minutes later
    return {"Authorization": f"Bearer {jwt.encode({**base, **claims}, key, algorithm=algorithm)}"}


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        (_signed({"exp": int(time.time()) - 3600}), "the token has expired"),
        (
            _signed({}, key="another-key-that-is-long-enough-0123456789"),
            "the token is not valid (InvalidSignatureError)",
        ),
        (_signed({"aud": "elsewhere"}), "the token is not valid (InvalidAudienceError)"),
        (_signed({"role": "superuser"}), "the token's role is not one of the platform's"),
        ({"Authorization": "Bearer not-a-jwt"}, "the token is not a JWT"),
        ({"Authorization": "Basic dXNlcjpwdw=="}, "send the token as Authorization: Bearer <token>"),
    ],
)
async def test_untrusted_tokens_are_401(client: httpx.AsyncClient, headers: dict[str, str], reason: str) -> None:
    answer = await client.get("/staff", headers=headers)
    assert answer.status_code == 401
    assert answer.json() == {"detail": reason}
    assert answer.headers["WWW-Authenticate"] == "Bearer"


async def test_a_directory_refuses_staff_it_knows_as_inactive() -> None:
    app = _app()
    directory = Directory()
    app.state.staff_directory = directory
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as c:
        headers = staff_headers(staff_id="s-1", role="psa", network_id="n1")
        assert (await c.get("/staff", headers=headers)).status_code == 200  # not heard of: the signed claims
        directory.members["s-1"] = StaffRecord("s-1", "psa", "n1", active=True)
        assert (await c.get("/staff", headers=headers)).status_code == 200
        directory.members["s-1"] = StaffRecord("s-1", "psa", "n1", active=False)
        refused = await c.get("/staff", headers=headers)
        assert (refused.status_code, refused.json()) == (401, {"detail": "this account is not active"})


async def test_the_openapi_document_names_the_schemes_and_the_refusals(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    assert set(document["components"]["securitySchemes"]) == {"HTTPBearer", "APIKeyHeader"}
    staff = document["paths"]["/staff"]["get"]
    assert {"401", "403"} <= set(staff["responses"])
    assert "security" not in document["paths"]["/open"]["get"]
