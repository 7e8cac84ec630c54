"""Notify's HTTP API.

Staff (a bearer token): an inquiry's delivery log and its attempts, the parent's contact preferences and suppression
state, resending one failed message, adding a suppression, previewing a template. Public (the provider and the
parent's mail client call them): the SMS webhooks ``POST /v1/sms/inbound`` and ``POST /v1/sms/status`` (Twilio's
form fields, X-Twilio-Signature checked when an auth token is configured) and the one-click unsubscribe
``POST /v1/unsubscribe/{delivery_id}?token=...`` (RFC 8058, signed link)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID
from xml.sax.saxutils import escape

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.notify import handlers, sms
from services.notify.domain import MESSAGES, REPLIES, DeliveryEntry
from services.notify.handlers import Rules
from services.notify.signing import twilio_signature_valid, unsubscribe_token_valid
from services.notify.templates import TemplateRenderer
from services.notify.unit_of_work import PostgresNotifyUnitOfWork
from shared.auth import PUBLIC, Actor, Staff
from shared.clock import Clock
from shared.contracts.text import STORABLE, ShortText, Text
from shared.http import context_of
from shared.logging import get_logger
from shared.service import ServiceRuntime

log = get_logger(__name__)
router = APIRouter(prefix="/v1", tags=["notifications"])
webhooks = APIRouter(prefix="/v1", tags=["webhooks"], dependencies=[PUBLIC])


@dataclass
class NotifyContext:
    """What notify's routes need, set on ``app.state.context`` by the composition root once the runtime is up."""

    runtime: ServiceRuntime
    renderer: TemplateRenderer
    rules: Rules
    clock: Clock
    sms_auth_token: str
    signature_url_base: str
    on_commit: Any = None

    def unit_of_work(self) -> PostgresNotifyUnitOfWork:
        on_commit = self.on_commit

        def wake() -> None:
            self.runtime.relay.wake()
            if on_commit is not None:
                on_commit()

        return PostgresNotifyUnitOfWork(self.runtime.pool, on_commit=wake)


def _context(request: Request) -> NotifyContext:
    return context_of(request, NotifyContext)


Context = Annotated[NotifyContext, Depends(_context)]


# --- staff ------------------------------------------------------------------------------------------------------------


class DeliveryView(DeliveryEntry):
    """What was sent to the parent (or staff) and how it went; addresses are left out of the listing."""


class AttemptView(BaseModel):
    delivery_id: UUID
    attempt: int
    outcome: str = Field(description="sent, pending (to retry), failed, or reported (a provider's status callback)")
    detail: str | None
    at: datetime


class SuppressionView(BaseModel):
    channel: str
    kind: str = Field(description="opted_out (STOP, unsubscribe link), bounced (refused for good) or manual")
    reason: str
    created_at: datetime


class ContactView(BaseModel):
    """The parent's contact as notify has it: addresses masked, consent, language, and what is suppressed."""

    inquiry_id: UUID
    reference: str
    language: str
    email: str | None = Field(description="Masked: a***@example.org")
    mobile_phone: str | None = Field(description="Masked: +1312***0147")
    sms_consent: bool
    urgent: bool = Field(description="Texts go out even in quiet hours")
    office_name: str | None
    suppressions: list[SuppressionView]


class SuppressionIn(BaseModel):
    channel: Literal["email", "sms"]
    address: Annotated[str, StringConstraints(min_length=3, max_length=320), STORABLE] = Field(
        description="Email address or E.164 phone number"
    )
    reason: ShortText = Field(description="Why: 'hard bounce', 'asked not to be written to'")


class ResendView(BaseModel):
    delivery_id: UUID
    status: Literal["queued"]


class PreviewView(BaseModel):
    template: str
    language: str
    channel: str
    subject: str | None
    body: str
    html: str | None
    sms_segments: int | None
    sms_encoding: str | None


def _mask(address: str | None) -> str | None:
    if not address:
        return None
    if "@" in address:
        local, _, domain = address.partition("@")
        return f"{local[:1]}***@{domain}"
    return f"{address[:5]}***{address[-4:]}"


@router.get("/inquiries/{inquiry_id}/deliveries", response_model=list[DeliveryView])
async def list_deliveries(inquiry_id: UUID, ctx: Context, _: Staff) -> list[DeliveryView]:
    async with ctx.unit_of_work() as uow:
        entries = await handlers.deliveries_of(uow, inquiry_id)
    return [DeliveryView(**entry.model_dump()) for entry in entries]


@router.get("/inquiries/{inquiry_id}/delivery-attempts", response_model=list[AttemptView])
async def list_attempts(inquiry_id: UUID, ctx: Context, _: Staff) -> list[AttemptView]:
    """Every attempt of every message of the inquiry, and every provider report, oldest first."""
    async with ctx.unit_of_work() as uow:
        rows = await handlers.attempts_of(uow, inquiry_id)
    return [AttemptView(**row) for row in rows]


@router.get("/inquiries/{inquiry_id}/contact", response_model=ContactView, responses={404: {"description": "Unknown"}})
async def contact(inquiry_id: UUID, ctx: Context, _: Staff) -> ContactView:
    async with ctx.unit_of_work() as uow:
        found = await handlers.contact_of(uow, inquiry_id)
    if found is None:
        raise HTTPException(404, "notify knows no contact for this inquiry")
    c, entries = found
    return ContactView(
        inquiry_id=c.inquiry_id,
        reference=c.reference,
        language=c.language,
        email=_mask(c.email),
        mobile_phone=_mask(c.mobile_phone),
        sms_consent=c.sms_consent,
        urgent=c.urgent,
        office_name=c.office_name,
        suppressions=[SuppressionView(**entry) for entry in entries],
    )


@router.post(
    "/deliveries/{delivery_id}/resend",
    status_code=202,
    response_model=ResendView,
    responses={404: {"description": "Unknown delivery"}, 409: {"description": "Not failed, or its address suppressed"}},
)
async def resend(delivery_id: UUID, ctx: Context, _: Actor) -> ResendView:
    """Send one failed message again, now, under the same delivery (the same Message-ID)."""
    async with ctx.unit_of_work() as uow:
        answer = await handlers.resend(uow, delivery_id=delivery_id, now=ctx.clock.now())
    if answer == "unknown":
        raise HTTPException(404, "no such delivery")
    if answer == "not_failed":
        raise HTTPException(409, "only a failed message can be resent")
    if answer == "suppressed":
        raise HTTPException(409, "the address is suppressed (opted out or refused): lift that first")
    return ResendView(delivery_id=delivery_id, status="queued")


@router.post("/suppressions", status_code=204, summary="Never write to this address again on this channel")
async def add_suppression(body: SuppressionIn, ctx: Context, _: Actor) -> None:
    async with ctx.unit_of_work() as uow:
        await handlers.suppress(uow, channel=body.channel, address=body.address, reason=body.reason)


SAMPLE: dict[str, str | None] = {
    "parent_name": "Ana Lopez",
    "reference": "PSC-26-000042",
    "office_name": "Network 4",
    "status_url": "https://parents.district.example/status/PSC-26-000042?token=AbCdEfGhIjKlMnOpQrStUv",
    "question": "Please send a copy of your child's bus pass.",
    "summary": "The bus stop moved to the corner nearer your home, starting Monday.",
    "staff_name": "Alex A.",
    "tier": "psa",
    "from_tier": "network",
    "clock": "first response",
    "due_at": "Mon 30 Nov 2026 17:00",
    "help_contact": "Parent Support Center, 773-553-1000",
    # The acknowledgment's resources as the catalog would fill them (names stay in English in the preview).
    "resource_1": "Parent and Educator Partnership (PEP)",
    "resource_1_contact": "(773) 553-1800, https://www.cps.edu",
    "resource_2": "Office of Student Transportation",
    "resource_2_contact": "(773) 553-2680",
}


@router.get(
    "/templates/{name}/preview", response_model=PreviewView, responses={404: {"description": "No such template"}}
)
async def preview(
    name: Text,
    ctx: Context,
    _: Staff,
    language: Annotated[
        str, Query(min_length=2, max_length=20, pattern=r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$")
    ] = "en",
    channel: Literal["email", "sms"] = "email",
) -> PreviewView:
    """Any template rendered with sample data, in a language (along its fallback chain: es-MX → es → en)."""
    model = MESSAGES[name].context if name in MESSAGES else REPLIES.get(name)
    if model is None:
        raise HTTPException(404, "no such template")
    if name in REPLIES:
        channel = "sms"
    elif MESSAGES[name].audience == "staff":
        channel = "email"  # staff are written to by email only
    context = {field: SAMPLE.get(field) for field in model.model_fields}
    rendered = ctx.renderer.render(name, language=language, channel=channel, context=context)
    counted = sms.segments(rendered.body.rstrip("\n")) if channel == "sms" else None
    return PreviewView(
        template=name,
        language=language,
        channel=channel,
        subject=rendered.subject,
        body=rendered.body,
        html=rendered.html,
        sms_segments=counted.count if counted else None,
        sms_encoding=counted.encoding if counted else None,
    )


# --- webhooks (public) ------------------------------------------------------------------------------------------------

Phone = Annotated[str, StringConstraints(min_length=3, max_length=32), STORABLE]


class InboundText(BaseModel):
    """Twilio's inbound message webhook (the fields notify reads; the others are signed but ignored)."""

    model_config = ConfigDict(extra="allow")

    From: Phone = Field(description="The parent's number (E.164)")
    Body: Annotated[str, StringConstraints(max_length=1600), STORABLE] = Field(description="What they wrote")
    MessageSid: Annotated[str, StringConstraints(min_length=1, max_length=64), STORABLE]


class StatusReport(BaseModel):
    """Twilio's status callback."""

    model_config = ConfigDict(extra="allow")

    MessageSid: Annotated[str, StringConstraints(min_length=1, max_length=64), STORABLE]
    MessageStatus: Annotated[str, StringConstraints(min_length=1, max_length=32), STORABLE]
    ErrorCode: Annotated[str, StringConstraints(max_length=16), STORABLE] | None = None


async def _check_signature(request: Request, ctx: NotifyContext) -> None:
    """X-Twilio-Signature over the URL the provider called and every form field, when an auth token is set."""
    if not ctx.sms_auth_token:
        return
    form = await request.form()
    params = {name: str(value) for name, value in form.items()}
    url = str(request.url)
    if ctx.signature_url_base:
        url = (
            ctx.signature_url_base.rstrip("/")
            + request.url.path
            + (f"?{request.url.query}" if request.url.query else "")
        )
    if not twilio_signature_valid(ctx.sms_auth_token, url, params, request.headers.get("X-Twilio-Signature")):
        log.warning("webhook refused: bad or missing X-Twilio-Signature", path=request.url.path)
        raise HTTPException(403, "X-Twilio-Signature is missing or does not match")


def _twiml(reply: str | None) -> Response:
    message = f"<Message>{escape(reply)}</Message>" if reply else ""
    return Response(f'<?xml version="1.0" encoding="UTF-8"?><Response>{message}</Response>', media_type="text/xml")


@webhooks.post(
    "/sms/inbound",
    response_class=Response,
    responses={200: {"content": {"text/xml": {}}, "description": "TwiML: the reply, if any"}, 403: {}},
)
async def sms_inbound(request: Request, text: Annotated[InboundText, Form()], ctx: Context) -> Response:
    """A parent texted in: STOP (STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, REVOKE, OPTOUT) opts out, START (UNSTOP,
    YES) opts back in, HELP answers with the office's contact; anything else is answered with where to write."""
    await _check_signature(request, ctx)
    async with ctx.unit_of_work() as uow:
        answer = await handlers.sms_inbound(
            uow, sender=text.From, body=text.Body, renderer=ctx.renderer, rules=ctx.rules, now=ctx.clock.now()
        )
    log.info("inbound text", keyword=answer.keyword, message_sid=text.MessageSid)
    return _twiml(answer.reply)


@webhooks.post(
    "/sms/status",
    status_code=204,
    responses={
        202: {"description": "No send with this MessageSid is recorded yet: the report is held until one is"},
        403: {"description": "Bad signature"},
    },
)
async def sms_status(request: Request, report: Annotated[StatusReport, Form()], ctx: Context) -> Response:
    """The provider's report on a text, into the delivery log."""
    await _check_signature(request, ctx)
    async with ctx.unit_of_work() as uow:
        answer = await handlers.sms_status(
            uow,
            message_sid=report.MessageSid,
            status=report.MessageStatus,
            error_code=report.ErrorCode or None,
            renderer=ctx.renderer,
            rules=ctx.rules,
            now=ctx.clock.now(),
        )
    if answer == "held":
        return JSONResponse({"detail": "no send with this MessageSid yet: the report is held for it"}, status_code=202)
    return Response(status_code=204)


@webhooks.post(
    "/unsubscribe/{delivery_id}",
    status_code=200,
    responses={403: {"description": "The link's token does not match"}, 404: {"description": "Unknown message"}},
)
async def unsubscribe(
    delivery_id: UUID,
    ctx: Context,
    token: Annotated[Annotated[str, StringConstraints(min_length=1, max_length=64), STORABLE], Query()],
    one_click: Annotated[Text | None, Form(alias="List-Unsubscribe", description="'One-Click'")] = None,
) -> dict[str, str]:
    """One-click unsubscribe (RFC 8058): the mail client POSTs ``List-Unsubscribe=One-Click`` here. The address
    gets no more optional mail; what the parent must read (the acknowledgment, a question, the outcome) still goes."""
    if not unsubscribe_token_valid(ctx.rules.contact_key_secret, str(delivery_id), token):
        raise HTTPException(403, "this unsubscribe link is not valid")
    async with ctx.unit_of_work() as uow:
        found = await handlers.unsubscribe(uow, delivery_id=delivery_id, rules=ctx.rules, now=ctx.clock.now())
    if not found:
        raise HTTPException(404, "no such message")
    return {"status": "unsubscribed"}
