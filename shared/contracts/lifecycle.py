"""Intake's lifecycle events: every change staff make to a case, on ``psc.inquiries.events``, keyed by inquiry.

Minimal on purpose: which inquiry, who (a staff id) and when (``occurred_at``); never a note's text or the parent's
data. Two texts do travel, because they are written *to* the parent and notify must send them: the question of
``inquiry.waiting_on_parent`` and the summary of ``inquiry.resolved``. A note visible to the parent is only
announced; the parent reads it on the status page.

Routing's SLA clocks follow ``CLOCK_EVENTS``; notify and the case history follow all of ``CASE_EVENTS``."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import Field, StrictBool

from shared.contracts.envelope import InquiryEvent
from shared.contracts.text import LongText, Text


class LifecycleEvent(InquiryEvent):
    """A staff action on an inquiry; ``occurred_at`` is when it happened."""

    by: Text = Field(description="Staff id of who did it (for a parent's reply: who recorded it)")


class InquiryAcknowledged(LifecycleEvent):
    """Staff acknowledged the inquiry: its first-response clock stops."""

    event_type: Literal["inquiry.acknowledged"] = "inquiry.acknowledged"


class InquiryWaitingOnParent(LifecycleEvent):
    """Staff asked the parent for information: the resolution clock pauses."""

    event_type: Literal["inquiry.waiting_on_parent"] = "inquiry.waiting_on_parent"
    question: LongText = Field(description="What the parent is asked for, written to the parent: notify sends it")


class InquiryParentReplied(LifecycleEvent):
    """The parent answered: the resolution clock resumes."""

    event_type: Literal["inquiry.parent_replied"] = "inquiry.parent_replied"


class InquiryResolved(LifecycleEvent):
    """Staff resolved the inquiry: its clocks stop."""

    event_type: Literal["inquiry.resolved"] = "inquiry.resolved"
    summary: LongText = Field(description="How it was resolved, written to the parent: notify sends it")


class InquiryReopened(LifecycleEvent):
    """A resolved inquiry was reopened: its resolution clock starts again from zero in the tier that has it."""

    event_type: Literal["inquiry.reopened"] = "inquiry.reopened"


class InquiryNoteAdded(LifecycleEvent):
    """Staff added a note. Its text stays in intake; a note visible to the parent is shown on the status page."""

    event_type: Literal["inquiry.note_added"] = "inquiry.note_added"
    note_id: UUID = Field(description="Intake's id of the note")
    visible_to_parent: StrictBool = Field(description="True when the parent sees it (status page, a message)")


class InquiryClosed(LifecycleEvent):
    """A resolved inquiry was closed: it can no longer be reopened (a new inquiry links to it instead)."""

    event_type: Literal["inquiry.closed"] = "inquiry.closed"
    reason: Literal["reopen_window_passed", "closed_by_staff"] = Field(description="Why it closed")


class InquiryLinked(LifecycleEvent):
    """The inquiry was linked to another one; nothing is merged, both stay as they were."""

    event_type: Literal["inquiry.linked"] = "inquiry.linked"
    linked_inquiry_id: UUID = Field(description="The other inquiry")
    relation: Literal["duplicate_of", "likely_duplicate_of", "follow_up_of"] = Field(
        description="'duplicate_of' (staff said so), 'likely_duplicate_of' (same parent, student and category within"
        " the window: shown to staff, never merged) or 'follow_up_of' (raised after the old one could not be reopened)"
    )


CLOCK_EVENTS = (
    InquiryAcknowledged,
    InquiryWaitingOnParent,
    InquiryParentReplied,
    InquiryResolved,
    InquiryReopened,
)
"""The lifecycle events that move routing's SLA clocks."""

CASE_EVENTS = (*CLOCK_EVENTS, InquiryNoteAdded, InquiryClosed, InquiryLinked)
"""Every lifecycle event intake publishes after ``inquiry.submitted``."""
