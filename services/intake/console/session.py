"""The console's session and CSRF protection.

The session cookie holds the staff member's bearer token (the one ``POST /v1/auth/token`` gives), so the console asks
nothing of access control that the API does not: each request verifies it with ``shared.auth`` (signature, expiry,
an account disabled or made inactive since). The cookie is HTTP-only, ``SameSite=Strict``, ``Secure`` (setting
``PSC_INTAKE_CONSOLE_SECURE_COOKIES``) and scoped to ``/console``.

CSRF: every form carries ``csrf_token``, an HMAC of the session cookie (signed in) or of a random pre-session cookie
(the sign-in and status-page forms, before anyone is known). A POST whose token does not match is refused with 403.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import Request, Response

from shared.auth import Credentials, InvalidCredentials, Principal
from shared.auth.access import identify

SESSION_COOKIE = "psc_console"
PRE_SESSION_COOKIE = "psc_csrf"
CSRF_FIELD = "csrf_token"
_FALLBACK_KEY = secrets.token_bytes(32)


def _key(request: Request) -> bytes:
    credentials: Credentials | None = getattr(request.app.state, "credentials", None)
    key = credentials.settings.signing_key.get_secret_value() if credentials else ""
    return hashlib.sha256(b"psc-console-csrf:" + key.encode()).digest() if key else _FALLBACK_KEY


def _mac(request: Request, value: str) -> str:
    return hmac.new(_key(request), value.encode(), hashlib.sha256).hexdigest()


def session_token(request: Request) -> str | None:
    return request.cookies.get(SESSION_COOKIE) or None


def pre_session(request: Request, response: Response, *, secure: bool) -> str:
    """The random value the anonymous forms' CSRF token is bound to (set as a cookie when it is new)."""
    value = request.cookies.get(PRE_SESSION_COOKIE)
    if not value or len(value) > 100:
        value = secrets.token_urlsafe(32)
        response.set_cookie(
            PRE_SESSION_COOKIE, value, httponly=True, secure=secure, samesite="strict", path="/", max_age=3600
        )
    return value


def csrf_token(request: Request, bound_to: str) -> str:
    return _mac(request, bound_to)


def csrf_matches(request: Request, sent: str | None, *, bound_to: str | None) -> bool:
    """Whether a form's ``csrf_token`` is the one of this session (or pre-session): if not, the POST is refused."""
    if not bound_to or not sent:
        return False
    return hmac.compare_digest(sent, _mac(request, bound_to))


def start_session(response: Response, token: str, *, expires_in: int, secure: bool) -> None:
    response.set_cookie(
        SESSION_COOKIE, token, httponly=True, secure=secure, samesite="strict", path="/console", max_age=expires_in
    )


def end_session(response: Response, *, secure: bool) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/console", secure=secure, httponly=True, samesite="strict")


async def principal_of_session(request: Request) -> Principal | None:
    """Who the session cookie names, verified as ``shared.auth`` verifies a bearer token (None: no valid session)."""
    token = session_token(request)
    if token is None or len(token) > 8000:
        return None
    probe = Request({"type": "http", "app": request.app, "headers": [(b"authorization", f"Bearer {token}".encode())]})
    try:
        return await identify(probe)
    except (InvalidCredentials, UnicodeEncodeError):
        return None
