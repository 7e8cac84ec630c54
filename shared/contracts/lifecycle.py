"""Intake's lifecycle events that routing's SLA clocks follow (named by the case lifecycle issue). Minimal on
purpose: which inquiry, who (a staff id) and when (``occurred_at``); never a note's text or a parent's data."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from shared.contracts.envelope import InquiryEvent
from shared.contracts.text import Text


class LifecycleEvent(InquiryEvent):
    """A staff action on an inquiry; ``occurred_at`` is when it happened."""

    by: Text = Field(description="Staff id of who did it (for a parent's reply: who recorded it)")


class InquiryAcknowledged(LifecycleEvent):
    """Staff acknowledged the inquiry: its first-response clock stops."""

    event_type: Literal["inquiry.acknowledged"] = "inquiry.acknowledged"


class InquiryWaitingOnParent(LifecycleEvent):
    """Staff asked the parent for information: the resolution clock pauses."""

    event_type: Literal["inquiry.waiting_on_parent"] = "inquiry.waiting_on_parent"


class InquiryParentReplied(LifecycleEvent):
    """The parent answered: the resolution clock resumes."""

    event_type: Literal["inquiry.parent_replied"] = "inquiry.parent_replied"


class InquiryResolved(LifecycleEvent):
    """Staff resolved the inquiry: its clocks stop."""

    event_type: Literal["inquiry.resolved"] = "inquiry.resolved"


class InquiryReopened(LifecycleEvent):
    """A resolved inquiry was reopened: its resolution clock starts again from zero in the tier that has it."""

    event_type: Literal["inquiry.reopened"] = "inquiry.reopened"


LIFECYCLE_EVENTS = (
    InquiryAcknowledged,
    InquiryWaitingOnParent,
    InquiryParentReplied,
    InquiryResolved,
    InquiryReopened,
)
