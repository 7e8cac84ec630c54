"""Notify's events: what was sent to a parent, or why not. No addresses: those stay in notify's tables."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import Field

from shared.contracts.envelope import InquiryEvent

Channel = Literal["email", "sms"]


class _NotificationEvent(InquiryEvent):
    delivery_id: UUID = Field(description="Notify's delivery record")
    channel: Channel = Field(description="email or sms")
    template: str = Field(description="Template name, e.g. 'inquiry_received'")
    language: str = Field(description="Language the message was written in")


class NotificationSent(_NotificationEvent):
    event_type: Literal["notification.sent"] = "notification.sent"
    provider_message_id: str | None = Field(None, description="The provider's id for the message")


class NotificationFailed(_NotificationEvent):
    event_type: Literal["notification.failed"] = "notification.failed"
    reason: str = Field(description="Why the provider refused or could not be reached, after retries")


class NotificationSuppressed(_NotificationEvent):
    event_type: Literal["notification.suppressed"] = "notification.suppressed"
    reason: str = Field(description="Why nothing was sent: no consent, opted out, on the suppression list")
