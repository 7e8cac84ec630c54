"""The input rules, without I/O: text PostgreSQL cannot store is refused by every text field of every contract read
from outside; booleans and integers are strict; the JSON schemas say the rules the validators enforce; the committed
documents promise it for every way in; the HTTP app's media-type rule."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import jsonschema_rs
import pytest
from pydantic import BaseModel, ValidationError

from services.catalog.domain import upsert_problems
from shared.contracts.catalog import LocationDetails, LookupResources, ResourceUpsert, UpsertResource
from shared.contracts.envelope import FieldError, field_errors, field_errors_of
from shared.contracts.inquiries import InquirySubmitted, ParentContact, SubmissionRejected, SubmitInquiry
from shared.contracts.routing import InquiryAssigned
from shared.contracts.text import UNSTORABLE_REASON, ShortText, is_storable
from shared.http import acceptable_body_type

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 25, 16, 0, tzinfo=UTC)

PARENT = {"name": "Ana Lopez", "email": "ana@example.org", "mobile_phone": "+13125550148", "sms_consent": True}
SUBMISSION: dict[str, Any] = {
    "parent": PARENT,
    "student": {"school_id": 609794, "grade": "3"},
    "category": "attendance",
    "description": "Absences marked wrongly.",
    "channel": "phone",
    "submitted_by": "front desk",
    "correlation_id": "c-1",
    "idempotency_key": "k-1",
}
UPSERT: dict[str, Any] = {
    "service_id": "tutoring-test",
    "correlation_id": "c-2",
    "service": {
        "name": "Tutoring",
        "alternate_name": "Tutoría",
        "description": "After-school tutoring.",
        "url": "https://example.org/tutoring",
        "email": "tutoring@example.org",
        "eligibility_description": "Any student",
        "fees_description": "Free",
    },
    "organization": {
        "id": "test-org",
        "name": "Test Organization",
        "description": "A partner.",
        "email": "org@example.org",
        "website": "https://example.org",
    },
    "locations": [
        {
            "id": "test-org-hall",
            "name": "Hall",
            "address_1": "42 W Madison St",
            "city": "Chicago",
            "state_province": "IL",
            "postal_code": "60602",
        }
    ],
    "phones": [{"number": "773-553-1000", "extension": "12", "description": "Main line"}],
    "languages": ["en"],
    "categories": ["academics"],
}
LOOKUP = {"request_id": str(uuid4()), "correlation_id": "c-3", "q": "tutoring", "reply_to": "psc.test.replies"}
SUBMITTED = {
    "occurred_at": NOW.isoformat(),
    "correlation_id": "c-4",
    "inquiry_id": str(uuid4()),
    "reference": "PSC-26-000001",
    "category": "attendance",
    "channel": "phone",
    "parent": PARENT,
    "student": {"school_id": 609794, "grade": "3"},
    "submitted_by": "front desk",
}
ASSIGNED = {
    "occurred_at": NOW.isoformat(),
    "correlation_id": "c-5",
    "inquiry_id": str(uuid4()),
    "network_id": "network-1",
    "network_name": "Network 1",
    "queue": "network",
    "tier": "network",
    "reason": "school_network",
    "school_id": 609794,
    "school_name": "Agassiz",
    "due_at": NOW.isoformat(),
}
# Everything a service reads from outside, each with every optional text field given.
READ_FROM_OUTSIDE: list[tuple[type[BaseModel], dict[str, Any]]] = [
    (SubmitInquiry, SUBMISSION),
    (UpsertResource, UPSERT),
    (LookupResources, LOOKUP),
    (InquirySubmitted, SUBMITTED),
    (InquiryAssigned, ASSIGNED),
]


def refused(model: type[BaseModel], data: Mapping[str, Any]) -> list[FieldError]:
    with pytest.raises(ValidationError) as error:
        model.model_validate(data)
    return field_errors(error.value)


def text_leaves(value: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    if isinstance(value, str):
        yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from text_leaves(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from text_leaves(item, (*path, i))


def replaced(value: Any, path: tuple[str | int, ...], new: str) -> Any:
    if not path:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = replaced(value[path[0]], path[1:], new) if len(path) > 1 else new  # type: ignore[index]
    return copy


# --- Text PostgreSQL cannot store --------------------------------------------------------------------------------


@pytest.mark.parametrize(("model", "example"), READ_FROM_OUTSIDE, ids=lambda item: getattr(item, "__name__", ""))
@pytest.mark.parametrize("bad", ["a\x00b", "a\ud800b"], ids=["nul", "surrogate"])
def test_every_text_field_read_from_outside_refuses_what_postgresql_cannot_store(
    model: type[BaseModel], example: dict[str, Any], bad: str
) -> None:
    model.model_validate(example)  # the example itself is valid
    leaves = list(text_leaves(example))
    assert leaves
    for path in leaves:
        errors = refused(model, replaced(example, path, bad))
        field = ".".join(str(part) for part in path)
        assert field in [error.field for error in errors], field
        assert all(is_storable(error.field) and is_storable(error.reason) for error in errors)


def test_the_reason_names_the_rule_and_never_the_value() -> None:
    (error,) = refused(SubmitInquiry, SUBMISSION | {"description": "Ana's IEP\x00"})
    assert (error.field, error.reason) == ("description", UNSTORABLE_REASON)
    assert "IEP" not in error.reason


def test_a_constrained_text_keeps_its_own_limits_and_messages() -> None:
    class Named(BaseModel):
        name: ShortText

    (too_long,) = refused(Named, {"name": "x" * 201})
    assert too_long.reason == "String should have at most 200 characters"
    assert Named(name="  Ana  ").name == "Ana"
    assert Named.model_json_schema()["properties"]["name"] | {"title": None} == {
        "type": "string",
        "minLength": 1,
        "maxLength": 200,
        "pattern": "^[^\\u0000]*$",
        "title": None,
    }


def test_an_undeclared_key_that_cannot_be_stored_is_named_with_a_replacement_character() -> None:
    (error,) = refused(SubmitInquiry, SUBMISSION | {"note\x00": 1})
    assert error.field == "note\ufffd"
    errors = field_errors_of([{"loc": ("body", "x\x00"), "msg": "bad \x00"}], where=frozenset({"body"}))
    assert errors == [FieldError(field="x\ufffd", reason="bad \ufffd")]


def test_a_rejection_echoes_no_id_that_cannot_be_stored() -> None:
    rejection = SubmissionRejected(
        occurred_at=NOW,
        correlation_id="c\x00",
        errors=[],
        idempotency_key="k\ud800",
        origin_topic="psc.inquiries.submit",
        origin_partition=2,
        origin_offset=41,
    )
    assert (rejection.correlation_id, rejection.idempotency_key) == ("psc.inquiries.submit/2/41", None)
    kept = SubmissionRejected.model_validate(rejection.model_dump() | {"correlation_id": "c", "idempotency_key": "k"})
    assert (kept.correlation_id, kept.idempotency_key) == ("c", "k")


# --- Strict booleans and integers ----------------------------------------------------------------------------------


@pytest.mark.parametrize("consent", [0, 1, "true", "yes", None])
def test_consent_is_json_true_or_false_only(consent: object) -> None:
    errors = refused(ParentContact, PARENT | {"sms_consent": consent})
    assert [error.field for error in errors] == ["sms_consent"]


@pytest.mark.parametrize(
    ("model", "example", "path", "value"),
    [
        (SubmitInquiry, SUBMISSION, ("student", "school_id"), "609794"),
        (SubmitInquiry, SUBMISSION, ("student", "school_id"), 609794.0),
        (LookupResources, LOOKUP, ("limit",), True),
        (InquirySubmitted, SUBMITTED, ("version",), True),
        (UpsertResource, UPSERT, ("locations", 0, "latitude"), "41.88"),
        (UpsertResource, UPSERT, ("locations", 0, "longitude"), False),
    ],
)
def test_numbers_are_json_numbers_only(
    model: type[BaseModel], example: dict[str, Any], path: tuple[str | int, ...], value: object
) -> None:
    data = replaced(example, path, value)  # type: ignore[arg-type]
    if path[-1] in ("latitude", "longitude"):
        data["locations"][0] |= {"latitude": 41.88, "longitude": -87.63, path[-1]: value}
    assert ".".join(str(part) for part in path) in [error.field for error in refused(model, data)]


# --- The JSON schemas say what the validators enforce --------------------------------------------------------------


def schema_allows(model: type[BaseModel], data: Mapping[str, Any]) -> bool:
    return bool(jsonschema_rs.validator_for(model.model_json_schema()).is_valid(data))


def model_allows(model: type[BaseModel], data: Mapping[str, Any]) -> bool:
    try:
        model.model_validate(data)
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize(
    "parent",
    [
        {"email": "ana@example.org"},
        {"mobile_phone": "+13125550148"},
        {"mobile_phone": "+13125550148", "sms_consent": True},
        {"email": "ana@example.org", "sms_consent": True},
        {"email": "ana@example.org", "mobile_phone": "   ", "sms_consent": True},
        {"email": None, "mobile_phone": None},
        {"mobile_phone": "  "},
        {},
    ],
)
def test_the_parent_contact_schema_says_the_reachability_rules(parent: dict[str, Any]) -> None:
    data = {"name": "Ana Lopez", **parent}
    assert schema_allows(ParentContact, data) == model_allows(ParentContact, data)


CONTACTS: dict[str, dict[str, Any]] = {
    "phone": {"phones": [{"number": "773-553-1000"}]},
    "location": {"locations": UPSERT["locations"]},
    "email": {"service": {"email": "s@example.org"}},
    "url": {"service": {"url": "https://example.org"}},
}


@pytest.mark.parametrize("status", ["active", "inactive", None])
@pytest.mark.parametrize("contact", [None, *CONTACTS])
def test_the_resource_schema_says_an_active_service_needs_a_contact(status: str | None, contact: str | None) -> None:
    service: dict[str, Any] = {"name": "Tutoring", "description": "After-school tutoring."}
    if status:
        service["status"] = status
    data: dict[str, Any] = {
        "service": service,
        "organization": {"id": "test-org", "name": "Test Organization"},
        "languages": ["en"],
        "categories": ["academics"],
    }
    if contact:
        extra = CONTACTS[contact]
        data |= {key: value for key, value in extra.items() if key != "service"}
        service |= extra.get("service", {})
    allowed = model_allows(ResourceUpsert, data) and not upsert_problems(ResourceUpsert.model_validate(data))
    assert schema_allows(ResourceUpsert, data) == allowed


@pytest.mark.parametrize(
    "coordinates",
    [{}, {"latitude": 41.88, "longitude": -87.63}, {"latitude": 41.88}, {"longitude": -87.63, "latitude": None}],
)
def test_the_location_schema_says_latitude_and_longitude_go_together(coordinates: dict[str, Any]) -> None:
    location = UPSERT["locations"][0] | coordinates
    data = UPSERT | {"locations": [location]}
    allowed = model_allows(UpsertResource, data) and not upsert_problems(UpsertResource.model_validate(data))
    assert schema_allows(LocationDetails, location) == allowed


def test_the_resource_schema_says_no_category_or_language_twice() -> None:
    for twice in ({"categories": ["academics", "academics"]}, {"languages": ["en", "en"]}):
        data = UPSERT | twice
        assert not schema_allows(UpsertResource, data)
        assert upsert_problems(UpsertResource.model_validate(data))


# --- The committed documents promise it on every way in ------------------------------------------------------------


def resolved(document: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def unguarded_strings(document: dict[str, Any], node: Any, where: str, seen: set[int]) -> Iterator[str]:
    """Places in ``node`` where a string may hold anything, NUL included."""
    node = resolved(document, node)
    if isinstance(node, list):
        for i, item in enumerate(node):
            yield from unguarded_strings(document, item, f"{where}[{i}]", seen)
        return
    if not isinstance(node, dict) or id(node) in seen:
        return
    seen.add(id(node))
    if node.get("type") == "string" and not {"pattern", "format", "enum", "const"} & node.keys():
        yield where
    for key in ("properties", "items", "anyOf", "oneOf", "allOf", "additionalProperties", "prefixItems"):
        if key in node:
            child = node[key]
            if key == "properties":
                for name, item in child.items():
                    yield from unguarded_strings(document, item, f"{where}.{name}", seen)
            else:
                yield from unguarded_strings(document, child, f"{where}.{key}", seen)


def documents(kind: str) -> list[tuple[str, dict[str, Any]]]:
    paths = sorted((ROOT / "docs" / kind).glob("*.json"))
    assert len(paths) == 4, f"docs/{kind}: one document per service"
    return [(path.stem, json.loads(path.read_text(encoding="utf-8"))) for path in paths]


def test_every_string_an_http_request_carries_promises_no_nul() -> None:
    for service, document in documents("openapi"):
        for path, operations in document["paths"].items():
            for method, operation in operations.items():
                where = f"{service} {method.upper()} {path}"
                inputs = [(f"{where} {p['in']} {p['name']}", p["schema"]) for p in operation.get("parameters", [])]
                for media_type, content in operation.get("requestBody", {}).get("content", {}).items():
                    inputs.append((f"{where} body {media_type}", content["schema"]))
                for name, schema in inputs:
                    assert list(unguarded_strings(document, schema, name, set())) == []


def test_every_string_a_subscriber_reads_promises_no_nul() -> None:
    for service, document in documents("asyncapi"):
        read = [op for op in document["operations"].values() if op["action"] == "receive"]
        assert read, f"{service} reads nothing from Kafka?"
        for operation in read:
            for message in operation["messages"]:
                payload = resolved(document, message)["payload"]
                assert list(unguarded_strings(document, payload, f"{service} {message['$ref']}", set())) == []


def test_every_operation_with_a_body_documents_its_400_and_415() -> None:
    for service, document in documents("openapi"):
        for path, operations in document["paths"].items():
            for method, operation in operations.items():
                if "requestBody" in operation:
                    assert {"400", "415", "422"} <= operation["responses"].keys(), f"{service} {method} {path}"


# --- A body is JSON in UTF-8 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "has_body", "acceptable"),
    [
        ("application/json", True, True),
        ("application/json; charset=utf-8", True, True),
        ('application/json; charset="UTF-8"', True, True),
        ("application/merge-patch+json", True, True),
        ("application/json; charset=latin-1", True, False),
        ("application/json; charset=utf-16", True, False),
        ("text/plain", True, False),
        ("multipart/form-data", True, False),
        (None, True, False),
        (None, False, True),
    ],
)
def test_a_body_is_json_in_utf8(content_type: str | None, has_body: bool, acceptable: bool) -> None:
    assert acceptable_body_type(content_type, has_body=has_body) is acceptable
