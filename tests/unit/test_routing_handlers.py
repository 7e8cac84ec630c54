"""Routing's use cases against the in-memory unit of work: every branch in milliseconds (the same use cases run
through the real broker and database in tests/integration/test_inquiry_path.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import pytest
from fakes.routing import EDISON, ENGLEWOOD, NETWORK_2, NOW, RULES, STAFF, FakeRoutingUnitOfWork

from services.routing import handlers
from services.routing.directory import CENTRAL_ID, RowProblem, School
from services.routing.staff import Staff, StaffPool
from shared.contracts.directory import SchoolListPublished, SchoolListRejected
from shared.contracts.inquiries import InquirySubmitted
from shared.contracts.lifecycle import InquiryAcknowledged, InquiryResolved
from shared.contracts.routing import (
    InquiryAssigned,
    InquiryDeadlineMoved,
    InquiryEscalated,
    InquiryReassigned,
    InquiryRerouted,
    StaffUpdated,
)
from shared.contracts.topics import DIRECTORY_UPDATES, ROUTING_EVENTS, STAFF_EVENTS


def submitted(
    school_id: int = EDISON.id, category: str = "special_education", inquiry_id: UUID | None = None
) -> InquirySubmitted:
    return InquirySubmitted.model_validate(
        {
            "inquiry_id": str(inquiry_id or uuid4()),
            "occurred_at": NOW,
            "correlation_id": "req-1",
            "reference": "PSC-26-000001",
            "category": category,
            "channel": "phone",
            "parent": {"name": "Ana", "email": "ana@example.org"},
            "student": {"school_id": school_id, "grade": "3"},
        }
    )


async def assign(uow: FakeRoutingUnitOfWork, *events: InquirySubmitted) -> list[InquiryAssigned]:
    before = len(uow.emitted)
    await handlers.assign_inquiries(uow, list(events), rules=RULES, now=NOW)
    announced = [event for _, event in uow.emitted[before:]]
    assert all(topic == ROUTING_EVENTS for topic, _ in uow.emitted)
    assert all(isinstance(event, InquiryAssigned) for event in announced)
    return [event for event in announced if isinstance(event, InquiryAssigned)]


def chicago(day: int, hour: int) -> datetime:
    return datetime(2026, 11, day, hour, 0, tzinfo=ZoneInfo("America/Chicago"))


async def test_an_inquiry_goes_to_the_network_of_its_school_due_on_the_category_s_policy() -> None:
    uow = FakeRoutingUnitOfWork()
    event = submitted()
    (assigned,) = await assign(uow, event)
    assert (assigned.network_id, assigned.queue, assigned.tier, assigned.reason) == (
        "network-1",
        "network",
        "network",
        "school_network",
    )
    assert assigned.school_name == EDISON.long_name and assigned.correlation_id == "req-1"
    assert assigned.due_at == chicago(23, 9)  # a business day to acknowledge, from Friday 9:00
    assert assigned.assignee_id == "n1-staff-1" and uow.staff.members["n1-staff-1"].open_load == 1
    assert uow.staff.confirmations == 1  # a choice between two network staff, confirmed before writing
    stored = uow.assignments.by_inquiry[event.inquiry_id]
    assert (stored.network.id, stored.due_at, stored.assigned_at) == ("network-1", assigned.due_at, NOW)


async def test_a_school_without_network_and_an_unknown_school_go_to_the_central_queue() -> None:
    uow = FakeRoutingUnitOfWork()
    without_network, unknown = await assign(uow, submitted(ENGLEWOOD.id), submitted(999999))
    assert (without_network.network_id, without_network.queue, without_network.reason) == (
        CENTRAL_ID,
        "central",
        "school_without_network",
    )
    assert without_network.school_name == ENGLEWOOD.long_name
    assert (unknown.network_id, unknown.queue, unknown.reason) == (CENTRAL_ID, "central", "unknown_school")
    assert unknown.school_name is None


async def test_a_redelivered_inquiry_keeps_its_assignment_and_is_announced_once() -> None:
    uow = FakeRoutingUnitOfWork()
    inquiry_id = uuid4()
    (first,) = await assign(uow, submitted(inquiry_id=inquiry_id))
    assert await assign(uow, submitted(ENGLEWOOD.id, inquiry_id=inquiry_id)) == []
    assert uow.assignments.by_inquiry[inquiry_id].network.id == "network-1"
    assert len(uow.emitted) == 1 and first.inquiry_id == inquiry_id


async def test_an_inquiry_twice_in_one_batch_is_assigned_and_announced_once() -> None:
    uow = FakeRoutingUnitOfWork()
    inquiry_id = uuid4()
    (assigned,) = await assign(uow, submitted(inquiry_id=inquiry_id), submitted(ENGLEWOOD.id, inquiry_id=inquiry_id))
    assert assigned.network_id == uow.assignments.by_inquiry[inquiry_id].network.id == "network-1"


async def test_loading_the_directory_reports_bad_rows_and_upserts_the_rest() -> None:
    uow = FakeRoutingUnitOfWork(schools=())
    rows = [
        {"school_id": "609794", "short_name": "EDISON", "long_name": "Thomas A Edison", "network": "Network 1"},
        {"school_id": "12", "short_name": "X", "long_name": "X", "network": ""},
        {"school_id": "610592", "short_name": "ENGLEWOOD STEM HS", "long_name": "", "network": ""},
        {"school_id": "610593", "short_name": "", "long_name": "", "network": "Network 1"},
    ]
    loaded = await handlers.load_directory(uow, rows)
    assert loaded == handlers.DirectoryLoaded(
        schools=2,
        problems=[RowProblem(3, "school_id", "is not a six-digit school id"), RowProblem(5, "long_name", "is empty")],
    )
    assert set(uow.directory.schools) == {609794, 610592}
    networks = await handlers.list_networks(uow)
    assert [(n.id, n.kind, n.schools) for n in networks] == [("network-1", "network", 1), (CENTRAL_ID, "central", 0)]
    school = await handlers.find_school(uow, 609794)
    assert school is not None and school.network is not None and school.network.name == "Network 1"


async def test_an_assignment_is_found_by_inquiry_and_an_unassigned_one_is_not() -> None:
    uow = FakeRoutingUnitOfWork()
    event = submitted()
    (assigned,) = await assign(uow, event)
    found = await handlers.find_assignment(uow, event.inquiry_id)
    assert found is not None and (found.network.name, found.due_at) == ("Network 1", assigned.due_at)
    assert await handlers.find_assignment(uow, uuid4()) is None


async def test_due_deadlines_fire_once_and_redelivered_lifecycle_steps_change_nothing() -> None:
    uow = FakeRoutingUnitOfWork()
    event = submitted()
    (assigned,) = await assign(uow, event)
    later = assigned.due_at + timedelta(minutes=1)
    assert await handlers.fire_due(uow, rules=RULES, now=later, limit=100) == 1
    types = [e.event_type for e in uow.events_on(ROUTING_EVENTS)]
    assert types == ["inquiry.assigned", "inquiry.sla_warning", "inquiry.escalated"]
    escalated = uow.events_on(ROUTING_EVENTS)[-1]
    assert isinstance(escalated, InquiryEscalated) and escalated.assignee_id == "n1-psa"
    assert uow.staff.members["n1-staff-1"].open_load == 0 and uow.staff.members["n1-psa"].open_load == 1
    assert await handlers.fire_due(uow, rules=RULES, now=later, limit=100) == 0  # nothing fires twice
    assert [h.event_type for h in await uow.assignments.history(inquiry_id=event.inquiry_id)] == [
        "inquiry.sla_warning",
        "inquiry.escalated",
    ]


async def test_lifecycle_steps_move_the_clocks_in_order_and_an_unknown_inquiry_is_refused() -> None:
    uow = FakeRoutingUnitOfWork()
    event = submitted()
    await assign(uow, event)
    steps = [
        InquiryAcknowledged(inquiry_id=event.inquiry_id, occurred_at=NOW, correlation_id="c", by="n1-staff-1"),
        InquiryResolved(
            inquiry_id=event.inquiry_id, occurred_at=NOW, correlation_id="c", by="n1-staff-1", summary="Done."
        ),
    ]
    await handlers.apply_inquiry_events(uow, [submitted(), *steps], rules=RULES, now=NOW + timedelta(hours=1))
    stored = uow.assignments.by_inquiry[event.inquiry_id]
    assert (stored.status, stored.next_due_at) == ("resolved", None)
    loads = {staff_id: uow.staff.members[staff_id].open_load for staff_id in ("n1-staff-1", "n1-staff-2")}
    assert loads == {"n1-staff-1": 0, "n1-staff-2": 1}  # the resolved one released; the newer one went to staff-2
    stranger = InquiryAcknowledged(inquiry_id=uuid4(), occurred_at=NOW, correlation_id="c", by="x")
    with pytest.raises(handlers.UnknownInquiry, match="never assigned"):
        await handlers.follow_lifecycle(uow, [stranger], rules=RULES, now=NOW)


async def test_a_closure_moves_every_deadline_in_flight_and_a_past_day_is_refused() -> None:
    uow = FakeRoutingUnitOfWork()
    (assigned,) = await assign(uow, submitted())
    added = await handlers.add_closure(uow, day=date(2026, 11, 23), reason="snow day", rules=RULES, now=NOW)
    assert added.moved == 1
    (moved,) = [e for e in uow.events_on(ROUTING_EVENTS) if isinstance(e, InquiryDeadlineMoved)]
    assert (moved.previous_due_at, moved.due_at) == (assigned.due_at, chicago(24, 9))
    with pytest.raises(handlers.PastDay):
        await handlers.add_closure(uow, day=date(2026, 11, 19), reason="late", rules=RULES, now=NOW)
    with pytest.raises(handlers.Refused, match="already"):
        await handlers.add_closure(uow, day=date(2026, 11, 23), reason="again", rules=RULES, now=NOW)


async def test_a_new_school_list_reroutes_the_open_inquiries_of_a_school_that_moved() -> None:
    uow = FakeRoutingUnitOfWork()
    (assigned,) = await assign(uow, submitted())
    moved_edison = School(EDISON.id, EDISON.short_name, EDISON.long_name, NETWORK_2)
    loaded = await handlers.load_schools(uow, [moved_edison, ENGLEWOOD], rules=RULES, now=NOW)
    assert (loaded.moved_schools, loaded.rerouted) == (1, 1)
    (rerouted,) = [e for e in uow.events_on(ROUTING_EVENTS) if isinstance(e, InquiryRerouted)]
    assert (rerouted.to_network_id, rerouted.tier, rerouted.due_at) == ("network-2", "network", assigned.due_at)
    again = await handlers.load_schools(uow, [moved_edison, ENGLEWOOD], rules=RULES, now=NOW)
    assert (again.moved_schools, again.rerouted) == (0, 0)


async def test_staff_changes_are_announced_and_an_unknown_network_is_refused() -> None:
    uow = FakeRoutingUnitOfWork()
    member = Staff("n2-psa", "Pat", "psa", "network-2", email="pat.p@psc.example.org")
    assert await handlers.put_staff(uow, [member], now=NOW, only_new=False) == [member]
    (updated,) = uow.events_on(STAFF_EVENTS)
    assert isinstance(updated, StaffUpdated) and (updated.staff_id, updated.partition_key()) == ("n2-psa", "n2-psa")
    assert (updated.name, updated.email, updated.role) == ("Pat", "pat.p@psc.example.org", "psa")
    assert await handlers.put_staff(uow, [member], now=NOW, only_new=False) == []  # unchanged: not announced
    with pytest.raises(handlers.Refused, match="no such network"):
        await handlers.put_staff(uow, [Staff("x", "X", "psa", "network-99")], now=NOW, only_new=False)


async def test_a_published_school_list_with_a_bad_row_is_refused_whole_and_a_good_one_reroutes() -> None:
    uow = FakeRoutingUnitOfWork()
    (assigned,) = await assign(uow, submitted())
    origin = handlers.Origin("psc.directory.updates", 0, 7)
    header = "school_id,short_name,long_name,network"
    bad = SchoolListPublished(
        occurred_at=NOW, correlation_id="c", list_id="v2", csv=f"{header}\n{EDISON.id},E,Edison,Network 2\n12,X,X,\n"
    )
    assert await handlers.apply_published_school_list(uow, bad, origin=origin, rules=RULES, now=NOW) is None
    (rejected,) = uow.events_on(DIRECTORY_UPDATES)
    assert isinstance(rejected, SchoolListRejected) and rejected.origin_offset == 7
    assert [e.reason for e in rejected.errors] == ["line 3: school_id: is not a six-digit school id"]
    assert uow.directory.schools[EDISON.id].network == EDISON.network  # nothing loaded

    good = SchoolListPublished(
        occurred_at=NOW, correlation_id="c", list_id="v3", csv=f"{header}\n{EDISON.id},E,Edison,Network 2\n"
    )
    loaded = await handlers.apply_published_school_list(uow, good, origin=origin, rules=RULES, now=NOW)
    assert loaded is not None and (loaded.moved_schools, loaded.rerouted) == (1, 1)
    assert uow.assignments.by_inquiry[assigned.inquiry_id].network == NETWORK_2


async def test_reassignment_is_announced_and_an_unknown_inquiry_or_wrong_staff_is_refused() -> None:
    uow = FakeRoutingUnitOfWork()
    (assigned,) = await assign(uow, submitted())
    moved = await handlers.reassign(uow, assigned.inquiry_id, "n1-staff-2", now=NOW)
    assert moved is not None and moved.due_at == assigned.due_at
    (reassigned,) = [e for e in uow.events_on(ROUTING_EVENTS) if isinstance(e, InquiryReassigned)]
    assert (reassigned.from_assignee_id, reassigned.assignee_id) == ("n1-staff-1", "n1-staff-2")
    assert [h.event_type for h in await uow.assignments.history(inquiry_id=assigned.inquiry_id)] == [
        "inquiry.reassigned"
    ]
    assert await handlers.reassign(uow, uuid4(), "n1-staff-2", now=NOW) is None
    with pytest.raises(handlers.Refused, match="not active network_staff"):
        await handlers.reassign(uow, assigned.inquiry_id, "n2-staff-1", now=NOW)


async def test_an_auditor_is_on_file_and_announced_but_never_given_an_inquiry() -> None:
    auditor = Staff("n1-auditor", "Ari", "auditor", "network-1", email="ari.a@psc.example.org")
    uow = FakeRoutingUnitOfWork(staff=[auditor, *STAFF])
    assigned = [a for _ in range(4) for a in await assign(uow, submitted())]
    assert {a.assignee_id for a in assigned} == {"n1-staff-1", "n1-staff-2"}
    assert uow.staff.members["n1-auditor"].open_load == 0
    await handlers.put_staff(uow, [replace(auditor, name="Ari A.")], now=NOW, only_new=False)
    (updated,) = uow.events_on(STAFF_EVENTS)
    assert isinstance(updated, StaffUpdated) and (updated.role, updated.name) == ("auditor", "Ari A.")
    with pytest.raises(handlers.Refused, match="not active network_staff"):
        await handlers.reassign(uow, assigned[0].inquiry_id, "n1-auditor", now=NOW)


async def test_an_inquiry_assigned_before_clocks_existed_gets_them_from_its_assignment_and_then_fires() -> None:
    uow = FakeRoutingUnitOfWork()
    (assigned,) = await assign(uow, submitted(category="other"))
    stored = uow.assignments.by_inquiry[assigned.inquiry_id]
    # As migration 0003 left it: no clocks, nobody on it, the old stored due time.
    old = replace(stored, first_response=None, resolution=None, next_due_at=None, assignee_id=None)
    uow.assignments.by_inquiry[old.inquiry_id] = old
    uow.staff.members["n1-staff-1"] = replace(uow.staff.members["n1-staff-1"], open_load=0)
    assert await handlers.start_missing_clocks(uow, rules=RULES, now=NOW + timedelta(days=3)) == 1
    clocked = uow.assignments.by_inquiry[old.inquiry_id]
    assert clocked.first_response == stored.first_response and clocked.resolution == stored.resolution
    assert (clocked.due_at, clocked.next_due_at) == (stored.due_at, stored.next_due_at)  # from assigned_at, not now
    assert clocked.assignee_id == "n1-staff-1" and uow.staff.members["n1-staff-1"].open_load == 1
    assert await handlers.start_missing_clocks(uow, rules=RULES, now=NOW + timedelta(days=3)) == 0  # once
    claimed = await handlers.fire_due(uow, rules=RULES, now=NOW + timedelta(days=3), limit=10)
    assert claimed == 1 and [e.event_type for e in uow.events_on(ROUTING_EVENTS)][-2:] == [
        "inquiry.sla_warning",
        "inquiry.escalated",
    ]


async def test_a_choice_another_replica_overtook_is_made_again_on_the_fresh_loads() -> None:
    uow = FakeRoutingUnitOfWork()
    checks: list[bool] = []

    async def confirm(*, staff: StaffPool) -> bool:
        if not checks:  # meanwhile another replica gave n1-staff-1 two inquiries
            member = uow.staff.members["n1-staff-1"]
            uow.staff.members["n1-staff-1"] = replace(member, open_load=member.open_load + 2)
        checks.append(
            staff.as_read(staff.choices())
            == {m: (True, uow.staff.members[m].open_load) for m in ("n1-staff-1", "n1-staff-2")}
        )
        return checks[-1]

    uow.staff.confirm = confirm  # type: ignore[method-assign]
    (assigned,) = await assign(uow, submitted())
    assert checks == [False, True]
    assert assigned.assignee_id == "n1-staff-2"
    assert uow.staff.members["n1-staff-2"].open_load == 1 and uow.staff.members["n1-staff-1"].open_load == 2
