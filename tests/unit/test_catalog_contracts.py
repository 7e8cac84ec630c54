"""The catalog contract refuses bad input for the same reasons on HTTP and on Kafka."""

from __future__ import annotations

from collections.abc import Mapping
from uuid import uuid4

import pytest
from pydantic import BaseModel, ValidationError

from shared.contracts.catalog import (
    LookupResources,
    PhoneDetails,
    ResourceUpsert,
    UpsertResource,
)
from shared.contracts.envelope import field_errors
from shared.contracts.inquiries import ParentContact
from shared.contracts.topics import CATALOG_LOOKUPS, CATALOG_REPLIES, CATALOG_UPSERTS


def refused_fields(model: type[BaseModel], data: Mapping[str, object]) -> list[str]:
    with pytest.raises(ValidationError) as refused:
        model.model_validate(data)
    return [error.field for error in field_errors(refused.value)]


def test_a_phone_number_is_stored_the_way_chicago_families_read_it() -> None:
    assert PhoneDetails(number="+1 773 553 1800").number == "(773) 553-1800"
    assert PhoneDetails(number="773.553.1800").number == "(773) 553-1800"


def test_a_number_that_cannot_be_dialled_is_refused() -> None:
    assert refused_fields(PhoneDetails, {"number": "555"}) == ["number"]


def test_a_lookup_names_a_reply_topic_of_the_platform_only() -> None:
    base = {"request_id": str(uuid4()), "correlation_id": "c"}
    assert refused_fields(LookupResources, {**base, "reply_to": "payments.ledger"}) == ["reply_to"]
    assert LookupResources.model_validate({**base, "reply_to": "psc.intake.catalog-replies"}).reply_to


def test_a_lookup_cannot_make_the_catalog_reply_to_its_own_inputs() -> None:
    base = {"request_id": str(uuid4()), "correlation_id": "c"}
    assert refused_fields(LookupResources, {**base, "reply_to": CATALOG_LOOKUPS}) == ["reply_to"]
    assert refused_fields(LookupResources, {**base, "reply_to": CATALOG_UPSERTS}) == ["reply_to"]


def test_a_lookup_without_a_reply_topic_is_answered_on_the_catalog_replies_topic() -> None:
    request = LookupResources(request_id=uuid4(), correlation_id="c")
    assert (request.reply_to, request.limit, request.offset) == (CATALOG_REPLIES, 20, 0)


def test_a_lookup_names_each_bad_field() -> None:
    fields = refused_fields(
        LookupResources,
        {"request_id": "not-a-uuid", "correlation_id": "c", "limit": 0, "category": "parking", "language": "eng"},
    )
    assert sorted(fields) == ["category", "language", "limit", "request_id"]


def test_an_upsert_needs_a_category_and_a_language() -> None:
    body = {
        "service": {"name": "PEP", "description": "Workshops."},
        "organization": {"id": "cps-odlss", "name": "ODLSS"},
        "languages": [],
        "categories": [],
    }
    assert sorted(refused_fields(ResourceUpsert, body)) == ["categories", "languages"]


def test_an_upsert_command_names_its_service_with_a_readable_id() -> None:
    body = {
        "service_id": "Not An Id!",
        "correlation_id": "c",
        "service": {"name": "PEP", "description": "Workshops."},
        "organization": {"id": "cps-odlss", "name": "ODLSS"},
        "languages": ["en"],
        "categories": ["special_education"],
    }
    assert refused_fields(UpsertResource, body) == ["service_id"]


@pytest.mark.parametrize(
    ("number", "reason"), [("call me", "is not a phone number"), ("555", "is not a valid phone number")]
)
def test_a_directory_number_and_a_parents_mobile_are_refused_for_the_same_reasons(number: str, reason: str) -> None:
    for model, data, field in (
        (PhoneDetails, {"number": number}, "number"),
        (ParentContact, {"name": "Ana", "mobile_phone": number}, "mobile_phone"),
    ):
        with pytest.raises(ValidationError) as refused:
            model.model_validate(data)
        assert [(e.field, e.reason) for e in field_errors(refused.value)] == [(field, reason)]


def test_each_contract_writes_a_number_in_its_own_form() -> None:
    assert PhoneDetails(number="+44 20 7946 0958").number == "+44 20 7946 0958"
    assert ParentContact(name="Ana", mobile_phone="(312) 555-0147").mobile_phone == "+13125550147"
