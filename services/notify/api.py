"""Notify's HTTP API: the delivery log of an inquiry, and the suppression list."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from services.notify import repository
from shared.db.unit_of_work import UnitOfWork

router = APIRouter(prefix="/v1", tags=["notifications"])


class DeliveryView(BaseModel):
    """What was sent to the parent and how it went; addresses are left out of the listing."""

    id: UUID
    channel: str
    template: str
    language: str
    status: str = Field(description="pending, sending, sent, failed or suppressed")
    reason: str | None
    attempts: int
    created_at: datetime
    sent_at: datetime | None


class SuppressionIn(BaseModel):
    channel: Literal["email", "sms"]
    address: str = Field(min_length=3, max_length=320, description="Email address or E.164 phone number")
    reason: str = Field(min_length=1, max_length=200)


@router.get("/inquiries/{inquiry_id}/deliveries", response_model=list[DeliveryView])
async def list_deliveries(inquiry_id: UUID, request: Request) -> list[DeliveryView]:
    async with request.app.state.notify.runtime.pool.acquire() as conn:
        return [DeliveryView(**row) for row in await repository.list_deliveries(conn, inquiry_id=inquiry_id)]


@router.post("/suppressions", status_code=204, summary="Never write to this address again on this channel")
async def add_suppression(body: SuppressionIn, request: Request) -> None:
    async with UnitOfWork(request.app.state.notify.runtime.pool) as uow:
        await repository.add_suppression(uow.conn, channel=body.channel, address=body.address, reason=body.reason)
