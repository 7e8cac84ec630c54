"""Routing's pure rules: the directory and the assignment decision (the calendar and clocks: test_routing_calendar)."""

from dataclasses import replace
from datetime import UTC, datetime
from uuid import uuid4

from fakes.routing import RULES, STAFF

from services.routing import directory, domain
from services.routing.directory import Network, School
from services.routing.staff import StaffPool
from shared.contracts.inquiries import InquirySubmitted


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
    assert directory.network_for_label("Network 13") == Network("network-13", "Network 13")
    assert directory.network_for_label("ISP") == Network("isp", "ISP")
    assert directory.network_for_label("  ") is None


def test_bad_rows_of_the_school_list_are_reported_with_line_and_field() -> None:
    rows = [
        {"school_id": "609794", "short_name": "EDISON", "long_name": "Thomas A Edison", "network": "Network 1"},
        {"school_id": "12", "short_name": "X", "long_name": "X", "network": ""},
        {"school_id": "610592", "short_name": "ENGLEWOOD STEM HS", "long_name": "Englewood STEM", "network": ""},
    ]
    schools, problems = directory.schools_from_rows(rows)
    assert [s.id for s in schools] == [609794, 610592]
    assert schools[1].network is None
    assert [(p.line, p.field) for p in problems] == [(3, "school_id")]


def test_an_inquiry_goes_to_the_network_that_serves_the_school_and_its_least_loaded_staff() -> None:
    school = School(609794, "EDISON", "Thomas A Edison", Network("network-1", "Network 1"))
    now = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
    pool = StaffPool([replace(STAFF[1], open_load=3), *STAFF[2:]])
    assignment, event = domain.assign(submitted(), school=school, staff=pool, rules=RULES, now=now)
    assert (event.network_id, event.queue, event.tier, event.reason, event.assignee_id) == (
        "network-1",
        "network",
        "network",
        "school_network",
        "n1-staff-2",
    )
    # special_education, normal: the network acknowledges within a business day (Friday 9:00 -> Monday 9:00)
    assert event.due_at == assignment.due_at == datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
    assert event.correlation_id == "c-1" and event.school_name == "Thomas A Edison"
    assert pool.changed() == {"n1-staff-2": 1}


def test_a_school_without_a_network_and_an_unknown_school_go_to_the_central_queue() -> None:
    now = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
    no_network = School(610592, "ENGLEWOOD STEM HS", "Englewood STEM", None)
    pool = StaffPool(STAFF)
    _, event = domain.assign(submitted(610592), school=no_network, staff=pool, rules=RULES, now=now)
    assert (event.network_id, event.queue, event.reason, event.assignee_id) == (
        "central",
        "central",
        "school_without_network",
        "central-1",
    )
    _, event = domain.assign(submitted(999999), school=None, staff=pool, rules=RULES, now=now)
    assert (event.network_name, event.reason) == ("Parent Support Center", "unknown_school")


def test_nobody_on_file_leaves_the_assignee_empty() -> None:
    now = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
    school = School(609794, "EDISON", "Thomas A Edison", Network("network-9", "Network 9"))
    assignment, event = domain.assign(submitted(), school=school, staff=StaffPool([]), rules=RULES, now=now)
    assert assignment.assignee_id is None and event.assignee_id is None


def test_the_pool_names_the_pairs_it_chose_in_and_what_the_choice_stood_on() -> None:
    pool = StaffPool([replace(STAFF[1], open_load=2), *STAFF[2:], STAFF[0]])
    assert pool.take("network-1", "psa") == "n1-psa"  # one PSA: no choice between people
    assert pool.choices() == []
    assert pool.take("network-1", "network_staff") == "n1-staff-2"
    assert pool.choices() == [("network-1", "network_staff")]
    assert pool.as_read(pool.choices()) == {"n1-staff-1": (True, 2), "n1-staff-2": (True, 0)}  # as read, not as taken
