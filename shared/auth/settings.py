"""Access settings every service shares (env prefix ``PSC_AUTH_``), part of the platform settings.

Tokens are verified locally by every service: the embedded default signs them with ``PSC_AUTH_SIGNING_KEY`` (HS256;
the local stack generates one per stack, a deployment takes it from a secret); a district deployment names its
OpenID Connect provider instead (``PSC_AUTH_OIDC_ISSUER``, ``..._AUDIENCE``, ``..._JWKS_URL``). API keys are given by
their SHA-256 hashes and scopes (``PSC_AUTH_API_KEYS``, JSON), never by the keys themselves.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.auth.principal import Scope

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class ApiKeyEntry(BaseModel):
    """One district system's key: its name, the SHA-256 (hex) of the key, and what it may do."""

    id: str = Field(min_length=1, max_length=100, description="Name of the system, recorded in the audit log")
    sha256: str = Field(description="Hex SHA-256 of the key (psc api-keys new prints it)")
    scopes: frozenset[Scope] = Field(description="inquiries:submit and/or inquiries:read")

    @field_validator("sha256")
    @classmethod
    def _hex(cls, value: str) -> str:
        if not _SHA256.match(value):
            raise ValueError("must be 64 lower-case hex digits (a SHA-256)")
        return value


class AuthSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PSC_AUTH_", extra="ignore")

    signing_key: SecretStr = Field(
        SecretStr(""),
        description="Key signing and checking the platform's own tokens (HS256, 32+ bytes); empty: none accepted",
    )
    token_issuer: str = Field("psc", description="iss of the tokens intake issues")
    token_audience: str = Field("psc", description="aud of the tokens intake issues")
    token_ttl_seconds: int = Field(900, ge=30, le=86400, description="How long a token from /v1/auth/token lasts")

    oidc_issuer: str = Field("", description="A district's OpenID Connect issuer; empty: no OIDC tokens accepted")
    oidc_audience: str = Field("", description="The aud the provider puts in tokens for this platform")
    oidc_jwks_url: str = Field("", description="Where the provider publishes its signing keys (JWKS)")
    oidc_algorithms: list[str] = Field(["RS256"], description="Signature algorithms accepted from the provider")
    oidc_staff_id_claim: str = Field("sub", description="Claim holding the staff id (as in routing's directory)")
    oidc_role_claim: str = Field("psc_role", description="Claim holding the role; missing: the staff directory's")
    oidc_network_claim: str = Field("psc_network", description="Claim holding the network; missing: the directory's")

    api_keys: list[ApiKeyEntry] = Field([], description="District systems' keys (JSON list of {id, sha256, scopes})")

    sign_in_window_seconds: int = Field(900, ge=1, description="Window failed sign-ins are counted over")
    sign_in_max_failures_per_user: int = Field(5, ge=1, description="Failed sign-ins of one username per window")
    sign_in_max_failures_per_client: int = Field(20, ge=1, description="Failed sign-ins from one client per window")

    @field_validator("signing_key")
    @classmethod
    def _long_enough(cls, value: SecretStr) -> SecretStr:
        if 0 < len(value.get_secret_value()) < 32:
            raise ValueError("must be at least 32 characters (openssl rand -hex 32), or empty for no platform tokens")
        return value

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_issuer and self.oidc_jwks_url)
