"""Business time on the district's calendar (America/Chicago, 8:00-17:00, weekends, US and Illinois holidays, the
district's 2026-27 calendar file) and the SLA clocks that count it: pause, resume, closures, reassignment, and the
whole chain network -> PSA -> central."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest
from fakes.routing import CALENDAR, NETWORK_1, NETWORK_2, RULES, STAFF

from services.routing import clocks, directory, domain
from services.routing.app import load_rules
from services.routing.clocks import Assignment, SlaClock
from services.routing.settings import RoutingSettings
from services.routing.staff import StaffPool
from shared.contracts.routing import InquiryEscalated, InquirySlaBreached, InquirySlaWarning

CHICAGO = ZoneInfo("America/Chicago")
DISTRICT = load_rules(RoutingSettings()).calendar
HOUR = 3600


def at(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=CHICAGO)


def test_friday_afternoon_time_goes_on_on_monday_morning() -> None:
    assert DISTRICT.add_business(at(2026, 11, 13, 16), 2 * HOUR) == at(2026, 11, 16, 9)
    assert DISTRICT.business_seconds(at(2026, 11, 13, 16), at(2026, 11, 16, 9)) == 2 * HOUR


def test_thanksgiving_and_the_district_s_days_around_it_do_not_count() -> None:
    # The whole week is the district's Thanksgiving break (Thursday the public holiday): Friday 20 Nov 16:00 + 2 h
    # is Monday 30 Nov 9:00.
    assert DISTRICT.closed_reason(date(2026, 11, 26)) == "Thanksgiving Day"
    assert DISTRICT.closed_reason(date(2026, 11, 23)) == "Thanksgiving break"
    assert DISTRICT.add_business(at(2026, 11, 20, 16), 2 * HOUR) == at(2026, 11, 30, 9)


def test_the_winter_break_does_not_count() -> None:
    assert DISTRICT.closed_reason(date(2026, 12, 28)) == "Winter break"
    # Friday 18 Dec 16:00 + 2 h: the two weeks of the break (Christmas and New Year's Day in them) pass; Monday 4 Jan.
    assert DISTRICT.add_business(at(2026, 12, 18, 16), 2 * HOUR) == at(2027, 1, 4, 9)
    assert DISTRICT.closed_reason(date(2027, 3, 24)) == "Spring break (estimated week)"


def test_the_spring_daylight_saving_change_neither_adds_nor_loses_an_hour() -> None:
    friday, monday = at(2027, 3, 12, 16), at(2027, 3, 15, 9)  # DST starts Sunday 14 March
    assert DISTRICT.add_business(friday, 2 * HOUR) == monday
    assert monday.astimezone(UTC) - friday.astimezone(UTC) == timedelta(hours=64)  # one wall hour went missing
    assert DISTRICT.business_seconds(friday, monday) == 2 * HOUR


def test_the_autumn_daylight_saving_change_neither_adds_nor_loses_an_hour() -> None:
    friday, monday = at(2026, 10, 30, 16), at(2026, 11, 2, 9)  # DST ends Sunday 1 November
    assert DISTRICT.add_business(friday, 2 * HOUR) == monday
    assert monday.astimezone(UTC) - friday.astimezone(UTC) == timedelta(hours=66)
    assert DISTRICT.business_seconds(friday, monday) == 2 * HOUR


def test_an_inquiry_at_23_00_or_at_7_59_starts_counting_at_8_00() -> None:
    assert DISTRICT.add_business(at(2026, 11, 16, 23), HOUR) == at(2026, 11, 17, 9)
    assert DISTRICT.add_business(at(2026, 11, 17, 7, 59), HOUR) == at(2026, 11, 17, 9)
    assert DISTRICT.business_seconds(at(2026, 11, 16, 23), at(2026, 11, 17, 8)) == 0


def test_a_paused_clock_keeps_its_elapsed_time_and_resumes_where_it_stopped() -> None:
    clock = SlaClock.started(9 * HOUR, at(2026, 11, 16, 8))
    assert clock.due(CALENDAR) == at(2026, 11, 16, 17)
    paused = clock.pause(CALENDAR, at(2026, 11, 16, 12))
    assert (paused.elapsed, paused.paused, paused.due(CALENDAR)) == (4 * HOUR, True, None)
    assert paused.elapsed_at(CALENDAR, at(2026, 11, 18, 12)) == 4 * HOUR  # nothing counts while waiting
    resumed = paused.resume(at(2026, 11, 18, 10))
    assert resumed.due(CALENDAR) == at(2026, 11, 18, 15)


def test_a_closure_added_mid_flight_moves_the_deadline_by_a_business_day() -> None:
    clock = SlaClock.started(18 * HOUR, at(2026, 11, 16, 8))  # two business days from Monday 8:00
    assert clock.due(CALENDAR) == at(2026, 11, 17, 17)
    closed = CALENDAR.with_closure(date(2026, 11, 17), "snow day")
    assert clock.due(closed) == at(2026, 11, 18, 17)
    assert closed.closed_reason(date(2026, 11, 17)) == "snow day"


def open_assignment(start: datetime, *, category: str = "other", urgency: str = "normal") -> Assignment:
    base = Assignment(
        inquiry_id=uuid4(),
        category=category,
        school_id=609794,
        network=NETWORK_1,
        queue="network",
        tier="network",
        reason="school_network",
        assigned_at=start,
        due_at=None,
        urgency=urgency,  # type: ignore[arg-type]
        assignee_id="n1-staff-1",
    )
    return clocks.start_tier(base, "network", at=start, rules=RULES, fresh=True)


def test_a_school_that_moves_keeps_the_tier_and_the_elapsed_time() -> None:
    start = at(2026, 11, 16, 8)
    assignment = open_assignment(start)
    pool = StaffPool(STAFF)
    result = domain.reroute(
        assignment,
        directory.School(609794, "E", "Edison", NETWORK_2),
        rules=RULES,
        staff=pool,
        now=at(2026, 11, 16, 12),
    )
    assert result is not None
    moved, event = result
    assert (moved.network, moved.tier, moved.assignee_id) == (NETWORK_2, "network", "n2-staff-1")
    assert moved.due_at == assignment.due_at and moved.first_response == assignment.first_response
    assert (event.from_network_id, event.to_network_id, event.due_at) == ("network-1", "network-2", moved.due_at)


def test_the_whole_chain_network_psa_central_then_breach() -> None:
    # 'other', normal: network 1d to acknowledge, PSA 4 h, central 4 h. Monday 16 Nov 9:00, never acknowledged.
    assignment = open_assignment(at(2026, 11, 16, 9))
    assert assignment.due_at == at(2026, 11, 17, 9)
    pool = StaffPool(STAFF)
    fired = domain.fire(assignment, now=at(2026, 11, 16, 15, 44), rules=RULES, staff=pool)
    assert fired.events == [] and fired.assignment == assignment

    fired = domain.fire(assignment, now=at(2026, 11, 16, 15, 45), rules=RULES, staff=pool)
    (warning,) = fired.events
    assert isinstance(warning, InquirySlaWarning)
    assert (warning.tier, warning.clock, warning.escalates_at) == ("network", "first_response", at(2026, 11, 17, 9))
    assignment = fired.assignment

    fired = domain.fire(assignment, now=at(2026, 11, 17, 9), rules=RULES, staff=pool)
    (escalated,) = fired.events
    assert isinstance(escalated, InquiryEscalated)
    assert (escalated.from_tier, escalated.to_tier, escalated.why, escalated.assignee_id) == (
        "network",
        "psa",
        "next_tier",
        "n1-psa",
    )
    assert escalated.next_due_at == at(2026, 11, 17, 13)
    assignment = fired.assignment
    assert (assignment.tier, assignment.assignee_id) == ("psa", "n1-psa")

    # Everything else at once, each at its own due time: PSA warning, to central, central warning, breach.
    fired = domain.fire(assignment, now=at(2026, 11, 20, 12), rules=RULES, staff=pool)
    assert [(type(e).__name__, e.occurred_at) for e in fired.events] == [
        ("InquirySlaWarning", at(2026, 11, 17, 12)),
        ("InquiryEscalated", at(2026, 11, 17, 13)),
        ("InquirySlaWarning", at(2026, 11, 17, 16)),
        ("InquirySlaBreached", at(2026, 11, 17, 17)),
    ]
    to_central = fired.events[1]
    assert isinstance(to_central, InquiryEscalated)
    assert (to_central.to_tier, to_central.network_id, to_central.assignee_id) == ("central", "central", "central-1")
    assert isinstance(fired.events[-1], InquirySlaBreached)
    assert fired.assignment.next_due_at is None and fired.assignment.breached_at == at(2026, 11, 17, 17)
    assert domain.fire(fired.assignment, now=at(2026, 12, 1, 12), rules=RULES, staff=pool).events == []
    assert pool.load("n1-staff-1") == 0 and pool.load("central-1") == 1  # the loads followed the inquiry


def test_a_network_without_a_psa_escalates_straight_to_central_and_says_why() -> None:
    assignment = open_assignment(at(2026, 11, 16, 9))
    pool = StaffPool([m for m in STAFF if m.role != "psa"])
    fired = domain.fire(assignment, now=at(2026, 11, 17, 9), rules=RULES, staff=pool)
    escalated = fired.events[-1]
    assert isinstance(escalated, InquiryEscalated)
    assert (escalated.to_tier, escalated.why, escalated.network_id) == ("central", "no_psa_on_file", "central")


def test_acknowledgment_stops_first_response_and_the_resolution_clock_then_decides() -> None:
    assignment = open_assignment(at(2026, 11, 16, 9))
    pool = StaffPool(STAFF)
    acked = domain.follow(assignment, "acknowledged", at=at(2026, 11, 16, 10), rules=RULES, staff=pool)
    assert acked.first_response is not None and acked.first_response.stopped
    assert acked.due_at == at(2026, 11, 19, 9)  # resolution: 3 business days
    waiting = domain.follow(acked, "waiting_on_parent", at=at(2026, 11, 16, 11), rules=RULES, staff=pool)
    assert waiting.paused and waiting.next_due_at is None and waiting.due_at is None
    replied = domain.follow(waiting, "parent_replied", at=at(2026, 11, 18, 11), rules=RULES, staff=pool)
    assert replied.due_at == at(2026, 11, 23, 9)  # two days on the clock before the pause, counted on from Wed 11:00
    resolved = domain.follow(replied, "resolved", at=at(2026, 11, 19, 9), rules=RULES, staff=pool)
    assert (resolved.status, resolved.next_due_at) == ("resolved", None)
    reopened = domain.follow(resolved, "reopened", at=at(2026, 11, 20, 9), rules=RULES, staff=pool)
    assert reopened.status == "open" and reopened.due_at == at(2026, 11, 25, 9)  # resolution from zero
    assert reopened.resolution is not None and reopened.resolution.elapsed == 0


def test_escalation_keeps_an_acknowledged_inquiry_acknowledged() -> None:
    assignment = open_assignment(at(2026, 11, 16, 9))
    pool = StaffPool(STAFF)
    acked = domain.follow(assignment, "acknowledged", at=at(2026, 11, 16, 10), rules=RULES, staff=pool)
    fired = domain.fire(acked, now=at(2026, 11, 19, 9), rules=RULES, staff=pool)
    escalated = fired.events[-1]
    assert isinstance(escalated, InquiryEscalated) and escalated.clock == "resolution"
    assert fired.assignment.first_response is not None and fired.assignment.first_response.stopped
    assert fired.assignment.due_at == at(2026, 11, 23, 9)  # PSA: 2 days to resolve


def test_urgent_safety_concerns_get_hours_not_days() -> None:
    assignment = open_assignment(at(2026, 11, 16, 9), category="safety_and_bullying", urgency="urgent")
    assert assignment.due_at == at(2026, 11, 16, 9, 30)


def test_a_paused_inquiry_sorts_last_in_the_queue() -> None:
    first = open_assignment(at(2026, 11, 16, 9))
    later = open_assignment(at(2026, 11, 16, 11))
    paused = replace(
        later, resolution=later.resolution.pause(CALENDAR, at(2026, 11, 16, 12)) if later.resolution else None
    )
    paused = replace(
        paused, first_response=replace(paused.first_response, stopped=True) if paused.first_response else None
    )
    order = domain.queue_order([paused, later, first], RULES, at(2026, 11, 16, 12))
    assert [a.inquiry_id for a, _ in order] == [first.inquiry_id, later.inquiry_id, paused.inquiry_id]
    assert order[-1][1] is None


def test_an_empty_calendar_window_is_refused() -> None:
    with pytest.raises(ValueError, match="close after"):
        replace(CALENDAR, opens=CALENDAR.closes)


def test_reassignment_inside_the_tier_keeps_the_elapsed_time_and_the_deadline() -> None:
    assignment = open_assignment(at(2026, 11, 16, 9))
    pool = StaffPool(STAFF)
    pool.retake("n1-staff-1")
    later = at(2026, 11, 16, 15)
    moved, event = domain.reassign(assignment, "n1-staff-2", staff=pool, now=later)
    assert (moved.assignee_id, moved.first_response, moved.due_at) == (
        "n1-staff-2",
        assignment.first_response,
        assignment.due_at,
    )
    assert (event.from_assignee_id, event.assignee_id, event.due_at) == (
        "n1-staff-1",
        "n1-staff-2",
        at(2026, 11, 17, 9),
    )
    assert moved.first_response is not None and moved.first_response.elapsed_at(CALENDAR, later) == 6 * HOUR
    assert pool.changed() == {"n1-staff-2": 1}  # n1-staff-1 gave back the one it had
    with pytest.raises(ValueError, match="not active psa"):
        domain.reassign(replace(moved, tier="psa"), "n1-staff-1", staff=pool, now=later)


def test_a_next_tier_s_clock_is_the_same_value_as_one_built_the_ordinary_way() -> None:
    at = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
    running, paused = SlaClock.started(3600, at), SlaClock(target=3600, elapsed=600)
    stopped = replace(running, stopped=True, since=None)
    assert running.next_tier(7200, at) == SlaClock(target=7200, since=at)
    assert paused.next_tier(7200, at) == SlaClock(target=7200)
    assert stopped.next_tier(7200, at) == SlaClock(target=7200, stopped=True)
    made = clocks.clock_of(7200, 60, at, False, True)
    assert made == SlaClock(7200, 60, at, False, True)
    assert hash(made) == hash(SlaClock(7200, 60, at, False, True))
    with pytest.raises(AttributeError):
        made.target = 1  # type: ignore[misc]  # still frozen
