"""Routing's rules, pure and synchronous: which queue serves a school, and when the inquiry is due."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Protocol
from uuid import UUID
from zoneinfo import ZoneInfo

from shared.contracts.inquiries import InquirySubmitted
from shared.contracts.routing import AssignmentReason, InquiryAssigned, Queue, Tier

CENTRAL_ID = "central"
CENTRAL_NAME = "Parent Support Center"
END_OF_BUSINESS = time(17, 0)


@dataclass(frozen=True)
class Network:
    id: str
    name: str


@dataclass(frozen=True)
class School:
    id: int
    short_name: str
    long_name: str
    network: Network | None


@dataclass(frozen=True)
class SlaPolicy:
    category: str
    network_business_days: int
    psa_business_days: int


@dataclass(frozen=True)
class Assignment:
    """Which queue and tier hold an inquiry, and the deadline of that tier (None only when read back for a tier that
    has no deadline stored)."""

    inquiry_id: UUID
    category: str
    school_id: int
    network: Network
    queue: Queue
    tier: Tier
    reason: AssignmentReason
    assigned_at: datetime
    due_at: datetime | None


@dataclass(frozen=True)
class NetworkSummary:
    """A network office (or the central queue) and how many schools in the directory it serves."""

    id: str
    name: str
    kind: str
    schools: int


@dataclass(frozen=True)
class RowProblem:
    line: int
    field: str
    reason: str


def schools_from_rows(rows: list[dict[str, str]]) -> tuple[list[School], list[RowProblem]]:
    """Schools from the district's school list; a bad row is reported (line, field, reason) and left out."""
    schools: list[School] = []
    problems: list[RowProblem] = []
    for line, row in enumerate(rows, start=2):  # line 1 is the header
        raw_id = (row.get("school_id") or "").strip()
        if not raw_id.isdigit() or not 100000 <= int(raw_id) <= 999999:
            problems.append(RowProblem(line, "school_id", "is not a six-digit school id"))
            continue
        name = (row.get("long_name") or row.get("short_name") or "").strip()
        if not name:
            problems.append(RowProblem(line, "long_name", "is empty"))
            continue
        schools.append(
            School(
                id=int(raw_id),
                short_name=(row.get("short_name") or name).strip(),
                long_name=name,
                network=network_for_label(row.get("network") or ""),
            )
        )
    return schools, problems


def network_for_label(label: str) -> Network | None:
    """The school list names networks as 'Network 4', 'Charter', 'ISP', ...; an empty label means none."""
    name = label.strip()
    if not name:
        return None
    return Network(id=re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-"), name=name)


class HolidayCalendar(Protocol):
    def __contains__(self, day: object) -> bool: ...


class BusinessCalendar:
    """Weekdays that are not public holidays, ending at 17:00 on the district's clock."""

    def __init__(self, *, timezone: str, holidays: HolidayCalendar) -> None:
        self._zone = ZoneInfo(timezone)
        self._holidays = holidays

    def is_business_day(self, day: date) -> bool:
        return day.weekday() < 5 and day not in self._holidays

    def due_after(self, start: datetime, business_days: int) -> datetime:
        """End of business on the ``business_days``-th business day after ``start``'s day.

        An inquiry that comes in on a Friday evening with one business day is due Monday at 17:00 (or Tuesday when
        Monday is a holiday): the clock runs only on days the offices are open.
        """
        day = start.astimezone(self._zone).date()
        counted = 0
        while counted < business_days:
            day += timedelta(days=1)
            if self.is_business_day(day):
                counted += 1
        return datetime.combine(day, END_OF_BUSINESS, tzinfo=self._zone)


def assign(
    event: InquirySubmitted,
    *,
    school: School | None,
    policy: SlaPolicy,
    calendar: BusinessCalendar,
    now: datetime,
) -> tuple[Assignment, InquiryAssigned]:
    """Give the inquiry to the network that serves the school; the central queue when there is none."""
    queue: Queue
    tier: Tier
    reason: AssignmentReason
    if school is None:
        network, queue, tier, reason = Network(CENTRAL_ID, CENTRAL_NAME), "central", "central", "unknown_school"
    elif school.network is None:
        network, queue, tier, reason = Network(CENTRAL_ID, CENTRAL_NAME), "central", "central", "school_without_network"
    else:
        network, queue, tier, reason = school.network, "network", "network", "school_network"
    due_at = calendar.due_after(now, policy.network_business_days)
    assignment = Assignment(
        inquiry_id=event.inquiry_id,
        category=event.category.value,
        school_id=event.student.school_id,
        network=network,
        queue=queue,
        tier=tier,
        reason=reason,
        assigned_at=now,
        due_at=due_at,
    )
    assigned = InquiryAssigned(
        inquiry_id=event.inquiry_id,
        occurred_at=now,
        correlation_id=event.correlation_id,
        network_id=network.id,
        network_name=network.name,
        queue=queue,
        tier=tier,
        reason=reason,
        school_id=event.student.school_id,
        school_name=school.long_name if school else None,
        due_at=due_at,
    )
    return assignment, assigned
