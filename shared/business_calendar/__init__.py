"""The district's business calendar, shared by the services whose clocks run on business time: routing's SLA clocks
and catalog's referral reply clocks. One implementation, so that a winter-break day or an emergency closure stops
both clocks alike."""

from shared.business_calendar.district_calendar import TABLE_FIRST, TABLE_LAST, DistrictCalendar
from shared.business_calendar.district_file import DISTRICT_CALENDAR, district_calendar, read_district_days
from shared.business_calendar.yaml_file import FileProblem

__all__ = [
    "DISTRICT_CALENDAR",
    "TABLE_FIRST",
    "TABLE_LAST",
    "DistrictCalendar",
    "FileProblem",
    "district_calendar",
    "read_district_days",
]
