"""Intake's use cases. Each takes a unit of work with intake's repositories on it, calls the domain, saves, and emits
events through the unit of work's outbox; transport (Kafka in ``subscribers.py``, HTTP in ``api.py``) calls them.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from typing import Literal, Protocol, get_args
from uuid import UUID

from services.intake import domain, lifecycle, parents
from services.intake.domain import CaseState, HistoryEntry, Inquiry, Link, NewSubmission, Note, NoteKind, QueueFilter
from services.intake.unit_of_work import IntakeUnitOfWork
from shared.contracts.envelope import InquiryEvent
from shared.contracts.lifecycle import (
    InquiryAcknowledged,
    InquiryClosed,
    InquiryLinked,
    InquiryNoteAdded,
    InquiryParentReplied,
    InquiryReopened,
    InquiryResolved,
    InquiryWaitingOnParent,
    LifecycleEvent,
)
from shared.contracts.notifications import (
    NotificationDeliveryReported,
    NotificationFailed,
    NotificationRetrying,
    NotificationSent,
    NotificationSuppressed,
)
from shared.contracts.routing import (
    InquiryAssigned,
    InquiryDeadlineMoved,
    InquiryEscalated,
    InquiryReassigned,
    InquiryRerouted,
    InquirySlaBreached,
    InquirySlaWarning,
)
from shared.contracts.topics import INQUIRY_EVENTS
from shared.logging import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class Created:
    inquiry: Inquiry


@dataclass(frozen=True)
class Replayed:
    """The idempotency key was seen with the same content: the inquiry already exists."""

    inquiry_id: UUID


@dataclass(frozen=True)
class KeyReused:
    """The idempotency key was seen with different content: refused, nothing stored."""

    key: str


Outcome = Created | Replayed | KeyReused


DEFAULT_DUPLICATE_WINDOW = timedelta(days=30)
SYSTEM = "intake"
"""``by`` of what intake does by itself: the closing sweep, likely-duplicate links."""


async def record_submissions(
    uow: IntakeUnitOfWork,
    news: Sequence[NewSubmission],
    *,
    now: datetime,
    reference_prefix: str,
    duplicate_window: timedelta | None = DEFAULT_DUPLICATE_WINDOW,
) -> list[Outcome]:
    """Store new inquiries and emit ``inquiry.submitted`` for each, honouring idempotency keys; link each to a
    likely duplicate within ``duplicate_window`` (None: none looked for). Batch-sized I/O: both doors (one HTTP
    request, a Kafka batch) come through here."""
    ids = [uuid.uuid4() for _ in news]
    fingerprints = [domain.fingerprint(new.submission) for new in news]
    claims = [
        (new.idempotency_key, fp, i) for new, fp, i in zip(news, fingerprints, ids, strict=True) if new.idempotency_key
    ]
    claimed = await uow.inquiries.claim_keys(claims=claims)
    earlier = await uow.inquiries.find_keys(keys=[key for key, _, i in claims if i not in claimed])
    to_create = {k for k, (new, i) in enumerate(zip(news, ids, strict=True)) if not new.idempotency_key or i in claimed}
    numbers = iter(await uow.inquiries.next_reference_numbers(count=len(to_create)))
    outcomes: list[Outcome] = []
    created: list[Inquiry] = []
    tokens: dict[UUID, bytes] = {}
    history: list[HistoryEntry] = []
    for k, new in enumerate(news):
        if k in to_create:
            reference = domain.format_reference(reference_prefix, now.year, next(numbers))
            inquiry, event = domain.submit(new, inquiry_id=ids[k], reference=reference, now=now)
            created.append(inquiry)
            # The parent's status token: in the event for notify's link, kept here only as its digest.
            token = parents.new_token()
            tokens[inquiry.id] = parents.token_digest(token)
            event = event.model_copy(update={"status_token": token})
            uow.emit(INQUIRY_EVENTS, event)
            history.append(_entry(event, source="intake", by=new.submission.submitted_by))
            outcomes.append(Created(inquiry))
            continue
        assert new.idempotency_key is not None
        fingerprint, existing_id = earlier[new.idempotency_key]
        if fingerprint == fingerprints[k]:
            outcomes.append(Replayed(existing_id))
        else:
            outcomes.append(KeyReused(new.idempotency_key))
    stored: dict[UUID, UUID] = {}
    if duplicate_window is not None and created:  # looked up before the new ones are stored: one query a batch
        stored = await uow.inquiries.likely_duplicates(inquiries=created, since=now - duplicate_window)
    await uow.inquiries.add(inquiries=created)
    await uow.status_pages.add_tokens(digests=tokens)
    await uow.inquiries.add_history(entries=history)
    if duplicate_window is not None:
        await _link_likely_duplicates(uow, created, stored, now=now)
    return outcomes


async def _link_likely_duplicates(
    uow: IntakeUnitOfWork, created: Sequence[Inquiry], stored: dict[UUID, UUID], *, now: datetime
) -> None:
    """Each new inquiry is linked to the latest earlier one of the same parent, student and category (earlier in
    the same batch, else ``stored``: the latest such one already stored), never merged: staff see both."""
    for k, inquiry in enumerate(created):
        earlier = [
            i.id for i in reversed(created[:k]) if domain.same_parent_and_student(i.submission, inquiry.submission)
        ]
        duplicate_of = earlier[0] if earlier else stored.get(inquiry.id)
        if duplicate_of is not None:
            await _link(uow, inquiry, duplicate_of, relation="likely_duplicate_of", by=SYSTEM, now=now)


RoutingEvent = (
    InquiryAssigned
    | InquirySlaWarning
    | InquiryEscalated
    | InquirySlaBreached
    | InquiryDeadlineMoved
    | InquiryRerouted
    | InquiryReassigned
)
ROUTING_EVENT_TYPES = get_args(RoutingEvent)
"""Routing's events folded into a case (``psc.routing.events``)."""
NotifyEvent = (
    NotificationSent | NotificationFailed | NotificationSuppressed | NotificationRetrying | NotificationDeliveryReported
)
NOTIFY_EVENT_TYPES = get_args(NotifyEvent)
"""Notify's outcomes folded into a case's history (``psc.notify.events``)."""


async def apply_routing_events(uow: IntakeUnitOfWork, events: Sequence[RoutingEvent]) -> None:
    """Fold routing's events into each case's history, and keep who has it current: an assignment moves
    ``received`` to ``assigned``; escalations, reroutes and reassignments change the assignment (a late older
    decision changes nothing). Only the lifecycle columns are touched."""
    current = await uow.inquiries.lock_states(inquiry_ids=[event.inquiry_id for event in events])
    changed: dict[UUID, CaseState] = {}
    history: list[HistoryEntry] = []
    for event in events:
        inquiry = changed.get(event.inquiry_id) or current.get(event.inquiry_id)
        if inquiry is None:
            log.warning("routing event for an inquiry intake does not have", inquiry_id=str(event.inquiry_id))
            continue
        history.append(_entry(event, source="routing", by=None))
        if isinstance(event, InquirySlaWarning | InquirySlaBreached):
            continue
        incoming = domain.assignment_after(inquiry.assignment, event)
        if incoming is None:
            continue
        assignment = domain.newer_assignment(inquiry.assignment, incoming)
        changed[inquiry.id] = replace(
            inquiry,
            assignment=assignment,
            status=lifecycle.transition(inquiry.status, "assign"),
            updated_at=max(inquiry.updated_at, assignment.assigned_at),
        )
    await uow.inquiries.save_states(states=list(changed.values()))
    await uow.inquiries.add_history(entries=history)


async def apply_assignments(uow: IntakeUnitOfWork, events: Sequence[InquiryAssigned]) -> None:
    """Routing's assignments only (see ``apply_routing_events``)."""
    await apply_routing_events(uow, events)


async def record_notifications(uow: IntakeUnitOfWork, events: Sequence[NotifyEvent]) -> None:
    """Notify's outcomes (sent, failed, suppressed, retrying, the provider's delivery report) in each case's history;
    no address travels in them."""
    await uow.inquiries.add_history(entries=[_entry(event, source="notify", by=None) for event in events])


_ENVELOPE = frozenset({"event_id", "event_type", "version", "occurred_at", "correlation_id", "inquiry_id", "by"})
_NOT_IN_HISTORY = frozenset({"parent", "student", "question", "summary", "status_token"})
"""Personal data (shown from the inquiry itself), texts (kept in ``notes``), and the parent's status token (a
secret: intake keeps only its digest)."""


def _entry(
    event: InquiryEvent, *, source: Literal["intake", "routing", "notify"], by: str | None, note: Note | None = None
) -> HistoryEntry:
    """An event as a history entry: its own fields (no personal data: ``inquiry.submitted``'s parent and student
    are left out, a note's text stays in ``notes``)."""
    detail = event.model_dump(mode="json", exclude=set(_ENVELOPE | _NOT_IN_HISTORY))
    return HistoryEntry(
        event_id=event.event_id,
        inquiry_id=event.inquiry_id,
        event_type=event.event_type,
        occurred_at=event.occurred_at,
        source=source,
        by=by,
        note_id=note.id if note else None,
        detail=detail,
    )


# --- Staff actions ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Acknowledge:
    pass


@dataclass(frozen=True)
class AddNote:
    text: str
    visible_to_parent: bool


@dataclass(frozen=True)
class RequestInfo:
    question: str


@dataclass(frozen=True)
class RecordReply:
    reply: str


@dataclass(frozen=True)
class Resolve:
    summary: str


@dataclass(frozen=True)
class Reopen:
    reason: str


@dataclass(frozen=True)
class LinkDuplicate:
    duplicate_of: str
    """Id or reference of the inquiry this one duplicates."""


@dataclass(frozen=True)
class Reassign:
    staff_id: str


StaffAction = Acknowledge | AddNote | RequestInfo | RecordReply | Resolve | Reopen | LinkDuplicate | Reassign


class StaffMember(Protocol):
    @property
    def network_id(self) -> str: ...

    @property
    def active(self) -> bool: ...


class StaffLookup(Protocol):
    """Intake's copy of routing's staff directory (it follows ``staff.updated``)."""

    async def staff_member(self, staff_id: str) -> StaffMember | None: ...


class Routing(Protocol):
    """Routing's reassignment (routing owns assignees and their loads): ``Refused`` with routing's reason when that
    staff member cannot take the inquiry."""

    async def reassign(self, inquiry_id: UUID, staff_id: str) -> None: ...


@dataclass(frozen=True)
class Acted:
    """The inquiry after the action; for a reopen past the window, ``follow_up`` is the new inquiry linked to it."""

    inquiry: Inquiry
    follow_up: Inquiry | None = None
    replayed: bool = False
    follow_up_made: bool = True
    """False when the reopen found the follow-up already made and still open (asked again without a key)."""


class NotFound(Exception):
    """No such inquiry (or one the caller may not see: the same answer, so ids do not leak)."""


class Invalid(Exception):
    """A well-formed request that names something it cannot (422 naming ``field``)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


class ActionKeyReused(Exception):
    """The Idempotency-Key was used before for another action or inquiry."""


@dataclass(frozen=True)
class Policy:
    """The settings staff actions follow."""

    reopen_window_days: int
    reference_prefix: str
    duplicate_window: timedelta | None = DEFAULT_DUPLICATE_WINDOW


def _everyone(_: Inquiry) -> bool:
    return True


async def act(
    uow: IntakeUnitOfWork,
    id_or_reference: str,
    action: StaffAction,
    *,
    by: str,
    now: datetime,
    correlation_id: str,
    policy: Policy,
    idempotency_key: str | None = None,
    may_see: Callable[[Inquiry], bool] = _everyone,
    routing: Routing | None = None,
    directory: StaffLookup | None = None,
) -> Acted:
    """One staff action on one inquiry: the status change, the stored text, the history entry and the event, in the
    caller's transaction. A refused action (``lifecycle.Refused``, ``NotFound``, ``Invalid``) changes nothing.
    With an ``idempotency_key`` the same request applies once; a retry gets the same inquiry back."""
    inquiry = await find_inquiry(uow, id_or_reference, for_update=True)
    if inquiry is None or not may_see(inquiry):
        raise NotFound("no such inquiry")
    fingerprint = _action_fingerprint(inquiry.id, action)
    if idempotency_key is not None:
        earlier = await uow.inquiries.find_action_key(key=idempotency_key)
        if earlier is not None:
            if earlier[0] != fingerprint:
                raise ActionKeyReused(idempotency_key)
            follow_up = await uow.inquiries.get(inquiry_id=earlier[1]) if earlier[1] != inquiry.id else None
            return Acted(inquiry, follow_up, replayed=True)
    acted = await _apply(
        uow,
        inquiry,
        action,
        by=by,
        now=now,
        correlation_id=correlation_id,
        policy=policy,
        may_see=may_see,
        routing=routing,
        directory=directory,
    )
    if idempotency_key is not None:
        answer = acted.follow_up.id if acted.follow_up else inquiry.id
        if not await uow.inquiries.claim_action_key(
            key=idempotency_key, fingerprint=fingerprint, inquiry_id=inquiry.id, answer_id=answer
        ):
            raise ActionKeyReused(idempotency_key)  # claimed meanwhile for another inquiry: rolled back
    return acted


def _action_fingerprint(inquiry_id: UUID, action: StaffAction) -> str:
    content = json.dumps([str(inquiry_id), type(action).__name__, asdict(action)], sort_keys=True)
    return hashlib.sha256(content.encode()).hexdigest()


async def _apply(
    uow: IntakeUnitOfWork,
    inquiry: Inquiry,
    action: StaffAction,
    *,
    by: str,
    now: datetime,
    correlation_id: str,
    policy: Policy,
    may_see: Callable[[Inquiry], bool],
    routing: Routing | None,
    directory: StaffLookup | None,
) -> Acted:
    common = {"inquiry_id": inquiry.id, "occurred_at": now, "correlation_id": correlation_id, "by": by}

    def note(kind: NoteKind, text: str, visible: bool) -> Note:
        return Note(uuid.uuid4(), inquiry.id, kind, text, visible, by, now)

    if isinstance(action, Acknowledge):
        return await _change(uow, inquiry, "acknowledge", InquiryAcknowledged(**common), now=now)
    if isinstance(action, AddNote):
        n = note("note", action.text, action.visible_to_parent)
        event = InquiryNoteAdded(**common, note_id=n.id, visible_to_parent=action.visible_to_parent)
        return await _change(uow, inquiry, "note", event, now=now, note=n)
    if isinstance(action, RequestInfo):
        event_q = InquiryWaitingOnParent(**common, question=action.question)
        return await _change(
            uow, inquiry, "request_info", event_q, now=now, note=note("question", action.question, True)
        )
    if isinstance(action, RecordReply):
        n = note("parent_reply", action.reply, False)
        return await _change(uow, inquiry, "parent_reply", InquiryParentReplied(**common), now=now, note=n)
    if isinstance(action, Resolve):
        event_r = InquiryResolved(**common, summary=action.summary)
        due = lifecycle.close_due_at(now, window_days=policy.reopen_window_days)
        return await _change(
            uow,
            inquiry,
            "resolve",
            event_r,
            now=now,
            note=note("resolution", action.summary, True),
            resolved_at=now,
            close_due_at=due,
        )
    if isinstance(action, Reopen):
        if inquiry.status == "closed" or (
            inquiry.status == "resolved" and not lifecycle.reopen_window_open(inquiry.close_due_at, now=now)
        ):
            return await _follow_up(
                uow, inquiry, action.reason, by=by, now=now, correlation_id=correlation_id, policy=policy
            )
        n = note("reopen_reason", action.reason, False)
        return await _change(
            uow, inquiry, "reopen", InquiryReopened(**common), now=now, note=n, resolved_at=None, close_due_at=None
        )
    if isinstance(action, LinkDuplicate):
        lifecycle.transition(inquiry.status, "link")
        other = await find_inquiry(uow, action.duplicate_of)
        if other is None or not may_see(other):
            raise Invalid("duplicate_of", "no such inquiry")
        if other.id == inquiry.id:
            raise Invalid("duplicate_of", "an inquiry cannot duplicate itself")
        if any(link.linked_inquiry_id == other.id for link in await uow.inquiries.links(inquiry_id=inquiry.id)):
            raise lifecycle.Refused(status=inquiry.status, action="link", why="it is already linked to that inquiry")
        await _link(uow, inquiry, other.id, relation="duplicate_of", by=by, now=now, correlation_id=correlation_id)
        return Acted(inquiry)
    lifecycle.transition(inquiry.status, "reassign")
    if directory is not None:
        member = await directory.staff_member(action.staff_id)
        network = inquiry.assignment.network_id if inquiry.assignment else None
        if member is None or not member.active or member.network_id != network:
            raise Invalid("staff_id", "is not an active staff member of the inquiry's network")
    if routing is None:
        raise RuntimeError("reassignment needs routing")
    await routing.reassign(inquiry.id, action.staff_id)
    return Acted(inquiry)


async def _change(
    uow: IntakeUnitOfWork,
    inquiry: Inquiry,
    action: lifecycle.Action,
    event: LifecycleEvent,
    *,
    now: datetime,
    note: Note | None = None,
    **fields: datetime | None,
) -> Acted:
    status = lifecycle.transition(inquiry.status, action)
    changed = replace(inquiry, status=status, updated_at=now, **fields)  # type: ignore[arg-type]
    await uow.inquiries.save(inquiries=[changed])
    if note is not None:
        await uow.inquiries.add_note(note=note)
    await uow.inquiries.add_history(entries=[_entry(event, source="intake", by=event.by, note=note)])
    uow.emit(INQUIRY_EVENTS, event)
    return Acted(changed)


async def _link(
    uow: IntakeUnitOfWork,
    inquiry: Inquiry,
    other_id: UUID,
    *,
    relation: Literal["duplicate_of", "likely_duplicate_of", "follow_up_of"],
    by: str,
    now: datetime,
    correlation_id: str | None = None,
) -> None:
    event = InquiryLinked(
        inquiry_id=inquiry.id,
        occurred_at=now,
        correlation_id=correlation_id or inquiry.correlation_id,
        by=by,
        linked_inquiry_id=other_id,
        relation=relation,
    )
    await uow.inquiries.add_links(links=[Link(inquiry.id, other_id, relation, by, now)])
    await uow.inquiries.add_history(entries=[_entry(event, source="intake", by=by)])
    uow.emit(INQUIRY_EVENTS, event)


async def _follow_up(
    uow: IntakeUnitOfWork, old: Inquiry, reason: str, *, by: str, now: datetime, correlation_id: str, policy: Policy
) -> Acted:
    """A reopen past the window: the old inquiry is closed (if the sweep has not yet closed it) and a new one, with
    the same parent, student and category and the reopen's reason as its description, is linked to it. While a
    follow-up made before is still open, a reopen asked again answers with it rather than making another."""
    if old.status == "resolved":
        old = await _close(uow, old, now=now, correlation_id=correlation_id)
    for link in await uow.inquiries.links(inquiry_id=old.id, both_ways=True):
        if link.relation == "follow_up_of" and link.linked_inquiry_id == old.id:
            earlier = await uow.inquiries.get(inquiry_id=link.inquiry_id)
            if earlier is not None and earlier.status not in ("resolved", "closed"):
                return Acted(old, earlier, follow_up_made=False)
    submission = old.submission.model_copy(update={"description": reason, "submitted_by": by})
    new = NewSubmission(submission=submission, source="http", correlation_id=correlation_id, idempotency_key=None)
    (outcome,) = await record_submissions(
        uow, [new], now=now, reference_prefix=policy.reference_prefix, duplicate_window=None
    )
    assert isinstance(outcome, Created)
    await _link(uow, outcome.inquiry, old.id, relation="follow_up_of", by=by, now=now, correlation_id=correlation_id)
    return Acted(old, outcome.inquiry)


async def _close(uow: IntakeUnitOfWork, inquiry: Inquiry, *, now: datetime, correlation_id: str) -> Inquiry:
    event = InquiryClosed(
        inquiry_id=inquiry.id, occurred_at=now, correlation_id=correlation_id, by=SYSTEM, reason="reopen_window_passed"
    )
    return (await _change(uow, inquiry, "close", event, now=now, close_due_at=None)).inquiry


async def close_due(uow: IntakeUnitOfWork, *, now: datetime, limit: int) -> int:
    """The closing sweep: close every resolved inquiry whose reopen window has passed (claimed with ``FOR UPDATE
    SKIP LOCKED``, so replicas share the work and close each once). Returns how many it claimed."""
    due = await uow.inquiries.due_for_closing(now=now, limit=limit)
    for inquiry in due:
        await _close(uow, inquiry, now=now, correlation_id=f"close-{inquiry.id}")
    return len(due)


async def next_close_due(uow: IntakeUnitOfWork) -> datetime | None:
    return await uow.inquiries.next_close_due()


# --- Reads --------------------------------------------------------------------------------------------------------


async def find_inquiry(uow: IntakeUnitOfWork, id_or_reference: str, *, for_update: bool = False) -> Inquiry | None:
    """``PSC-26-000123`` (any case) or the inquiry's UUID."""
    try:
        return await uow.inquiries.get(inquiry_id=UUID(id_or_reference), for_update=for_update)
    except ValueError:
        return await uow.inquiries.get(reference=id_or_reference.upper(), for_update=for_update)


async def history(uow: IntakeUnitOfWork, inquiry_id: UUID) -> list[HistoryEntry]:
    """Everything that happened to the case, in order, with the notes' texts (for staff)."""
    return await uow.inquiries.history(inquiry_id=inquiry_id)


async def links(uow: IntakeUnitOfWork, inquiry_id: UUID) -> list[Link]:
    """Links both ways: this inquiry's to others, and others' to it."""
    return await uow.inquiries.links(inquiry_id=inquiry_id, both_ways=True)


async def queue(uow: IntakeUnitOfWork, where: QueueFilter, *, limit: int) -> list[Inquiry]:
    return await uow.inquiries.queue(where=where, limit=limit)


async def parent_view(uow: IntakeUnitOfWork, id_or_reference: str) -> tuple[Inquiry, list[Note]] | None:
    """What the parent may see of their inquiry (for the status page): the inquiry (status, the office handling it,
    the expected date: its assignment's ``due_at`` while open) and the notes marked visible to the parent, in order."""
    inquiry = await find_inquiry(uow, id_or_reference)
    if inquiry is None:
        return None
    return inquiry, await uow.inquiries.visible_notes(inquiry_id=inquiry.id)
