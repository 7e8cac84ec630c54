"""Intake's HTTP API: submit an inquiry, read one. Every route passes ``shared.http.authorize`` (set on the app)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Header, HTTPException, Request, Response
from pydantic import BaseModel, Field

from services.intake import repository
from services.intake.domain import Inquiry, NewSubmission
from services.intake.handlers import Created, KeyReused, Replayed, record_submissions
from shared.contracts.inquiries import InquirySubmission, ParentContact, Student
from shared.db.unit_of_work import UnitOfWork
from shared.http import Problem, correlation_id_of

router = APIRouter(prefix="/v1", tags=["inquiries"])


class AssignmentView(BaseModel):
    network_id: str = Field(description="Directory id of the network office, or 'central'")
    network_name: str = Field(description="e.g. 'Network 4', or 'Parent Support Center'")
    queue: str = Field(description="'network' or 'central'")
    tier: str = Field(description="Escalation tier holding the inquiry: network, psa or central")
    assigned_at: datetime
    due_at: datetime | None = Field(description="When it escalates if not resolved")


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
    assignment: AssignmentView | None = Field(description="Who has it; null until routing has decided")

    @classmethod
    def of(cls, inquiry: Inquiry) -> InquiryView:
        s = inquiry.submission
        a = inquiry.assignment
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
            assignment=AssignmentView(**a.__dict__) if a else None,
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
    request: Request,
    response: Response,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)] = None,
) -> InquiryView:
    ctx = request.app.state.intake
    new = NewSubmission(
        submission=body, source="http", correlation_id=correlation_id_of(request), idempotency_key=idempotency_key
    )
    async with UnitOfWork(ctx.runtime.pool, on_commit=ctx.runtime.relay.wake) as uow:
        (outcome,) = await record_submissions(uow, [new], clock=ctx.clock, reference_prefix=ctx.reference_prefix)
    if isinstance(outcome, Created):
        response.headers["Location"] = f"/v1/inquiries/{outcome.inquiry.id}"
        return InquiryView.of(outcome.inquiry)
    if isinstance(outcome, KeyReused):
        raise HTTPException(409, "Idempotency-Key was used before for a different submission")
    assert isinstance(outcome, Replayed)
    response.status_code = 200
    return await _load(request, outcome.inquiry_id)


@router.get(
    "/inquiries/{inquiry}",
    response_model=InquiryView,
    responses={404: {"model": Problem}},
    summary="Read an inquiry by id or by reference number",
)
async def get_inquiry(inquiry: str, request: Request) -> InquiryView:
    try:
        return await _load(request, UUID(inquiry))
    except ValueError:
        return await _load(request, None, reference=inquiry.upper())


async def _load(request: Request, inquiry_id: UUID | None, *, reference: str | None = None) -> InquiryView:
    async with request.app.state.intake.runtime.pool.acquire() as conn:
        found = await repository.get_inquiry(conn, inquiry_id=inquiry_id, reference=reference)
    if found is None:
        raise HTTPException(404, "no such inquiry")
    return InquiryView.of(found)
