"""Open311 GeoReport v2, pure: the district's categories as services, a service request's form mapped to our
submission (and its refusals back to the form's names), an inquiry as a service request, and the spec's JSON and XML.

How the spec's fields map (README, "Open311"):

- ``service_code`` is the category (``attendance``, ``special_education`` ...);
- ``first_name`` and ``last_name`` make the parent's name; ``email`` and ``phone`` (a mobile number) how to reach them;
- ``description`` is the concern; ``attribute[school_id]`` and ``attribute[grade]`` the student (both required, see
  the service definitions); ``attribute[language]``, ``attribute[sms_consent]``, ``attribute[urgency]`` and
  ``attribute[channel]`` are optional;
- the location (``lat``/``long``, ``address_string``, ``address_id``), ``media_url``, ``device_id``, ``account_id``
  and ``jurisdiction_id`` are read and checked but not kept: an inquiry is placed by its school, and the district
  takes no attachments this way.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any, Literal
from xml.etree import ElementTree

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from services.intake import parents
from shared.contracts.envelope import FieldError, field_errors_of
from shared.contracts.inquiries import Grade, InquiryCategory, InquirySubmission, IntakeChannel, Language
from shared.contracts.text import STORABLE

Format = Literal["json", "xml"]
JSON_TYPE = "application/json; charset=utf-8"
XML_TYPE = "text/xml; charset=utf-8"
DEFAULT_CHANNEL = IntakeChannel.DISTRICT_SYSTEM

_NAMES: dict[InquiryCategory, tuple[str, str]] = {
    InquiryCategory.SPECIAL_EDUCATION: (
        "Special education",
        "IEPs, 504 plans, evaluations, services and supports for a student with a disability",
    ),
    InquiryCategory.ATTENDANCE: ("Attendance", "Absences, tardies, truancy notices and attendance records"),
    InquiryCategory.ENROLLMENT: ("Enrollment", "Registering, transferring, school choice and records"),
    InquiryCategory.TRANSPORTATION: ("Transportation", "Bus routes, pick-up and drop-off, eligibility"),
    InquiryCategory.SAFETY_AND_BULLYING: ("Safety and bullying", "Bullying, harassment and safety at school"),
    InquiryCategory.ACADEMICS: ("Academics", "Grades, curriculum, promotion and academic programs"),
    InquiryCategory.HEALTH_AND_WELLNESS: ("Health and wellness", "Health services, medication, meals and wellness"),
    InquiryCategory.OTHER: ("Other", "Anything else about a student's school"),
}
GROUP = "Parent Support Center"

FormText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200), STORABLE]
FormLongText = Annotated[str, StringConstraints(max_length=5000), STORABLE]
FormUrl = Annotated[str, StringConstraints(max_length=2000), STORABLE]


class ServiceRequestForm(BaseModel):
    """``POST /open311/v2/requests.{format}``: the spec's form fields (application/x-www-form-urlencoded). Each is
    checked for what can be stored here; the rules of a submission are applied by ``submission_of``."""

    model_config = ConfigDict(extra="ignore", populate_by_name=False)

    api_key: FormText = Field(description="A district system's API key with the inquiries:submit scope")
    service_code: FormText = Field(description="The category, one of GET /open311/v2/services.json's service_code")
    jurisdiction_id: FormText | None = Field(None, description="Accepted, not needed: one district")
    lat: float | None = Field(None, ge=-90, le=90, description="Accepted, not kept: an inquiry is placed by its school")
    long: float | None = Field(None, ge=-180, le=180, description="Accepted, not kept")
    address_string: FormText | None = Field(None, description="Accepted, not kept")
    address_id: FormText | None = Field(None, description="Accepted, not kept")
    email: FormText | None = Field(None, description="The parent's email address")
    device_id: FormText | None = Field(None, description="Accepted, not kept")
    account_id: FormText | None = Field(None, description="Accepted, not kept")
    first_name: FormText | None = Field(None, description="The parent's first name (first_name or last_name needed)")
    last_name: FormText | None = Field(None, description="The parent's last name")
    phone: FormText | None = Field(None, description="The parent's mobile phone")
    description: FormLongText | None = Field(None, description="The concern, in the parent's words (required)")
    media_url: FormUrl | None = Field(None, description="Accepted, not kept: no attachments this way")
    school_id: FormText | None = Field(
        None, alias="attribute[school_id]", description="The district's six-digit school id (required)"
    )
    grade: FormText | None = Field(None, alias="attribute[grade]", description="PK, K or 1 to 12 (required)")
    language: FormText | None = Field(
        None, alias="attribute[language]", description="en (default), es, zh, ar, pl, vi or ur"
    )
    sms_consent: FormText | None = Field(
        None, alias="attribute[sms_consent]", description="true if the parent agreed to texts (default false)"
    )
    urgency: FormText | None = Field(None, alias="attribute[urgency]", description="normal (default) or urgent")
    channel: FormText | None = Field(
        None, alias="attribute[channel]", description="How the inquiry came in (default district_system)"
    )


# Where a rule of the submission sits in the form: a refusal names the field the client sent.
_FORM_NAMES: dict[str, str] = {
    "parent.name": "first_name",
    "parent.email": "email",
    "parent.mobile_phone": "phone",
    "parent.preferred_language": "attribute[language]",
    "parent.sms_consent": "attribute[sms_consent]",
    "parent": "phone",
    "student.school_id": "attribute[school_id]",
    "student.grade": "attribute[grade]",
    "category": "service_code",
    "description": "description",
    "channel": "attribute[channel]",
    "urgency": "attribute[urgency]",
    "submitted_by": "api_key",
}


class Refused(Exception):
    """The form breaks a rule: each field (by its name in the form) and why; never the value."""

    def __init__(self, errors: Sequence[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.reason}" for e in errors))
        self.errors = list(errors)


def _number(value: str | None) -> int | str | None:
    return int(value) if value is not None and re.fullmatch(r"[0-9]{1,9}", value) else value


def _flag(value: str | None) -> bool | str:
    if value is None or value == "":
        return False
    return {"true": True, "false": False}.get(value.lower(), value)


def submission_of(form: ServiceRequestForm, *, submitted_by: str) -> InquirySubmission:
    """The form as our submission, by the mapping above; ``Refused`` naming the form's fields otherwise."""
    name = " ".join(part for part in (form.first_name, form.last_name) if part)
    if not name:
        raise Refused([FieldError(field="first_name", reason="give first_name or last_name: the parent's name")])
    parent: dict[str, Any] = {"name": name, "email": form.email or None, "mobile_phone": form.phone or None}
    if form.language:
        parent["preferred_language"] = form.language
    parent["sms_consent"] = _flag(form.sms_consent)
    draft = {
        "parent": parent,
        "student": {"school_id": _number(form.school_id), "grade": form.grade},
        "category": form.service_code,
        "description": form.description,
        "channel": form.channel or DEFAULT_CHANNEL.value,
        "submitted_by": submitted_by,
        "urgency": form.urgency or "normal",
    }
    try:
        return InquirySubmission.model_validate(draft)
    except ValidationError as exc:
        errors = field_errors_of(exc.errors())
        raise Refused([FieldError(field=_FORM_NAMES.get(e.field, e.field), reason=e.reason) for e in errors]) from None


class Service(BaseModel):
    """One of ``GET /open311/v2/services.{format}``: a category parents' concerns are filed under."""

    service_code: str
    service_name: str
    description: str
    metadata: bool = Field(description="true: GET /open311/v2/services/{service_code}.json lists its attributes")
    type: Literal["realtime", "batch", "blackbox"] = Field(description="'realtime': the request id comes at once")
    keywords: str
    group: str


def services() -> list[Service]:
    return [
        Service(
            service_code=category.value,
            service_name=name,
            description=description,
            metadata=True,
            type="realtime",
            keywords=category.value.replace("_", ", "),
            group=GROUP,
        )
        for category, (name, description) in _NAMES.items()
    ]


def service_name(category: str) -> str:
    known = {c.value: names[0] for c, names in _NAMES.items()}
    return known.get(category, category)


class AttributeValue(BaseModel):
    key: str
    name: str


class Attribute(BaseModel):
    variable: bool = True
    code: str = Field(description="The form field is attribute[code]")
    datatype: Literal["string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"]
    required: bool
    datatype_description: str | None
    order: int
    description: str
    values: list[AttributeValue] = Field(default_factory=list)


class ServiceDefinition(BaseModel):
    """``GET /open311/v2/services/{service_code}.{format}``: the attributes a request of this service takes."""

    service_code: str
    attributes: list[Attribute]


_GRADES: tuple[Grade, ...] = ("PK", "K", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12")


def _values(*pairs: tuple[str, str]) -> list[AttributeValue]:
    return [AttributeValue(key=key, name=name) for key, name in pairs]


# code, datatype, required, datatype_description, description, values: each becomes the form's attribute[code].
_ATTRIBUTES: tuple[tuple[str, Any, bool, str | None, str, list[AttributeValue]], ...] = (
    ("school_id", "number", True, "The district's six-digit school id, e.g. 609794", "The student's school", []),
    ("grade", "singlevaluelist", True, None, "The student's grade", _values(*((g, g) for g in _GRADES))),
    (
        "language",
        "singlevaluelist",
        False,
        None,
        "The language to write to the parent in (default en)",
        _values(*((lang.value, lang.name.title()) for lang in Language)),
    ),
    (
        "sms_consent",
        "singlevaluelist",
        False,
        "true needs a phone",
        "Whether the parent agreed to text messages (default false)",
        _values(("true", "Yes"), ("false", "No")),
    ),
    (
        "urgency",
        "singlevaluelist",
        False,
        None,
        "urgent for a safety concern: hours, not days",
        _values(("normal", "Normal"), ("urgent", "Urgent")),
    ),
    (
        "channel",
        "singlevaluelist",
        False,
        None,
        "How the inquiry came in (default district_system)",
        _values(*((c.value, c.value.replace("_", " ")) for c in IntakeChannel)),
    ),
)


def service_definition(service_code: str) -> ServiceDefinition | None:
    if service_code not in {c.value for c in InquiryCategory}:
        return None
    attributes = [
        Attribute(
            code=code,
            datatype=datatype,
            required=required,
            datatype_description=note,
            order=order,
            description=description,
            values=values,
        )
        for order, (code, datatype, required, note, description, values) in enumerate(_ATTRIBUTES, start=1)
    ]
    return ServiceDefinition(service_code=service_code, attributes=attributes)


class RequestCreated(BaseModel):
    """The answer to a new service request: its id at once (no token is needed: requests are realtime)."""

    service_request_id: str = Field(description="The inquiry's reference number")
    service_notice: str | None = Field(description="What happens next")
    account_id: str | None = Field(None, description="Always null: parents have no accounts")


def created(reference: str) -> RequestCreated:
    return RequestCreated(
        service_request_id=reference,
        service_notice=f"Recorded as {reference}. The parent gets an acknowledgment by email or text with a link to"
        " follow it; the office of the student's school network answers it.",
    )


class ServiceRequest(BaseModel):
    """``GET /open311/v2/requests/{service_request_id}.{format}``: the spec's fields. Who the parent and student
    are, and the concern in their words, are never shown here: ``description`` and the location are null."""

    service_request_id: str
    status: Literal["open", "closed"]
    status_notes: str | None = Field(description="The latest note staff wrote to the parent, else the status in words")
    service_name: str
    service_code: str
    description: None = Field(None, description="Always null: the concern stays with staff")
    agency_responsible: str | None = Field(description="The office handling it; null until routing decided")
    service_notice: str | None = None
    requested_datetime: datetime
    updated_datetime: datetime
    expected_datetime: datetime | None = Field(description="When an answer is due from the office; null when closed")
    address: None = None
    address_id: None = None
    zipcode: None = None
    lat: None = None
    long: None = None
    media_url: None = None


def service_request(
    *, record: parents.ParentRecord, category: str, requested: datetime, updated: datetime
) -> ServiceRequest:
    closed = record.status in parents.CLOSED_STATUSES
    notes = record.notes
    return ServiceRequest(
        service_request_id=record.reference,
        status="closed" if closed else "open",
        status_notes=notes[-1].text if notes else parents.parent_terms(record.status)[1],
        service_name=service_name(category),
        service_code=category,
        agency_responsible=record.office,
        requested_datetime=requested,
        updated_datetime=updated,
        expected_datetime=None if closed else record.due_at,
    )


class Open311Error(BaseModel):
    """The spec's error: the HTTP status and what was wrong (a field's name and why; never its value)."""

    code: int
    description: str


def errors(code: int, reasons: Sequence[str]) -> list[Open311Error]:
    return [Open311Error(code=code, description=reason) for reason in reasons]


# --- the spec's XML -------------------------------------------------------------------------------------------------

_ROOTS = {
    "services": ("services", "service"),
    "service_definition": ("service_definition", None),
    "requests": ("service_requests", "request"),
    "errors": ("errors", "error"),
}
_ITEMS = {"attributes": "attribute", "values": "value"}
# Characters XML 1.0 cannot carry, even escaped (our text may hold them: only NUL and surrogates are refused).
_NOT_XML = re.compile("[\x01-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return _NOT_XML.sub("\ufffd", str(value))


def _append(parent: ElementTree.Element, tag: str, value: object) -> None:
    element = ElementTree.SubElement(parent, tag)
    if isinstance(value, Mapping):
        for key, inner in value.items():
            _append(element, key, inner)
    elif isinstance(value, list):
        for inner in value:
            _append(element, _ITEMS.get(tag, "item"), inner)
    else:
        element.text = _text(value)


def to_xml(kind: str, content: BaseModel | Sequence[BaseModel]) -> str:
    """The spec's XML document for ``kind`` (``services``, ``service_definition``, ``requests``, ``errors``)."""
    root_tag, item_tag = _ROOTS[kind]
    root = ElementTree.Element(root_tag)
    if isinstance(content, BaseModel):
        for key, value in content.model_dump().items():
            _append(root, key, value)
    else:
        assert item_tag is not None
        for item in content:
            _append(root, item_tag, item.model_dump())
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(root, encoding="unicode")


def to_json(content: BaseModel | Sequence[BaseModel]) -> str:
    if isinstance(content, BaseModel):
        return content.model_dump_json()
    return "[" + ",".join(item.model_dump_json() for item in content) + "]"
