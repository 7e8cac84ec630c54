"""A program's events as an iCalendar document (RFC 5545), with the ``icalendar`` package: each event schedule is
one VEVENT whose DTSTART carries TZID (America/Chicago, with its VTIMEZONE) and whose recurrence is its RRULE.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, vRecur

from services.catalog.domain import EventSchedule

PRODID = "-//Parent Support Center//catalog//EN"


def ics_of(program: str, events: Sequence[EventSchedule], *, now: datetime) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", program)
    for event in events:
        schedule = event.schedule
        if schedule.dtstart is None or schedule.duration_minutes is None:
            continue
        item = Event()
        item.add("uid", f"{schedule.id}@catalog.psc")
        item.add("dtstamp", now)
        item.add("dtstart", schedule.dtstart.replace(tzinfo=ZoneInfo(schedule.timezone)))
        item.add("duration", timedelta(minutes=schedule.duration_minutes))
        language = {"LANGUAGE": schedule.language} if schedule.language else {}
        item.add("summary", schedule.name or event.service_name, parameters=language)
        if schedule.description:
            item.add("description", schedule.description, parameters=language)
        if schedule.rrule:
            item.add("rrule", vRecur.from_ical(schedule.rrule))
        if event.location is not None:
            place = event.location
            item.add("location", f"{place.name}, {place.address_1}, {place.city}, {place.state_province} "
                     f"{place.postal_code}")  # fmt: skip
        calendar.add_component(item)
    calendar.add_missing_timezones()
    return bytes(calendar.to_ical())
