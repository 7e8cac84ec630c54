"""Notify's HTTP API: the delivery log of an inquiry, and the suppression list. Every route passes
``shared.http.authorize`` (set on the app)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field, StringConstraints

from services.notify import handlers
from services.notify.domain import DeliveryEntry
from services.notify.unit_of_work import PostgresNotifyUnitOfWork
from shared.contracts.text import STORABLE, ShortText
from shared.http import context_of
from shared.service import ServiceRuntime

router = APIRouter(prefix="/v1", tags=["notifications"])


@dataclass
class NotifyContext:
    """What notify's routes need, set on ``app.state.context`` by the composition root once the runtime is up."""

    runtime: ServiceRuntime

    def unit_of_work(self) -> PostgresNotifyUnitOfWork:
        return self.runtime.unit_of_work(PostgresNotifyUnitOfWork)


def _context(request: Request) -> NotifyContext:
    return context_of(request, NotifyContext)


Context = Annotated[NotifyContext, Depends(_context)]


class DeliveryView(DeliveryEntry):
    """What was sent to the parent and how it went; addresses are left out of the listing."""


class SuppressionIn(BaseModel):
    channel: Literal["email", "sms"]
    address: Annotated[str, StringConstraints(min_length=3, max_length=320), STORABLE] = Field(
        description="Email address or E.164 phone number"
    )
    reason: ShortText = Field(description="Why: 'hard bounce', 'asked not to be written to'")


@router.get("/inquiries/{inquiry_id}/deliveries", response_model=list[DeliveryView])
async def list_deliveries(inquiry_id: UUID, ctx: Context) -> list[DeliveryView]:
    async with ctx.unit_of_work() as uow:
        entries = await handlers.deliveries_of(uow, inquiry_id)
    return [DeliveryView(**entry.model_dump()) for entry in entries]


@router.post("/suppressions", status_code=204, summary="Never write to this address again on this channel")
async def add_suppression(body: SuppressionIn, ctx: Context) -> None:
    async with ctx.unit_of_work() as uow:
        await handlers.suppress(uow, channel=body.channel, address=body.address, reason=body.reason)
