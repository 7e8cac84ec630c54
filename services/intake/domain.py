"""Intake's rules, pure and synchronous: what an inquiry is, how it is numbered, what submitting it emits."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import AwareDatetime, Field

from shared.contracts.envelope import FrozenModel
from shared.contracts.inquiries import InquirySubmission, InquirySubmitted
from shared.contracts.routing import (
    InquiryAssigned,
    InquiryDeadlineMoved,
    InquiryEscalated,
    InquiryReassigned,
    InquiryRerouted,
)

Source = Literal["http", "kafka"]
RECEIVED = "received"


class Assignment(FrozenModel):
    """Who has the inquiry, as routing's events tell intake. Its fields are written here only: the repository's
    columns and the API's view are derived from them."""

    network_id: str = Field(description="Directory id of the network office, or 'central'")
    network_name: str = Field(description="e.g. 'Network 4', or 'Parent Support Center'")
    queue: str = Field(description="'network' or 'central'")
    tier: str = Field(description="Escalation tier holding the inquiry: network, psa or central")
    assigned_at: AwareDatetime = Field(description="When routing decided")
    due_at: AwareDatetime | None = Field(description="When it escalates if not resolved")
    assignee_id: str | None = Field(None, description="Staff id of who has it; null when nobody is on file")


@dataclass(frozen=True)
class Inquiry:
    id: UUID
    reference: str
    status: str
    submission: InquirySubmission
    source: Source
    correlation_id: str
    created_at: datetime
    updated_at: datetime
    assignment: Assignment | None = None
    resolved_at: datetime | None = None
    close_due_at: datetime | None = None
    """When a resolved inquiry closes by itself (the end of its reopen window); None unless resolved."""


@dataclass(frozen=True)
class CaseState:
    """What routing's events change on an inquiry, without its content (not read to apply them)."""

    id: UUID
    status: str
    updated_at: datetime
    assignment: Assignment | None


@dataclass(frozen=True)
class NewSubmission:
    """A validated submission on its way in, from either door."""

    submission: InquirySubmission
    source: Source
    correlation_id: str
    idempotency_key: str | None


def format_reference(prefix: str, year: int, number: int) -> str:
    """``PSC-26-000123``: short enough to read over the phone, unique across years."""
    return f"{prefix}-{year % 100:02d}-{number:06d}"


# What counts as "the same submission": the inquiry's content, not the submitter's ids around it (a Kafka command
# also carries correlation_id and idempotency_key; a retry may come with a new correlation id).
_CONTENT_FIELDS = frozenset(InquirySubmission.model_fields)


def fingerprint(submission: InquirySubmission) -> str:
    """Same content, same fingerprint: tells a retry from a different request that reuses an idempotency key."""
    return hashlib.sha256(submission.model_dump_json(include=set(_CONTENT_FIELDS)).encode()).hexdigest()


def submit(new: NewSubmission, *, inquiry_id: UUID, reference: str, now: datetime) -> tuple[Inquiry, InquirySubmitted]:
    inquiry = Inquiry(
        id=inquiry_id,
        reference=reference,
        status=RECEIVED,
        submission=new.submission,
        source=new.source,
        correlation_id=new.correlation_id,
        created_at=now,
        updated_at=now,
    )
    s = new.submission
    event = InquirySubmitted(
        inquiry_id=inquiry_id,
        occurred_at=now,
        correlation_id=new.correlation_id,
        reference=reference,
        category=s.category,
        channel=s.channel,
        parent=s.parent,
        student=s.student,
        submitted_by=s.submitted_by,
        urgency=s.urgency,
    )
    return inquiry, event


ASSIGNMENT_FIELDS: tuple[str, ...] = tuple(Assignment.model_fields)


def assignment_from(event: InquiryAssigned) -> Assignment:
    """The event's fields of the same name; routing's decision time is when the event occurred."""
    carried = event.model_dump(include=set(ASSIGNMENT_FIELDS) - {"assigned_at"})
    return Assignment(assigned_at=event.occurred_at, **carried)


def newer_assignment(current: Assignment | None, incoming: Assignment) -> Assignment:
    """Routing's newer decision wins; an older event arriving late changes nothing."""
    if current is not None and current.assigned_at > incoming.assigned_at:
        return current
    return incoming


RoutingChange = InquiryAssigned | InquiryEscalated | InquiryRerouted | InquiryReassigned | InquiryDeadlineMoved
"""Routing's events that change who has an inquiry, or when it is due."""


def _queue(network_id: str) -> str:
    return "central" if network_id == "central" else "network"


def assignment_after(current: Assignment | None, event: RoutingChange) -> Assignment | None:
    """Who has the inquiry after one of routing's changes (None: a change to an assignment intake never saw)."""
    if isinstance(event, InquiryAssigned):
        return assignment_from(event)
    if isinstance(event, InquiryEscalated):
        return Assignment(
            network_id=event.network_id,
            network_name=event.network_name,
            queue=_queue(event.network_id),
            tier=event.to_tier,
            assigned_at=event.occurred_at,
            due_at=event.next_due_at,
            assignee_id=event.assignee_id,
        )
    if isinstance(event, InquiryRerouted):
        return Assignment(
            network_id=event.to_network_id,
            network_name=event.to_network_name,
            queue=_queue(event.to_network_id),
            tier=event.tier,
            assigned_at=event.occurred_at,
            due_at=event.due_at,
            assignee_id=event.assignee_id,
        )
    if current is None:
        return None
    if isinstance(event, InquiryDeadlineMoved):  # the same decision, due later: it stays as new as it was
        return current.model_copy(update={"due_at": event.due_at})
    return current.model_copy(
        update={"assignee_id": event.assignee_id, "due_at": event.due_at, "assigned_at": event.occurred_at}
    )


NoteKind = Literal["note", "question", "parent_reply", "resolution", "reopen_reason"]


@dataclass(frozen=True)
class Note:
    """A text staff wrote or recorded on a case. Stays in intake: events carry its id, never its text (except the
    question and the resolution summary, which are written to the parent and travel for notify)."""

    id: UUID
    inquiry_id: UUID
    kind: NoteKind
    text: str
    visible_to_parent: bool
    by: str
    created_at: datetime


@dataclass(frozen=True)
class HistoryEntry:
    """One thing that happened to a case: intake's own change, routing's or notify's event. ``detail`` holds the
    event's own fields (no personal data); a note's text is joined from ``notes`` when the history is read."""

    event_id: UUID
    inquiry_id: UUID
    event_type: str
    occurred_at: datetime
    source: Literal["intake", "routing", "notify"]
    by: str | None = None
    note_id: UUID | None = None
    detail: dict[str, object] | None = None
    note: Note | None = None


@dataclass(frozen=True)
class Link:
    inquiry_id: UUID
    linked_inquiry_id: UUID
    relation: Literal["duplicate_of", "likely_duplicate_of", "follow_up_of"]
    by: str
    created_at: datetime


def same_parent_and_student(a: InquirySubmission, b: InquirySubmission) -> bool:
    """Likely the same case: the same category, the same student (school and grade: the submission names no
    student) and the same parent (email, any case, or mobile phone)."""
    if a.category != b.category or a.student != b.student:
        return False
    emails = a.parent.email and b.parent.email and a.parent.email.lower() == b.parent.email.lower()
    phones = a.parent.mobile_phone and a.parent.mobile_phone == b.parent.mobile_phone
    return bool(emails or phones)


@dataclass(frozen=True)
class QueueFilter:
    """The staff queue's filters; None leaves a filter out. ``network_ids`` limits to the networks the caller may
    see (None: all); ``reference`` matches the start of a reference number; ``before`` is the page cursor (the
    last row's creation time and id: newest first)."""

    status: str | None = None
    network_id: str | None = None
    network_ids: frozenset[str] | None = None
    category: str | None = None
    school_id: int | None = None
    reference: str | None = None
    before: tuple[datetime, UUID] | None = None
    most_urgent_first: bool = False
    """The console's order: the earliest due time of routing's tier first (none last), then the oldest; no cursor."""

    def urgency_key(self, inquiry: Inquiry) -> tuple[bool, datetime, datetime, UUID]:
        """The same order in Python (the in-memory fake)."""
        due = inquiry.assignment.due_at if inquiry.assignment else None
        return (due is None, due or inquiry.created_at, inquiry.created_at, inquiry.id)

    def admits(self, inquiry: Inquiry) -> bool:
        """The same filter in Python (the in-memory fake; the repository says it in SQL)."""
        network = inquiry.assignment.network_id if inquiry.assignment else None
        s = inquiry.submission
        return (
            self.status in (None, inquiry.status)
            and self.network_id in (None, network)
            and (self.network_ids is None or network in self.network_ids)
            and self.category in (None, s.category.value)
            and self.school_id in (None, s.student.school_id)
            and (self.reference is None or inquiry.reference.startswith(self.reference))
            and (self.before is None or (inquiry.created_at, inquiry.id) < self.before)
        )
