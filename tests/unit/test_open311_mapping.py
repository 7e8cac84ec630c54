"""Open311's pure mapping: a service request's form to our submission (refusals named as the form names them), the
categories as services, an inquiry as a service request, and the spec's XML and JSON."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import uuid4
from xml.etree import ElementTree

import pytest

from services.intake import georeport
from services.intake.georeport import Refused, ServiceRequestForm
from services.intake.parents import ParentRecord, VisibleNote
from shared.contracts.inquiries import InquiryCategory

NOW = datetime(2026, 11, 25, 16, 0, tzinfo=UTC)


def form(**changes: Any) -> ServiceRequestForm:
    fields: dict[str, Any] = {
        "api_key": "k",
        "service_code": "attendance",
        "first_name": "Ana",
        "last_name": "Lopez",
        "email": "ana@example.org",
        "phone": "(312) 555-0148",
        "description": "Absences marked wrongly.",
        "attribute[school_id]": "609794",
        "attribute[grade]": "K",
    }
    fields |= changes
    return ServiceRequestForm.model_validate({k: v for k, v in fields.items() if v is not None})


def refused_fields(changes: dict[str, Any]) -> list[str]:
    with pytest.raises(Refused) as refused:
        georeport.submission_of(form(**changes), submitted_by="open311:key")
    return [error.field for error in refused.value.errors]


def test_the_form_maps_to_a_submission() -> None:
    submission = georeport.submission_of(
        form(**{"attribute[language]": "es", "attribute[sms_consent]": "TRUE", "attribute[urgency]": "urgent"}),
        submitted_by="open311:key-1",
    )
    assert submission.parent.name == "Ana Lopez"
    assert (submission.parent.email, submission.parent.mobile_phone) == ("ana@example.org", "+13125550148")
    assert (submission.parent.preferred_language, submission.parent.sms_consent) == ("es", True)
    assert (submission.student.school_id, submission.student.grade) == (609794, "K")
    assert submission.category is InquiryCategory.ATTENDANCE
    assert (submission.channel, submission.urgency, submission.submitted_by) == (
        "district_system",
        "urgent",
        "open311:key-1",
    )


def test_defaults_and_one_name_part_are_enough() -> None:
    submission = georeport.submission_of(form(first_name=None, phone=None), submitted_by="open311:k")
    assert submission.parent.name == "Lopez" and submission.parent.mobile_phone is None
    assert (submission.parent.preferred_language, submission.parent.sms_consent) == ("en", False)
    assert (submission.urgency, submission.channel) == ("normal", "district_system")


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"service_code": "potholes"}, ["service_code"]),
        ({"attribute[school_id]": "12"}, ["attribute[school_id]"]),
        ({"attribute[school_id]": "six"}, ["attribute[school_id]"]),
        ({"attribute[school_id]": None}, ["attribute[school_id]"]),
        ({"attribute[grade]": "13"}, ["attribute[grade]"]),
        ({"attribute[language]": "fr"}, ["attribute[language]"]),
        ({"attribute[sms_consent]": "yes"}, ["attribute[sms_consent]"]),
        ({"attribute[sms_consent]": "true", "phone": None}, ["phone"]),
        ({"attribute[urgency]": "asap"}, ["attribute[urgency]"]),
        ({"attribute[channel]": "fax"}, ["attribute[channel]"]),
        ({"email": "not an address"}, ["email"]),
        ({"phone": "12"}, ["phone"]),
        ({"email": None, "phone": None}, ["phone"]),
        ({"first_name": None, "last_name": None}, ["first_name"]),
        ({"description": None}, ["description"]),
        ({"attribute[school_id]": "1", "attribute[grade]": "Z"}, ["attribute[school_id]", "attribute[grade]"]),
    ],
)
def test_a_refusal_names_the_forms_field_never_the_value(changes: dict[str, Any], fields: list[str]) -> None:
    assert refused_fields(changes) == fields
    with pytest.raises(Refused) as refused:
        georeport.submission_of(form(**changes), submitted_by="open311:k")
    for value in changes.values():
        if value and len(value) > 2:
            assert value not in str(refused.value)


def test_the_services_are_the_categories_and_define_school_and_grade() -> None:
    services = georeport.services()
    assert [s.service_code for s in services] == [c.value for c in InquiryCategory]
    assert all(s.metadata and s.type == "realtime" for s in services)
    definition = georeport.service_definition("enrollment")
    assert definition is not None
    assert [(a.code, a.required) for a in definition.attributes][:2] == [("school_id", True), ("grade", True)]
    assert georeport.service_definition("potholes") is None


def record(status: str, notes: tuple[VisibleNote, ...] = ()) -> ParentRecord:
    return ParentRecord(
        inquiry_id=uuid4(),
        reference="PSC-26-000007",
        status=status,
        phone="+13125550148",
        token_digest=None,
        office="Network 4",
        due_at=NOW,
        notes=notes,
    )


def test_an_inquiry_is_open_until_resolved_and_shows_its_latest_note() -> None:
    working = georeport.service_request(
        record=record("acknowledged"), category="attendance", requested=NOW, updated=NOW
    )
    assert (working.status, working.expected_datetime, working.agency_responsible) == ("open", NOW, "Network 4")
    assert working.status_notes == "Staff have your inquiry and are working on it."
    assert (working.service_name, working.description) == ("Attendance", None)
    notes = (VisibleNote(text="We called the school.", written_at=NOW), VisibleNote(text="Fixed.", written_at=NOW))
    for status in ("resolved", "closed"):
        done = georeport.service_request(
            record=record(status, notes), category="attendance", requested=NOW, updated=NOW
        )
        assert (done.status, done.expected_datetime, done.status_notes) == ("closed", None, "Fixed.")


def test_the_specs_xml_and_json() -> None:
    created = [georeport.created("PSC-26-000007")]
    root = ElementTree.fromstring(georeport.to_xml("requests", created))  # noqa: S314 - our own document
    assert root.tag == "service_requests"
    assert root.findtext("request/service_request_id") == "PSC-26-000007"
    assert root.find("request/account_id") is not None and not root.findtext("request/account_id")
    assert georeport.to_json(created).startswith('[{"service_request_id":"PSC-26-000007"')
    # Text XML cannot carry is replaced, what it can is escaped; booleans are the spec's true and false.
    notes = (VisibleNote(text="a < b & \x07 bell", written_at=NOW),)
    request = georeport.service_request(
        record=record("in_progress", notes), category="other", requested=NOW, updated=NOW
    )
    document = georeport.to_xml("requests", [request])
    assert "a &lt; b &amp; \ufffd bell" in document and "\x07" not in document
    parsed = ElementTree.fromstring(document)  # noqa: S314
    assert parsed.findtext("request/requested_datetime") == "2026-11-25T16:00:00+00:00"
    services = ElementTree.fromstring(georeport.to_xml("services", georeport.services()))  # noqa: S314
    assert {s.findtext("metadata") for s in services.findall("service")} == {"true"}
    definition = georeport.service_definition("other")
    assert definition is not None
    defined = ElementTree.fromstring(georeport.to_xml("service_definition", definition))  # noqa: S314
    assert defined.findtext("attributes/attribute/code") == "school_id"
    assert [v.findtext("key") for v in defined.findall("attributes/attribute[2]/values/value")][:2] == ["PK", "K"]
    errors = ElementTree.fromstring(georeport.to_xml("errors", georeport.errors(403, ["api_key: no"])))  # noqa: S314
    assert (errors.findtext("error/code"), errors.findtext("error/description")) == ("403", "api_key: no")
