"""Intake's HTTP API: submit an inquiry, read one, the staff queue, staff actions on a case and its history. Every
route passes ``shared.http.authorize`` (set on the app)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal, Protocol
from uuid import UUID

import httpx
from fastapi import APIRouter, Depends, Header, HTTPException, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints

from services.intake import handlers, lifecycle
from services.intake.domain import Assignment, HistoryEntry, Inquiry, Link, NewSubmission, QueueFilter
from services.intake.lifecycle import Status
from services.intake.unit_of_work import PostgresIntakeUnitOfWork
from shared import auth
from shared.auth import Principal, Scope, require_scope
from shared.clock import Clock
from shared.contracts.envelope import FieldError
from shared.contracts.inquiries import (
    InquiryCategory,
    InquiryRef,
    InquirySubmission,
    ParentContact,
    Student,
    SubmitterId,
)
from shared.contracts.text import STORABLE, LongText
from shared.http import Problem, ValidationProblem, context_of, correlation_id_of
from shared.service import ServiceRuntime

router = APIRouter(prefix="/v1", tags=["inquiries"])


@dataclass
class IntakeContext:
    """What intake's routes need, set on ``app.state.context`` by the composition root once the runtime is up."""

    runtime: ServiceRuntime
    clock: Clock
    reference_prefix: str
    policy: handlers.Policy | None = None
    routing: httpx.AsyncClient | None = None
    """Routing's HTTP API (reassignments)."""
    on_commit: Callable[[], None] | None = None
    """Called after a staff action commits (wakes the closing sweep)."""

    def unit_of_work(self) -> PostgresIntakeUnitOfWork:
        return self.runtime.unit_of_work(PostgresIntakeUnitOfWork)


def _context(request: Request) -> IntakeContext:
    return context_of(request, IntakeContext)


Context = Annotated[IntakeContext, Depends(_context)]


# --- Who asks ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    """Who asks and which networks' inquiries they may see (an inquiry of another network answers 404)."""

    principal: Principal

    @property
    def id(self) -> str:
        return self.principal.id

    @property
    def network_ids(self) -> frozenset[str] | None:
        """The networks the caller may list (None: all)."""
        p = self.principal
        return None if p.district_wide else frozenset({p.network_id} if p.network_id else ())

    def sees(self, inquiry: Inquiry) -> bool:
        return self.principal.sees_network(inquiry.assignment.network_id if inquiry.assignment else None)


class _AuditLog(Protocol):
    async def record_read(
        self, principal: Principal, inquiry_ids: Sequence[UUID], *, action: str, at: datetime, correlation_id: str
    ) -> None: ...


async def _reader(principal: Annotated[Principal, Depends(require_scope(Scope.READ))]) -> Caller:
    return Caller(principal)


async def _actor(principal: auth.Actor) -> Caller:
    return Caller(principal)


Reader = Annotated[Caller, Depends(_reader)]
"""Staff (any role) or a district system with the inquiries:read scope."""
Actor = Annotated[Caller, Depends(_actor)]
"""Staff who may act on cases (not auditors)."""


async def _audit(ctx: IntakeContext, request: Request, caller: Caller, inquiry_id: UUID, action: str) -> None:
    """Record that the caller read this inquiry's personal data (who, which, when), before it is answered."""
    log: _AuditLog | None = getattr(request.app.state, "staff_directory", None)
    if log is not None and hasattr(log, "record_read"):
        await log.record_read(
            caller.principal, [inquiry_id], action=action, at=ctx.clock.now(), correlation_id=correlation_id_of(request)
        )


class LinkView(BaseModel):
    inquiry_id: UUID = Field(description="The other inquiry")
    relation: str = Field(
        description="Seen from this inquiry: 'duplicate_of', 'likely_duplicate_of', 'follow_up_of' (this one links"
        " to the other), or 'has_duplicate', 'has_likely_duplicate', 'has_follow_up' (the other links to this one)"
    )
    by: str = Field(description="Staff id, or 'intake' for a likely duplicate found at submission")
    created_at: datetime

    @classmethod
    def of(cls, inquiry_id: UUID, link: Link) -> LinkView:
        if link.inquiry_id == inquiry_id:
            return cls(
                inquiry_id=link.linked_inquiry_id, relation=link.relation, by=link.by, created_at=link.created_at
            )
        inverse = {"duplicate_of": "has_duplicate", "likely_duplicate_of": "has_likely_duplicate"}
        relation = inverse.get(link.relation, "has_follow_up")
        return cls(inquiry_id=link.inquiry_id, relation=relation, by=link.by, created_at=link.created_at)


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
    resolved_at: datetime | None = Field(None, description="When it was resolved; null unless resolved or closed")
    reopen_until: datetime | None = Field(
        None, description="A resolved inquiry can be reopened until then; after, it closes by itself"
    )
    links: list[LinkView] = Field(
        default_factory=list, description="Inquiries linked to this one, either way (never merged)"
    )

    @classmethod
    def of(cls, inquiry: Inquiry, links: list[Link] | None = None) -> InquiryView:
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
            resolved_at=inquiry.resolved_at,
            reopen_until=inquiry.close_due_at,
            links=[LinkView.of(inquiry.id, link) for link in links or []],
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
    dependencies=[Depends(require_scope(Scope.SUBMIT))],
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
    caller: Reader,
    request: Request,
) -> InquiryView:
    return await _found(ctx, inquiry, caller, request)


async def _found(
    ctx: IntakeContext,
    id_or_reference: str,
    caller: Caller | None = None,
    request: Request | None = None,
    *,
    check_visible: bool = True,
) -> InquiryView:
    """The inquiry with its links; with a caller, 404 unless they may see it, and the read is audit-logged.
    (A follow-up a caller just opened from an inquiry they see is theirs to see before routing has assigned it.)"""
    async with ctx.unit_of_work() as uow:
        found = await handlers.find_inquiry(uow, id_or_reference)
        if found is None or (caller is not None and check_visible and not caller.sees(found)):
            raise HTTPException(404, "no such inquiry")
        links = await handlers.links(uow, found.id)
    if caller is not None and request is not None:
        await _audit(ctx, request, caller, found.id, "inquiry")
    return InquiryView.of(found, links)


# --- The staff queue ---------------------------------------------------------------------------------------------


class InquirySummary(BaseModel):
    """A row of the queue: no parent's personal data (open the inquiry for that)."""

    id: UUID
    reference: str
    status: Status
    category: str
    school_id: int
    grade: str
    urgency: str
    network_id: str | None
    network_name: str | None
    tier: str | None
    assignee_id: str | None
    due_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, inquiry: Inquiry) -> InquirySummary:
        s, a = inquiry.submission, inquiry.assignment
        return cls(
            id=inquiry.id,
            reference=inquiry.reference,
            status=inquiry.status,
            category=s.category.value,
            school_id=s.student.school_id,
            grade=s.student.grade,
            urgency=s.urgency,
            network_id=a.network_id if a else None,
            network_name=a.network_name if a else None,
            tier=a.tier if a else None,
            assignee_id=a.assignee_id if a else None,
            due_at=a.due_at if a else None,
            created_at=inquiry.created_at,
            updated_at=inquiry.updated_at,
        )


class InquiryPage(BaseModel):
    items: list[InquirySummary]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null on the last page")


def _cursor(inquiry: Inquiry) -> str:
    return base64.urlsafe_b64encode(f"{inquiry.created_at.isoformat()}|{inquiry.id}".encode()).decode()


def _parse_cursor(cursor: str) -> tuple[datetime, UUID] | None:
    try:
        at, _, inquiry_id = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        parsed = datetime.fromisoformat(at), UUID(inquiry_id)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    return parsed if parsed[0].tzinfo is not None else None


Cursor = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_=-]+$")]
ReferenceSearch = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40, pattern=r"^[A-Za-z0-9-]+$")
]
NetworkId = Annotated[str, StringConstraints(min_length=1, max_length=64), STORABLE]


def _invalid(field: str, reason: str) -> JSONResponse:
    problem = ValidationProblem(errors=[FieldError(field=field, reason=reason)])
    return JSONResponse(status_code=422, content=problem.model_dump())


@router.get(
    "/inquiries",
    response_model=InquiryPage,
    summary="The staff queue: inquiries newest first, filtered, a page at a time",
)
async def list_inquiries(
    ctx: Context,
    caller: Reader,
    status: Annotated[Status | None, Query(description="Only inquiries in this status")] = None,
    network_id: Annotated[NetworkId | None, Query(description="Only this network's (or 'central')")] = None,
    category: Annotated[InquiryCategory | None, Query(description="Only this category")] = None,
    school_id: Annotated[int | None, Query(ge=100000, le=999999, description="Only this school's")] = None,
    reference: Annotated[ReferenceSearch | None, Query(description="Reference numbers starting with this")] = None,
    limit: Annotated[int, Query(ge=1, le=200, description="Rows per page")] = 50,
    cursor: Annotated[Cursor | None, Query(description="next_cursor of the page before")] = None,
) -> InquiryPage | JSONResponse:
    before = None
    if cursor is not None:
        before = _parse_cursor(cursor)
        if before is None:
            return _invalid("cursor", "is not a cursor this API gave")
    where = QueueFilter(
        status=status,
        network_id=network_id,
        network_ids=caller.network_ids,
        category=category.value if category else None,
        school_id=school_id,
        reference=reference.upper() if reference else None,
        before=before,
    )
    async with ctx.unit_of_work() as uow:
        rows = await handlers.queue(uow, where, limit=limit + 1)
    page = rows[:limit]
    next_cursor = _cursor(page[-1]) if len(rows) > limit else None
    return InquiryPage(items=[InquirySummary.of(i) for i in page], next_cursor=next_cursor)


# --- Staff actions -----------------------------------------------------------------------------------------------


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AcknowledgeBody(_Body):
    """Nothing to say: ``{}``."""


class NoteBody(_Body):
    text: LongText = Field(description="The note; stays in intake (never in an event or a log)")
    visible_to_parent: StrictBool = Field(False, description="True: the parent reads it on the status page")


class RequestInfoBody(_Body):
    question: LongText = Field(description="What the parent is asked for, written to the parent (notify sends it)")


class ParentReplyBody(_Body):
    reply: LongText = Field(description="The parent's answer as staff recorded it (for staff only)")


class ResolveBody(_Body):
    summary: LongText = Field(description="How it was resolved, written to the parent (notify sends it)")


class ReopenBody(_Body):
    reason: LongText = Field(
        description="Why it is reopened (for staff); past the reopen window, the description of the follow-up"
    )


StaffId = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern="^[a-z0-9][a-z0-9._-]*$")]


class ReassignBody(_Body):
    staff_id: StaffId = Field(description="An active staff member of the inquiry's network and tier role")


class LinkBody(_Body):
    duplicate_of: InquiryRef = Field(description="The inquiry this one duplicates: its reference or id")


class RoutingRefused(Exception):
    def __init__(self, status_code: int, reason: str) -> None:
        super().__init__(reason)
        self.status_code = status_code


class HttpRouting:
    """Routing's ``PUT /v1/inquiries/{id}/assignee``, called with the caller's own credentials: routing owns
    assignees, their loads and the clocks, decides, and announces ``inquiry.reassigned``, which intake follows."""

    def __init__(self, client: httpx.AsyncClient, authorization: str | None) -> None:
        self._client = client
        self._headers = {"Authorization": authorization} if authorization else {}

    async def reassign(self, inquiry_id: UUID, staff_id: str) -> None:
        try:
            answer = await self._client.put(
                f"/v1/inquiries/{inquiry_id}/assignee", json={"staff_id": staff_id}, headers=self._headers
            )
        except httpx.HTTPError:
            raise RoutingRefused(503, "routing cannot be reached; try again") from None
        if answer.status_code == 200:
            return
        if answer.status_code == 404:
            raise RoutingRefused(409, "routing has not assigned this inquiry yet")
        if answer.status_code in (409, 422):
            raise RoutingRefused(409, f"routing refused: {_detail(answer)}")
        if answer.status_code in (401, 403):
            raise RoutingRefused(403, "routing refused this caller's reassignment")
        raise RoutingRefused(503, "routing could not reassign; try again")


def _detail(answer: httpx.Response) -> str:
    try:
        detail = answer.json().get("detail")
    except ValueError:
        return "no reason given"
    return detail if isinstance(detail, str) else "the staff member cannot take this inquiry"


InquiryPath = Annotated[InquiryRef, Path(description="Reference number ('PSC-26-000123', any case) or id")]
IdempotencyKey = Annotated[
    SubmitterId | None,
    Header(alias="Idempotency-Key", description="The same key and request apply once; a retry gets the same answer"),
]
_ACTION_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "description": "No such inquiry (or one of a network the caller does not see)"},
    409: {
        "model": Problem,
        "description": "Not allowed in the inquiry's status (the reason names both), or the Idempotency-Key was"
        " used for another request",
    },
}


async def _act(
    ctx: IntakeContext,
    request: Request,
    response: Response,
    inquiry: str,
    action: handlers.StaffAction,
    caller: Caller,
    key: str | None,
) -> InquiryView | JSONResponse:
    assert ctx.policy is not None
    routing = HttpRouting(ctx.routing, request.headers.get("Authorization")) if ctx.routing else None
    try:
        async with ctx.unit_of_work() as uow:
            acted = await handlers.act(
                uow,
                inquiry,
                action,
                by=caller.id,
                now=ctx.clock.now(),
                correlation_id=correlation_id_of(request),
                policy=ctx.policy,
                idempotency_key=key,
                may_see=caller.sees,
                routing=routing,
                directory=getattr(request.app.state, "staff_directory", None),
            )
    except handlers.NotFound:
        raise HTTPException(404, "no such inquiry") from None
    except lifecycle.Refused as refused:
        raise HTTPException(409, str(refused)) from None
    except handlers.ActionKeyReused:
        raise HTTPException(409, "Idempotency-Key was used before for a different request") from None
    except handlers.Invalid as invalid:
        return _invalid(invalid.field, invalid.reason)
    except RoutingRefused as refused:
        raise HTTPException(refused.status_code, str(refused)) from None
    if ctx.on_commit is not None:
        ctx.on_commit()
    if acted.follow_up is not None:
        response.status_code = 201 if acted.follow_up_made else 200
        response.headers["Location"] = f"/v1/inquiries/{acted.follow_up.id}"
        return await _found(ctx, str(acted.follow_up.id), caller, request, check_visible=False)
    return await _found(ctx, str(acted.inquiry.id), caller, request)


def _action_route(
    path: str,
    body_type: type[_Body],
    action_of: Callable[[Any], handlers.StaffAction],
    summary: str,
    extra: dict[int | str, dict[str, Any]] | None = None,
) -> None:
    """``POST /v1/inquiries/{inquiry}/<path>`` with a ``body_type`` body, doing ``action_of(body)``."""

    async def endpoint(
        inquiry: InquiryPath,
        body: _Body,
        ctx: Context,
        caller: Actor,
        request: Request,
        response: Response,
        idempotency_key: IdempotencyKey = None,
    ) -> InquiryView | JSONResponse:
        return await _act(ctx, request, response, inquiry, action_of(body), caller, idempotency_key)

    endpoint.__annotations__["body"] = body_type
    endpoint.__name__ = endpoint.__qualname__ = path.replace("-", "_")
    router.post(
        f"/inquiries/{{inquiry}}/{path}",
        response_model=InquiryView,
        responses={**_ACTION_RESPONSES, **(extra or {})},
        tags=["lifecycle"],
        summary=summary,
    )(endpoint)


_action_route(
    "acknowledge",
    AcknowledgeBody,
    lambda _: handlers.Acknowledge(),
    "Acknowledge an assigned inquiry (assigned -> acknowledged): first response given",
)
_action_route(
    "notes",
    NoteBody,
    lambda b: handlers.AddNote(text=b.text, visible_to_parent=b.visible_to_parent),
    "Add a note, internal or visible to the parent (acknowledged -> in_progress)",
)
_action_route(
    "request-info",
    RequestInfoBody,
    lambda b: handlers.RequestInfo(b.question),
    "Ask the parent for information (-> waiting_on_parent): the resolution clock pauses",
)
_action_route(
    "parent-replies",
    ParentReplyBody,
    lambda b: handlers.RecordReply(b.reply),
    "Record the parent's reply (waiting_on_parent -> in_progress)",
)
_action_route(
    "resolve",
    ResolveBody,
    lambda b: handlers.Resolve(b.summary),
    "Resolve with a summary written to the parent (-> resolved); reopenable for the window",
)
_action_route(
    "reopen",
    ReopenBody,
    lambda b: handlers.Reopen(b.reason),
    "Reopen a resolved inquiry (-> in_progress); past the window, a new inquiry linked to it (201)",
    {
        201: {"model": InquiryView, "description": "Past the reopen window: the new inquiry, linked (follow_up_of)"},
        200: {
            "model": InquiryView,
            "description": "The inquiry reopened; past the window, its follow-up made before and still open",
        },
    },
)
_action_route(
    "reassign",
    ReassignBody,
    lambda b: handlers.Reassign(b.staff_id),
    "Give the inquiry to another staff member of its network and tier (routing reassigns; its clocks go on)",
    {503: {"model": Problem, "description": "Routing could not be reached: try again"}},
)
_action_route(
    "link",
    LinkBody,
    lambda b: handlers.LinkDuplicate(b.duplicate_of),
    "Mark the inquiry a duplicate of another (linked, never merged)",
)


# --- History -----------------------------------------------------------------------------------------------------


class HistoryNote(BaseModel):
    note_id: UUID
    kind: str = Field(description="note, question (to the parent), parent_reply, resolution (summary), reopen_reason")
    text: str
    visibility: Literal["parent", "staff"] = Field(description="'parent': the parent sees it; 'staff': internal")
    by: str


class HistoryItem(BaseModel):
    event_id: UUID
    event_type: str = Field(description="e.g. inquiry.acknowledged, inquiry.escalated, notification.sent")
    occurred_at: datetime
    source: Literal["intake", "routing", "notify"]
    by: str | None = Field(description="Staff id for staff actions; null for routing's and notify's events")
    detail: dict[str, Any] = Field(description="The event's own fields (tier, network, channel, reason...)")
    note: HistoryNote | None = Field(description="The text of a note, question, reply, summary or reopen reason")

    @classmethod
    def of(cls, entry: HistoryEntry) -> HistoryItem:
        n = entry.note
        note = (
            HistoryNote(
                note_id=n.id, kind=n.kind, text=n.text, visibility="parent" if n.visible_to_parent else "staff", by=n.by
            )
            if n
            else None
        )
        return cls(
            event_id=entry.event_id,
            event_type=entry.event_type,
            occurred_at=entry.occurred_at,
            source=entry.source,
            by=entry.by,
            detail=dict(entry.detail or {}),
            note=note,
        )


@router.get(
    "/inquiries/{inquiry}/history",
    response_model=list[HistoryItem],
    responses={404: {"model": Problem}},
    tags=["lifecycle"],
    summary="Everything that happened to the case, in order: staff actions, routing's and notify's events",
)
async def get_history(inquiry: InquiryPath, ctx: Context, caller: Reader, request: Request) -> list[HistoryItem]:
    async with ctx.unit_of_work() as uow:
        found = await handlers.find_inquiry(uow, inquiry)
        if found is None or not caller.sees(found):
            raise HTTPException(404, "no such inquiry")
        entries = await handlers.history(uow, found.id)
    await _audit(ctx, request, caller, found.id, "history")
    return [HistoryItem.of(entry) for entry in entries]
