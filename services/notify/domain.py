"""Notify's rules, pure and synchronous: whom to write to on which channel, what a send attempt leaves behind, and
the events that say so."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, Protocol
from uuid import UUID

from pydantic import BaseModel, Field

from shared.contracts.inquiries import InquirySubmitted
from shared.contracts.notifications import NotificationFailed, NotificationSent, NotificationSuppressed

Channel = Literal["email", "sms"]
ACKNOWLEDGMENT = "inquiry_received"


@dataclass(frozen=True)
class Contact:
    inquiry_id: UUID
    reference: str
    name: str
    email: str | None
    mobile_phone: str | None
    language: str
    sms_consent: bool


@dataclass(frozen=True)
class Rendered:
    subject: str | None
    body: str


class Renderer(Protocol):
    def render(self, template: str, *, language: str, channel: Channel, context: dict[str, str]) -> Rendered: ...


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


@dataclass(frozen=True)
class PlannedDelivery(Delivery):
    status: Literal["pending", "suppressed"]
    reason: str | None


@dataclass(frozen=True)
class ClaimedDelivery(Delivery):
    """A delivery taken for sending; ``attempts`` counts this one."""

    attempts: int


class DeliveryEntry(BaseModel):
    """One line of an inquiry's delivery log, as staff read it: no address."""

    id: UUID
    channel: str
    template: str
    language: str
    status: str = Field(description="pending, sending, sent, failed or suppressed")
    reason: str | None
    attempts: int
    created_at: datetime
    sent_at: datetime | None


@dataclass(frozen=True)
class SendResult:
    """What a provider said. ``permanent`` failures (a refused address) are not retried."""

    delivery_id: UUID
    ok: bool
    provider_message_id: str | None = None
    error: str | None = None
    permanent: bool = False


@dataclass(frozen=True)
class AttemptOutcome:
    status: Literal["sent", "pending", "failed"]
    next_attempt_at: datetime | None
    reason: str | None


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
    )


def dedup_key(event_id: UUID, channel: Channel, recipient: str) -> str:
    """One message per event, channel and recipient, however often the event is delivered."""
    return f"{event_id}:{channel}:{recipient.lower()}"


def plan_acknowledgment(
    contact: Contact,
    *,
    event_id: UUID,
    correlation_id: str,
    suppressed: set[tuple[str, str]],
    renderer: Renderer,
    new_id: Callable[[], UUID],
) -> list[PlannedDelivery]:
    """The 'we received your concern' messages: email when there is an address, a text only with consent.

    A message that will not be sent is still recorded (status 'suppressed' with the reason), so staff can see why a
    parent got no text.
    """
    context = {"parent_name": contact.name, "reference": contact.reference}
    wanted: list[tuple[Channel, str, str | None]] = []
    if contact.email:
        wanted.append(("email", contact.email, None))
    if contact.mobile_phone:
        wanted.append(("sms", contact.mobile_phone, None if contact.sms_consent else "no consent to text messages"))
    planned = []
    for channel, recipient, refusal in wanted:
        if refusal is None and (channel, recipient.lower()) in suppressed:
            refusal = "recipient is on the suppression list"
        message = renderer.render(ACKNOWLEDGMENT, language=contact.language, channel=channel, context=context)
        planned.append(
            PlannedDelivery(
                id=new_id(),
                dedup_key=dedup_key(event_id, channel, recipient),
                event_id=event_id,
                correlation_id=correlation_id,
                inquiry_id=contact.inquiry_id,
                channel=channel,
                recipient=recipient,
                template=ACKNOWLEDGMENT,
                language=contact.language,
                subject=message.subject,
                body=message.body,
                status="suppressed" if refusal else "pending",
                reason=refusal,
            )
        )
    return planned


def retry_delay(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min, ... capped at one hour."""
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))


def after_attempt(
    result: SendResult, *, attempts: int, max_attempts: int, now: datetime, time_scale: float = 1.0
) -> AttemptOutcome:
    """``time_scale``: how much of the service's clock passes in one real second (``PSC_CLOCK_SPEED``), so a retry
    waits as long on the wall whatever the clock's speed."""
    if result.ok:
        return AttemptOutcome("sent", None, None)
    if result.permanent or attempts >= max_attempts:
        return AttemptOutcome("failed", None, result.error or "failed")
    return AttemptOutcome("pending", now + retry_delay(attempts) * time_scale, result.error)


def settle(
    delivery: ClaimedDelivery, result: SendResult, *, max_attempts: int, now: datetime, time_scale: float = 1.0
) -> tuple[AttemptOutcome, NotificationSent | NotificationFailed | None]:
    """What a send attempt leaves behind, and the event that says so (none while it is to be retried)."""
    outcome = after_attempt(
        result, attempts=delivery.attempts, max_attempts=max_attempts, now=now, time_scale=time_scale
    )
    if outcome.status == "sent":
        return outcome, NotificationSent(**_about(delivery, now), provider_message_id=result.provider_message_id)
    if outcome.status == "failed":
        return outcome, NotificationFailed(**_about(delivery, now), reason=outcome.reason or "failed")
    return outcome, None


def notification_suppressed(delivery: PlannedDelivery, *, now: datetime) -> NotificationSuppressed:
    """Why a planned message will not be sent (no consent, on the suppression list)."""
    return NotificationSuppressed(**_about(delivery, now), reason=delivery.reason or "suppressed")


def _about(delivery: Delivery, now: datetime) -> dict[str, object]:
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
