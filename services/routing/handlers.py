"""Routing's use cases. Each takes a unit of work with routing's repositories on it, calls the domain, saves, and
emits events through the unit of work's outbox; transport (Kafka in ``subscribers.py``, HTTP in ``api.py``, the
school list read at start in ``app.py``) calls them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from services.routing import domain
from services.routing.domain import Assignment, BusinessCalendar, NetworkSummary, RowProblem, School, SlaPolicy
from services.routing.unit_of_work import RoutingUnitOfWork
from shared.contracts.inquiries import InquirySubmitted
from shared.contracts.topics import ROUTING_EVENTS
from shared.logging import get_logger

log = get_logger(__name__)

# A category routing has no policy for (a newer intake) still gets a deadline: the most cautious default.
FALLBACK_POLICY = SlaPolicy(category="other", network_business_days=2, psa_business_days=2)


@dataclass(frozen=True)
class DirectoryLoaded:
    """How many schools went into the directory, and the rows of the school list left out."""

    schools: int
    problems: list[RowProblem]


async def assign_inquiries(
    uow: RoutingUnitOfWork, events: Sequence[InquirySubmitted], *, calendar: BusinessCalendar, now: datetime
) -> None:
    """Give each new inquiry to the network that serves its school and emit ``inquiry.assigned``. An inquiry assigned
    before (or twice in ``events``) keeps its first assignment and is announced once."""
    schools = await uow.directory.get_schools(school_ids=[event.student.school_id for event in events])
    policies = await uow.assignments.get_sla_policies()
    decided = [
        domain.assign(
            event,
            school=schools.get(event.student.school_id),
            policy=policies.get(event.category.value, FALLBACK_POLICY),
            calendar=calendar,
            now=now,
        )
        for event in events
    ]
    new = await uow.assignments.insert_new(assignments=[assignment for assignment, _ in decided])
    for assignment, assigned in decided:
        if assignment.inquiry_id in new:
            new.discard(assignment.inquiry_id)  # the first of an inquiry's assignments in the batch is the one stored
            uow.emit(ROUTING_EVENTS, assigned)


async def load_directory(uow: RoutingUnitOfWork, rows: list[dict[str, str]]) -> DirectoryLoaded:
    """Upsert the district's school list (its rows, as read from the CSV) into the directory; rows that fail
    validation are reported and left out."""
    schools, problems = domain.schools_from_rows(rows)
    for problem in problems:
        log.warning("school list row left out", line=problem.line, field=problem.field, reason=problem.reason)
    await uow.directory.upsert(schools=schools)
    return DirectoryLoaded(schools=len(schools), problems=problems)


async def list_networks(uow: RoutingUnitOfWork) -> list[NetworkSummary]:
    """Every network by name, then the central queue, each with its number of schools."""
    return await uow.directory.list_networks()


async def find_school(uow: RoutingUnitOfWork, school_id: int) -> School | None:
    return await uow.directory.get_school(school_id=school_id)


async def find_assignment(uow: RoutingUnitOfWork, inquiry_id: UUID) -> Assignment | None:
    """Where routing put the inquiry; None when it has not assigned it."""
    return await uow.assignments.get(inquiry_id=inquiry_id)
