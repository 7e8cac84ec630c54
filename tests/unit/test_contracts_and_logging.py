"""The event contract and the log redaction: pure, no I/O."""

import json
from datetime import UTC, datetime
from uuid import uuid4

import pytest
from pydantic import ValidationError

from shared.contracts.catalog import LookupRejected, ResourceUpsertRejected
from shared.contracts.envelope import FieldError, event_parser, field_errors, kafka_headers
from shared.contracts.inquiries import InquirySubmission, InquirySubmitted, SubmissionRejected, SubmitInquiry
from shared.contracts.routing import InquiryAssigned
from shared.logging import REDACTED, redact

VALID = {
    "parent": {"name": "Ana Lopez", "email": "ana@example.org", "mobile_phone": "(312) 555-0147", "sms_consent": True},
    "student": {"school_id": 609794, "grade": "3"},
    "category": "special_education",
    "description": "Her IEP meeting was cancelled twice.",
    "channel": "phone",
}


def test_a_valid_submission_normalises_the_phone_to_e164() -> None:
    submission = InquirySubmission.model_validate(VALID)
    assert submission.parent.mobile_phone == "+13125550147"
    assert submission.parent.preferred_language.value == "en"


def test_every_refused_field_is_named_with_its_reason_and_never_its_value() -> None:
    bad = {**VALID, "parent": {"name": "Ana", "email": "not-an-email", "mobile_phone": "12"}, "category": "lunch"}
    with pytest.raises(ValidationError) as caught:
        InquirySubmission.model_validate(bad)
    errors = {e.field: e.reason for e in field_errors(caught.value)}
    assert set(errors) == {"parent.email", "parent.mobile_phone", "category"}
    assert "not a valid phone number" in errors["parent.mobile_phone"]
    assert "not-an-email" not in str(errors)


def test_a_parent_with_neither_email_nor_phone_is_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        InquirySubmission.model_validate({**VALID, "parent": {"name": "Ana"}})
    (error,) = field_errors(caught.value)
    assert error.field == "parent" and "email or a mobile phone" in error.reason


def test_consent_to_texts_without_a_mobile_number_is_refused() -> None:
    with pytest.raises(ValidationError, match="sms_consent needs a mobile_phone"):
        InquirySubmission.model_validate({**VALID, "parent": {"name": "Ana", "email": "a@b.org", "sms_consent": True}})


def test_a_kafka_submission_needs_the_submitters_correlation_id() -> None:
    with pytest.raises(ValidationError) as caught:
        SubmitInquiry.model_validate(VALID)
    assert [e.field for e in field_errors(caught.value)] == ["correlation_id"]


def test_events_are_frozen_keyed_by_inquiry_and_carry_their_type_in_headers() -> None:
    event = InquirySubmitted(
        inquiry_id=uuid4(),
        occurred_at=datetime.now(UTC),
        correlation_id="c-1",
        reference="PSC-26-000001",
        **{k: v for k, v in InquirySubmission.model_validate(VALID).model_dump().items() if k != "description"},
    )
    assert event.partition_key() == str(event.inquiry_id)
    assert ("event_type", b"inquiry.submitted") in kafka_headers(event)
    with pytest.raises(ValidationError):
        event.reference = "changed"  # type: ignore[misc]


def test_the_parser_tells_event_types_apart() -> None:
    parser = event_parser(InquirySubmitted, InquiryAssigned)
    assigned = InquiryAssigned(
        inquiry_id=uuid4(),
        occurred_at=datetime.now(UTC),
        correlation_id="c",
        network_id="network-4",
        network_name="Network 4",
        queue="network",
        tier="network",
        reason="school_network",
        school_id=609794,
        due_at=datetime.now(UTC),
    )
    assert isinstance(parser.validate_json(assigned.model_dump_json()), InquiryAssigned)


def test_personal_data_is_redacted_by_key_and_by_shape() -> None:
    logged = redact(
        {
            "parent": {"email": "ana@example.org"},
            "note": "call (773) 553-1800 or write ana@example.org",
            "inquiry_id": "123e4567-e89b-12d3-a456-426614174000",
            "offset": 1234567890,
        }
    )
    assert logged["parent"] == REDACTED
    assert "553-1800" not in logged["note"] and "ana@" not in logged["note"]
    assert logged["inquiry_id"] == "123e4567-e89b-12d3-a456-426614174000"
    assert logged["offset"] == 1234567890


@pytest.mark.parametrize("rejection", [SubmissionRejected, LookupRejected, ResourceUpsertRejected])
def test_every_rejection_says_where_the_refused_message_stood_and_is_keyed_by_the_senders_id(
    rejection: type[SubmissionRejected | LookupRejected | ResourceUpsertRejected],
) -> None:
    event = rejection(
        occurred_at=datetime.now(UTC),
        correlation_id="c-9",
        errors=[FieldError(field="limit", reason="too small")],
        origin_topic="psc.catalog.lookups",
        origin_partition=2,
        origin_offset=41,
    )
    sent = json.loads(event.model_dump_json())
    assert (sent["origin_topic"], sent["origin_partition"], sent["origin_offset"]) == ("psc.catalog.lookups", 2, 41)
    assert sent["errors"] == [{"field": "limit", "reason": "too small"}]
    assert event.partition_key() == "c-9"
