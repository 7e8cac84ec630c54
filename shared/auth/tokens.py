"""Bearer tokens and API keys: issue the platform's own tokens, and check any credential a request carries.

The platform's tokens are JWTs signed with ``PSC_AUTH_SIGNING_KEY`` (HS256) carrying the staff id (``sub``), the
role and the network; an OpenID Connect provider's tokens are checked against its published keys (PyJWKClient) with
the role and network taken from configurable claims. Token lifetimes run on the wall clock, never the platform's
(which a demo may speed up).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Any

import jwt

from shared.auth.principal import Principal, Role
from shared.auth.settings import AuthSettings

_LOCAL_ALGORITHM = "HS256"
_LEEWAY_SECONDS = 30


class InvalidCredentials(Exception):
    """The credential cannot be trusted (bad signature, expired, unknown key ...); the message says which, briefly."""


@dataclass(frozen=True)
class Claimed:
    """What a verified bearer token says: the staff id, and the role and network when the token carries them."""

    staff_id: str
    role: str | None
    network_id: str | None
    issuer: str


def issue_token(settings: AuthSettings, *, staff_id: str, role: Role | str, network_id: str) -> tuple[str, int]:
    """A signed token for this staff member and how many seconds it lasts."""
    key = settings.signing_key.get_secret_value()
    if not key:
        raise InvalidCredentials("no signing key is set (PSC_AUTH_SIGNING_KEY)")
    now = int(time.time())
    claims = {
        "iss": settings.token_issuer,
        "aud": settings.token_audience,
        "sub": staff_id,
        "role": str(Role(role)),
        "network_id": network_id,
        "iat": now,
        "exp": now + settings.token_ttl_seconds,
    }
    return jwt.encode(claims, key, algorithm=_LOCAL_ALGORITHM), settings.token_ttl_seconds


def api_key_hash(key: str) -> str:
    """The SHA-256 (hex) stored for an API key; the keys themselves are random and long, so no slow hash is needed."""
    return hashlib.sha256(key.encode()).hexdigest()


class Credentials:
    """Checks a request's bearer token or API key by the settings; one per process (it caches the provider's keys)."""

    def __init__(self, settings: AuthSettings) -> None:
        self.settings = settings
        self._keys = {entry.sha256: entry for entry in settings.api_keys}
        self._jwks = jwt.PyJWKClient(settings.oidc_jwks_url, lifespan=300) if settings.oidc_enabled else None

    def api_key(self, key: str) -> Principal:
        digest = api_key_hash(key)
        for stored, entry in self._keys.items():
            if hmac.compare_digest(stored, digest):
                return Principal.api_key(entry.id, scopes=frozenset(entry.scopes))
        raise InvalidCredentials("unknown API key")

    async def bearer(self, token: str) -> Claimed:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise InvalidCredentials("the token is not a JWT") from None
        if header.get("alg") == _LOCAL_ALGORITHM:
            return self._local(token)
        if self._jwks is None:
            raise InvalidCredentials("the token is not signed by this platform")
        return await self._oidc(token, self._jwks)

    def _local(self, token: str) -> Claimed:
        key = self.settings.signing_key.get_secret_value()
        if not key:
            raise InvalidCredentials("this service accepts no platform tokens (PSC_AUTH_SIGNING_KEY is not set)")
        claims = _decoded(
            token,
            key,
            algorithms=[_LOCAL_ALGORITHM],
            audience=self.settings.token_audience,
            issuer=self.settings.token_issuer,
        )
        return Claimed(
            staff_id=str(claims["sub"]),
            role=_text(claims.get("role")),
            network_id=_text(claims.get("network_id")),
            issuer=self.settings.token_issuer,
        )

    async def _oidc(self, token: str, jwks: jwt.PyJWKClient) -> Claimed:
        try:
            signing_key = await asyncio.to_thread(jwks.get_signing_key_from_jwt, token)
        except jwt.PyJWTError as exc:
            raise InvalidCredentials(
                f"the provider's key for this token was not found ({type(exc).__name__})"
            ) from None
        s = self.settings
        claims = _decoded(
            token, signing_key.key, algorithms=s.oidc_algorithms, audience=s.oidc_audience, issuer=s.oidc_issuer
        )
        staff_id = _text(claims.get(s.oidc_staff_id_claim))
        if not staff_id:
            raise InvalidCredentials(f"the token has no {s.oidc_staff_id_claim} claim")
        return Claimed(
            staff_id=staff_id,
            role=_text(claims.get(s.oidc_role_claim)),
            network_id=_text(claims.get(s.oidc_network_claim)),
            issuer=s.oidc_issuer,
        )


def _decoded(token: str, key: Any, *, algorithms: list[str], audience: str, issuer: str) -> dict[str, Any]:
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=algorithms,
            audience=audience or None,
            issuer=issuer,
            leeway=_LEEWAY_SECONDS,
            options={"require": ["exp", "sub", "iss"], "verify_aud": bool(audience)},
        )
    except jwt.ExpiredSignatureError:
        raise InvalidCredentials("the token has expired") from None
    except jwt.PyJWTError as exc:
        raise InvalidCredentials(f"the token is not valid ({type(exc).__name__})") from None
    return claims


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
