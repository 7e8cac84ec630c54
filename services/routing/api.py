"""Routing's HTTP API: the directory (networks, schools, staff), where an inquiry is and its SLA clocks, a network's
queue, the calendar (and emergency closures), the policies, and a new school list. Every route passes
``shared.http.authorize`` (set on the app)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, StrictBool, StringConstraints

from services.routing import handlers
from services.routing.clocks import CLOCKS, Assignment
from services.routing.deadlines import DeadlineWorker
from services.routing.directory import NetworkSummary, School
from services.routing.domain import HistoryEntry
from services.routing.files import schools_or_problems
from services.routing.policies import Rules
from services.routing.staff import Staff, network_rule_problem
from services.routing.unit_of_work import PostgresRoutingUnitOfWork
from shared.auth import Actor, CentralStaff, Public
from shared.auth import Staff as SignedInStaff
from shared.clock import Clock
from shared.contracts.envelope import FieldError
from shared.contracts.inquiries import Urgency
from shared.contracts.routing import SlaClockName, StaffRole, Tier
from shared.contracts.text import STORABLE, Email, IsoDate, ShortText
from shared.http import Problem, ValidationProblem, context_of
from shared.service import ServiceRuntime

router = APIRouter(prefix="/v1", tags=["directory"])


@dataclass
class RoutingContext:
    """What routing's routes need, set on ``app.state.context`` by the composition root once the runtime is up."""

    runtime: ServiceRuntime
    clock: Clock
    rules: Rules
    deadlines: DeadlineWorker

    def unit_of_work(self) -> PostgresRoutingUnitOfWork:
        return self.runtime.unit_of_work(PostgresRoutingUnitOfWork)


def _context(request: Request) -> RoutingContext:
    return context_of(request, RoutingContext)


Context = Annotated[RoutingContext, Depends(_context)]


class NetworkView(BaseModel):
    id: str
    name: str
    kind: str
    schools: int

    @classmethod
    def of(cls, network: NetworkSummary) -> NetworkView:
        return cls.model_validate(network, from_attributes=True)


class SchoolView(BaseModel):
    id: int
    short_name: str
    long_name: str
    network_id: str | None
    network_name: str | None

    @classmethod
    def of(cls, school: School) -> SchoolView:
        return cls(
            id=school.id,
            short_name=school.short_name,
            long_name=school.long_name,
            network_id=school.network.id if school.network else None,
            network_name=school.network.name if school.network else None,
        )


class AssignmentView(BaseModel):
    inquiry_id: UUID
    category: str
    school_id: int
    network_id: str
    network_name: str
    queue: str
    tier: str
    reason: str
    assigned_at: datetime
    due_at: datetime | None
    urgency: Urgency
    assignee_id: str | None
    status: str

    @classmethod
    def of(cls, assignment: Assignment) -> AssignmentView:
        return cls(
            inquiry_id=assignment.inquiry_id,
            category=assignment.category,
            school_id=assignment.school_id,
            network_id=assignment.network.id,
            network_name=assignment.network.name,
            queue=assignment.queue,
            tier=assignment.tier,
            reason=assignment.reason,
            assigned_at=assignment.assigned_at,
            due_at=assignment.due_at,
            urgency=assignment.urgency,
            assignee_id=assignment.assignee_id,
            status=assignment.status,
        )


@router.get("/networks", response_model=list[NetworkView], summary="Network offices and how many schools each serves")
async def list_networks(ctx: Context, _: Public) -> list[NetworkView]:
    async with ctx.unit_of_work() as uow:
        networks = await handlers.list_networks(uow)
    return [NetworkView.of(network) for network in networks]


@router.get("/schools/{school_id}", response_model=SchoolView, responses={404: {"model": Problem}})
async def get_school(school_id: Annotated[int, Path(ge=100000, le=999999)], ctx: Context, _: Public) -> SchoolView:
    async with ctx.unit_of_work() as uow:
        school = await handlers.find_school(uow, school_id)
    if school is None:
        raise HTTPException(404, "no such school in the directory")
    return SchoolView.of(school)


@router.get(
    "/assignments/{inquiry_id}",
    response_model=AssignmentView,
    responses={404: {"model": Problem}},
    tags=["assignments"],
)
async def get_assignment(inquiry_id: UUID, ctx: Context, _: SignedInStaff) -> AssignmentView:
    async with ctx.unit_of_work() as uow:
        assignment = await handlers.find_assignment(uow, inquiry_id)
    if assignment is None:
        raise HTTPException(404, "routing has not assigned this inquiry")
    return AssignmentView.of(assignment)


# -- The operators' views -------------------------------------------------------------------------------------------


class ClockView(BaseModel):
    name: SlaClockName
    target_seconds: int = Field(description="Business seconds this tier has on this clock")
    elapsed_seconds: int = Field(description="Business seconds counted so far in this tier")
    left_seconds: int = Field(description="Business seconds left (negative once past)")
    state: Literal["running", "paused", "stopped"]
    warned: bool = Field(description="Whether this tier's warning went out")
    due_at: datetime | None = Field(description="When it runs out if it keeps running; null while paused or stopped")


class HistoryView(BaseModel):
    event_type: str
    tier: Tier
    occurred_at: datetime
    clock: SlaClockName | None
    to_tier: Tier | None
    network_id: str | None
    assignee_id: str | None
    due_at: datetime | None
    detail: str | None

    @classmethod
    def of(cls, entry: HistoryEntry) -> HistoryView:
        # The same names as the domain's entry: read by attribute rather than copied field by field.
        return cls.model_validate(entry, from_attributes=True)


class RoutingStateView(AssignmentView):
    tier_started_at: datetime | None
    next_due_at: datetime | None = Field(description="When the next warning, escalation or breach fires")
    breached_at: datetime | None
    paused: bool = Field(description="The resolution clock is paused (waiting on the parent)")
    clocks: list[ClockView]
    history: list[HistoryView] = Field(description="Warnings, escalations, breaches, moved deadlines, reroutes")


def _clocks(assignment: Assignment, rules: Rules, now: datetime) -> list[ClockView]:
    views = []
    for name in CLOCKS:
        clock = assignment.clock(name)
        if clock is None:
            continue
        elapsed = clock.elapsed_at(rules.calendar, now)
        views.append(
            ClockView(
                name=name,
                target_seconds=clock.target,
                elapsed_seconds=elapsed,
                left_seconds=clock.target - elapsed,
                state="stopped" if clock.stopped else "running" if clock.running else "paused",
                warned=clock.warned,
                due_at=clock.due(rules.calendar),
            )
        )
    return views


@router.get(
    "/inquiries/{inquiry_id}/routing",
    response_model=RoutingStateView,
    responses={404: {"model": Problem}},
    tags=["assignments"],
    summary="An inquiry's routing state: network, tier, assignee, each clock with business time left, history",
)
async def get_routing_state(inquiry_id: UUID, ctx: Context, _: SignedInStaff) -> RoutingStateView:
    async with ctx.unit_of_work() as uow:
        found = await handlers.routing_state(uow, inquiry_id, rules=ctx.rules)
    if found is None:
        raise HTTPException(404, "routing has not assigned this inquiry")
    assignment, history, rules = found
    base = AssignmentView.of(assignment)
    return RoutingStateView(
        **base.model_dump(),
        tier_started_at=assignment.tier_started_at,
        next_due_at=assignment.next_due_at,
        breached_at=assignment.breached_at,
        paused=assignment.paused,
        clocks=_clocks(assignment, rules, ctx.clock.now()),
        history=[HistoryView.of(entry) for entry in history],
    )


class QueueItemView(BaseModel):
    inquiry_id: UUID
    category: str
    urgency: Urgency
    tier: Tier
    assignee_id: str | None
    due_at: datetime | None
    left_seconds: int | None = Field(description="Business seconds left on the tier; null while its clocks are paused")


@router.get(
    "/networks/{network_id}/queue",
    response_model=list[QueueItemView],
    tags=["assignments"],
    summary="A network's open inquiries, least business time left first (paused ones last)",
)
async def get_network_queue(
    network_id: Annotated[str, Path(min_length=1, max_length=64, pattern="^[a-z0-9-]+$")],
    ctx: Context,
    _: SignedInStaff,
) -> list[QueueItemView]:
    async with ctx.unit_of_work() as uow:
        rows = await handlers.network_queue(uow, network_id, rules=ctx.rules, now=ctx.clock.now())
    return [
        QueueItemView(
            inquiry_id=a.inquiry_id,
            category=a.category,
            urgency=a.urgency,
            tier=a.tier,
            assignee_id=a.assignee_id,
            due_at=a.due_at,
            left_seconds=left,
        )
        for a, left in rows
    ]


# -- Staff ----------------------------------------------------------------------------------------------------------

StaffId = Annotated[str, Path(min_length=1, max_length=64, pattern="^[a-z0-9][a-z0-9._-]*$")]
NetworkId = Annotated[str, StringConstraints(min_length=1, max_length=64), STORABLE]
StaffIdText = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern="^[a-z0-9][a-z0-9._-]*$")]


class StaffBody(BaseModel):
    name: ShortText = Field(description="How colleagues know them")
    role: StaffRole = Field(description="network_staff, psa, central_staff, or auditor (reads; never assigned)")
    network_id: NetworkId = Field(description="Their network's id; 'central' for central staff (auditors: either)")
    email: Email | None = Field(None, description="Their work email (notify writes to it about what is theirs)")
    active: StrictBool = Field(True, description="False: they take no new inquiries")


class StaffView(StaffBody):
    id: str
    open_load: int = Field(description="Open inquiries assigned to them")

    @classmethod
    def of(cls, member: Staff) -> StaffView:
        return cls.model_validate(member, from_attributes=True)


@router.get("/staff", response_model=list[StaffView], tags=["staff"], summary="Staff, by network and role")
async def list_staff(
    ctx: Context, _: SignedInStaff, network_id: Annotated[NetworkId | None, Query()] = None
) -> list[StaffView]:
    async with ctx.unit_of_work() as uow:
        staff = await handlers.list_staff(uow, network_id=network_id)
    return [StaffView.of(member) for member in staff]


@router.put(
    "/staff/{staff_id}",
    response_model=StaffView,
    responses={409: {"model": Problem}},
    tags=["staff"],
    summary="Add or change a staff member (announced as staff.updated)",
)
async def put_staff(staff_id: StaffId, body: StaffBody, ctx: Context, _: CentralStaff) -> StaffView:
    problem = network_rule_problem(body.role, body.network_id)
    if problem:
        raise HTTPException(409, problem)
    member = Staff(
        id=staff_id,
        name=body.name,
        role=body.role,
        network_id=body.network_id,
        active=body.active,
        email=str(body.email) if body.email else None,
    )
    try:
        async with ctx.unit_of_work() as uow:
            await handlers.put_staff(uow, [member], now=ctx.clock.now(), only_new=False)
            stored = await uow.staff.get(staff_id=staff_id)
    except handlers.Refused as refused:
        raise HTTPException(409, str(refused)) from None
    assert stored is not None
    return StaffView.of(stored)


# -- Calendar and policies -------------------------------------------------------------------------------------------


class DayView(BaseModel):
    date: dt.date
    business_day: bool
    closed_for: str | None = Field(description="Why the offices are closed: weekend, a holiday, a break, a closure")


class CalendarView(BaseModel):
    timezone: str
    opens: str
    closes: str
    days: list[DayView]


@router.get("/calendar", response_model=CalendarView, tags=["calendar"], summary="The district's business days")
async def get_calendar(
    ctx: Context,
    _: Public,
    start: Annotated[IsoDate | None, Query(alias="from", description="First day (default: today)")] = None,
    days: Annotated[int, Query(ge=1, le=400)] = 31,
) -> CalendarView:
    async with ctx.unit_of_work() as uow:
        rules = await handlers.current_rules(uow, ctx.rules)
    calendar = rules.calendar
    first = start or calendar.local_day(ctx.clock.now())
    shown = [first + timedelta(days=i) for i in range(days)]
    return CalendarView(
        timezone=str(calendar.zone),
        opens=calendar.opens.strftime("%H:%M"),
        closes=calendar.closes.strftime("%H:%M"),
        days=[
            DayView(date=d, business_day=calendar.is_business_day(d), closed_for=calendar.closed_reason(d))
            for d in shown
        ],
    )


class ClosureBody(BaseModel):
    date: IsoDate = Field(description="The day the offices close (today or later, on the district's clock)")
    reason: ShortText = Field(description="Why, e.g. 'snow day'")


class ClosureView(ClosureBody):
    moved: int = Field(description="Inquiries in flight whose deadline moved (each announced)")


@router.post(
    "/calendar/closures",
    response_model=ClosureView,
    status_code=201,
    responses={409: {"model": Problem}},
    tags=["calendar"],
    summary="An emergency closure day: moves the deadline of every inquiry in flight, each announced",
)
async def add_closure(body: ClosureBody, ctx: Context, _: CentralStaff) -> ClosureView | JSONResponse:
    try:
        async with ctx.unit_of_work() as uow:
            added = await handlers.add_closure(
                uow, day=body.date, reason=body.reason, rules=ctx.rules, now=ctx.clock.now()
            )
    except handlers.PastDay as refused:
        problem = ValidationProblem(errors=[FieldError(field="date", reason=str(refused))])
        return JSONResponse(status_code=422, content=problem.model_dump())
    except handlers.Refused as refused:
        raise HTTPException(409, str(refused)) from None
    ctx.deadlines.wake()
    return ClosureView(date=added.day, reason=added.reason, moved=added.moved)


class TargetView(BaseModel):
    category: str
    urgency: Urgency
    tier: Tier
    first_response_seconds: int
    resolution_seconds: int


class PolicyView(BaseModel):
    version: str
    warning_at: float = Field(description="Fraction of a tier's time at which inquiry.sla_warning goes out")
    targets: list[TargetView] = Field(description="Business seconds per category, urgency and tier")


@router.get("/policies", response_model=PolicyView, tags=["calendar"], summary="The SLA policies in force")
async def get_policies(ctx: Context, _: Public) -> PolicyView:
    policies = ctx.rules.policies
    return PolicyView(
        version=policies.version,
        warning_at=policies.warning_at,
        targets=[
            TargetView(
                category=category,
                urgency=urgency,
                tier=tier,
                first_response_seconds=t.first_response,
                resolution_seconds=t.resolution,
            )
            for (category, urgency, tier), t in sorted(policies.targets.items())
        ],
    )


# -- A new school list ----------------------------------------------------------------------------------------------


class SchoolListBody(BaseModel):
    csv: Annotated[str, StringConstraints(min_length=1, max_length=5_000_000), STORABLE] = Field(
        description="The school list as CSV: school_id, short_name, long_name, network (as the district publishes it)",
    )


class SchoolsLoadedView(BaseModel):
    schools: int
    moved_schools: int = Field(description="Schools whose network changed")
    rerouted: int = Field(description="Open inquiries sent to their school's new network (each announced)")


@router.put(
    "/directory/schools",
    response_model=SchoolsLoadedView,
    tags=["directory"],
    summary="Load a new school list (psc load-schools): a list with bad rows loads nothing, and names each bad line",
)
async def put_school_list(body: SchoolListBody, ctx: Context, _: CentralStaff) -> SchoolsLoadedView | JSONResponse:
    schools, problems = schools_or_problems(body.csv, strict=True)
    if problems:
        errors = [FieldError(field="csv", reason=problem) for problem in problems]
        return JSONResponse(status_code=422, content=ValidationProblem(errors=errors).model_dump())
    async with ctx.unit_of_work() as uow:
        loaded = await handlers.load_schools(uow, schools, rules=ctx.rules, now=ctx.clock.now())
    ctx.deadlines.wake()
    return SchoolsLoadedView(schools=loaded.schools, moved_schools=loaded.moved_schools, rerouted=loaded.rerouted)


class ReassignBody(BaseModel):
    staff_id: StaffIdText = Field(description="An active staff member of the inquiry's tier role and network")


@router.put(
    "/inquiries/{inquiry_id}/assignee",
    response_model=AssignmentView,
    responses={404: {"model": Problem}, 409: {"model": Problem}},
    tags=["assignments"],
    summary="Reassign inside the tier: another staff member takes it, its clocks go on (announced)",
)
async def reassign(inquiry_id: UUID, body: ReassignBody, ctx: Context, _: Actor) -> AssignmentView:
    try:
        async with ctx.unit_of_work() as uow:
            moved = await handlers.reassign(uow, inquiry_id, body.staff_id, now=ctx.clock.now())
    except handlers.Refused as refused:
        raise HTTPException(409, str(refused)) from None
    if moved is None:
        raise HTTPException(404, "routing has not assigned this inquiry")
    return AssignmentView.of(moved)
