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
from shared.contracts.routing import InquiryAssigned

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
