"""The parent's status page, ``GET /v1/status/{reference}``: public (no staff token), answered only with a second
factor the parent holds, and limited per reference and per client across replicas (in PostgreSQL).

An unknown reference and a wrong factor are one answer: the same 404 and body, the same queries and comparisons (see
``services.intake.parents``), and both count against the limits, so neither the answer, its time, nor when a 429 comes
tells whether a reference exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, FastAPI, Path, Query, Request
from fastapi.responses import JSONResponse

from services.intake import parents
from services.intake.api import Context
from services.intake.parents import Factor, Limits, StatusPage
from services.intake.settings import IntakeSettings
from services.intake.unit_of_work import IntakeUnitOfWork
from shared.auth.access import PUBLIC
from shared.contracts.envelope import FieldError
from shared.contracts.inquiries import InquiryRef
from shared.http import Problem, ValidationProblem

router = APIRouter(prefix="/v1", tags=["parents"], dependencies=[PUBLIC])

NOT_FOUND = "no inquiry with this reference and these details"
TOO_MANY = "too many tries: wait Retry-After seconds"
ONE_FACTOR = "give phone_last4 or token (one of them)"
_NO_STORE = {"Cache-Control": "no-store"}


@dataclass(frozen=True)
class Shown:
    page: StatusPage


@dataclass(frozen=True)
class NotShown:
    """An unknown reference or a wrong factor: the same answer."""


@dataclass(frozen=True)
class Limited:
    retry_after: int


async def show_status(
    uow: IntakeUnitOfWork, *, reference: str, factor: Factor, client: str, now: datetime, limits: Limits
) -> Shown | NotShown | Limited:
    """The parent's view of their inquiry if ``factor`` proves it is theirs and no limit is exceeded.

    Every try is counted first (per reference and per client, in PostgreSQL), so concurrent tries on several
    replicas cannot pass a limit together; a proven one is taken back. A proven token is answered even past the
    limits: it cannot be guessed, so a stranger trying phone digits on a reference cannot lock its parent out of the
    link in their acknowledgment.
    """
    window_ends = now + timedelta(seconds=limits.window_seconds)
    keys = [("client", client)]
    counted = await uow.status_pages.count_attempts(keys=keys, now=now, window_ends=window_ends)
    if counted["client"].count <= limits.per_client:
        # A client past its limit adds no rows for the references it makes up (client first, then reference: every
        # replica takes the row locks in the same order).
        keys.append(("reference", parents.reference_key(reference)))
        counted |= await uow.status_pages.count_attempts(keys=keys[1:], now=now, window_ends=window_ends)
    record = await uow.status_pages.parent_record(reference=parents.reference_key(reference))
    proven = parents.proves(record, factor)
    allowed = {"reference": limits.per_reference, "client": limits.per_client}
    over = [attempts for scope, attempts in counted.items() if attempts.count > allowed[scope]]
    if record is not None and proven and (not over or factor.token is not None):
        await uow.status_pages.take_back(keys=keys)
        notes = await uow.inquiries.visible_notes(inquiry_id=record.inquiry_id)
        return Shown(parents.status_page(parents.with_notes(record, notes)))
    await uow.status_pages.prune_attempts(now=now)
    wait = parents.retry_after(over, now=now)
    return NotShown() if wait is None else Limited(wait)


PhoneLast4 = Annotated[
    str | None,
    Query(pattern=r"^[0-9]{4}$", description="The last four digits of the mobile phone given with the inquiry"),
]
StatusToken = Annotated[
    str | None,
    Query(
        min_length=20,
        max_length=100,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="The token from the link in the parent's acknowledgment",
    ),
]


@router.get(
    "/status/{reference}",
    response_model=StatusPage,
    responses={
        404: {"model": Problem, "description": "No inquiry with this reference, or the factor does not match it"},
        429: {"model": Problem, "description": "Too many failed tries of this reference or from this client"},
    },
    summary="The parent's status page: where their inquiry stands (public, with a second factor)",
)
async def status_of(
    reference: Annotated[InquiryRef, Path(description="The reference number the parent was given ('PSC-26-000123')")],
    ctx: Context,
    request: Request,
    phone_last4: PhoneLast4 = None,
    token: StatusToken = None,
) -> JSONResponse:
    if (phone_last4 is None) == (token is None):
        refused = ValidationProblem(errors=[FieldError(field="phone_last4", reason=ONE_FACTOR)])
        return JSONResponse(status_code=422, content=refused.model_dump(), headers=_NO_STORE)
    limits: Limits = request.app.state.status_limits
    client = parents.client_key(request.client.host if request.client else None)
    async with ctx.unit_of_work() as uow:
        outcome = await show_status(
            uow,
            reference=reference,
            factor=Factor(phone_last4=phone_last4, token=token),
            client=client,
            now=ctx.clock.now(),
            limits=limits,
        )
    if isinstance(outcome, Shown):
        return JSONResponse(content=outcome.page.model_dump(mode="json"), headers=_NO_STORE)
    if isinstance(outcome, Limited):
        headers = {**_NO_STORE, "Retry-After": str(outcome.retry_after)}
        return JSONResponse(status_code=429, content=Problem(detail=TOO_MANY).model_dump(), headers=headers)
    return JSONResponse(status_code=404, content=Problem(detail=NOT_FOUND).model_dump(), headers=_NO_STORE)


def install(app: FastAPI, settings: IntakeSettings) -> None:
    """Serve the status page on ``app`` with the limits of ``settings``."""
    app.state.status_limits = Limits(
        per_reference=settings.status_max_failures_per_reference,
        per_client=settings.status_max_failures_per_client,
        window_seconds=settings.status_failure_window_seconds,
    )
    app.include_router(router)
