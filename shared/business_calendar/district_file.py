"""The district calendar file (breaks, school holidays) and the calendar it makes with the public holidays: routing's
SLA clocks and catalog's referral reply clocks both run on it, so both build it here, from the same file by default.
"""

from __future__ import annotations

from datetime import date, time
from pathlib import Path
from zoneinfo import ZoneInfo

import holidays

from shared.business_calendar.district_calendar import DistrictCalendar
from shared.business_calendar.yaml_file import YamlFile

DISTRICT_CALENDAR = Path(__file__).parent / "district_calendar_2026_27.yaml"
HOLIDAY_YEARS = range(2024, 2036)


def read_district_days(path: Path) -> dict[date, str]:
    """The district's own closed days (breaks, school holidays) from its calendar file: day -> name."""
    doc = YamlFile(path)
    root = doc.load(path.read_text(encoding="utf-8"))
    top = doc.mapping(root, "the calendar file", keys={"school_year", "closed"})
    doc.text(doc.required(top, "school_year", root, "the calendar file"), "school_year")
    days: dict[date, str] = {}
    for entry in doc.sequence(doc.required(top, "closed", root, "the calendar file"), "closed"):
        fields = doc.mapping(entry, "a closed entry", keys={"date", "from", "to", "name"})
        name = doc.text(doc.required(fields, "name", entry, "a closed entry"), "name")
        if "date" in fields:
            if "from" in fields or "to" in fields:
                raise doc.fail(entry, "give either 'date' or 'from' and 'to', not both")
            first = last = doc.day(fields["date"], "date")
        else:
            first = doc.day(doc.required(fields, "from", entry, "a closed entry without 'date'"), "from")
            last = doc.day(doc.required(fields, "to", entry, "a closed entry without 'date'"), "to")
            if last < first:
                raise doc.fail(fields["to"], f"'to' ({last}) is before 'from' ({first})")
            if (last - first).days > 62:
                raise doc.fail(fields["to"], "a closed stretch longer than two months is surely a typo")
        day = first
        while day <= last:
            days.setdefault(day, name)
            day = date.fromordinal(day.toordinal() + 1)
    return days


def district_calendar(
    *,
    timezone: str,
    holiday_subdivision: str,
    calendar_file: Path,
    opens: time = time(8, 0),
    closes: time = time(17, 0),
) -> DistrictCalendar:
    """Business hours on the district's clock; closed on weekends, US and state public holidays (``holidays``) and
    the district's own closed days."""
    public = holidays.country_holidays("US", subdiv=holiday_subdivision, years=HOLIDAY_YEARS)
    closed: dict[date, str] = {day: str(name) for day, name in public.items()}
    for day, name in read_district_days(calendar_file).items():
        closed.setdefault(day, name)
    return DistrictCalendar(zone=ZoneInfo(timezone), opens=opens, closes=closes, closed_days=closed)
