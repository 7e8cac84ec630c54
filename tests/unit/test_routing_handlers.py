"""Routing's use cases against the in-memory unit of work: every branch in milliseconds (the same use cases run
through the real broker and database in tests/integration/test_inquiry_path.py)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

from fakes.routing import CALENDAR, EDISON, ENGLEWOOD, NOW, FakeRoutingUnitOfWork

from services.routing import handlers
from services.routing.domain import CENTRAL_ID, RowProblem
from shared.contracts.inquiries import InquirySubmitted
from shared.contracts.routing import InquiryAssigned
from shared.contracts.topics import ROUTING_EVENTS


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
    await handlers.assign_inquiries(uow, list(events), calendar=CALENDAR, now=NOW)
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
    assert assigned.due_at == chicago(24, 17)  # two business days after a Friday: Tuesday at five
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


async def test_a_category_without_a_policy_gets_the_fallback_deadline() -> None:
    uow = FakeRoutingUnitOfWork()
    uow.assignments.policies.pop("attendance")
    (assigned,) = await assign(uow, submitted(category="attendance"))
    assert handlers.FALLBACK_POLICY.network_business_days == 2
    assert assigned.due_at == chicago(24, 17)  # not the three days attendance would have had


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
