"""Routing's pure rules: the directory, the business calendar and the assignment decision."""

from datetime import UTC, date, datetime
from uuid import uuid4

import holidays

from services.routing import domain
from services.routing.domain import BusinessCalendar, Network, School, SlaPolicy
from shared.contracts.inquiries import InquirySubmitted

CALENDAR = BusinessCalendar(timezone="America/Chicago", holidays=holidays.country_holidays("US", subdiv="IL"))
POLICY = SlaPolicy("special_education", network_business_days=2, psa_business_days=2)


def submitted(school_id: int = 609794) -> InquirySubmitted:
    return InquirySubmitted.model_validate(
        {
            "inquiry_id": str(uuid4()),
            "occurred_at": "2026-11-20T15:00:00Z",
            "correlation_id": "c-1",
            "reference": "PSC-26-000001",
            "category": "special_education",
            "channel": "phone",
            "parent": {"name": "Ana", "email": "ana@example.org"},
            "student": {"school_id": school_id, "grade": "3"},
        }
    )


def test_network_labels_become_stable_ids_and_an_empty_label_means_no_network() -> None:
    assert domain.network_for_label("Network 13") == Network("network-13", "Network 13")
    assert domain.network_for_label("ISP") == Network("isp", "ISP")
    assert domain.network_for_label("  ") is None


def test_bad_rows_of_the_school_list_are_reported_with_line_and_field() -> None:
    rows = [
        {"school_id": "609794", "short_name": "EDISON", "long_name": "Thomas A Edison", "network": "Network 1"},
        {"school_id": "12", "short_name": "X", "long_name": "X", "network": ""},
        {"school_id": "610592", "short_name": "ENGLEWOOD STEM HS", "long_name": "Englewood STEM", "network": ""},
    ]
    schools, problems = domain.schools_from_rows(rows)
    assert [s.id for s in schools] == [609794, 610592]
    assert schools[1].network is None
    assert [(p.line, p.field) for p in problems] == [(3, "school_id")]


def test_a_friday_evening_inquiry_with_two_business_days_is_due_tuesday_at_five() -> None:
    friday_evening = datetime(2026, 11, 13, 23, 30, tzinfo=UTC)  # 17:30 in Chicago
    due = CALENDAR.due_after(friday_evening, 2)
    assert due.date() == date(2026, 11, 17) and (due.hour, due.minute) == (17, 0)


def test_thanksgiving_does_not_count_as_a_business_day() -> None:
    wednesday_before = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
    assert CALENDAR.due_after(wednesday_before, 1).date() == date(2026, 11, 27)


def test_an_inquiry_goes_to_the_network_that_serves_the_school() -> None:
    school = School(609794, "EDISON", "Thomas A Edison", Network("network-1", "Network 1"))
    now = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
    assignment, event = domain.assign(submitted(), school=school, policy=POLICY, calendar=CALENDAR, now=now)
    assert (event.network_id, event.queue, event.tier, event.reason) == (
        "network-1",
        "network",
        "network",
        "school_network",
    )
    assert event.due_at == assignment.due_at == CALENDAR.due_after(now, 2)
    assert event.correlation_id == "c-1" and event.school_name == "Thomas A Edison"


def test_a_school_without_a_network_and_an_unknown_school_go_to_the_central_queue() -> None:
    now = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
    no_network = School(610592, "ENGLEWOOD STEM HS", "Englewood STEM", None)
    _, event = domain.assign(submitted(610592), school=no_network, policy=POLICY, calendar=CALENDAR, now=now)
    assert (event.network_id, event.queue, event.reason) == ("central", "central", "school_without_network")
    _, event = domain.assign(submitted(999999), school=None, policy=POLICY, calendar=CALENDAR, now=now)
    assert (event.network_name, event.reason) == ("Parent Support Center", "unknown_school")
