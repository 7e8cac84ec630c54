"""Credentials for integration and e2e tests: ``from auth import staff_headers, api_key_headers``.

The platform settings of ``tests/conftest.py`` (``Backend.platform``) carry ``auth_settings_for_tests()``: the test
signing key and one API key per set of scopes, so every service built from the fixtures accepts these headers.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import combinations

from shared.auth import ALL_SCOPES, ApiKeyEntry, AuthSettings, Scope, api_key_hash, issue_token

TEST_SIGNING_KEY = "test-signing-key-of-the-psc-suite-0123456789abcdef"


def _key_for(scopes: Iterable[Scope | str]) -> str:
    return "psc-test-key-" + ("+".join(sorted(Scope(s).value for s in scopes)) or "no-scopes")


def auth_settings_for_tests() -> AuthSettings:
    """The signing key and an API key for every set of scopes (the empty set too)."""
    scope_sets = [frozenset(c) for n in range(len(ALL_SCOPES) + 1) for c in combinations(sorted(ALL_SCOPES), n)]
    return AuthSettings(
        signing_key=TEST_SIGNING_KEY,
        api_keys=[
            ApiKeyEntry(
                id=f"test-system-{len(scopes)}-{'+'.join(sorted(scopes))}",
                sha256=api_key_hash(_key_for(scopes)),
                scopes=scopes,
            )
            for scopes in scope_sets
        ],
    )


def staff_token(*, staff_id: str, role: str, network_id: str) -> str:
    token, _ = issue_token(auth_settings_for_tests(), staff_id=staff_id, role=role, network_id=network_id)
    return token


def staff_headers(*, staff_id: str, role: str, network_id: str) -> dict[str, str]:
    """``Authorization`` for a staff member (a token signed with the test key; it lasts 15 minutes).

    A service that follows the staff directory (intake) also wants the staff member known and active there."""
    return {"Authorization": f"Bearer {staff_token(staff_id=staff_id, role=role, network_id=network_id)}"}


def api_key_headers(scopes: Iterable[Scope | str] = tuple(ALL_SCOPES)) -> dict[str, str]:
    """``X-API-Key`` of a district system holding exactly ``scopes`` (default: both; ``()``: none)."""
    return {"X-API-Key": _key_for(scopes)}


def api_key_of(scopes: Iterable[Scope | str] = tuple(ALL_SCOPES)) -> str:
    """The key itself (Open311 takes it as ``api_key`` in the form or query)."""
    return _key_for(scopes)
