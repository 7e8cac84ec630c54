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
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

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
    ),
    "locations": (
        "id", "organization_id", "name", "location_type", "address_1", "city", "state_province", "postal_code",
        "country", "latitude", "longitude",
    ),
    "service_at_location": ("id", "service_id", "location_id"),
    "phones": ("id", "service_id", "number", "extension", "type", "description"),
    "contacts": ("id", "service_id", "name", "title", "department", "email", "phone"),
    "schedules": (
        "id", "service_id", "location_id", "kind", "name", "description", "language", "byday", "opens_at", "closes_at",
        "dtstart", "duration_minutes", "rrule", "timezone", "freq",
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
        details = service.model_dump(mode="json", include=_SERVICE_FIELDS - {"translations", "network", "grades"})
        rows["services"].append(
            {**details, "id": service.id, "organization_id": service.organization_id,
             "name_es": _es(service.translations, "name"), "description_es": _es(service.translations, "description"),
             "eligibility_description_es": _es(service.translations, "eligibility_description")}
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
             **contact.model_dump(mode="json", exclude={"translations"})}
            for i, contact in enumerate(service.contacts)
        ]  # fmt: skip
        rows["schedules"] += [
            {**schedule.model_dump(mode="json", exclude={"translations"}), "service_id": service.id,
             "byday": ",".join(schedule.byday), "freq": "WEEKLY" if schedule.kind == "opening_hours" else None}
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
