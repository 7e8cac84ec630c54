"""Intake's access routes: staff sign in (``POST /v1/auth/token``, the OAuth2 password form) and auditors read the
audit log (``GET /v1/audit``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, StringConstraints

from services.intake import access, handlers
from services.intake.access_repository import AuditEntry, AuditQuery, PostgresAccessUnitOfWork
from services.intake.api import Context
from shared.auth import PUBLIC, AuthSettings, Credentials, Role, require_role
from shared.contracts.inquiries import InquiryRef
from shared.contracts.text import STORABLE
from shared.http import Problem

router = APIRouter(prefix="/v1")

Username = Annotated[str, StringConstraints(min_length=1, max_length=200), STORABLE]
Password = Annotated[str, StringConstraints(min_length=1, max_length=1000), STORABLE]
Scopes = Annotated[str, StringConstraints(max_length=1000), STORABLE]


def auth_settings(request: Request) -> AuthSettings:
    credentials: Credentials = request.app.state.credentials
    return credentials.settings


def _aware(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


class Token(BaseModel):
    access_token: str = Field(description="Send it as Authorization: Bearer <access_token>")
    token_type: str = Field("bearer")
    expires_in: int = Field(description="Seconds it lasts")


@router.post(
    "/auth/token",
    response_model=Token,
    dependencies=[PUBLIC],
    tags=["access"],
    summary="Sign in: a staff member's username and password for a short-lived bearer token",
    responses={
        401: {"model": Problem, "description": "Wrong username or password, or the account is disabled"},
        429: {"model": Problem, "description": "Too many failed sign-ins for this username or client: see Retry-After"},
        503: {"model": Problem, "description": "Sign-in is not configured here (no PSC_AUTH_SIGNING_KEY)"},
    },
)
async def sign_in(
    ctx: Context,
    request: Request,
    username: Annotated[Username, Form(description="The staff id")],
    password: Annotated[Password, Form()],
    grant_type: Annotated[str | None, Form(pattern="^password$")] = None,
    scope: Annotated[Scopes, Form(description="Ignored: a token carries the staff member's role")] = "",
) -> Token | JSONResponse:
    settings = auth_settings(request)
    if not settings.signing_key.get_secret_value():
        raise HTTPException(503, "sign-in is not configured here (PSC_AUTH_SIGNING_KEY is not set)")
    client = request.client.host if request.client else "unknown"
    async with ctx.runtime.unit_of_work(PostgresAccessUnitOfWork) as uow:
        outcome = await access.sign_in(
            uow, username=username, password=password, client=client, settings=settings, now=datetime.now(UTC)
        )
    if isinstance(outcome, access.SignInLimited):
        return JSONResponse(
            status_code=429,
            content={"detail": "too many failed sign-ins: try again later"},
            headers={"Retry-After": str(outcome.retry_after)},
        )
    if isinstance(outcome, access.SignInRefused):
        raise HTTPException(401, "wrong username or password", headers={"WWW-Authenticate": "Bearer"})
    return Token(access_token=outcome.token, expires_in=outcome.expires_in)


class AuditView(BaseModel):
    id: int
    at: datetime = Field(description="When the read happened")
    actor_id: str = Field(description="Staff id, or the API key's name")
    actor_kind: str = Field(description="'staff' or 'api_key'")
    actor_role: str | None
    inquiry_id: UUID
    action: str = Field(
        description="What was read: 'inquiry' (the inquiry, or what a staff action answered), 'history' (its history)"
    )
    correlation_id: str

    @classmethod
    def of(cls, entry: AuditEntry) -> AuditView:
        return cls(**entry.__dict__)


class AuditPage(BaseModel):
    entries: list[AuditView] = Field(description="Newest first")
    next_cursor: int | None = Field(description="Pass as cursor for the next page; null on the last")


@router.get(
    "/audit",
    response_model=AuditPage,
    dependencies=[Depends(require_role(Role.AUDITOR, Role.CENTRAL_STAFF))],
    tags=["access"],
    summary="Who read which inquiry's personal data and when (auditors and central staff)",
)
async def audit_log(
    ctx: Context,
    staff_id: Annotated[Username | None, Query(description="Only this staff member's (or API key's) reads")] = None,
    inquiry: Annotated[InquiryRef | None, Query(description="Only reads of this inquiry (id or reference)")] = None,
    since: Annotated[datetime | None, Query(description="From this time (inclusive)")] = None,
    until: Annotated[datetime | None, Query(description="Until this time (exclusive)")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[int | None, Query(ge=1, le=2**62, description="next_cursor of the page before")] = None,
) -> AuditPage:
    inquiry_id: UUID | None = None
    if inquiry is not None:
        async with ctx.unit_of_work() as uow:
            found = await handlers.find_inquiry(uow, inquiry)
        if found is None:
            return AuditPage(entries=[], next_cursor=None)
        inquiry_id = found.id
    query = AuditQuery(
        actor_id=staff_id,
        inquiry_id=inquiry_id,
        since=_aware(since),
        until=_aware(until),
        before_id=cursor,
        limit=limit + 1,
    )
    async with ctx.runtime.unit_of_work(PostgresAccessUnitOfWork) as access_uow:
        entries = await access_uow.access.audit(query)
    page = entries[:limit]
    return AuditPage(
        entries=[AuditView.of(entry) for entry in page], next_cursor=page[-1].id if len(entries) > limit else None
    )
