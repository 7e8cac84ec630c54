"""Notify's events: what was sent to a parent, or why not. No addresses: those stay in notify's tables."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import AwareDatetime, Field, StrictInt

from shared.contracts.envelope import Event, InquiryEvent
from shared.contracts.text import Text

Channel = Literal["email", "sms"]


class _NotificationEvent(InquiryEvent):
    delivery_id: UUID = Field(description="Notify's delivery record")
    channel: Channel = Field(description="email or sms")
    template: Text = Field(description="Template name, e.g. 'inquiry_received'")
    language: Text = Field(description="Language the message was written in")


class NotificationSent(_NotificationEvent):
    event_type: Literal["notification.sent"] = "notification.sent"
    provider_message_id: Text | None = Field(None, description="The provider's id for the message")


class NotificationFailed(_NotificationEvent):
    event_type: Literal["notification.failed"] = "notification.failed"
    reason: Text = Field(description="Why the provider refused or could not be reached, after retries")


class NotificationSuppressed(_NotificationEvent):
    event_type: Literal["notification.suppressed"] = "notification.suppressed"
    reason: Text = Field(description="Why nothing was sent: no consent, opted out, on the suppression list")


class NotificationRetrying(_NotificationEvent):
    """A send attempt failed for a reason that may pass (SMTP 4xx, provider 5xx, a timeout, Twilio 30003)."""

    event_type: Literal["notification.retrying"] = "notification.retrying"
    attempt: StrictInt = Field(description="Which attempt failed (1 for the first)")
    reason: Text = Field(description="What the provider said, without the address")
    next_attempt_at: AwareDatetime = Field(description="When it is tried again (backoff with jitter)")


class NotificationDeliveryReported(_NotificationEvent):
    """The SMS provider reported on a sent text (its status callback): delivered, undelivered, failed..."""

    event_type: Literal["notification.delivery_reported"] = "notification.delivery_reported"
    provider_status: Text = Field(description="The provider's MessageStatus, e.g. 'delivered', 'undelivered'")
    error_code: Text | None = Field(None, description="The provider's ErrorCode, when it gave one")


class _ContactEvent(Event):
    """About one phone number, named by ``contact_key``: an HMAC-SHA256 of the E.164 number under notify's secret
    (PSC_NOTIFY_CONTACT_KEY_SECRET), never the number itself. Keyed by it, so a number's opt-outs and opt-ins stay in
    order on one partition."""

    contact_key: str = Field(description="HMAC-SHA256 (hex) of the E.164 number under notify's secret")
    channel: Channel = Field("sms", description="The channel the choice is about")
    keyword: str = Field(description="The keyword the parent sent (STOP, START, ...) or 'unsubscribe-link'")

    def partition_key(self) -> str:
        return self.contact_key


class ContactOptedOut(_ContactEvent):
    """The parent asked for no more messages on this channel (a STOP text, a one-click unsubscribe)."""

    event_type: Literal["contact.opted_out"] = "contact.opted_out"


class ContactOptedIn(_ContactEvent):
    """The parent asked for messages again (START, UNSTOP, YES)."""

    event_type: Literal["contact.opted_in"] = "contact.opted_in"
