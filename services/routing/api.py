"""Routing's HTTP API: the directory (networks, schools) and where an inquiry is."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, HTTPException, Path, Request
from pydantic import BaseModel

from services.routing import repository
from shared.http import Problem

router = APIRouter(prefix="/v1", tags=["directory"])


class NetworkView(BaseModel):
    id: str
    name: str
    kind: str
    schools: int


class SchoolView(BaseModel):
    id: int
    short_name: str
    long_name: str
    network_id: str | None
    network_name: str | None


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


@router.get("/networks", response_model=list[NetworkView], summary="Network offices and how many schools each serves")
async def list_networks(request: Request) -> list[NetworkView]:
    async with request.app.state.routing.runtime.pool.acquire() as conn:
        return [NetworkView(**row) for row in await repository.list_networks(conn)]


@router.get("/schools/{school_id}", response_model=SchoolView, responses={404: {"model": Problem}})
async def get_school(school_id: Annotated[int, Path(ge=100000, le=999999)], request: Request) -> SchoolView:
    async with request.app.state.routing.runtime.pool.acquire() as conn:
        school = await repository.get_school(conn, school_id=school_id)
    if school is None:
        raise HTTPException(404, "no such school in the directory")
    return SchoolView(
        id=school.id,
        short_name=school.short_name,
        long_name=school.long_name,
        network_id=school.network.id if school.network else None,
        network_name=school.network.name if school.network else None,
    )


@router.get(
    "/assignments/{inquiry_id}",
    response_model=AssignmentView,
    responses={404: {"model": Problem}},
    tags=["assignments"],
)
async def get_assignment(inquiry_id: UUID, request: Request) -> AssignmentView:
    async with request.app.state.routing.runtime.pool.acquire() as conn:
        row = await repository.get_assignment(conn, inquiry_id=inquiry_id)
    if row is None:
        raise HTTPException(404, "routing has not assigned this inquiry")
    return AssignmentView(**row)
