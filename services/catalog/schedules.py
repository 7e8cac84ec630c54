"""Schedules, pure: when a service is open (weekly hours in its time zone) and when an event's occurrences fall
(dtstart in local time plus an RFC 5545 recurrence rule, expanded with python-dateutil), and the rules a schedule
must satisfy.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule, rrulestr

from shared.contracts.catalog import ScheduleDetails, ScheduleView

CHICAGO = "America/Chicago"
_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
MAX_OCCURRENCES = 1000
"""Most occurrences one listing expands (a rule without an end would otherwise run on)."""


def weekday_code(moment: datetime) -> str:
    return _WEEKDAYS[moment.weekday()]


def is_open(hours: Iterable[ScheduleView], now: datetime) -> bool:
    """True when one of the weekly opening hours holds ``now`` (an aware time), read in the hours' own zone."""
    for schedule in hours:
        if schedule.kind != "opening_hours" or schedule.opens_at is None or schedule.closes_at is None:
            continue
        local = now.astimezone(ZoneInfo(schedule.timezone))
        if weekday_code(local) in schedule.byday and schedule.opens_at <= local.time() < schedule.closes_at:
            return True
    return False


def recurrence(dtstart: datetime, rule: str | None, timezone: str) -> rrule | None:
    """The rule over the local first start (wall-clock times stay put across daylight saving); None for one date."""
    if rule is None:
        return None
    parsed = rrulestr(rule, dtstart=dtstart.replace(tzinfo=ZoneInfo(timezone)))
    assert isinstance(parsed, rrule)
    return parsed


@dataclass(frozen=True)
class Occurrence:
    schedule: ScheduleView
    start: datetime
    end: datetime


def occurrences(schedule: ScheduleView, start: datetime, end: datetime) -> list[Occurrence]:
    """The event's occurrences that overlap [start, end) (aware times), in order."""
    if schedule.kind != "event" or schedule.dtstart is None or schedule.duration_minutes is None:
        return []
    length = timedelta(minutes=schedule.duration_minutes)
    zone = ZoneInfo(schedule.timezone)
    rule = recurrence(schedule.dtstart, schedule.rrule, schedule.timezone)
    if rule is None:
        first = schedule.dtstart.replace(tzinfo=zone)
        starts = [first] if first < end and first + length > start else []
    else:
        starts = []
        for moment in rule.xafter(start - length, count=MAX_OCCURRENCES, inc=True):
            if moment >= end:
                break
            if moment + length > start:
                starts.append(moment)
    return [Occurrence(schedule, moment, moment + length) for moment in starts]


def schedule_problems(schedule: ScheduleDetails, location_ids: set[str]) -> list[tuple[str, str]]:
    """(field, reason) pairs for a schedule that cannot be read as hours or as an event."""
    problems: list[tuple[str, str]] = []
    if schedule.kind == "opening_hours":
        if not schedule.byday:
            problems.append(("byday", "opening hours need the days they apply to"))
        if schedule.opens_at is None or schedule.closes_at is None:
            problems.append(("opens_at", "opening hours need opens_at and closes_at"))
        elif schedule.opens_at >= schedule.closes_at:
            problems.append(("closes_at", "must be after opens_at"))
        if len(set(schedule.byday)) != len(schedule.byday):
            problems.append(("byday", "lists a day twice"))
    else:
        if schedule.dtstart is None:
            problems.append(("dtstart", "an event needs its first start (local time)"))
        elif schedule.dtstart.tzinfo is not None:
            problems.append(("dtstart", "must be a local time without offset; the zone is in 'timezone'"))
        if schedule.duration_minutes is None:
            problems.append(("duration_minutes", "an event needs its length"))
        if schedule.language is None:
            problems.append(("language", "an event needs the language it is held in"))
        if schedule.rrule is not None and schedule.dtstart is not None and schedule.dtstart.tzinfo is None:
            problems += _rule_problems(schedule.dtstart, schedule.rrule, schedule.timezone)
    if schedule.location_id is not None and schedule.location_id not in location_ids:
        problems.append(("location_id", "names no location of the upsert"))
    return problems


def _rule_problems(dtstart: datetime, rule: str, timezone: str) -> list[tuple[str, str]]:
    if rule.upper().startswith(("RRULE:", "DTSTART")) or "\n" in rule:
        return [("rrule", "must be the RRULE value alone, e.g. 'FREQ=WEEKLY;BYDAY=TU'")]
    try:
        parsed = recurrence(dtstart, rule, timezone)
        assert parsed is not None
        next(iter(parsed), None)
    except (ValueError, TypeError, AssertionError):
        return [("rrule", "is not an RFC 5545 recurrence rule (an UNTIL must be in UTC, ending in 'Z')")]
    return []
