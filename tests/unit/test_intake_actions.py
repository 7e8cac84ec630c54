"""Staff actions on a case, the closing sweep, likely duplicates and the history, against the in-memory unit of
work (the same use cases run through the real broker and database in tests/integration/test_lifecycle.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from fakes.intake import NOW, SUBMISSION, FakeIntakeUnitOfWork

from services.intake import handlers, lifecycle
from services.intake.domain import NewSubmission, QueueFilter
from shared.contracts.inquiries import InquiryCategory, InquirySubmission
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
from shared.contracts.notifications import NotificationSent
from shared.contracts.routing import InquiryAssigned, InquiryDeadlineMoved, InquiryEscalated, InquirySlaWarning
from shared.contracts.topics import INQUIRY_EVENTS

POLICY = handlers.Policy(reopen_window_days=14, reference_prefix="PSC")


async def submitted(
    uow: FakeIntakeUnitOfWork, submission: InquirySubmission = SUBMISSION, *, at: datetime = NOW
) -> UUID:
    new = NewSubmission(submission, source="http", correlation_id="req-1", idempotency_key=None)
    (outcome,) = await handlers.record_submissions(uow, [new], now=at, reference_prefix="PSC")
    assert isinstance(outcome, handlers.Created)
    return outcome.inquiry.id


def assigned_event(inquiry_id: UUID, *, at: datetime = NOW, network: str = "network-4") -> InquiryAssigned:
    return InquiryAssigned.model_validate(
        {
            "inquiry_id": inquiry_id,
            "occurred_at": at,
            "correlation_id": "req-1",
            "network_id": network,
            "network_name": "Network 4",
            "queue": "network",
            "tier": "network",
            "reason": "school_network",
            "school_id": 609794,
            "due_at": NOW + timedelta(days=2),
            "assignee_id": "ana.staff",
        }
    )


async def assigned(uow: FakeIntakeUnitOfWork) -> UUID:
    inquiry_id = await submitted(uow)
    await handlers.apply_routing_events(uow, [assigned_event(inquiry_id)])
    return inquiry_id


async def act(
    uow: FakeIntakeUnitOfWork, inquiry_id: UUID, action: handlers.StaffAction, *, at: datetime = NOW, **extra: Any
) -> handlers.Acted:
    return await handlers.act(
        uow,
        str(inquiry_id),
        action,
        by="ana.staff",
        now=at,
        correlation_id="req-9",
        policy=POLICY,
        **extra,
    )


def status(uow: FakeIntakeUnitOfWork, inquiry_id: UUID) -> str:
    return uow.inquiries.by_id[inquiry_id].status


async def test_routing_s_assignment_moves_received_to_assigned_and_is_in_the_history() -> None:
    uow = FakeIntakeUnitOfWork()
    inquiry_id = await assigned(uow)
    assert status(uow, inquiry_id) == "assigned"
    assert uow.inquiries.assignments[inquiry_id].assignee_id == "ana.staff"
    history = await handlers.history(uow, inquiry_id)
    assert [e.event_type for e in history] == ["inquiry.submitted", "inquiry.assigned"]
    submitted = history[0].detail or {}
    assert submitted["reference"] == "PSC-26-000001"
    assert not {"parent", "student", "status_token"} & set(submitted)


async def test_the_whole_path_emits_each_event_with_who_and_never_the_note_text() -> None:
    uow = FakeIntakeUnitOfWork()
    inquiry_id = await assigned(uow)
    steps: list[tuple[handlers.StaffAction, str, type]] = [
        (handlers.Acknowledge(), "acknowledged", InquiryAcknowledged),
        (handlers.AddNote("Called the school.", visible_to_parent=False), "in_progress", InquiryNoteAdded),
        (handlers.RequestInfo("Which dates?"), "waiting_on_parent", InquiryWaitingOnParent),
        (handlers.RecordReply("The 3rd and the 5th."), "in_progress", InquiryParentReplied),
        (handlers.Resolve("Corrected both days."), "resolved", InquiryResolved),
        (handlers.Reopen("The 5th is still wrong."), "in_progress", InquiryReopened),
    ]
    for action, expected, event_type in steps:
        uow.emitted.clear()
        await act(uow, inquiry_id, action)
        assert status(uow, inquiry_id) == expected
        (event,) = uow.events_on(INQUIRY_EVENTS)
        assert isinstance(event, LifecycleEvent) and isinstance(event, event_type)
        assert event.by == "ana.staff" and event.inquiry_id == inquiry_id
    assert "Called the school." not in str([e.model_dump() for _, e in uow.emitted])
    history = await handlers.history(uow, inquiry_id)
    note = next(e for e in history if e.event_type == "inquiry.note_added").note
    assert note is not None and note.text == "Called the school." and not note.visible_to_parent


async def test_a_refused_action_changes_nothing_and_says_why() -> None:
    uow = FakeIntakeUnitOfWork()
    inquiry_id = await submitted(uow)  # not assigned yet
    before = (uow.inquiries.by_id[inquiry_id], dict(uow.inquiries.history_by_event), list(uow.emitted))
    with pytest.raises(lifecycle.Refused, match="cannot acknowledge an inquiry that is received"):
        await act(uow, inquiry_id, handlers.Acknowledge(), idempotency_key="k-1")
    with pytest.raises(lifecycle.Refused):
        await act(uow, inquiry_id, handlers.Resolve("Done."))
    assert (uow.inquiries.by_id[inquiry_id], dict(uow.inquiries.history_by_event), list(uow.emitted)) == before
    assert uow.inquiries.action_keys == {} and uow.inquiries.notes == {}


async def test_an_unknown_inquiry_or_one_the_caller_may_not_see_is_not_found() -> None:
    uow = FakeIntakeUnitOfWork()
    inquiry_id = await assigned(uow)
    with pytest.raises(handlers.NotFound):
        await act(uow, uuid4(), handlers.Acknowledge())
    with pytest.raises(handlers.NotFound):
        await act(uow, inquiry_id, handlers.Acknowledge(), may_see=lambda _: False)
    assert status(uow, inquiry_id) == "assigned"


async def test_the_same_key_applies_once_and_another_request_with_it_is_refused() -> None:
    uow = FakeIntakeUnitOfWork()
    inquiry_id = await assigned(uow)
    await act(uow, inquiry_id, handlers.Acknowledge())
    first = await act(uow, inquiry_id, handlers.AddNote("Once.", visible_to_parent=True), idempotency_key="k-1")
    again = await act(uow, inquiry_id, handlers.AddNote("Once.", visible_to_parent=True), idempotency_key="k-1")
    assert not first.replayed and again.replayed and again.inquiry.id == inquiry_id
    assert len(uow.inquiries.notes) == 1 and len(uow.events_on(INQUIRY_EVENTS)) == 3  # submitted, ack, one note
    with pytest.raises(handlers.ActionKeyReused):
        await act(uow, inquiry_id, handlers.AddNote("Other.", visible_to_parent=True), idempotency_key="k-1")
    assert len(uow.inquiries.notes) == 1


async def test_resolving_sets_the_reopen_window_and_the_sweep_closes_it_when_it_ends() -> None:
    uow = FakeIntakeUnitOfWork()
    inquiry_id = await assigned(uow)
    await act(uow, inquiry_id, handlers.Acknowledge())
    await act(uow, inquiry_id, handlers.Resolve("Done."))
    due = NOW + timedelta(days=14)
    assert uow.inquiries.by_id[inquiry_id].close_due_at == due
    assert await handlers.next_close_due(uow) == due
    assert await handlers.close_due(uow, now=due - timedelta(seconds=1), limit=10) == 0
    uow.emitted.clear()
    assert await handlers.close_due(uow, now=due, limit=10) == 1
    assert status(uow, inquiry_id) == "closed"
    (event,) = uow.events_on(INQUIRY_EVENTS)
    assert isinstance(event, InquiryClosed) and event.reason == "reopen_window_passed" and event.by == "intake"
    assert await handlers.close_due(uow, now=due + timedelta(days=1), limit=10) == 0


async def test_a_reopen_past_the_window_answers_with_a_new_inquiry_linked_to_the_old_one() -> None:
    uow = FakeIntakeUnitOfWork()
    inquiry_id = await assigned(uow)
    await act(uow, inquiry_id, handlers.Acknowledge())
    await act(uow, inquiry_id, handlers.Resolve("Done."))
    later = NOW + timedelta(days=15)  # the sweep has not run: the reopen closes it first
    uow.emitted.clear()
    acted = await act(uow, inquiry_id, handlers.Reopen("Absences again."), at=later)
    assert acted.follow_up is not None and acted.follow_up.id != inquiry_id
    assert status(uow, inquiry_id) == "closed" and acted.follow_up.status == "received"
    assert acted.follow_up.submission.description == "Absences again."
    types = [e.event_type for e in uow.events_on(INQUIRY_EVENTS)]
    assert types == ["inquiry.closed", "inquiry.submitted", "inquiry.linked"]
    link = uow.events_on(INQUIRY_EVENTS)[-1]
    assert isinstance(link, InquiryLinked) and link.relation == "follow_up_of" and link.linked_inquiry_id == inquiry_id
    # Asked again without a key while that follow-up is open: the same follow-up, nothing new.
    uow.emitted.clear()
    again = await act(uow, inquiry_id, handlers.Reopen("And again."), at=later)
    assert again.follow_up is not None and again.follow_up.id == acted.follow_up.id and not again.follow_up_made
    assert uow.events_on(INQUIRY_EVENTS) == []
    # Once the follow-up is resolved too, a reopen of the old one makes a new follow-up.
    await handlers.apply_routing_events(uow, [assigned_event(acted.follow_up.id)])
    await act(uow, acted.follow_up.id, handlers.Acknowledge(), at=later)
    await act(uow, acted.follow_up.id, handlers.Resolve("Done again."), at=later)
    third = await act(uow, inquiry_id, handlers.Reopen("Once more."), at=later)
    assert third.follow_up is not None and third.follow_up.id not in (inquiry_id, acted.follow_up.id)
    assert third.follow_up_made


async def test_the_same_parent_student_and_category_within_the_window_is_linked_as_a_likely_duplicate() -> None:
    uow = FakeIntakeUnitOfWork()
    first = await submitted(uow)
    other_category = SUBMISSION.model_copy(update={"category": InquiryCategory.ENROLLMENT})
    await submitted(uow, other_category, at=NOW + timedelta(days=1))
    uow.emitted.clear()
    second = await submitted(uow, at=NOW + timedelta(days=2))
    linked = [e for e in uow.events_on(INQUIRY_EVENTS) if isinstance(e, InquiryLinked)]
    assert [(e.inquiry_id, e.linked_inquiry_id, e.relation) for e in linked] == [(second, first, "likely_duplicate_of")]
    links = await handlers.links(uow, first)
    assert [(link.inquiry_id, link.relation) for link in links] == [(second, "likely_duplicate_of")]
    # Past the window: not linked.
    uow.emitted.clear()
    await submitted(uow, other_category, at=NOW + timedelta(days=40))
    assert not [e for e in uow.events_on(INQUIRY_EVENTS) if isinstance(e, InquiryLinked)]


async def test_staff_link_a_duplicate_once_and_never_to_itself() -> None:
    uow = FakeIntakeUnitOfWork()
    first = await submitted(uow)
    other = SUBMISSION.model_copy(update={"category": InquiryCategory.ENROLLMENT})
    second = await submitted(uow, other)
    await act(uow, second, handlers.LinkDuplicate(str(first)))
    assert [link.relation for link in await handlers.links(uow, second)] == ["duplicate_of"]
    with pytest.raises(lifecycle.Refused, match="already linked"):
        await act(uow, second, handlers.LinkDuplicate(str(first)))
    with pytest.raises(handlers.Invalid) as itself:
        await act(uow, second, handlers.LinkDuplicate(str(second)))
    assert itself.value.field == "duplicate_of"
    with pytest.raises(handlers.Invalid):
        await act(uow, second, handlers.LinkDuplicate("PSC-26-999999"))


@dataclass
class Member:
    network_id: str
    active: bool


class Directory:
    def __init__(self, **members: Member) -> None:
        self.members = members

    async def staff_member(self, staff_id: str) -> Member | None:
        return self.members.get(staff_id)


class RecordingRouting:
    def __init__(self) -> None:
        self.asked: list[tuple[UUID, str]] = []

    async def reassign(self, inquiry_id: UUID, staff_id: str) -> None:
        self.asked.append((inquiry_id, staff_id))


async def test_reassignment_goes_to_routing_only_for_active_staff_of_the_inquiry_s_network() -> None:
    uow = FakeIntakeUnitOfWork()
    inquiry_id = await assigned(uow)
    routing = RecordingRouting()
    directory = Directory(bo=Member("network-4", True), cy=Member("network-9", True), di=Member("network-4", False))
    for outsider in ("cy", "di", "nobody"):
        with pytest.raises(handlers.Invalid):
            await act(uow, inquiry_id, handlers.Reassign(outsider), routing=routing, directory=directory)
    await act(uow, inquiry_id, handlers.Reassign("bo"), routing=routing, directory=directory)
    assert routing.asked == [(inquiry_id, "bo")]
    assert uow.events_on(INQUIRY_EVENTS)[-1].event_type == "inquiry.submitted"  # routing announces it, not intake


async def test_routing_s_and_notify_s_events_fold_into_the_history_once_each() -> None:
    uow = FakeIntakeUnitOfWork()
    inquiry_id = await assigned(uow)
    warning = InquirySlaWarning(
        inquiry_id=inquiry_id,
        occurred_at=NOW + timedelta(hours=1),
        correlation_id="c",
        tier="network",
        clock="first_response",
        network_id="network-4",
        escalates_at=NOW + timedelta(hours=2),
    )
    escalated = InquiryEscalated(
        inquiry_id=inquiry_id,
        occurred_at=NOW + timedelta(hours=2),
        correlation_id="c",
        from_tier="network",
        to_tier="psa",
        clock="first_response",
        why="next_tier",
        network_id="network-4",
        network_name="Network 4",
        assignee_id="pat.psa",
        due_at=NOW + timedelta(hours=2),
        next_due_at=NOW + timedelta(days=1),
    )
    sent = NotificationSent(
        inquiry_id=inquiry_id,
        occurred_at=NOW + timedelta(minutes=1),
        correlation_id="c",
        delivery_id=uuid4(),
        channel="email",
        template="inquiry_received",
        language="en",
    )
    await handlers.apply_routing_events(uow, [warning, escalated, escalated])
    await handlers.record_notifications(uow, [sent, sent])
    history = await handlers.history(uow, inquiry_id)
    assert [e.event_type for e in history] == [
        "inquiry.submitted",
        "inquiry.assigned",
        "notification.sent",
        "inquiry.sla_warning",
        "inquiry.escalated",
    ]
    assert history[2].source == "notify" and history[2].detail == {
        "delivery_id": str(sent.delivery_id),
        "channel": "email",
        "template": "inquiry_received",
        "language": "en",
        "provider_message_id": None,
    }
    assignment = uow.inquiries.assignments[inquiry_id]
    assert (assignment.tier, assignment.assignee_id) == ("psa", "pat.psa")


async def test_the_queue_filters_and_pages_newest_first() -> None:
    uow = FakeIntakeUnitOfWork()
    ids = [await submitted(uow, at=NOW + timedelta(minutes=k)) for k in range(3)]
    await handlers.apply_routing_events(uow, [assigned_event(ids[0])])
    assert [i.id for i in await handlers.queue(uow, QueueFilter(), limit=10)] == ids[::-1]
    assert [i.id for i in await handlers.queue(uow, QueueFilter(status="assigned"), limit=10)] == [ids[0]]
    assert [i.id for i in await handlers.queue(uow, QueueFilter(network_ids=frozenset({"network-4"})), limit=10)] == [
        ids[0]
    ]
    newest = (await handlers.queue(uow, QueueFilter(), limit=1))[0]
    page_two = await handlers.queue(uow, QueueFilter(before=(newest.created_at, newest.id)), limit=10)
    assert [i.id for i in page_two] == ids[1::-1]


async def test_the_parent_sees_only_the_notes_marked_visible() -> None:
    uow = FakeIntakeUnitOfWork()
    inquiry_id = await assigned(uow)
    await act(uow, inquiry_id, handlers.Acknowledge())
    await act(uow, inquiry_id, handlers.AddNote("Internal.", visible_to_parent=False))
    await act(uow, inquiry_id, handlers.AddNote("We called the school.", visible_to_parent=True))
    await act(uow, inquiry_id, handlers.RequestInfo("Which dates?"))
    await act(uow, inquiry_id, handlers.RecordReply("Private reply."))
    view = await handlers.parent_view(uow, str(inquiry_id))
    assert view is not None
    assert [n.text for n in view[1]] == ["We called the school.", "Which dates?"]


async def test_within_one_batch_the_later_submission_links_to_the_earlier_one_only() -> None:
    uow = FakeIntakeUnitOfWork()
    news = [NewSubmission(SUBMISSION, source="kafka", correlation_id=f"c-{k}", idempotency_key=None) for k in (1, 2)]
    outcomes = await handlers.record_submissions(uow, news, now=NOW, reference_prefix="PSC")
    first, second = (o.inquiry.id for o in outcomes if isinstance(o, handlers.Created))
    assert [(link.inquiry_id, link.linked_inquiry_id) for link in uow.inquiries.link_rows.values()] == [(second, first)]


async def test_a_moved_deadline_moves_the_due_date_staff_and_the_parent_see() -> None:
    uow = FakeIntakeUnitOfWork()
    inquiry_id = await assigned(uow)
    later = NOW + timedelta(days=3)
    moved = InquiryDeadlineMoved(
        inquiry_id=inquiry_id,
        occurred_at=NOW + timedelta(hours=1),
        correlation_id="c",
        tier="network",
        reason="closure",
        previous_due_at=NOW + timedelta(days=2),
        due_at=later,
    )
    await handlers.apply_routing_events(uow, [moved])
    assert uow.inquiries.assignments[inquiry_id].due_at == later
    assert uow.inquiries.assignments[inquiry_id].assignee_id == "ana.staff"
