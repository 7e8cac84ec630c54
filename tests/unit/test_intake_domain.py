"""Intake's pure rules."""

from datetime import timedelta
from uuid import uuid4

from fakes.intake import NOW, SUBMISSION

from services.intake import domain
from services.intake.domain import Assignment, NewSubmission
from shared.contracts.inquiries import SubmitInquiry


def test_reference_numbers_carry_the_year_and_a_padded_sequence() -> None:
    assert domain.format_reference("PSC", 2026, 123) == "PSC-26-000123"


def test_submitting_records_the_inquiry_and_emits_submitted_with_the_same_correlation_id() -> None:
    new = NewSubmission(SUBMISSION, source="http", correlation_id="req-7", idempotency_key=None)
    inquiry, event = domain.submit(new, inquiry_id=uuid4(), reference="PSC-26-000001", now=NOW)
    assert inquiry.status == domain.RECEIVED and inquiry.assignment is None
    assert event.inquiry_id == inquiry.id and event.correlation_id == "req-7"
    assert event.reference == "PSC-26-000001" and event.student.school_id == 609794
    assert "description" not in event.model_dump()


def test_the_same_content_has_the_same_fingerprint_and_different_content_does_not() -> None:
    other = SUBMISSION.model_copy(update={"description": "Something else."})
    assert domain.fingerprint(SUBMISSION) == domain.fingerprint(SUBMISSION.model_copy())
    assert domain.fingerprint(SUBMISSION) != domain.fingerprint(other)


def test_a_late_older_assignment_does_not_replace_a_newer_one() -> None:
    network_4 = {"network_id": "network-4", "network_name": "Network 4", "queue": "network", "due_at": None}
    newer = Assignment(**network_4, tier="psa", assigned_at=NOW + timedelta(days=2))
    older = Assignment(**network_4, tier="network", assigned_at=NOW + timedelta(minutes=1))
    assert domain.newer_assignment(domain.newer_assignment(None, newer), older) == newer


def test_the_fingerprint_ignores_the_submitters_ids_around_the_content() -> None:
    first = SubmitInquiry(**SUBMISSION.model_dump(), correlation_id="try-1", idempotency_key="k")
    retry = SubmitInquiry(**SUBMISSION.model_dump(), correlation_id="try-2", idempotency_key="k")
    assert domain.fingerprint(first) == domain.fingerprint(retry) == domain.fingerprint(SUBMISSION)
