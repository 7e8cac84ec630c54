"""Intake's HTTP API: submit an inquiry, read one. Every route passes ``shared.http.authorize`` (set on the app)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Request, Response
from pydantic import BaseModel, Field

from services.intake import handlers
from services.intake.domain import Assignment, Inquiry, NewSubmission
from services.intake.unit_of_work import PostgresIntakeUnitOfWork
from shared.clock import Clock
from shared.contracts.inquiries import InquiryRef, InquirySubmission, ParentContact, Student, SubmitterId
from shared.http import Problem, context_of, correlation_id_of
from shared.service import ServiceRuntime

router = APIRouter(prefix="/v1", tags=["inquiries"])


@dataclass
class IntakeContext:
    """What intake's routes need, set on ``app.state.context`` by the composition root once the runtime is up."""

    runtime: ServiceRuntime
    clock: Clock
    reference_prefix: str

    def unit_of_work(self) -> PostgresIntakeUnitOfWork:
        return self.runtime.unit_of_work(PostgresIntakeUnitOfWork)


def _context(request: Request) -> IntakeContext:
    return context_of(request, IntakeContext)


Context = Annotated[IntakeContext, Depends(_context)]


class InquiryView(BaseModel):
    id: UUID
    reference: str = Field(description="Reference number given to the parent")
    status: str
    category: str
    channel: str
    description: str
    parent: ParentContact
    student: Student
    submitted_by: str | None
    source: str = Field(description="'http' or 'kafka': which door it came in by")
    correlation_id: str
    created_at: datetime
    updated_at: datetime
    assignment: Assignment | None = Field(description="Who has it; null until routing has decided")

    @classmethod
    def of(cls, inquiry: Inquiry) -> InquiryView:
        s = inquiry.submission
        return cls(
            id=inquiry.id,
            reference=inquiry.reference,
            status=inquiry.status,
            category=s.category.value,
            channel=s.channel.value,
            description=s.description,
            parent=s.parent,
            student=s.student,
            submitted_by=s.submitted_by,
            source=inquiry.source,
            correlation_id=inquiry.correlation_id,
            created_at=inquiry.created_at,
            updated_at=inquiry.updated_at,
            assignment=inquiry.assignment,
        )


@router.post(
    "/inquiries",
    status_code=201,
    response_model=InquiryView,
    responses={
        200: {"model": InquiryView, "description": "Replay: this Idempotency-Key already created the inquiry"},
        409: {"model": Problem, "description": "This Idempotency-Key was used for a different submission"},
    },
    summary="Record a parent's inquiry",
)
async def submit_inquiry(
    body: InquirySubmission,
    ctx: Context,
    request: Request,
    response: Response,
    idempotency_key: Annotated[SubmitterId | None, Header(alias="Idempotency-Key")] = None,
) -> InquiryView:
    new = NewSubmission(
        submission=body, source="http", correlation_id=correlation_id_of(request), idempotency_key=idempotency_key
    )
    async with ctx.unit_of_work() as uow:
        (outcome,) = await handlers.record_submissions(
            uow, [new], now=ctx.clock.now(), reference_prefix=ctx.reference_prefix
        )
    if isinstance(outcome, handlers.Created):
        response.headers["Location"] = f"/v1/inquiries/{outcome.inquiry.id}"
        return InquiryView.of(outcome.inquiry)
    if isinstance(outcome, handlers.KeyReused):
        raise HTTPException(409, "Idempotency-Key was used before for a different submission")
    response.status_code = 200
    return await _found(ctx, str(outcome.inquiry_id))


@router.get(
    "/inquiries/{inquiry}",
    response_model=InquiryView,
    responses={404: {"model": Problem}},
    summary="Read an inquiry by id or by reference number",
)
async def get_inquiry(
    inquiry: Annotated[InquiryRef, Path(description="Reference number ('PSC-26-000123', any case) or id")],
    ctx: Context,
) -> InquiryView:
    return await _found(ctx, inquiry)


async def _found(ctx: IntakeContext, id_or_reference: str) -> InquiryView:
    async with ctx.unit_of_work() as uow:
        found = await handlers.find_inquiry(uow, id_or_reference)
    if found is None:
        raise HTTPException(404, "no such inquiry")
    return InquiryView.of(found)
