"""Routing's HTTP API: the directory (networks, schools) and where an inquiry is. Every route passes
``shared.http.authorize`` (set on the app)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from pydantic import BaseModel

from services.routing import handlers
from services.routing.domain import Assignment, BusinessCalendar, NetworkSummary, School
from services.routing.unit_of_work import PostgresRoutingUnitOfWork
from shared.clock import Clock
from shared.http import Problem, context_of
from shared.service import ServiceRuntime

router = APIRouter(prefix="/v1", tags=["directory"])


@dataclass
class RoutingContext:
    """What routing's routes need, set on ``app.state.context`` by the composition root once the runtime is up."""

    runtime: ServiceRuntime
    clock: Clock
    calendar: BusinessCalendar

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
        return cls(id=network.id, name=network.name, kind=network.kind, schools=network.schools)


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
        )


@router.get("/networks", response_model=list[NetworkView], summary="Network offices and how many schools each serves")
async def list_networks(ctx: Context) -> list[NetworkView]:
    async with ctx.unit_of_work() as uow:
        networks = await handlers.list_networks(uow)
    return [NetworkView.of(network) for network in networks]


@router.get("/schools/{school_id}", response_model=SchoolView, responses={404: {"model": Problem}})
async def get_school(school_id: Annotated[int, Path(ge=100000, le=999999)], ctx: Context) -> SchoolView:
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
async def get_assignment(inquiry_id: UUID, ctx: Context) -> AssignmentView:
    async with ctx.unit_of_work() as uow:
        assignment = await handlers.find_assignment(uow, inquiry_id)
    if assignment is None:
        raise HTTPException(404, "routing has not assigned this inquiry")
    return AssignmentView.of(assignment)
