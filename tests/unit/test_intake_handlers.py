"""Intake's use cases against the in-memory unit of work: every branch in milliseconds (the same use cases run
through the real broker and database in tests/integration/test_inquiry_path.py)."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import uuid4

from fakes.intake import NOW, SUBMISSION, FakeIntakeUnitOfWork

from services.intake import handlers
from services.intake.domain import NewSubmission
from shared.contracts.inquiries import InquirySubmission, InquirySubmitted
from shared.contracts.routing import InquiryAssigned
from shared.contracts.topics import INQUIRY_EVENTS


def new(key: str | None = None, submission: InquirySubmission = SUBMISSION) -> NewSubmission:
    return NewSubmission(submission, source="http", correlation_id="req-1", idempotency_key=key)


async def record(uow: FakeIntakeUnitOfWork, *news: NewSubmission) -> list[handlers.Outcome]:
    return await handlers.record_submissions(uow, list(news), now=NOW, reference_prefix="PSC")


async def test_a_new_submission_is_stored_numbered_and_announced() -> None:
    uow = FakeIntakeUnitOfWork()
    (outcome,) = await record(uow, new())
    assert isinstance(outcome, handlers.Created)
    assert outcome.inquiry.reference == "PSC-26-000001"
    assert list(uow.inquiries.by_id) == [outcome.inquiry.id]
    (event,) = uow.events_on(INQUIRY_EVENTS)
    assert isinstance(event, InquirySubmitted) and event.inquiry_id == outcome.inquiry.id


async def test_the_same_key_with_the_same_content_replays_the_first_inquiry_and_announces_nothing() -> None:
    uow = FakeIntakeUnitOfWork()
    (first,) = await record(uow, new("key-1"))
    (again,) = await record(uow, new("key-1"))
    assert isinstance(first, handlers.Created)
    assert again == handlers.Replayed(first.inquiry.id)
    assert len(uow.inquiries.by_id) == 1 and len(uow.emitted) == 1


async def test_the_same_key_with_other_content_is_refused_and_stores_nothing() -> None:
    uow = FakeIntakeUnitOfWork()
    await record(uow, new("key-1"))
    other = SUBMISSION.model_copy(update={"description": "A different concern."})
    (outcome,) = await record(uow, new("key-1", other))
    assert outcome == handlers.KeyReused("key-1")
    assert len(uow.inquiries.by_id) == 1 and len(uow.emitted) == 1


async def test_a_key_repeated_within_one_batch_creates_one_inquiry() -> None:
    uow = FakeIntakeUnitOfWork()
    outcomes = await record(uow, new("key-1"), new(), new("key-1"))
    assert [type(o).__name__ for o in outcomes] == ["Created", "Created", "Replayed"]
    assert [i.reference for i in uow.inquiries.by_id.values()] == ["PSC-26-000001", "PSC-26-000002"]


def assigned(inquiry_id: object, *, tier: str, at: datetime) -> InquiryAssigned:
    return InquiryAssigned.model_validate(
        {
            "inquiry_id": inquiry_id,
            "occurred_at": at,
            "correlation_id": "req-1",
            "network_id": "network-4",
            "network_name": "Network 4",
            "queue": "network",
            "tier": tier,
            "reason": "school_network",
            "school_id": 609794,
            "due_at": at + timedelta(days=2),
        }
    )


async def test_routing_s_newer_decision_wins_and_a_late_older_one_changes_nothing() -> None:
    uow = FakeIntakeUnitOfWork()
    (created,) = await record(uow, new())
    assert isinstance(created, handlers.Created)
    inquiry_id = created.inquiry.id
    newer = assigned(inquiry_id, tier="psa", at=NOW + timedelta(days=2))
    older = assigned(inquiry_id, tier="network", at=NOW + timedelta(minutes=1))
    await handlers.apply_assignments(uow, [newer, older])
    await handlers.apply_assignments(uow, [older])
    assert uow.inquiries.assignments[inquiry_id].tier == "psa"


async def test_an_assignment_for_an_unknown_inquiry_is_skipped() -> None:
    uow = FakeIntakeUnitOfWork()
    await handlers.apply_assignments(uow, [assigned(uuid4(), tier="network", at=NOW)])
    assert uow.inquiries.assignments == {}


async def test_an_inquiry_is_found_by_id_or_by_reference_in_any_case() -> None:
    uow = FakeIntakeUnitOfWork()
    (created,) = await record(uow, new())
    assert isinstance(created, handlers.Created)
    by_id = await handlers.find_inquiry(uow, str(created.inquiry.id))
    by_reference = await handlers.find_inquiry(uow, "psc-26-000001")
    assert by_id is not None and by_reference is not None and by_id.id == by_reference.id == created.inquiry.id
    assert await handlers.find_inquiry(uow, "PSC-26-999999") is None
