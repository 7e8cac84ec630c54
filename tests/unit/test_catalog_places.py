"""Places: grades, distance, the school list read as locations (referrals' reply deadline on the business calendar:
test_catalog_referral_calendar)."""

from __future__ import annotations

import pytest

from services.catalog.places import distance_km, grade_numbers, language_codes, network_id, read_school_list
from services.catalog.settings import SCHOOL_LIST


@pytest.mark.parametrize(
    ("grades", "numbers"),
    [("PK,K-8", list(range(-1, 9))), ("9-12", [9, 10, 11, 12]), ("K,5-8", [0, 5, 6, 7, 8]), ("PE,PK", [-2, -1]),
     ("", []), ("13", [])],
)  # fmt: skip
def test_grades_as_the_list_writes_them(grades: str, numbers: list[int]) -> None:
    assert grade_numbers(grades) == numbers


def test_distance_downtown_to_edison_is_about_eleven_km() -> None:
    assert distance_km(41.88194, -87.62955, 41.971506, -87.709304) == pytest.approx(11.97, abs=0.05)
    assert distance_km(41.9, -87.6, 41.9, -87.6) == 0


def test_classroom_languages_get_their_codes() -> None:
    assert language_codes(["Spanish", "Spanish for Heritage Speakers", "Mandarin", "Klingon"]) == ["es", "zh"]


def test_network_labels_become_routings_ids() -> None:
    assert network_id("Network 4") == "network-4" and network_id("Charter") == "charter" and network_id(" ") is None


def test_the_district_school_list_is_read_whole() -> None:
    schools, problems = read_school_list(SCHOOL_LIST.read_text())
    assert len(schools) == 660 and problems == []
    edison = next(school for school in schools if school.school_id == "609794")
    assert (edison.network, edison.grades_offered, edison.phone) == ("network-1", "K-8", "(773) 534-0540")
    assert edison.language_codes == ["fr"] and edison.bilingual_services is None


def test_a_bad_line_of_the_school_list_is_reported_by_number_and_left_out() -> None:
    header = SCHOOL_LIST.read_text().splitlines()[0]
    text = "\n".join([header, "abc,X,,ES,1 Main St,Chicago,Illinois,60601,,,,,,,,,,", "1,A,Alpha,ES,,,,,,,,,,,,,,"])
    schools, problems = read_school_list(text)
    assert schools == [] and [p.line for p in problems] == [2, 3]
