"""The calendar's fast business-time arithmetic (ordinals on a table of business days, bisection) gives the same
answers as the plain definition (day by day), on the district's real calendar and with closures added, for any
instant and budget: across weekends, holidays, breaks, both daylight-saving changes, nights and the table's edges."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from services.routing.app import load_rules
from services.routing.settings import RoutingSettings
from shared.business_calendar import TABLE_FIRST, TABLE_LAST, DistrictCalendar

DISTRICT = load_rules(RoutingSettings()).calendar
CLOSED = DISTRICT.with_closures({date(2026, 12, 8): "snow day", date(2027, 3, 15): "water main"})

# Instants from a little before the table to a little after it, to the microsecond, in any time zone's terms.
instants = st.datetimes(
    min_value=datetime(2023, 12, 1),
    max_value=datetime(2037, 1, 31),
    timezones=st.just(UTC),
)
near_2026 = st.datetimes(min_value=datetime(2026, 8, 1), max_value=datetime(2027, 7, 31), timezones=st.just(UTC))
budgets = st.integers(min_value=-10, max_value=30 * 9 * 3600)  # up to thirty business days
calendars = st.sampled_from([DISTRICT, CLOSED])


@settings(max_examples=200, deadline=None)
@given(calendar=calendars, start=st.one_of(near_2026, instants), seconds=budgets)
def test_a_deadline_is_the_same_by_table_and_day_by_day(
    calendar: DistrictCalendar, start: datetime, seconds: int
) -> None:
    assert calendar.add_business(start, seconds) == calendar.add_business_by_days(start, seconds)


@settings(max_examples=200, deadline=None)
@given(
    calendar=calendars,
    start=st.one_of(near_2026, instants),
    span=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=60)),
)
def test_business_time_between_two_instants_is_the_same_by_table_and_day_by_day(
    calendar: DistrictCalendar, start: datetime, span: timedelta
) -> None:
    for end in (start + span, start - span):
        assert calendar.business_seconds(start, end) == calendar.business_seconds_by_days(start, end)


@settings(max_examples=200, deadline=None)
@given(start=near_2026, seconds=st.integers(min_value=1, max_value=30 * 9 * 3600))
def test_counting_back_the_business_time_to_a_deadline_gives_the_budget(start: datetime, seconds: int) -> None:
    due = DISTRICT.add_business(start, seconds)
    assert DISTRICT.business_seconds(start, due) == seconds
    assert due.tzinfo is UTC


def test_the_table_s_edges_and_beyond_answer_like_the_walk() -> None:
    first = datetime.combine(TABLE_FIRST, datetime.min.time(), tzinfo=DISTRICT.zone)
    last = datetime.combine(TABLE_LAST, datetime.min.time(), tzinfo=DISTRICT.zone) + timedelta(hours=23)
    for start in (first - timedelta(hours=1), first, last, last + timedelta(days=2)):
        for seconds in (1, 3600, 9 * 3600 * 20):
            assert DISTRICT.add_business(start, seconds) == DISTRICT.add_business_by_days(start, seconds)
        assert DISTRICT.business_seconds(start, start + timedelta(days=9)) == DISTRICT.business_seconds_by_days(
            start, start + timedelta(days=9)
        )


def test_the_same_closures_give_the_same_calendar_and_its_table_once() -> None:
    closures = {date(2026, 12, 8): "snow day"}
    assert DISTRICT.with_closures(closures) is DISTRICT.with_closures(dict(closures))
    assert DISTRICT.with_closures({}) is DISTRICT
    assert DISTRICT.with_closures(closures).closed_reason(date(2026, 12, 8)) == "snow day"


@settings(max_examples=200, deadline=None)
@given(calendar=calendars, start=st.one_of(near_2026, instants), first=budgets, second=st.one_of(st.none(), budgets))
def test_a_run_out_and_its_warning_from_one_position_are_the_walk_s(
    calendar: DistrictCalendar, start: datetime, first: int, second: int | None
) -> None:
    due, warn = calendar.add_business_two(start, first, second)
    assert due == calendar.add_business_by_days(start, first)
    assert warn == (None if second is None else calendar.add_business_by_days(start, second))
