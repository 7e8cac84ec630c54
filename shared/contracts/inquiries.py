"""The inquiry contract: the submission command (HTTP body and Kafka message alike) and intake's events.

Validation lives in these models, so both ways in refuse the same input for the same reasons.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

import phonenumbers
from pydantic import ConfigDict, Field, StrictBool, StrictInt, StringConstraints, field_validator, model_validator
from pydantic.config import JsonDict

from shared.contracts.envelope import FrozenModel, InquiryEvent, Rejection
from shared.contracts.phones import dialable
from shared.contracts.text import STORABLE, Email, LongText, ShortText, Text


class Language(StrEnum):
    """Languages the center writes to parents in (ISO 639-1); each has its notification templates."""

    ENGLISH = "en"
    SPANISH = "es"
    CHINESE = "zh"
    ARABIC = "ar"
    POLISH = "pl"
    VIETNAMESE = "vi"
    URDU = "ur"


class InquiryCategory(StrEnum):
    SPECIAL_EDUCATION = "special_education"
    ATTENDANCE = "attendance"
    ENROLLMENT = "enrollment"
    TRANSPORTATION = "transportation"
    SAFETY_AND_BULLYING = "safety_and_bullying"
    ACADEMICS = "academics"
    HEALTH_AND_WELLNESS = "health_and_wellness"
    OTHER = "other"


class IntakeChannel(StrEnum):
    """How the inquiry came in."""

    PHONE = "phone"
    EMAIL = "email"
    WALK_IN = "walk_in"
    WEB = "web"
    NETWORK_OFFICE = "network_office"
    DISTRICT_SYSTEM = "district_system"


Urgency = Literal["normal", "urgent"]
Grade = Literal["PK", "K", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12"]
SubmitterId = Annotated[str, StringConstraints(min_length=1, max_length=200), STORABLE]
"""An id the submitter chooses: a correlation id, an idempotency key."""
InquiryRef = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), STORABLE]
"""How staff name an inquiry: its reference number ('PSC-26-000123', any case) or its id."""


_GIVEN_MOBILE: JsonDict = {
    "required": ["mobile_phone"],
    "properties": {"mobile_phone": {"type": "string", "pattern": "\\S"}},
}


class ParentContact(FrozenModel):
    """How to reach the parent: an email address or a mobile phone at least, and a mobile phone for texts."""

    # What ``_reachable`` enforces, in the JSON schema too: clients and the OpenAPI document see the same rule.
    model_config = ConfigDict(
        json_schema_extra={
            "allOf": [
                {
                    "anyOf": [
                        {"required": ["email"], "properties": {"email": {"type": "string", "format": "email"}}},
                        _GIVEN_MOBILE,
                    ]
                },
                {"anyOf": [{"properties": {"sms_consent": {"const": False}}}, _GIVEN_MOBILE]},
            ]
        }
    )

    name: ShortText = Field(description="Parent or guardian's name as they give it")
    email: Email | None = Field(None, description="Where the parent gets email")
    mobile_phone: Text | None = Field(None, description="Mobile number; stored in E.164 form (+13125551212)")
    preferred_language: Language = Field(Language.ENGLISH, description="Language to write to the parent in")
    sms_consent: StrictBool = Field(False, description="Whether the parent agreed to text messages (true or false)")

    @field_validator("mobile_phone")
    @classmethod
    def _phone_in_e164(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        return phonenumbers.format_number(dialable(value), phonenumbers.PhoneNumberFormat.E164)

    @model_validator(mode="after")
    def _reachable(self) -> ParentContact:
        if self.email is None and self.mobile_phone is None:
            raise ValueError("give an email or a mobile phone, so the parent can be told what happens")
        if self.sms_consent and self.mobile_phone is None:
            raise ValueError("sms_consent needs a mobile_phone")
        return self


class Student(FrozenModel):
    school_id: StrictInt = Field(ge=100000, le=999999, description="The district's six-digit school id")
    grade: Grade = Field(description="PK, K or 1 to 12")


class InquirySubmission(FrozenModel):
    """What a caller submits: the body of ``POST /v1/inquiries``, and (with the fields below) a Kafka message."""

    parent: ParentContact
    student: Student
    category: InquiryCategory
    description: LongText = Field(description="The concern in the parent's words, as staff recorded it")
    channel: IntakeChannel = Field(description="How the inquiry came in")
    submitted_by: ShortText | None = Field(None, description="Staff member or system that entered it")
    urgency: Urgency = Field(
        "normal", description="'urgent' (a safety concern, say) gets hours, not days: routing's SLA targets follow it"
    )


class SubmitInquiry(InquirySubmission):
    """The command on the submissions topic: a submission plus the submitter's ids."""

    correlation_id: SubmitterId = Field(
        description="The submitter's id for this request; echoed on every event it causes, and on a rejection"
    )
    idempotency_key: SubmitterId | None = Field(
        None, description="Submitting twice with the same key creates one inquiry"
    )


class InquirySubmitted(InquiryEvent):
    """An inquiry was recorded. Carries what routing and notify need; the description stays in intake."""

    event_type: Literal["inquiry.submitted"] = "inquiry.submitted"
    reference: Text = Field(description="Reference number the parent is given, e.g. PSC-26-000123")
    category: InquiryCategory
    channel: IntakeChannel
    parent: ParentContact
    student: Student
    submitted_by: Text | None = None
    urgency: Urgency = Field("normal", description="'normal' or 'urgent', as submitted")
    status_token: Text | None = Field(
        None,
        description="The parent's second factor for the status page: notify puts it in the acknowledgment's link"
        " (GET /v1/status/{reference}?token=...). A secret of this inquiry only, not personal data.",
    )


class SubmissionRejected(Rejection):
    """A submission on the submissions topic was refused; nothing was stored."""

    event_type: Literal["inquiry.submission_rejected"] = "inquiry.submission_rejected"
    idempotency_key: str | None = Field(None, description="The submitter's idempotency key, if it could be read")
