"""The catalog contract: resource lookups and upserts (commands) and the catalog's events.

The directory is shaped after the Human Services Data Specification (HSDS 3.0): an organization offers services at
locations, reachable by phones, in languages, filed under taxonomy terms. A ``ResourceView`` is what every reader gets,
whether over HTTP, in a lookup reply or in a ``ResourceUpdated`` event, so one parser serves them all.
Validation lives in these models, so the HTTP body and the Kafka message refuse the same input for the same reasons.
"""

from __future__ import annotations

import re
from datetime import datetime, time
from enum import StrEnum
from typing import Annotated, Literal
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from pydantic import (
    AwareDatetime,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StringConstraints,
    WithJsonSchema,
    field_validator,
)

from shared.contracts.envelope import Event, FrozenModel, Rejection
from shared.contracts.inquiries import InquiryCategory
from shared.contracts.phones import dialable
from shared.contracts.text import STORABLE, Email, LongText, ShortText, Text, WebUrl
from shared.contracts.topics import CATALOG_LOOKUPS, CATALOG_REPLIES, CATALOG_UPSERTS, DEAD_LETTERS

# Local wall-clock times carry no UTC offset (the schedule's ``timezone`` says where they are), so the JSON Schema
# formats 'time' and 'date-time' (RFC 3339, offset required) would be a promise the answers break: say what they are.
LocalTime = Annotated[time, WithJsonSchema({"type": "string", "pattern": r"^\d{2}:\d{2}(:\d{2}(\.\d+)?)?$"})]
LocalDateTime = Annotated[
    datetime, WithJsonSchema({"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$"})
]


class DirectoryOnlyCategory(StrEnum):
    """What the directory files services under beyond the categories of parents' inquiries."""

    COMMUNITY_PARTNERS = "community_partners"
    LANGUAGE_ACCESS = "language_access"
    FAMILY_ENGAGEMENT = "family_engagement"


# Built from the two, so a new inquiry category is a resource category at once. mypy knows an enum's members by name
# only when they are written out in it: it checks ResourceCategory as a type; reach a member by its value
# (ResourceCategory("attendance")) or through the enum that declares it (InquiryCategory.ATTENDANCE equals it).
ResourceCategory = StrEnum(  # type: ignore[misc]
    "ResourceCategory",
    [(category.name, category.value) for category in (*InquiryCategory, *DirectoryOnlyCategory)],
    module=__name__,
)
ResourceCategory.__doc__ = (
    "Taxonomy codes (vocabulary 'psc-category'): the inquiry categories plus what only the directory files under."
)


ResourceId = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=2, max_length=100, pattern=r"^[a-z0-9][a-z0-9-]*[a-z0-9]$"),
    STORABLE,
]
"""Ids are readable slugs ('parent-educator-partnership'): stable across environments, safe in URLs and logs."""
LanguageCode = Annotated[
    str, StringConstraints(strip_whitespace=True, to_lower=True, pattern=r"^[A-Za-z]{2}$"), STORABLE
]
"""An ISO 639-1 code such as 'en' or 'es' (any case in, lower case out)."""
ReplyTopic = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=249), STORABLE]
CorrelationId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), STORABLE]
SearchWords = Annotated[str, StringConstraints(max_length=200), STORABLE]
"""What a parent or staff member types into a search: 'IEP workshop'."""
PhoneType = Literal["voice", "fax", "text"]
GradeLevel = Literal["PE", "PK", "K", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12"]
"""A grade as the district writes it: PE (preschool for all), PK (pre-kindergarten), K, then 1 to 12."""
Weekday = Literal["MO", "TU", "WE", "TH", "FR", "SA", "SU"]
"""A day of the week as RFC 5545 writes it (HSDS's ``byday``)."""
ScheduleKind = Literal["opening_hours", "event"]
ServiceStatus = Literal["active", "inactive"]


def valid_timezone(value: str) -> str:
    """An IANA time zone name the platform's tz database knows ('America/Chicago')."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError("must be an IANA time zone name such as 'America/Chicago'") from error
    return value


_TOPIC_NAME = re.compile(r"^psc\.[A-Za-z0-9._-]+$")
# A reply must never feed the catalog's own inputs (a loop) or pose as a dead letter.
_NOT_REPLY_TOPICS = frozenset({CATALOG_LOOKUPS, CATALOG_UPSERTS, DEAD_LETTERS})


# --- What readers get ---------------------------------------------------------------------------------------------


class OrganizationRef(FrozenModel):
    id: Text = Field(description="Directory id of the organization (office or department) that offers the service")
    name: Text = Field(description="The organization's name, e.g. 'Office of Diverse Learner Supports and Services'")


class PhoneView(FrozenModel):
    number: Text = Field(description="Phone number as people dial it, e.g. '(773) 553-1800'")
    extension: Text | None = Field(description="Extension to ask for, if any")
    type: PhoneType = Field(description="'voice', 'fax' or 'text'")
    description: Text | None = Field(description="What the number is for, e.g. 'Main line'")


class LocationView(FrozenModel):
    name: Text = Field(description="Name of the place, e.g. 'ODLSS offices'")
    address_1: Text = Field(description="Street address, e.g. '125 South Clark Street, 8th Floor'")
    city: Text = Field(description="City")
    state_province: Text = Field(description="Two-letter state code")
    postal_code: Text = Field(description="ZIP code")
    id: Text | None = Field(None, description="Directory id of the location")
    latitude: float | None = Field(None, description="WGS84 latitude, if known")
    longitude: float | None = Field(None, description="WGS84 longitude, if known")


class TranslationView(FrozenModel):
    name: Text | None = Field(None, description="The name in this language")
    description: Text | None = Field(None, description="The description in this language")
    eligibility_description: Text | None = Field(None, description="Who may use it, in this language")


class ContactView(FrozenModel):
    name: Text | None = Field(None, description="The person's name, when the directory gives one")
    title: Text = Field(description="Who to ask for, e.g. 'Parent Support Administrator (PSA)'")
    department: Text | None = Field(None, description="The office the contact works in")
    email: Text | None = Field(None, description="Email address of the contact")
    phone: Text | None = Field(None, description="Phone number of the contact")
    translations: dict[str, TranslationView] = Field(
        default_factory=dict, description="The title in other languages, by ISO 639-1 code (in 'name')"
    )


class ScheduleView(FrozenModel):
    id: Text = Field(description="Directory id of the schedule")
    kind: ScheduleKind = Field(description="'opening_hours' (weekly hours) or 'event' (a dated session)")
    name: Text | None = Field(None, description="The event's title")
    description: Text | None = Field(None, description="What happens at the event")
    translations: dict[str, TranslationView] = Field(default_factory=dict, description="Title and text by language")
    language: Text | None = Field(None, description="ISO 639-1 code of the language the event is held in")
    byday: list[Weekday] = Field(default_factory=list, description="Days the hours apply to")
    opens_at: LocalTime | None = Field(None, description="Opening time, local")
    closes_at: LocalTime | None = Field(None, description="Closing time, local")
    dtstart: LocalDateTime | None = Field(None, description="The event's first start, local time of 'timezone'")
    duration_minutes: int | None = Field(None, description="How long each occurrence lasts")
    rrule: Text | None = Field(None, description="RFC 5545 recurrence rule, e.g. 'FREQ=MONTHLY;BYDAY=2TU'")
    timezone: Text = Field("America/Chicago", description="IANA time zone of the times")
    location_id: Text | None = Field(None, description="Where the event takes place (a location of the service)")


class ResourceView(FrozenModel):
    """One service of the directory with what a parent or staff member needs to reach it."""

    id: Text = Field(description="Directory id of the service")
    name: Text = Field(description="Name of the program or office, e.g. 'Parent and Educator Partnership (PEP)'")
    alternate_name: Text | None = Field(description="Another name people know it by (often the Spanish name)")
    description: Text = Field(description="What the service does and for whom")
    status: ServiceStatus = Field(description="'active', or 'inactive' when it no longer takes requests")
    organization: OrganizationRef = Field(description="Who offers the service")
    categories: list[ResourceCategory] = Field(description="Taxonomy codes, the main one first")
    languages: list[Text] = Field(description="ISO 639-1 codes of the languages the service is offered in")
    phones: list[PhoneView] = Field(description="Numbers to call or text, the main one first")
    locations: list[LocationView] = Field(description="Where the service is offered in person")
    url: Text | None = Field(description="Web page of the service")
    email: Text | None = Field(description="Email address of the service")
    eligibility_description: Text | None = Field(description="Who may use the service")
    fees_description: Text | None = Field(description="What it costs, if anything")
    updated_at: AwareDatetime = Field(description="When the catalog last changed what this view shows")
    translations: dict[str, TranslationView] = Field(
        default_factory=dict, description="What parents read in other languages, by ISO 639-1 code ('es')"
    )
    network: Text | None = Field(None, description="The network the service belongs to (a network office), if any")
    grades: list[Text] = Field(default_factory=list, description="Grades the service is for; empty: every grade")
    contacts: list[ContactView] = Field(default_factory=list, description="Who to ask for")
    schedules: list[ScheduleView] = Field(default_factory=list, description="Opening hours and dated events")
    distance_km: float | None = Field(
        None, description="Distance from the point searched from to the nearest location, when one was given"
    )


# --- Upserts: the HTTP body, and with the fields below, the Kafka command --------------------------------------------


class Translation(FrozenModel):
    """What parents read, in another language than English."""

    name: ShortText | None = Field(None, description="The name in this language")
    description: LongText | None = Field(None, description="The description in this language")
    eligibility_description: LongText | None = Field(None, description="Who may use it, in this language")


Translations = Annotated[
    dict[LanguageCode, Translation],
    Field(max_length=20, description="Text in other languages by ISO 639-1 code, e.g. {'es': {'name': ...}}"),
]


class OrganizationDetails(FrozenModel):
    id: ResourceId = Field(description="Directory id of the organization")
    name: ShortText = Field(description="The organization's name")
    description: LongText | None = Field(None, description="What the organization is")
    email: Email | None = Field(None, description="General email address")
    website: WebUrl | None = Field(None, description="Web site")
    translations: Translations = Field(default_factory=dict)


class LocationDetails(FrozenModel):
    # The catalog's rule (services/catalog/domain.py, upsert_problems), in the JSON schema too.
    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {
                    "required": ["latitude", "longitude"],
                    "properties": {"latitude": {"type": "number"}, "longitude": {"type": "number"}},
                },
                {"properties": {"latitude": {"type": "null"}, "longitude": {"type": "null"}}},
            ]
        }
    )

    id: ResourceId = Field(description="Directory id of the location; a location belongs to one organization")
    name: ShortText = Field(description="Name of the place")
    address_1: ShortText = Field(description="Street address, with floor or suite")
    city: ShortText = Field(description="City")
    state_province: Annotated[
        str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Za-z]{2}$"), STORABLE
    ] = Field(description="Two-letter state code, e.g. 'IL'")
    postal_code: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\d{5}(-\d{4})?$"), STORABLE] = (
        Field(description="ZIP or ZIP+4 code")
    )
    latitude: StrictFloat | None = Field(
        None, ge=-90, le=90, description="WGS84 latitude, with longitude or not at all"
    )
    longitude: StrictFloat | None = Field(
        None, ge=-180, le=180, description="WGS84 longitude, with latitude or not at all"
    )


class PhoneDetails(FrozenModel):
    number: Text = Field(description="A dialable number; stored as people read it: '(773) 553-1800'")
    extension: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\d{1,10}$"), STORABLE] | None = Field(
        None, description="Digits of an extension"
    )
    type: PhoneType = Field("voice", description="'voice', 'fax' or 'text'")
    description: ShortText | None = Field(None, description="What the number is for")

    @field_validator("number")
    @classmethod
    def _as_people_read_it(cls, value: str) -> str:
        return _as_people_read_it(value)


def _as_people_read_it(value: str) -> str:
    number = dialable(value)
    # Shown to parents: a local number reads the local way, any other in international form.
    form = (
        phonenumbers.PhoneNumberFormat.NATIONAL
        if number.country_code == 1
        else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    return phonenumbers.format_number(number, form)


class ServiceDetails(FrozenModel):
    name: ShortText = Field(description="Name of the program or office")
    alternate_name: ShortText | None = Field(None, description="Another name people know it by")
    description: LongText = Field(description="What the service does and for whom")
    url: WebUrl | None = Field(None, description="Web page of the service")
    email: Email | None = Field(None, description="Email address of the service")
    status: ServiceStatus = Field("active", description="'inactive' hides it from searches")
    eligibility_description: LongText | None = Field(None, description="Who may use the service")
    fees_description: ShortText | None = Field(None, description="What it costs, if anything")
    translations: Translations = Field(default_factory=dict)
    network: ShortText | None = Field(None, description="The network it belongs to ('Network 4'), for network offices")
    grades: list[GradeLevel] = Field(
        default_factory=list, max_length=15, description="Grades it is for, each once; empty: every grade"
    )


class ContactDetails(FrozenModel):
    name: ShortText | None = Field(None, description="The person's name, if the directory gives one")
    title: ShortText = Field(description="Who to ask for, e.g. 'Parent Support Administrator (PSA)'")
    department: ShortText | None = Field(None, description="The office the contact works in")
    email: Email | None = Field(None, description="Email address")
    phone: Text | None = Field(None, description="A dialable number")
    translations: Translations = Field(default_factory=dict)

    @field_validator("phone")
    @classmethod
    def _dialable(cls, value: str | None) -> str | None:
        return None if value is None else _as_people_read_it(value)


class ScheduleDetails(FrozenModel):
    """An HSDS schedule: weekly opening hours (``byday``, ``opens_at``, ``closes_at``) or a dated event (``dtstart``
    in local time, ``duration_minutes``, optionally a recurrence ``rrule``), in ``timezone``."""

    id: ResourceId = Field(description="Directory id of the schedule")
    kind: ScheduleKind = Field(description="'opening_hours' or 'event'")
    name: ShortText | None = Field(None, description="The event's title (events)")
    description: LongText | None = Field(None, description="What happens at the event")
    translations: Translations = Field(default_factory=dict)
    language: LanguageCode | None = Field(None, description="The language the event is held in (events)")
    byday: list[Weekday] = Field(default_factory=list, max_length=7, description="Days the hours apply to")
    opens_at: LocalTime | None = Field(None, description="Opening time, local (opening hours)")
    closes_at: LocalTime | None = Field(None, description="Closing time, local (opening hours)")
    dtstart: LocalDateTime | None = Field(None, description="First start, local time without offset (events)")
    duration_minutes: StrictInt | None = Field(None, ge=1, le=24 * 60, description="Length of each occurrence")
    rrule: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500), STORABLE] | None = Field(
        None, description="RFC 5545 RRULE value without 'RRULE:', e.g. 'FREQ=MONTHLY;BYDAY=2TU;COUNT=10'"
    )
    timezone: Annotated[str, StringConstraints(max_length=64), STORABLE] = Field(
        "America/Chicago", description="IANA time zone of the times"
    )
    location_id: ResourceId | None = Field(None, description="Where it takes place: one of the upsert's locations")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return valid_timezone(value)


class ResourceUpsert(FrozenModel):
    """A service with everything around it: the body of ``PUT /v1/resources/{service_id}``.

    The organization and the locations are written too (they are shared: other services of the organization see the
    change). Phones, languages and categories belong to the service and are replaced as given. An active service
    needs a way to reach it: a phone, an email, a web page or a location.
    """

    # The catalog's rules (services/catalog/domain.py, upsert_problems) that JSON Schema can say, in the schema too:
    # an active service needs a contact; no category or language twice. (Two locations with one id, or one phone
    # twice, are refused as well: JSON Schema cannot compare fields of items.)
    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"properties": {"service": {"required": ["status"], "properties": {"status": {"const": "inactive"}}}}},
                {"required": ["phones"], "properties": {"phones": {"minItems": 1}}},
                {"required": ["locations"], "properties": {"locations": {"minItems": 1}}},
                {
                    "properties": {
                        "service": {
                            "required": ["email"],
                            "properties": {"email": {"type": "string", "format": "email"}},
                        }
                    }
                },
                {
                    "properties": {
                        "service": {"required": ["url"], "properties": {"url": {"type": "string", "format": "uri"}}}
                    }
                },
            ]
        }
    )

    service: ServiceDetails
    organization: OrganizationDetails
    locations: list[LocationDetails] = Field(default_factory=list, max_length=50, description="Where it is offered")
    phones: list[PhoneDetails] = Field(default_factory=list, max_length=20, description="The main number first")
    languages: list[LanguageCode] = Field(
        min_length=1,
        max_length=50,
        description="ISO 639-1 codes it is offered in, each once (in any case)",
        json_schema_extra={"uniqueItems": True},
    )
    categories: list[ResourceCategory] = Field(
        min_length=1,
        max_length=len(ResourceCategory),
        description="The main category first, each once",
        json_schema_extra={"uniqueItems": True},
    )
    contacts: list[ContactDetails] = Field(default_factory=list, max_length=20, description="Who to ask for")
    schedules: list[ScheduleDetails] = Field(
        default_factory=list, max_length=200, description="Opening hours and dated events"
    )


class UpsertResource(ResourceUpsert):
    """The command on ``psc.catalog.upserts``: an upsert plus the ids the HTTP path and headers carry."""

    service_id: ResourceId = Field(description="Directory id of the service to add or change")
    correlation_id: CorrelationId = Field(description="The sender's id; echoed on the events the command causes")
    request_id: UUID | None = Field(None, description="Sending twice with the same id applies it once")


# --- Lookups ------------------------------------------------------------------------------------------------------


class LookupResources(FrozenModel):
    """A search of the directory over Kafka; the reply goes to ``reply_to`` with the same correlation id."""

    request_id: UUID = Field(description="Unique id of this request; a request sent twice is answered once")
    correlation_id: CorrelationId = Field(description="The requester's id; the reply carries it and is keyed by it")
    q: SearchWords | None = Field(
        None, description="Words to search for, e.g. 'IEP workshop'; none lists every active service"
    )
    category: ResourceCategory | None = Field(None, description="Only services filed under this taxonomy code")
    language: LanguageCode | None = Field(None, description="Only services offered in this language")
    limit: StrictInt = Field(20, ge=1, le=100, description="Most results to return")
    offset: StrictInt = Field(0, ge=0, le=10_000, description="Results to skip, for the next page")
    reply_to: ReplyTopic = Field(CATALOG_REPLIES, description="Topic for the reply; must be a 'psc.' topic")

    @field_validator("reply_to")
    @classmethod
    def _platform_topic(cls, value: str) -> str:
        return checked_reply_topic(value)


def checked_reply_topic(topic: str) -> str:
    """A reply may go only to a platform topic that is not one the catalog reads (so a request cannot loop)."""
    if not _TOPIC_NAME.match(topic):
        raise ValueError("must be a topic name starting with 'psc.'")
    if topic in _NOT_REPLY_TOPICS:
        raise ValueError("must not be a topic the catalog consumes or the dead-letter topic")
    return topic


# --- Events -------------------------------------------------------------------------------------------------------


class LookupReplied(Event):
    """The answer to a ``LookupResources`` request."""

    event_type: Literal["catalog.lookup_replied"] = "catalog.lookup_replied"
    request_id: UUID = Field(description="The request this answers")
    total: int = Field(ge=0, description="How many services match in all (results hold one page of them)")
    results: list[ResourceView] = Field(description="The page of matching services, best match first")

    def partition_key(self) -> str:
        return self.correlation_id


class LookupRejected(Rejection):
    """A lookup request was refused; it sits on the reply topic the request named (if allowed) or the default one."""

    event_type: Literal["catalog.lookup_rejected"] = "catalog.lookup_rejected"
    request_id: UUID | None = Field(None, description="The request's id, if it could be read")


class ResourceUpsertRejected(Rejection):
    """An ``UpsertResource`` command was refused; nothing was stored."""

    event_type: Literal["catalog.resource_upsert_rejected"] = "catalog.resource_upsert_rejected"
    service_id: str | None = Field(None, description="The service the command named, if it could be read")
    request_id: UUID | None = Field(None, description="The command's request id, if it could be read")


class ResourceUpdated(Event):
    """A service was added or changed, or what its view shows changed (its organization or a location, say)."""

    event_type: Literal["catalog.resource_updated"] = "catalog.resource_updated"
    service_id: str = Field(description="The service; also the Kafka message key")
    created: StrictBool = Field(description="True when this change added the service to the directory")
    resource: ResourceView = Field(description="The service as the directory shows it now")

    def partition_key(self) -> str:
        return self.service_id


# --- Referrals of inquiries to departments ----------------------------------------------------------------------------


class ReferInquiry(FrozenModel):
    """The body of ``POST /v1/inquiries/{id}/referrals``: which department, and what it is asked to do."""

    service_id: ResourceId = Field(description="The department's service in the directory, e.g. 'stls-program'")
    reason: LongText = Field(description="What the department is asked to look at or answer (staff's words)")
    request_key: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), STORABLE] | None
    ) = Field(None, description="Sending the same key twice makes one referral")


class ReferralReply(FrozenModel):
    """The body of ``POST /v1/inquiries/{id}/referrals/{rid}/reply``: the department's answer."""

    answer: LongText = Field(description="The department's answer to the network (staff's words)")


class ReferralView(FrozenModel):
    id: UUID = Field(description="Id of the referral")
    inquiry_id: UUID = Field(description="The inquiry referred; the network that has it keeps it")
    service_id: str = Field(description="The department's service")
    department: str = Field(description="The department's name")
    referred_by: str = Field(description="Staff id of who referred it")
    network_id: str = Field(description="The network of who referred it")
    reason: str = Field(description="What the department was asked")
    status: Literal["open", "answered"] = Field(description="'open' until the department answers")
    referred_at: AwareDatetime = Field(description="When it was referred")
    reply_due_at: AwareDatetime = Field(description="When the department's answer is due (business days)")
    answered_at: AwareDatetime | None = Field(None, description="When the department answered")
    answered_by: str | None = Field(None, description="Staff id of who answered")
    answer: str | None = Field(None, description="The department's answer")


class InquiryReferred(Event):
    """An inquiry was referred to a department, with the department's reply deadline; the network keeps the case."""

    event_type: Literal["inquiry.referred"] = "inquiry.referred"
    inquiry_id: UUID = Field(description="The inquiry; also the Kafka message key")
    referral_id: UUID = Field(description="The referral")
    service_id: str = Field(description="The department's service in the directory")
    department: str = Field(description="The department's name")
    referred_by: str = Field(description="Staff id of who referred it")
    network_id: str = Field(description="The network of who referred it (it keeps the case)")
    reply_due_at: AwareDatetime = Field(description="When the department's answer is due")

    def partition_key(self) -> str:
        return str(self.inquiry_id)


class InquiryReferralAnswered(Event):
    """The department answered a referral."""

    event_type: Literal["inquiry.referral_answered"] = "inquiry.referral_answered"
    inquiry_id: UUID = Field(description="The inquiry; also the Kafka message key")
    referral_id: UUID = Field(description="The referral answered")
    service_id: str = Field(description="The department's service in the directory")
    answered_by: str = Field(description="Staff id of who answered")
    late: StrictBool = Field(description="True when the answer came after the reply deadline")

    def partition_key(self) -> str:
        return str(self.inquiry_id)


class InquiryReferralWarning(Event):
    """A referral is at 75% of the department's reply time without an answer: the department should answer now."""

    event_type: Literal["inquiry.referral_warning"] = "inquiry.referral_warning"
    inquiry_id: UUID = Field(description="The inquiry; also the Kafka message key")
    referral_id: UUID = Field(description="The referral")
    service_id: str = Field(description="The department's service in the directory")
    department: str = Field(description="The department's name")
    network_id: str = Field(description="The network that keeps the case")
    reply_due_at: AwareDatetime = Field(description="When the answer is due")

    def partition_key(self) -> str:
        return str(self.inquiry_id)


class InquiryReferralEscalated(Event):
    """A referral's reply deadline passed without an answer: it goes to the network's Parent Support Administrator,
    who takes it up with the department (the network still has the case)."""

    event_type: Literal["inquiry.referral_escalated"] = "inquiry.referral_escalated"
    inquiry_id: UUID = Field(description="The inquiry; also the Kafka message key")
    referral_id: UUID = Field(description="The referral")
    service_id: str = Field(description="The department's service in the directory")
    department: str = Field(description="The department's name")
    network_id: str = Field(description="The network that keeps the case")
    escalated_to: Literal["psa"] = Field("psa", description="Who takes it up: the network's PSA")
    reply_due_at: AwareDatetime = Field(description="When the answer was due")

    def partition_key(self) -> str:
        return str(self.inquiry_id)
