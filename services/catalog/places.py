"""Places, pure: grades as numbers, distance on the earth, and the district's school list read as locations."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping
from dataclasses import dataclass

GRADE_NUMBERS: Mapping[str, int] = {"PE": -2, "PK": -1, "K": 0, **{str(n): n for n in range(1, 13)}}
GRADE_CODES: Mapping[int, str] = {number: code for code, number in GRADE_NUMBERS.items()}
NETWORK_IDS = frozenset({f"network-{n}" for n in range(1, 18)} | {"charter", "isp", "options", "ausl", "contract"})
"""The district's networks as routing names them: the label lower-cased, words joined with hyphens."""
EARTH_RADIUS_KM = 6371.0088
MAX_RADIUS_KM = 100.0

# The school list names classroom languages in English; the ones with an ISO 639-1 code are filterable by it.
_LANGUAGE_CODES: Mapping[str, str] = {
    "spanish": "es", "french": "fr", "chinese": "zh", "mandarin": "zh", "arabic": "ar", "polish": "pl",
    "latin": "la", "japanese": "ja", "korean": "ko", "italian": "it", "german": "de", "russian": "ru",
    "turkish": "tr", "portuguese": "pt", "american sign language": "ase",
}  # fmt: skip


def network_id(label: str) -> str | None:
    """'Network 4' → 'network-4' (routing's ids); blank → None."""
    return "-".join(label.lower().split()) or None


def grade_numbers(grades: str) -> list[int]:
    """'PK,K-8' → [-1, 0, 1, ..., 8]; unknown parts are left out."""
    numbers: set[int] = set()
    for part in grades.replace(" ", "").upper().split(","):
        low, _, high = part.partition("-")
        if low in GRADE_NUMBERS and (not high or high in GRADE_NUMBERS):
            numbers.update(range(GRADE_NUMBERS[low], GRADE_NUMBERS[high or low] + 1))
    return sorted(numbers)


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine) in kilometres; the SQL in the repository computes the same."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(a))


def language_codes(names: list[str]) -> list[str]:
    """Codes of the classroom languages named ('Spanish for Heritage Speakers' is Spanish), each once."""
    codes: dict[str, None] = {}
    for name in names:
        lowered = name.lower()
        for known, code in _LANGUAGE_CODES.items():
            if lowered.startswith(known):
                codes.setdefault(code, None)
    return list(codes)


@dataclass(frozen=True)
class School:
    """A school of the district's list, as a location of the 'cps-schools' organization."""

    id: str
    school_id: str
    name: str
    short_name: str
    category: str
    address_1: str
    city: str
    state_province: str
    postal_code: str
    phone: str | None
    latitude: float | None
    longitude: float | None
    network: str | None
    grades_offered: str
    grades: list[int]
    languages: list[str]
    language_codes: list[str]
    bilingual_services: bool | None


@dataclass(frozen=True)
class SchoolListProblem:
    line: int
    reason: str


def read_school_list(text: str) -> tuple[list[School], list[SchoolListProblem]]:
    """The school list (the routing directory's CSV columns) as locations; a bad line is reported and left out."""
    schools: list[School] = []
    problems: list[SchoolListProblem] = []
    for line, row in enumerate(csv.DictReader(io.StringIO(text)), start=2):
        school_id = (row.get("school_id") or "").strip()
        name = (row.get("long_name") or "").strip()
        if not (school_id.isdigit() and name and (row.get("address") or "").strip()):
            problems.append(SchoolListProblem(line, "needs a numeric school_id, a long_name and an address"))
            continue
        try:
            latitude = float(row["latitude"]) if row.get("latitude") else None
            longitude = float(row["longitude"]) if row.get("longitude") else None
        except ValueError:
            problems.append(SchoolListProblem(line, "latitude and longitude must be numbers"))
            continue
        languages = [part.strip() for part in (row.get("classroom_languages") or "").split(",") if part.strip()]
        bilingual = (row.get("bilingual_services") or "").strip().lower()
        schools.append(
            School(
                id=f"school-{school_id}",
                school_id=school_id,
                name=name,
                short_name=(row.get("short_name") or name).strip(),
                category=(row.get("category") or "").strip(),
                address_1=row["address"].strip().title(),
                city=(row.get("city") or "Chicago").strip(),
                state_province="IL",
                postal_code=(row.get("zip") or "").strip()[:5],
                phone=_phone(row.get("phone") or ""),
                latitude=latitude,
                longitude=longitude,
                network=network_id(row.get("network") or ""),
                grades_offered=(row.get("grades_offered") or "").strip(),
                grades=grade_numbers(row.get("grades_offered") or ""),
                languages=languages,
                language_codes=language_codes(languages),
                bilingual_services=True if bilingual == "true" else False if bilingual == "false" else None,
            )
        )
    return schools, problems


def _phone(raw: str) -> str | None:
    digits = raw.strip().removesuffix(".0")
    if len(digits) != 10 or not digits.isdigit():
        return None
    return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"
