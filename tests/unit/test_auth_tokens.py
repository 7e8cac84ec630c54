"""Tokens and keys: the platform's own tokens, a district's OpenID Connect provider (its keys served over HTTP, as
PyJWKClient fetches them), API keys and what the settings refuse."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from pydantic import ValidationError
from typer.testing import CliRunner

from psc.cli import app as cli
from shared.auth import (
    ApiKeyEntry,
    AuthSettings,
    Credentials,
    InvalidCredentials,
    Scope,
    Staff,
    StaffRecord,
    issue_token,
)
from shared.auth.passwords import hash_password, password_matches
from shared.http import create_http_app
from shared.settings import PlatformSettings, ServiceSettings

ISSUER = "https://login.district.example"
AUDIENCE = "psc-api"


@pytest.fixture(scope="module")
def provider() -> Iterator[dict[str, Any]]:
    """A district's provider: an RSA key, published as a JWKS on a local HTTP server."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    document = json.dumps({"keys": [{**public, "kid": "k1", "use": "sig", "alg": "RS256"}]}).encode()

    class Jwks(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(document)

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Jwks)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield {"key": key, "jwks_url": f"http://127.0.0.1:{server.server_port}/jwks"}
    server.shutdown()


def _oidc(provider: dict[str, Any]) -> AuthSettings:
    return AuthSettings(oidc_issuer=ISSUER, oidc_audience=AUDIENCE, oidc_jwks_url=provider["jwks_url"])


def _provider_token(provider: dict[str, Any], **claims: Any) -> str:
    base = {"iss": ISSUER, "aud": AUDIENCE, "sub": "jdoe", "exp": int(time.time()) + 300}
    return jwt.encode({**base, **claims}, provider["key"], algorithm="RS256", headers={"kid": "k1"})


async def test_a_providers_token_is_checked_against_its_published_keys(provider: dict[str, Any]) -> None:
    credentials = Credentials(_oidc(provider))
    claimed = await credentials.bearer(_provider_token(provider, psc_role="psa", psc_network="network-3"))
    assert (claimed.staff_id, claimed.role, claimed.network_id, claimed.issuer) == ("jdoe", "psa", "network-3", ISSUER)
    bare = await credentials.bearer(_provider_token(provider))
    assert (bare.role, bare.network_id) == (None, None)  # the staff directory then says


async def test_the_claims_are_configurable(provider: dict[str, Any]) -> None:
    settings = _oidc(provider).model_copy(
        update={"oidc_staff_id_claim": "employee_id", "oidc_role_claim": "role", "oidc_network_claim": "office"}
    )
    token = _provider_token(provider, employee_id="E123", role="central_staff", office="central")
    claimed = await Credentials(settings).bearer(token)
    assert (claimed.staff_id, claimed.role, claimed.network_id) == ("E123", "central_staff", "central")


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"aud": "another-app"}, "the token is not valid (InvalidAudienceError)"),
        ({"iss": "https://elsewhere.example"}, "the token is not valid (InvalidIssuerError)"),
        ({"exp": int(time.time()) - 600}, "the token has expired"),
    ],
)
async def test_a_providers_token_for_someone_else_is_refused(
    provider: dict[str, Any], claims: dict[str, Any], reason: str
) -> None:
    with pytest.raises(InvalidCredentials, match=reason.replace("(", r"\(").replace(")", r"\)")):
        await Credentials(_oidc(provider)).bearer(_provider_token(provider, **claims))


async def test_without_a_provider_an_rs256_token_is_refused(provider: dict[str, Any]) -> None:
    local = AuthSettings(signing_key="k" * 40)
    with pytest.raises(InvalidCredentials, match="not signed by this platform"):
        await Credentials(local).bearer(_provider_token(provider))


async def test_the_platforms_tokens_carry_the_staff_member_and_expire() -> None:
    settings = AuthSettings(signing_key="s" * 40, token_ttl_seconds=60)
    token, lasts = issue_token(settings, staff_id="network-1-psa", role="psa", network_id="network-1")
    assert lasts == 60
    claimed = await Credentials(settings).bearer(token)
    assert (claimed.staff_id, claimed.role, claimed.network_id) == ("network-1-psa", "psa", "network-1")
    other = AuthSettings(signing_key="t" * 40)
    with pytest.raises(InvalidCredentials, match="InvalidSignatureError"):
        await Credentials(other).bearer(token)
    with pytest.raises(InvalidCredentials, match="PSC_AUTH_SIGNING_KEY is not set"):
        await Credentials(AuthSettings()).bearer(token)


def test_a_short_signing_key_is_refused_at_start() -> None:
    with pytest.raises(ValidationError, match="at least 32 characters"):
        AuthSettings(signing_key="change-me")


def test_psc_api_keys_new_prints_a_key_and_the_entry_that_admits_it() -> None:
    result = CliRunner().invoke(cli, ["api-keys", "new", "sis", "--scopes", "inquiries:read"])
    assert result.exit_code == 0, result.output
    key_line, entry_line = result.output.splitlines()
    key = key_line.removeprefix("key: ")
    entry = ApiKeyEntry.model_validate_json(entry_line.removeprefix("PSC_AUTH_API_KEYS entry: "))
    principal = Credentials(AuthSettings(api_keys=[entry])).api_key(key)
    assert (principal.id, principal.scopes) == ("sis", frozenset({Scope.READ}))
    assert entry.sha256 not in key
    refused = CliRunner().invoke(cli, ["api-keys", "new", "sis", "--scopes", "inquiries:delete"])
    assert refused.exit_code == 2
    assert "each must be inquiries:submit or inquiries:read" in " ".join(refused.output.replace("│", " ").split())


def test_api_keys_in_the_settings_are_hashes() -> None:
    with pytest.raises(ValidationError, match="64 lower-case hex digits"):
        ApiKeyEntry(id="sis", sha256="the-key-itself", scopes=frozenset({Scope.SUBMIT}))


def test_passwords_are_argon2_hashes() -> None:
    stored = hash_password("correct horse battery")
    assert stored.startswith("$argon2id$")
    assert password_matches(stored, "correct horse battery")
    assert not password_matches(stored, "Correct horse battery")
    assert not password_matches(None, "anything")
    assert not password_matches("not a hash", "anything")


def test_the_platform_settings_read_access_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PSC_AUTH_SIGNING_KEY", "e" * 40)
    monkeypatch.setenv(
        "PSC_AUTH_API_KEYS", json.dumps([{"id": "sis", "sha256": "a" * 64, "scopes": ["inquiries:read"]}])
    )
    auth = PlatformSettings().auth
    assert auth.signing_key.get_secret_value() == "e" * 40
    assert [(k.id, k.scopes) for k in auth.api_keys] == [("sis", frozenset({Scope.READ}))]


async def test_a_providers_staff_take_role_and_network_from_the_claims_or_the_directory(
    provider: dict[str, Any],
) -> None:
    """Through an app's access hook: claims first; without them the staff directory; neither, 401."""

    @asynccontextmanager
    async def nothing(_: FastAPI) -> AsyncIterator[None]:
        yield

    settings = ServiceSettings(platform=PlatformSettings(auth=_oidc(provider)))
    app = create_http_app(service="t", title="t", description="t", lifespan=nothing, settings=settings)

    @app.get("/me")
    async def me(who: Staff) -> dict[str, str | None]:
        return {"id": who.id, "role": who.role, "network": who.network_id}

    class Directory:
        async def staff_member(self, staff_id: str) -> StaffRecord | None:
            return StaffRecord(staff_id, "network_staff", "network-7", active=True) if staff_id == "jdoe" else None

    async def me_with(token: str) -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            return await client.get("/me", headers={"Authorization": f"Bearer {token}"})

    claimed = await me_with(_provider_token(provider, psc_role="psa", psc_network="network-3"))
    assert claimed.json() == {"id": "jdoe", "role": "psa", "network": "network-3"}
    assert (await me_with(_provider_token(provider))).status_code == 401  # no claims, no directory here
    app.state.staff_directory = Directory()
    assert (await me_with(_provider_token(provider))).json() == {
        "id": "jdoe",
        "role": "network_staff",
        "network": "network-7",
    }
    unknown = await me_with(_provider_token(provider, sub="someone-else"))
    assert (unknown.status_code, unknown.json()["detail"]) == (
        401,
        "the token names no role or network, and no staff directory here knows them",
    )
