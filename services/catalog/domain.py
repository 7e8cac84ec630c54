"""The catalog's rules, pure and synchronous: how a search is read and planned, what an upsert must satisfy, what the
seed file says, and the events a lookup or a change emits. No I/O here: handlers load, call these, save and emit.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from pydantic import Field

from services.catalog.querying import NO_SYNONYMS, Synonyms, fold, parse_query, telling, tsquery
from services.catalog.schedules import schedule_problems
from shared.contracts.catalog import (
    ContactDetails,
    DirectoryOnlyCategory,
    LanguageCode,
    LocationDetails,
    LocationView,
    LookupReplied,
    LookupResources,
    OrganizationDetails,
    PhoneDetails,
    ResourceCategory,
    ResourceId,
    ResourceUpdated,
    ResourceUpsert,
    ResourceView,
    ScheduleDetails,
    ScheduleView,
    ServiceDetails,
)
from shared.contracts.envelope import FieldError, FrozenModel
from shared.contracts.inquiries import InquiryCategory

# --- Taxonomy -----------------------------------------------------------------------------------------------------

VOCABULARY = "psc-category"

CATEGORY_NAMES: Mapping[str, str] = {
    InquiryCategory.SPECIAL_EDUCATION: "Special education and disability supports",
    InquiryCategory.ATTENDANCE: "Attendance",
    InquiryCategory.ENROLLMENT: "Enrollment and school choice",
    InquiryCategory.TRANSPORTATION: "Transportation",
    InquiryCategory.SAFETY_AND_BULLYING: "Safety and bullying",
    InquiryCategory.ACADEMICS: "Academics",
    InquiryCategory.HEALTH_AND_WELLNESS: "Health and wellness",
    InquiryCategory.OTHER: "Other",
    DirectoryOnlyCategory.COMMUNITY_PARTNERS: "Community partners",
    DirectoryOnlyCategory.LANGUAGE_ACCESS: "Language access, interpretation and translation",
    DirectoryOnlyCategory.FAMILY_ENGAGEMENT: "Family engagement",
}
"""Display names of the taxonomy terms by code (a ``ResourceCategory``'s value); their words are searchable (a
search for 'disability' finds PEP)."""


@dataclass(frozen=True)
class TaxonomyTerm:
    id: str
    code: str
    name: str
    vocabulary: str


def taxonomy_terms() -> list[TaxonomyTerm]:
    """The 'psc-category' vocabulary, one term per category code; ids are stable so links survive restarts."""
    return [
        TaxonomyTerm(id=f"{VOCABULARY}:{code.value}", code=code.value, name=CATEGORY_NAMES[code], vocabulary=VOCABULARY)
        for code in ResourceCategory
    ]


LANGUAGE_NAMES: Mapping[str, str] = {
    "en": "English",
    "es": "Spanish",
    "zh": "Chinese",
    "ar": "Arabic",
    "pl": "Polish",
    "vi": "Vietnamese",
    "ur": "Urdu",
    "fr": "French",
    "ht": "Haitian Creole",
    "hi": "Hindi",
    "gu": "Gujarati",
    "ko": "Korean",
    "ru": "Russian",
    "tl": "Tagalog",
    "uk": "Ukrainian",
    "sw": "Swahili",
}
"""English names of the languages the district's families most often speak; other codes are stored without one."""


def language_name(code: str) -> str | None:
    return LANGUAGE_NAMES.get(code)


# --- Searching ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Near:
    """A point to measure from and the radius (km) to stay within."""

    latitude: float
    longitude: float
    radius_km: float


@dataclass(frozen=True)
class SearchFilters:
    """What a result must satisfy besides the words (all optional)."""

    category: ResourceCategory | None = None
    language: str | None = None
    network: str | None = None
    grade: int | None = None
    open_at: datetime | None = None
    near: Near | None = None


@dataclass(frozen=True)
class LocationFilters:
    """What a listed location must satisfy (all optional)."""

    kind: str | None = None
    network: str | None = None
    grade: int | None = None
    language: str | None = None
    bilingual_services: bool | None = None
    organization_id: str | None = None
    near: Near | None = None


@dataclass(frozen=True)
class EventSchedule:
    """An event's schedule with the service that holds it and where it takes place."""

    service_id: str
    service_name: str
    service_name_es: str | None
    schedule: ScheduleView
    location: LocationView | None


@dataclass(frozen=True)
class ResourceQuery:
    """A search as both doors ask it (HTTP query string, Kafka lookup), already validated."""

    q: str | None
    category: ResourceCategory | None = None
    language: str | None = None
    limit: int = 20
    offset: int = 0
    network: str | None = None
    grade: int | None = None
    open_at: datetime | None = None
    near: Near | None = None

    @property
    def filters(self) -> SearchFilters:
        return SearchFilters(
            category=self.category,
            language=self.language,
            network=self.network,
            grade=self.grade,
            open_at=self.open_at,
            near=self.near,
        )


@dataclass(frozen=True)
class FullText:
    """Match the search document against a tsquery (``to_tsquery`` syntax, read by both configurations); ``text``, the
    words as typed (folded), lifts a service whose name is close to them."""

    tsquery: str
    text: str = ""


@dataclass(frozen=True)
class Fuzzy:
    """Match service names by trigram similarity: the last resort, for words typed with a typo."""

    text: str


@dataclass(frozen=True)
class Everything:
    """No words given: every active service, nearest first when a point is given, else alphabetically."""


Match = FullText | Fuzzy | Everything


@dataclass(frozen=True)
class ResourcePage:
    total: int
    results: list[ResourceView]


def normalise_query(q: str | None) -> str | None:
    """One form for what people type: compatibility characters folded, lower case, single spaces; blank is None."""
    if q is None:
        return None
    text = " ".join(unicodedata.normalize("NFKC", q).split()).lower()
    return text or None


def search_plan(q: str | None, synonyms: Synonyms = NO_SYNONYMS) -> list[Match]:
    """The ways to look, tried in order until one finds something: every clause (a word, a phrase, or a word with its
    synonyms); then any telling clause (a parent's sentence rarely has all its words in one description); then a
    fuzzy match on names. (The handler adds a second round with misspelt words corrected.)
    """
    text = normalise_query(q)
    if text is None:
        return [Everything()]
    parsed = parse_query(text, synonyms)
    plan: list[Match] = []
    if not parsed.empty:
        plan.append(FullText(tsquery(parsed.clauses, require="all"), fold(text)))
        decisive = telling(parsed)
        if decisive and (len(decisive) > 1 or decisive != parsed.clauses):
            plan.append(FullText(tsquery(decisive, require="any"), fold(text)))
    plan.append(Fuzzy(text))
    return plan


def query_of_lookup(request: LookupResources) -> ResourceQuery:
    return ResourceQuery(
        q=normalise_query(request.q),
        category=request.category,
        language=request.language,
        limit=request.limit,
        offset=request.offset,
    )


def query_key(query: ResourceQuery) -> tuple[object, ...]:
    """Two requests with the same key get the same page (a batch answers each distinct search once)."""
    return (query.q, query.category, query.language, query.limit, query.offset, query.filters)


# --- Upserts ------------------------------------------------------------------------------------------------------


def upsert_problems(upsert: ResourceUpsert) -> list[FieldError]:
    """The rules an upsert must satisfy beyond each field's own shape. Empty when it may be stored."""
    problems: list[FieldError] = []
    if upsert.service.status == "active" and not (
        upsert.phones or upsert.service.email or upsert.service.url or upsert.locations
    ):
        problems.append(
            FieldError(field="service", reason="an active service needs a phone, an email, a web page or a location")
        )
    problems += _repeats("categories", list(upsert.categories))
    problems += _repeats("languages", list(upsert.languages))
    problems += _repeats("locations", [location.id for location in upsert.locations], suffix=".id")
    problems += _repeats("phones", [(phone.number, phone.extension) for phone in upsert.phones], suffix=".number")
    problems += _repeats("schedules", [schedule.id for schedule in upsert.schedules], suffix=".id")
    problems += _repeats("service.grades", list(upsert.service.grades))
    location_ids = {location.id for location in upsert.locations}
    for i, schedule in enumerate(upsert.schedules):
        problems += [
            FieldError(field=f"schedules.{i}.{name}", reason=reason)
            for name, reason in schedule_problems(schedule, location_ids)
        ]
    for i, location in enumerate(upsert.locations):
        if (location.latitude is None) != (location.longitude is None):
            problems.append(
                FieldError(field=f"locations.{i}", reason="give latitude and longitude together, or neither")
            )
    return problems


def _repeats(field: str, values: list[object], *, suffix: str = "") -> list[FieldError]:
    seen: set[object] = set()
    problems = []
    for i, value in enumerate(values):
        if value in seen:
            problems.append(FieldError(field=f"{field}.{i}{suffix}", reason="is listed twice"))
        seen.add(value)
    return problems


def location_conflicts(upsert: ResourceUpsert, owners: Mapping[str, str]) -> list[FieldError]:
    """A location belongs to one organization: an upsert may not take over another organization's location."""
    return [
        FieldError(field=f"locations.{i}.id", reason="is a location of another organization")
        for i, location in enumerate(upsert.locations)
        if owners.get(location.id, upsert.organization.id) != upsert.organization.id
    ]


def fingerprint(upsert: ResourceUpsert) -> str:
    """Hash of what the upsert says about the service itself (not the organization's or locations' details, which
    are shared and compared column by column). The same upsert twice has the same fingerprint.
    """
    owned = upsert.model_dump(
        mode="json", include={"service", "phones", "languages", "categories", "contacts", "schedules"}
    )
    owned["organization_id"] = upsert.organization.id
    owned["location_ids"] = [location.id for location in upsert.locations]
    return hashlib.sha256(json.dumps(owned, sort_keys=True).encode()).hexdigest()


# --- Events -------------------------------------------------------------------------------------------------------


def lookup_replied(request: LookupResources, page: ResourcePage, *, now: datetime) -> LookupReplied:
    return LookupReplied(
        occurred_at=now,
        correlation_id=request.correlation_id,
        request_id=request.request_id,
        total=page.total,
        results=page.results,
    )


def resource_updated(view: ResourceView, *, created: bool, correlation_id: str, now: datetime) -> ResourceUpdated:
    return ResourceUpdated(
        occurred_at=now, correlation_id=correlation_id, service_id=view.id, created=created, resource=view
    )


# --- The seed file ------------------------------------------------------------------------------------------------


class SeedOrganization(OrganizationDetails):
    locations: list[LocationDetails] = Field(default_factory=list, description="The organization's places")


class SeedService(ServiceDetails):
    id: ResourceId = Field(description="Directory id of the service")
    organization_id: ResourceId = Field(description="Id of an organization of the seed file")
    location_ids: list[ResourceId] = Field(default_factory=list, description="Ids of that organization's locations")
    phones: list[PhoneDetails] = Field(default_factory=list)
    languages: list[LanguageCode] = Field(min_length=1)
    categories: list[ResourceCategory] = Field(min_length=1)
    contacts: list[ContactDetails] = Field(default_factory=list)
    schedules: list[ScheduleDetails] = Field(default_factory=list)


class SeedCatalog(FrozenModel):
    """The seed file: organizations (with their locations) described once, services pointing at them."""

    organizations: list[SeedOrganization]
    services: list[SeedService]


class InvalidSeed(ValueError):
    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.reason}" for e in errors))
        self.errors = errors


_SERVICE_FIELDS = set(ServiceDetails.model_fields)
_ORGANIZATION_FIELDS = set(OrganizationDetails.model_fields)


def seed_upserts(seed: SeedCatalog) -> list[tuple[str, ResourceUpsert]]:
    """The seed as (service id, upsert) pairs, after the same rules as any upsert; raises InvalidSeed."""
    organizations = {organization.id: organization for organization in seed.organizations}
    problems = _repeats("organizations", [organization.id for organization in seed.organizations], suffix=".id")
    problems += _repeats("services", [service.id for service in seed.services], suffix=".id")
    upserts: list[tuple[str, ResourceUpsert]] = []
    for i, service in enumerate(seed.services):
        organization = organizations.get(service.organization_id)
        if organization is None:
            problems.append(
                FieldError(field=f"services.{i}.organization_id", reason="names no organization of the seed")
            )
            continue
        locations = {location.id: location for location in organization.locations}
        missing = [j for j, location_id in enumerate(service.location_ids) if location_id not in locations]
        problems += [
            FieldError(field=f"services.{i}.location_ids.{j}", reason="names no location of the service's organization")
            for j in missing
        ]
        if missing:
            continue
        upsert = ResourceUpsert(
            service=ServiceDetails.model_validate(service.model_dump(include=_SERVICE_FIELDS)),
            organization=OrganizationDetails.model_validate(organization.model_dump(include=_ORGANIZATION_FIELDS)),
            locations=[locations[location_id] for location_id in service.location_ids],
            phones=service.phones,
            languages=service.languages,
            categories=service.categories,
            contacts=service.contacts,
            schedules=service.schedules,
        )
        problems += [FieldError(field=f"services.{i}.{e.field}", reason=e.reason) for e in upsert_problems(upsert)]
        upserts.append((service.id, upsert))
    if problems:
        raise InvalidSeed(problems)
    return upserts
