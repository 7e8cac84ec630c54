"""Schedules: open now in America/Chicago, recurrence with RRULE across daylight saving, the rules a schedule keeps;
and the iCalendar feed parses back."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import icalendar
import pytest

from services.catalog.calendar_feed import ics_of
from services.catalog.domain import EventSchedule
from services.catalog.schedules import is_open, occurrences, schedule_problems
from shared.contracts.catalog import LocationView, ScheduleDetails, ScheduleView

HOURS = ScheduleView(
    id="office-hours",
    kind="opening_hours",
    byday=["MO", "TU", "WE", "TH", "FR"],
    opens_at=time(8),
    closes_at=time(16, 30),
)
MONTHLY = ScheduleView(
    id="iep-workshop",
    kind="event",
    name="IEP workshop",
    language="es",
    dtstart=datetime(2026, 9, 10, 18, 0),
    duration_minutes=120,
    rrule="FREQ=MONTHLY;BYDAY=2TH;UNTIL=20270630T235959Z",
)


@pytest.mark.parametrize(
    ("moment", "open_"),
    [
        (datetime(2026, 10, 13, 13, 0, tzinfo=UTC), True),  # Tuesday 08:00 in Chicago (UTC-5): opens
        (datetime(2026, 10, 13, 12, 59, tzinfo=UTC), False),  # 07:59
        (datetime(2026, 10, 13, 21, 30, tzinfo=UTC), False),  # 16:30: closed
        (datetime(2026, 12, 1, 14, 0, tzinfo=UTC), True),  # Tuesday 08:00 in winter (UTC-6)
        (datetime(2026, 10, 17, 15, 0, tzinfo=UTC), False),  # Saturday
        (datetime(2026, 10, 17, 2, 0, tzinfo=UTC), False),  # Friday 21:00 in Chicago, Saturday in UTC
    ],
)
def test_open_now_is_read_in_chicago(moment: datetime, open_: bool) -> None:
    assert is_open([HOURS], moment) is open_


def test_events_are_not_opening_hours() -> None:
    assert not is_open([MONTHLY], datetime(2026, 10, 8, 23, 30, tzinfo=UTC))


def test_a_monthly_rule_keeps_its_local_time_across_daylight_saving() -> None:
    found = occurrences(MONTHLY, datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))
    assert [o.start.isoformat() for o in found] == ["2026-10-08T18:00:00-05:00", "2026-11-12T18:00:00-06:00"]
    assert found[0].end - found[0].start == timedelta(hours=2)


def test_an_occurrence_under_way_at_the_start_of_the_range_is_listed() -> None:
    found = occurrences(MONTHLY, datetime(2026, 10, 9, 0, 0, tzinfo=UTC), datetime(2026, 10, 10, tzinfo=UTC))
    assert len(found) == 1  # 18:00-20:00 CDT is 23:00-01:00 UTC


def test_a_rule_ends_at_its_until() -> None:
    found = occurrences(MONTHLY, datetime(2027, 6, 1, tzinfo=UTC), datetime(2027, 12, 31, tzinfo=UTC))
    assert [o.start.date().isoformat() for o in found] == ["2027-06-10"]


def test_a_single_date_event_has_one_occurrence() -> None:
    once = MONTHLY.model_copy(update={"rrule": None, "dtstart": datetime(2027, 3, 13, 9)})
    assert len(occurrences(once, datetime(2027, 3, 1, tzinfo=UTC), datetime(2027, 4, 1, tzinfo=UTC))) == 1
    assert occurrences(once, datetime(2027, 4, 1, tzinfo=UTC), datetime(2027, 5, 1, tzinfo=UTC)) == []


def details(**fields: object) -> ScheduleDetails:
    return ScheduleDetails.model_validate({"id": "s-1", **fields})


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"kind": "opening_hours", "opens_at": "08:00", "closes_at": "16:00"}, "byday"),
        ({"kind": "opening_hours", "byday": ["MO"], "opens_at": "17:00", "closes_at": "08:00"}, "closes_at"),
        ({"kind": "event", "duration_minutes": 60, "language": "en"}, "dtstart"),
        ({"kind": "event", "dtstart": "2026-09-01T18:00:00", "language": "en"}, "duration_minutes"),
        ({"kind": "event", "dtstart": "2026-09-01T18:00:00", "duration_minutes": 60}, "language"),
        (
            {"kind": "event", "dtstart": "2026-09-01T18:00:00-05:00", "duration_minutes": 60, "language": "en"},
            "dtstart",
        ),
        (
            {"kind": "event", "dtstart": "2026-09-01T18:00:00", "duration_minutes": 60, "language": "en",
             "rrule": "FREQ=SOMETIMES"},
            "rrule",
        ),
        (
            {"kind": "event", "dtstart": "2026-09-01T18:00:00", "duration_minutes": 60, "language": "en",
             "rrule": "FREQ=WEEKLY;UNTIL=20270101T000000"},
            "rrule",
        ),
        (
            {"kind": "event", "dtstart": "2026-09-01T18:00:00", "duration_minutes": 60, "language": "en",
             "location_id": "elsewhere"},
            "location_id",
        ),
    ],
)  # fmt: skip
def test_a_schedule_that_cannot_be_read_is_refused_naming_the_field(fields: dict[str, object], problem: str) -> None:
    assert problem in [name for name, _ in schedule_problems(details(**fields), {"odlss"})]


def test_a_good_event_has_no_problem() -> None:
    event = details(
        kind="event", dtstart="2026-09-01T18:00:00", duration_minutes=60, language="en", rrule="FREQ=WEEKLY;COUNT=4"
    )
    assert schedule_problems(event, set()) == []


def test_an_unknown_time_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="IANA"):
        details(kind="event", timezone="Mars/Olympus")


def test_the_feed_parses_back_with_tzid_rrule_and_language() -> None:
    place = LocationView(name="ODLSS offices", address_1="125 South Clark Street", city="Chicago",
                         state_province="IL", postal_code="60603")  # fmt: skip
    event = EventSchedule("pep", "PEP", None, MONTHLY, place)
    calendar = icalendar.Calendar.from_ical(ics_of("PEP", [event], now=datetime(2026, 9, 1, tzinfo=UTC)))
    (vevent,) = calendar.walk("VEVENT")
    assert vevent["dtstart"].params["TZID"] == "America/Chicago"
    assert isinstance(vevent, icalendar.Event)
    start = vevent.DTSTART
    assert isinstance(start, datetime) and start.replace(tzinfo=None) == datetime(2026, 9, 10, 18, 0)
    assert vevent["summary"].params["LANGUAGE"] == "es"
    assert "125 South Clark Street" in str(vevent["location"])
    rule = vevent["rrule"]
    assert isinstance(rule, icalendar.vRecur) and rule["BYDAY"] == ["2TH"]
    assert [str(tz["tzid"]) for tz in calendar.walk("VTIMEZONE")] == ["America/Chicago"]
