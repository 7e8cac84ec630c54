"""Access control shared by every service: who the caller is (``Principal``), what their role lets them see and do,
how a route declares what it needs, and the platform's tokens and API keys. See ``shared.auth.access``."""

from shared.auth.access import (
    API_KEY_HEADER,
    PUBLIC,
    Actor,
    Requirement,
    Staff,
    StaffDirectory,
    StaffRecord,
    forbidden,
    principal_of,
    public,
    require_actor,
    require_role,
    require_scope,
    require_staff,
    unauthorized,
    visible_or_404,
)
from shared.auth.principal import ALL_SCOPES, CENTRAL_NETWORK, Principal, Role, Scope
from shared.auth.settings import ApiKeyEntry, AuthSettings
from shared.auth.tokens import Credentials, InvalidCredentials, api_key_hash, issue_token

__all__ = [
    "ALL_SCOPES",
    "API_KEY_HEADER",
    "CENTRAL_NETWORK",
    "PUBLIC",
    "Actor",
    "ApiKeyEntry",
    "AuthSettings",
    "Credentials",
    "InvalidCredentials",
    "Principal",
    "Requirement",
    "Role",
    "Scope",
    "Staff",
    "StaffDirectory",
    "StaffRecord",
    "api_key_hash",
    "forbidden",
    "issue_token",
    "principal_of",
    "public",
    "require_actor",
    "require_role",
    "require_scope",
    "require_staff",
    "unauthorized",
    "visible_or_404",
]
