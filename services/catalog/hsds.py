"""The directory's views in Open Referral HSDS 3.x shape (pure): services, organizations, locations, and the API's
paging envelope. Fields HSDS names are kept; what it lacks (Spanish text, networks, grades, distance) is added beside
them under names of our own.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from services.catalog.domain import CATEGORY_NAMES, VOCABULARY, language_name
from shared.contracts.catalog import ResourceView


def page_of(contents: Sequence[dict[str, Any]], total: int, page: int, per_page: int) -> dict[str, Any]:
    pages = max(math.ceil(total / per_page), 1)
    return {
        "total_items": total,
        "total_pages": pages,
        "page_number": page,
        "size": len(contents),
        "first_page": page == 1,
        "last_page": page >= pages,
        "empty": not contents,
        "contents": list(contents),
    }


def hsds_service(view: ResourceView) -> dict[str, Any]:
    data = view.model_dump(mode="json")
    return {
        "id": view.id,
        "organization": {"id": view.organization.id, "name": view.organization.name},
        "name": view.name,
        "alternate_name": view.alternate_name,
        "description": view.description,
        "url": view.url,
        "email": view.email,
        "status": view.status,
        "eligibility_description": view.eligibility_description,
        "fees_description": view.fees_description,
        "last_modified": data["updated_at"],
        "phones": [
            {"id": f"{view.id}/phone/{i}", **phone} for i, phone in enumerate(data["phones"])
        ],
        "contacts": [
            {"id": f"{view.id}/contact/{i}", **contact} for i, contact in enumerate(data["contacts"])
        ],
        "schedules": [_schedule(schedule) for schedule in data["schedules"]],
        "languages": [{"id": f"{view.id}/language/{code}", "code": code, "name": language_name(code)}
                      for code in view.languages],
        "service_at_locations": [
            {"id": f"{view.id}@{location['id']}", "location": location} for location in data["locations"]
        ],
        "attributes": [
            {
                "taxonomy_term": {
                    "id": f"{VOCABULARY}:{code}",
                    "code": code,
                    "name": CATEGORY_NAMES.get(code, code),
                    "vocabulary": VOCABULARY,
                }
            }
            for code in data["categories"]
        ],
        "translations": data["translations"],
        "network": view.network,
        "grades": view.grades,
        "distance_km": view.distance_km,
    }  # fmt: skip


def _schedule(schedule: dict[str, Any]) -> dict[str, Any]:
    """HSDS schedule fields: opening hours as freq WEEKLY with byday/opens_at/closes_at; events as dtstart, rrule."""
    if schedule["kind"] == "opening_hours":
        return {**schedule, "freq": "WEEKLY", "byday": ",".join(schedule["byday"])}
    return schedule


def hsds_organization(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "description": row["description"],
        "email": row["email"],
        "website": row["website"],
        "translations": row["translations"],
        "services": [{"id": service_id} for service_id in row["service_ids"]],
        "location_count": row["location_count"],
    }


def hsds_location(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "location_type": "physical",
        "organization_id": row["organization_id"],
        "name": row["name"],
        "latitude": row["latitude"],
        "longitude": row["longitude"],
        "addresses": [
            {
                "address_type": "physical",
                "address_1": row["address_1"],
                "city": row["city"],
                "state_province": row["state_province"],
                "postal_code": row["postal_code"],
                "country": "US",
            }
        ],
        "phones": [] if not row["phone"] else [{"number": row["phone"], "type": "voice"}],
        "languages": [
            {"name": name, "code": code}
            for name, code in zip(row["languages"], _codes_for(row["languages"]), strict=True)
        ],
        "kind": row["kind"],
        "school_id": row["school_id"],
        "school_category": row["school_category"],
        "network": row["network"],
        "grades_offered": row["grades_offered"],
        "language_codes": row["language_codes"],
        "bilingual_services": row["bilingual_services"],
        "services": [{"id": service_id} for service_id in row["service_ids"]],
        "distance_km": row.get("distance_km"),
    }


def _codes_for(names: list[str]) -> list[str | None]:
    from services.catalog.places import language_codes

    return [next(iter(language_codes([name])), None) for name in names]
