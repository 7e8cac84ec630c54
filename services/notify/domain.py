"""Notify's rules, pure and synchronous: who is told what about each step of a case, on which channel, when (quiet
hours), what a send attempt leaves behind, and the events that say so."""

from __future__ import annotations

import random
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Literal, Protocol
from uuid import UUID

from pydantic import BaseModel, Field

from services.notify import sms
from shared.contracts.inquiries import InquirySubmitted
from shared.contracts.notifications import (
    NotificationFailed,
    NotificationRetrying,
    NotificationSent,
    NotificationSuppressed,
)

Channel = Literal["email", "sms"]
Audience = Literal["parent", "staff"]
ACKNOWLEDGMENT = "inquiry_received"
DEFAULT_OFFICE = "Parent Support Center"


# --- what each message says: the variables its templates may use -----------------------------------------------------


class ParentMessage(BaseModel):
    """Variables of every message to a parent."""

    parent_name: str
    reference: str = Field(description="The inquiry's reference number")
    office_name: str = Field(description="The office that has the inquiry now ('Parent Support Center' at first)")
    status_url: str | None = Field(description="The parent's status page link; None when intake gave no token")


class AcknowledgmentMessage(ParentMessage):
    """The acknowledgment: up to three resources from the catalog that fit the inquiry's category (None: none)."""

    resource_1: str | None = Field(None, description="A resource's name, in the parent's language when it has it")
    resource_1_contact: str | None = Field(None, description="How to reach it: its number, its web page")
    resource_2: str | None = None
    resource_2_contact: str | None = None
    resource_3: str | None = None
    resource_3_contact: str | None = None


class QuestionMessage(ParentMessage):
    question: str = Field(description="What the parent is asked for (inquiry.waiting_on_parent)")


class SummaryMessage(ParentMessage):
    summary: str = Field(description="How it was resolved (inquiry.resolved)")


class StaffMessage(BaseModel):
    """Variables of every email to staff."""

    staff_name: str
    reference: str
    office_name: str
    tier: str = Field(description="network, psa or central")
    due_at: str = Field(description="When it escalates if nothing happens, Chicago time; '' when paused")


class StaffWarning(StaffMessage):
    clock: str = Field(description="first_response or resolution")


class StaffEscalation(StaffMessage):
    from_tier: str


@dataclass(frozen=True)
class MessageKind:
    audience: Audience
    context: type[BaseModel]
    essential: bool
    """Essential mail (the acknowledgment, a question to answer, the outcome) carries no List-Unsubscribe and goes to
    an address that unsubscribed; texts obey STOP whatever they say."""


MESSAGES: dict[str, MessageKind] = {
    "inquiry_received": MessageKind("parent", AcknowledgmentMessage, essential=True),
    "inquiry_assigned": MessageKind("parent", ParentMessage, essential=False),
    "inquiry_escalated": MessageKind("parent", ParentMessage, essential=False),
    "inquiry_waiting_on_parent": MessageKind("parent", QuestionMessage, essential=True),
    "inquiry_note_added": MessageKind("parent", ParentMessage, essential=False),
    "inquiry_resolved": MessageKind("parent", SummaryMessage, essential=True),
    "inquiry_reopened": MessageKind("parent", ParentMessage, essential=False),
    "staff_assigned": MessageKind("staff", StaffMessage, essential=True),
    "staff_sla_warning": MessageKind("staff", StaffWarning, essential=True),
    "staff_escalated": MessageKind("staff", StaffEscalation, essential=True),
}


class ReplyMessage(BaseModel):
    """Variables of the answers to a parent's text (HELP, START, anything else)."""

    office_name: str
    help_contact: str = Field(description="How to reach the center (PSC_NOTIFY_HELP_CONTACT)")


REPLIES: dict[str, type[BaseModel]] = {
    "sms_help": ReplyMessage,
    "sms_opted_in": ReplyMessage,
    "sms_no_replies": ReplyMessage,
}
PARENT_MESSAGES = tuple(name for name, kind in MESSAGES.items() if kind.audience == "parent")
STAFF_MESSAGES = tuple(name for name, kind in MESSAGES.items() if kind.audience == "staff")


@dataclass(frozen=True)
class Contact:
    inquiry_id: UUID
    reference: str
    name: str
    email: str | None
    mobile_phone: str | None
    language: str
    sms_consent: bool
    status_token: str | None = None
    urgent: bool = False
    office_name: str | None = None


@dataclass(frozen=True)
class StaffMember:
    staff_id: str
    role: str
    network_id: str
    active: bool
    name: str | None
    email: str | None


@dataclass(frozen=True)
class Rendered:
    subject: str | None
    body: str
    html: str | None = None


class Renderer(Protocol):
    def render(self, template: str, *, language: str, channel: Channel, context: dict[str, str | None]) -> Rendered: ...


@dataclass(frozen=True)
class Delivery:
    """One message to one recipient on one channel, on behalf of one event."""

    id: UUID
    dedup_key: str
    event_id: UUID
    correlation_id: str
    inquiry_id: UUID
    channel: Channel
    recipient: str
    template: str
    language: str
    subject: str | None
    body: str
    html: str | None
    essential: bool


@dataclass(frozen=True)
class PlannedDelivery(Delivery):
    status: Literal["pending", "suppressed"]
    reason: str | None
    audience: Audience = "parent"
    segments: int | None = None
    next_attempt_at: datetime | None = None
    """None: at once. Later: a text held for quiet hours."""
    fallback_of: UUID | None = None
    context: dict[str, str | None] = field(default_factory=dict)
    """The variables it was rendered with: a fallback to the other channel, or a preview, renders them again."""


@dataclass(frozen=True)
class ClaimedDelivery(Delivery):
    """A delivery taken for sending; ``attempts`` counts this one."""

    attempts: int


class DeliveryEntry(BaseModel):
    """One line of an inquiry's delivery log, as staff read it: no address."""

    id: UUID
    channel: str
    audience: str
    template: str
    language: str
    status: str = Field(description="pending, sending, sent, failed or suppressed")
    reason: str | None
    attempts: int
    segments: int | None = Field(description="SMS segments the text costs")
    provider_status: str | None = Field(description="The SMS provider's last report (delivered, undelivered, ...)")
    error_code: str | None
    fallback_of: UUID | None = Field(description="The delivery this one stands in for, on the other channel")
    next_attempt_at: datetime
    created_at: datetime
    sent_at: datetime | None


FailureKind = Literal["transient", "bad_address", "permanent"]


@dataclass(frozen=True)
class SendResult:
    """What a provider said. ``kind`` of a failure: 'transient' (retried), 'bad_address' (the address refuses:
    suppressed, the message falls back to the other channel), 'permanent' (not retried)."""

    delivery_id: UUID
    ok: bool
    provider_message_id: str | None = None
    error: str | None = None
    permanent: bool = False
    kind: FailureKind | None = None
    error_code: str | None = None

    @property
    def failure(self) -> FailureKind:
        if self.kind is not None:
            return self.kind
        return "permanent" if self.permanent else "transient"


@dataclass(frozen=True)
class AttemptOutcome:
    status: Literal["sent", "pending", "failed"]
    next_attempt_at: datetime | None
    reason: str | None
    suppress_address: bool = False
    error_code: str | None = field(default=None)


# --- error classes ----------------------------------------------------------------------------------------------------

TWILIO_BAD_ADDRESS = frozenset({"21610", "21614", "30006", "21211", "30005", "30004"})
"""Twilio codes that say the number itself will not take texts: 21610 unsubscribed (STOP at the carrier), 21614 and
30006 not a mobile / landline, 21211 invalid number, 30005 unknown destination, 30004 blocked."""
TWILIO_TRANSIENT = frozenset({"30003", "30001", "30008", "20429", "30500"})
"""Twilio codes that may pass: 30003 unreachable handset, 30001 queue overflow, 30008 unknown error, 20429 rate."""
SMTP_BAD_ADDRESS = frozenset({550, 551, 553, 554})


def classify_smtp(code: int) -> FailureKind:
    """SMTP reply codes: 4xx may pass; 550/551/553 (and 554 to RCPT) is a hard bounce; other 5xx are permanent."""
    if 400 <= code < 500:
        return "transient"
    return "bad_address" if code in SMTP_BAD_ADDRESS else "permanent"


def classify_twilio(http_status: int | None, code: str | None) -> FailureKind:
    """A Twilio answer (HTTP status of the request, or None for a status callback) and its error code."""
    if code in TWILIO_BAD_ADDRESS:
        return "bad_address"
    if code in TWILIO_TRANSIENT or (http_status is None and code is None):
        return "transient"
    if http_status is not None and (http_status >= 500 or http_status == 429):
        return "transient"
    return "permanent"


# --- who is told what -------------------------------------------------------------------------------------------------


def contact_from(event: InquirySubmitted) -> Contact:
    parent = event.parent
    return Contact(
        inquiry_id=event.inquiry_id,
        reference=event.reference,
        name=parent.name,
        email=str(parent.email) if parent.email else None,
        mobile_phone=parent.mobile_phone,
        language=parent.preferred_language.value,
        sms_consent=parent.sms_consent,
        status_token=event.status_token,
        urgent=is_urgent(event),
    )


def is_urgent(event: InquirySubmitted) -> bool:
    """An urgent safety concern, which texts the parent even in quiet hours: the inquiry was submitted as 'urgent'.
    Staff mark urgent what cannot wait until morning (a safety or bullying concern usually is); a 'normal' safety
    and bullying inquiry waits for the morning like any other."""
    return event.urgency == "urgent"


def status_url(base_url: str, contact: Contact) -> str | None:
    if not contact.status_token:
        return None
    # Intake's status page for people (its HTML form and answer), not the JSON API under /v1/status/.
    return f"{base_url.rstrip('/')}/status/{contact.reference}?token={contact.status_token}"


def parent_context(contact: Contact, *, status_base_url: str, **extra: str | None) -> dict[str, str | None]:
    return {
        "parent_name": contact.name,
        "reference": contact.reference,
        "office_name": contact.office_name or DEFAULT_OFFICE,
        "status_url": status_url(status_base_url, contact),
        **extra,
    }


def dedup_key(event_id: UUID, channel: Channel, recipient: str) -> str:
    """One message per event, channel and recipient, however often the event is delivered."""
    return f"{event_id}:{channel}:{recipient.lower()}"


@dataclass(frozen=True)
class Suppressed:
    """Addresses not to write to: (channel, lower-case address) pairs, and those only opted out of optional mail."""

    blocked: Collection[tuple[str, str]] = frozenset()
    unsubscribed: Collection[tuple[str, str]] = frozenset()

    def refusal(self, channel: Channel, address: str, *, essential: bool) -> str | None:
        key = (channel, address.lower())
        if key in self.blocked:
            return "recipient is on the suppression list"
        if key in self.unsubscribed and (channel == "sms" or not essential):
            return "recipient opted out"
        return None


@dataclass(frozen=True)
class Plan:
    """What a step of the case asks for: a template, its variables, and when it happens."""

    template: str
    context: dict[str, str | None]
    event_id: UUID
    correlation_id: str
    now: datetime


def plan_parent_message(
    contact: Contact,
    plan: Plan,
    *,
    suppressed: Suppressed,
    renderer: Renderer,
    new_id: Callable[[], UUID],
    both_channels: bool = False,
) -> list[PlannedDelivery]:
    """The parent's message on their channel: a text when they consented to texts, else email; the other channel when
    the first is refused (no consent, opted out, suppressed). ``both_channels`` (the acknowledgment): every channel the
    parent gave. A message that will not be sent is still recorded, 'suppressed' with the reason, so staff see why."""
    essential = MESSAGES[plan.template].essential
    options: list[tuple[Channel, str, str | None]] = []
    if contact.mobile_phone:
        consent = None if contact.sms_consent else "no consent to text messages"
        options.append(("sms", contact.mobile_phone, consent))
    if contact.email:
        options.append(("email", contact.email, None))
    if both_channels:
        options.reverse()  # the acknowledgment: the email (with everything in it) first
    planned: list[PlannedDelivery] = []
    for channel, recipient, refusal in options:
        refusal = refusal or suppressed.refusal(channel, recipient, essential=essential)
        planned.append(_planned(contact, plan, channel, recipient, refusal, renderer, new_id()))
        if refusal is None and not both_channels:
            break
    return planned


def plan_staff_message(
    staff: StaffMember, plan: Plan, *, inquiry_id: UUID, suppressed: Suppressed, renderer: Renderer, new_id: UUID
) -> PlannedDelivery | None:
    """An email to a staff member about what is theirs to do; none for staff without an email or no longer active."""
    if not staff.email or not staff.active:
        return None
    message = renderer.render(plan.template, language="en", channel="email", context=plan.context)
    refusal = suppressed.refusal("email", staff.email, essential=True)
    return PlannedDelivery(
        id=new_id,
        dedup_key=dedup_key(plan.event_id, "email", staff.email),
        event_id=plan.event_id,
        correlation_id=plan.correlation_id,
        inquiry_id=inquiry_id,
        channel="email",
        recipient=staff.email,
        template=plan.template,
        language="en",
        subject=message.subject,
        body=message.body,
        html=message.html,
        essential=True,
        status="suppressed" if refusal else "pending",
        reason=refusal,
        audience="staff",
        context=plan.context,
    )


def _planned(
    contact: Contact,
    plan: Plan,
    channel: Channel,
    recipient: str,
    refusal: str | None,
    renderer: Renderer,
    delivery_id: UUID,
) -> PlannedDelivery:
    message = renderer.render(plan.template, language=contact.language, channel=channel, context=plan.context)
    held = None
    if channel == "sms" and not contact.urgent and refusal is None:
        held = sms.quiet_until(plan.now)
    return PlannedDelivery(
        id=delivery_id,
        dedup_key=dedup_key(plan.event_id, channel, recipient),
        event_id=plan.event_id,
        correlation_id=plan.correlation_id,
        inquiry_id=contact.inquiry_id,
        channel=channel,
        recipient=recipient,
        template=plan.template,
        language=contact.language,
        subject=message.subject,
        body=message.body,
        html=message.html,
        essential=MESSAGES[plan.template].essential,
        status="suppressed" if refusal else "pending",
        reason=refusal or ("held for quiet hours (20:00-08:00 Chicago)" if held else None),
        segments=sms.segments(message.body).count if channel == "sms" else None,
        next_attempt_at=held,
        context=plan.context,
    )


def fallback_for(
    failed: Delivery,
    contact: Contact,
    *,
    now: datetime,
    renderer: Renderer,
    context: dict[str, str | None],
    suppressed: Suppressed,
    new_id: UUID,
) -> PlannedDelivery | None:
    """The same message on the parent's other channel, after this one's address refused it for good; None when the
    parent has no other channel (or no consent to texts)."""
    channel: Channel
    if failed.channel == "sms" and contact.email:
        channel, recipient = "email", contact.email
    elif failed.channel == "email" and contact.mobile_phone and contact.sms_consent:
        channel, recipient = "sms", contact.mobile_phone
    else:
        return None
    plan = Plan(failed.template, context, failed.event_id, failed.correlation_id, now)
    refusal = suppressed.refusal(channel, recipient, essential=failed.essential)
    planned = _planned(contact, plan, channel, recipient, refusal, renderer, new_id)
    return replace(planned, fallback_of=failed.id)


# --- sending attempts -------------------------------------------------------------------------------------------------


def retry_delay(attempts: int, *, jitter: Callable[[], float] = random.random) -> timedelta:
    """30 s, 1 min, 2 min, ... capped at one hour, each stretched by up to a fifth at random (replicas that failed
    together do not retry together)."""
    base = min(30 * 2 ** max(attempts - 1, 0), 3600)
    return timedelta(seconds=base * (1 + 0.2 * jitter()))


def after_attempt(
    result: SendResult,
    *,
    attempts: int,
    max_attempts: int,
    now: datetime,
    time_scale: float = 1.0,
    jitter: Callable[[], float] = random.random,
) -> AttemptOutcome:
    """``time_scale``: how much of the service's clock passes in one real second (``PSC_CLOCK_SPEED``), so a retry
    waits as long on the wall whatever the clock's speed."""
    if result.ok:
        return AttemptOutcome("sent", None, None)
    kind = result.failure
    reason = result.error or "failed"
    if kind == "bad_address":
        return AttemptOutcome("failed", None, reason, suppress_address=True, error_code=result.error_code)
    if kind == "permanent" or attempts >= max_attempts:
        return AttemptOutcome("failed", None, reason, error_code=result.error_code)
    delay = retry_delay(attempts, jitter=jitter) * time_scale
    return AttemptOutcome("pending", now + delay, reason, error_code=result.error_code)


SettledEvent = NotificationSent | NotificationFailed | NotificationRetrying


def settle(
    delivery: ClaimedDelivery,
    result: SendResult,
    *,
    max_attempts: int,
    now: datetime,
    time_scale: float = 1.0,
    jitter: Callable[[], float] = random.random,
) -> tuple[AttemptOutcome, SettledEvent]:
    """What a send attempt leaves behind, and the event that says so."""
    outcome = after_attempt(
        result, attempts=delivery.attempts, max_attempts=max_attempts, now=now, time_scale=time_scale, jitter=jitter
    )
    if outcome.status == "sent":
        return outcome, NotificationSent(**about(delivery, now), provider_message_id=result.provider_message_id)
    if outcome.status == "failed":
        return outcome, NotificationFailed(**about(delivery, now), reason=outcome.reason or "failed")
    assert outcome.next_attempt_at is not None
    return outcome, NotificationRetrying(
        **about(delivery, now),
        attempt=delivery.attempts,
        reason=outcome.reason or "failed",
        next_attempt_at=outcome.next_attempt_at,
    )


def notification_suppressed(delivery: Delivery, *, now: datetime, reason: str | None) -> NotificationSuppressed:
    """Why a planned message will not be sent (no consent, on the suppression list, opted out)."""
    return NotificationSuppressed(**about(delivery, now), reason=reason or "suppressed")


def about(delivery: Delivery, now: datetime) -> dict[str, object]:
    """The fields every notification event carries: which delivery, never its address."""
    return {
        "inquiry_id": delivery.inquiry_id,
        "occurred_at": now,
        "correlation_id": delivery.correlation_id,
        "delivery_id": delivery.id,
        "channel": delivery.channel,
        "template": delivery.template,
        "language": delivery.language,
    }
