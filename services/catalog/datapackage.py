"""The directory as a data package another directory can take, and the one it can give us (pure).

JSON: the seed file's shape (organizations with their office locations, services with their phones, contacts,
schedules, languages and categories), so an export is importable as it is and is a valid seed. CSV: a zip of HSDS
3.x tables (organizations, services, locations, service_at_location, phones, contacts, schedules, languages,
taxonomy terms and the services' attributes) with a ``datapackage.json`` naming them.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from services.catalog.domain import CATEGORY_NAMES, VOCABULARY, SeedCatalog, SeedOrganization, SeedService
from shared.contracts.catalog import (
    ContactDetails,
    LocationDetails,
    PhoneDetails,
    ResourceView,
    ScheduleDetails,
    ServiceDetails,
    Translation,
)
from shared.contracts.envelope import FieldError, field_errors_of

_SERVICE_FIELDS = set(ServiceDetails.model_fields)


def _translations(raw: dict[str, Any]) -> dict[str, Translation]:
    return {code: Translation.model_validate({k: v for k, v in t.items() if v is not None}) for code, t in raw.items()}


def package_of(views: Sequence[ResourceView], organizations: Sequence[dict[str, Any]]) -> SeedCatalog:
    """The directory's services and the organizations that offer them, with the locations the services use."""
    locations: dict[str, dict[str, LocationDetails]] = {}
    services = []
    for view in sorted(views, key=lambda v: v.id):
        data = view.model_dump(mode="json")
        owned = locations.setdefault(view.organization.id, {})
        for place in data["locations"]:
            owned[place["id"]] = LocationDetails.model_validate(place)
        services.append(
            SeedService.model_validate(
                {
                    **{key: data[key] for key in _SERVICE_FIELDS if key not in ("translations",)},
                    "translations": _translations(data["translations"]),
                    "id": view.id,
                    "organization_id": view.organization.id,
                    "location_ids": [place["id"] for place in data["locations"]],
                    "phones": [PhoneDetails.model_validate(phone) for phone in data["phones"]],
                    "languages": view.languages,
                    "categories": data["categories"],
                    "contacts": [
                        ContactDetails.model_validate({**c, "translations": _translations(c["translations"])})
                        for c in data["contacts"]
                    ],
                    "schedules": [
                        ScheduleDetails.model_validate(
                            {
                                **{k: v for k, v in h.items() if v is not None},
                                "translations": _translations(h["translations"]),
                            }
                        )
                        for h in data["schedules"]
                    ],
                }
            )
        )
    offering = {view.organization.id for view in views}
    return SeedCatalog(
        organizations=[
            SeedOrganization.model_validate(
                {
                    "id": row["id"],
                    "name": row["name"],
                    "description": row["description"],
                    "email": row["email"],
                    "website": row["website"],
                    "translations": _translations(row["translations"]),
                    "locations": sorted(locations.get(row["id"], {}).values(), key=lambda place: place.id),
                }
            )
            for row in sorted(organizations, key=lambda row: row["id"])
            if row["id"] in offering
        ],
        services=services,
    )


TABLES: dict[str, tuple[str, ...]] = {
    "organizations": ("id", "name", "description", "email", "website", "name_es", "description_es"),
    "services": (
        "id", "organization_id", "name", "alternate_name", "description", "url", "email", "status",
        "eligibility_description", "fees_description", "name_es", "description_es", "eligibility_description_es",
        "network", "grades",
    ),
    "locations": (
        "id", "organization_id", "name", "location_type", "address_1", "city", "state_province", "postal_code",
        "country", "latitude", "longitude",
    ),
    "service_at_location": ("id", "service_id", "location_id"),
    "phones": ("id", "service_id", "number", "extension", "type", "description"),
    "contacts": ("id", "service_id", "name", "title", "department", "email", "phone", "title_es"),
    "schedules": (
        "id", "service_id", "location_id", "kind", "name", "description", "language", "byday", "opens_at", "closes_at",
        "dtstart", "duration_minutes", "rrule", "timezone", "freq", "name_es", "description_es",
    ),
    "languages": ("id", "service_id", "code"),
    "taxonomy_terms": ("id", "code", "name", "vocabulary"),
    "attributes": ("id", "link_id", "link_type", "taxonomy_term_id"),
}  # fmt: skip


def _es(translations: dict[str, Translation], field: str) -> str | None:
    spanish = translations.get("es")
    value = getattr(spanish, field) if spanish is not None else None
    return value if isinstance(value, str) else None


def csv_rows(package: SeedCatalog) -> dict[str, list[dict[str, object]]]:
    """The package as HSDS tables, one list of rows per table."""
    rows: dict[str, list[dict[str, object]]] = {table: [] for table in TABLES}
    for org in package.organizations:
        rows["organizations"].append(
            {**org.model_dump(mode="json", include={"id", "name", "description", "email", "website"}),
             "name_es": _es(org.translations, "name"), "description_es": _es(org.translations, "description")}
        )  # fmt: skip
        for place in org.locations:
            rows["locations"].append(
                {
                    **place.model_dump(mode="json"),
                    "organization_id": org.id,
                    "location_type": "physical",
                    "country": "US",
                }
            )
    used_terms: set[str] = set()
    for service in package.services:
        details = service.model_dump(mode="json", include=_SERVICE_FIELDS - {"translations", "grades"})
        rows["services"].append(
            {**details, "id": service.id, "organization_id": service.organization_id,
             "name_es": _es(service.translations, "name"), "description_es": _es(service.translations, "description"),
             "eligibility_description_es": _es(service.translations, "eligibility_description"),
             "grades": ",".join(service.grades)}
        )  # fmt: skip
        rows["service_at_location"] += [
            {"id": f"{service.id}@{location_id}", "service_id": service.id, "location_id": location_id}
            for location_id in service.location_ids
        ]
        rows["phones"] += [
            {"id": f"{service.id}/phone/{i}", "service_id": service.id, **phone.model_dump(mode="json")}
            for i, phone in enumerate(service.phones)
        ]
        rows["contacts"] += [
            {"id": f"{service.id}/contact/{i}", "service_id": service.id,
             **contact.model_dump(mode="json", exclude={"translations"}), "title_es": _es(contact.translations, "name")}
            for i, contact in enumerate(service.contacts)
        ]  # fmt: skip
        rows["schedules"] += [
            {**schedule.model_dump(mode="json", exclude={"translations"}), "service_id": service.id,
             "byday": ",".join(schedule.byday), "freq": "WEEKLY" if schedule.kind == "opening_hours" else None,
             "name_es": _es(schedule.translations, "name"), "description_es": _es(schedule.translations, "description")}
            for schedule in service.schedules
        ]  # fmt: skip
        rows["languages"] += [
            {"id": f"{service.id}/language/{code}", "service_id": service.id, "code": code}
            for code in service.languages
        ]
        for category in service.categories:
            term = f"{VOCABULARY}:{category.value}"
            used_terms.add(category.value)
            rows["attributes"].append(
                {"id": f"{service.id}#{term}", "link_id": service.id, "link_type": "service", "taxonomy_term_id": term}
            )
    rows["taxonomy_terms"] = [
        {"id": f"{VOCABULARY}:{code}", "code": code, "name": CATEGORY_NAMES[code], "vocabulary": VOCABULARY}
        for code in sorted(used_terms)
    ]
    return rows


def csv_zip(package: SeedCatalog, *, exported_at: datetime) -> bytes:
    """The HSDS tables as CSV files in a zip, with ``datapackage.json`` describing them."""
    buffer = io.BytesIO()
    tables = csv_rows(package)
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for table, columns in TABLES.items():
            archive.writestr(f"{table}.csv", _csv(columns, tables[table]))
        archive.writestr("datapackage.json", json.dumps(_descriptor(exported_at), indent=2))
    return buffer.getvalue()


def _csv(columns: Iterable[str], rows: Iterable[dict[str, object]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: "" if v is None else v for k, v in row.items()} for row in rows)
    return out.getvalue()


def _descriptor(exported_at: datetime) -> dict[str, object]:
    return {
        "name": "parent-support-center-catalog",
        "title": "Parent Support Center: the district's offices, programs and events (HSDS 3.x tables)",
        "profile": "tabular-data-package",
        "created": exported_at.isoformat(),
        "resources": [
            {"name": table, "path": f"{table}.csv", "profile": "tabular-data-resource",
             "schema": {"fields": [{"name": column, "type": "string"} for column in columns]}}
            for table, columns in TABLES.items()
        ],
    }  # fmt: skip


# --- Reading another directory's tables -----------------------------------------------------------------------------


class InvalidPackage(ValueError):
    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.reason}" for e in errors))
        self.errors = errors


def read_csv_tables(files: Mapping[str, str]) -> SeedCatalog:
    """HSDS 3.x CSV tables by file name (ours, or another directory's: addresses may sit in ``addresses.csv`` by
    location) as a package; raises InvalidPackage naming each bad row as ``<file>:<line>.<field>``."""
    tables: dict[str, list[tuple[int, dict[str, str]]]] = {}
    for name, text in files.items():
        if not name.endswith(".csv"):
            continue
        rows = csv.DictReader(io.StringIO(text.removeprefix("\ufeff")))
        tables[name.removesuffix(".csv")] = [
            (line, {k: (v or "").strip() for k, v in row.items() if k}) for line, row in enumerate(rows, start=2)
        ]
    missing = [t for t in ("organizations", "services") if t not in tables]
    if missing:
        raise InvalidPackage([FieldError(field=f"{t}.csv", reason="is missing from the zip") for t in missing])
    problems: list[FieldError] = []

    def by(table: str, key: str) -> dict[str, list[tuple[int, dict[str, str]]]]:
        grouped: dict[str, list[tuple[int, dict[str, str]]]] = {}
        for line, row in tables.get(table, []):
            grouped.setdefault(row.get(key, ""), []).append((line, row))
        return grouped

    addresses = {row.get("location_id", ""): row for _, row in tables.get("addresses", [])}
    locations = by("locations", "organization_id")
    terms = {row.get("id", ""): row.get("code", "") for _, row in tables.get("taxonomy_terms", [])}
    at_locations, phones, contacts = (
        by("service_at_location", "service_id"),
        by("phones", "service_id"),
        by("contacts", "service_id"),
    )
    schedules, languages, attributes = (
        by("schedules", "service_id"),
        by("languages", "service_id"),
        by("attributes", "link_id"),
    )

    def checked(model: type[Any], data: dict[str, Any], where: str) -> Any:
        try:
            return model.model_validate(data)
        except ValidationError as error:
            problems.extend(
                FieldError(field=f"{where}.{e.field}", reason=e.reason) for e in field_errors_of(error.errors())
            )
            return None

    organizations = []
    for line, row in tables["organizations"]:
        places = []
        for _, place in locations.get(row.get("id", ""), []):
            found = addresses.get(place.get("id", ""), {})
            address = {**place, **{k: v for k, v in found.items() if v and k not in ("id", "location_id")}}
            places.append(
                {k: _number_or_text(k, address.get(k, "")) for k in LocationDetails.model_fields if address.get(k)}
            )
        organizations.append(
            checked(
                SeedOrganization,
                {**_present(row, ("id", "name", "description", "email", "website")),
                 "translations": _spanish(row, ("name", "description")), "locations": places},
                f"organizations.csv:{line}",
            )
        )  # fmt: skip
    services = []
    for line, row in tables["services"]:
        service_id = row.get("id", "")
        codes = [
            terms.get(a.get("taxonomy_term_id", ""), a.get("taxonomy_term_id", ""))
            for _, a in attributes.get(service_id, [])
        ]
        services.append(
            checked(
                SeedService,
                {
                    **_present(row, ("id", "organization_id", "name", "alternate_name", "description", "url", "email",
                                     "status", "eligibility_description", "fees_description", "network")),
                    "grades": [grade.strip() for grade in row.get("grades", "").split(",") if grade.strip()],
                    "translations": _spanish(row, ("name", "description", "eligibility_description")),
                    "location_ids": [r.get("location_id", "") for _, r in at_locations.get(service_id, [])],
                    "phones": [_present(r, PHONE_COLUMNS) for _, r in phones.get(service_id, [])],
                    "contacts": [_contact_row(r) for _, r in contacts.get(service_id, [])],
                    "schedules": [_schedule_row(r) for _, r in schedules.get(service_id, [])],
                    "languages": [r.get("code", "") for _, r in languages.get(service_id, [])],
                    "categories": [code.removeprefix(f"{VOCABULARY}:") for code in codes],
                },
                f"services.csv:{line}",
            )
        )  # fmt: skip
    if problems:
        raise InvalidPackage(problems)
    return SeedCatalog(organizations=organizations, services=services)


PHONE_COLUMNS = ("number", "extension", "type", "description")
CONTACT_COLUMNS = ("name", "title", "department", "email", "phone")


def _present(row: dict[str, str], columns: Iterable[str]) -> dict[str, str]:
    return {column: row[column] for column in columns if row.get(column)}


def _spanish(row: dict[str, str], fields: Iterable[str]) -> dict[str, dict[str, str]]:
    spanish = {field: row[f"{field}_es"] for field in fields if row.get(f"{field}_es")}
    return {"es": spanish} if spanish else {}


def _number_or_text(column: str, value: str) -> object:
    if column in ("latitude", "longitude"):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _contact_row(row: dict[str, str]) -> dict[str, object]:
    """A contact; its Spanish title sits in ``title_es`` (the translation's ``name``)."""
    return {**_present(row, CONTACT_COLUMNS), "translations": _spanish({"name_es": row.get("title_es", "")}, ("name",))}


def _schedule_row(row: dict[str, str]) -> dict[str, object]:
    data: dict[str, object] = dict(_present(
        row,
        ("id", "location_id", "kind", "name", "description", "language", "opens_at", "closes_at", "dtstart", "rrule",
         "timezone"),
    ))  # fmt: skip
    if row.get("byday"):
        data["byday"] = [day.strip() for day in row["byday"].split(",") if day.strip()]
    if row.get("duration_minutes"):
        data["duration_minutes"] = int(row["duration_minutes"]) if row["duration_minutes"].isdigit() else -1
    data["translations"] = _spanish(row, ("name", "description"))
    if "kind" not in data:
        data["kind"] = "opening_hours" if row.get("opens_at") else "event"
    return data
