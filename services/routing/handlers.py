"""Routing's handlers: assign each submitted inquiry; load the district's school list into the directory."""

from __future__ import annotations

import csv
from pathlib import Path

import asyncpg

from services.routing import domain, repository
from services.routing.domain import BusinessCalendar, SlaPolicy
from shared.clock import Clock
from shared.contracts.inquiries import InquirySubmitted
from shared.contracts.topics import ROUTING_EVENTS
from shared.db.unit_of_work import UnitOfWork
from shared.kafka.batch_consumer import Incoming
from shared.kafka.event_subscriber import EventSubscriber
from shared.logging import get_logger

log = get_logger(__name__)

# A category routing has no policy for (a newer intake) still gets a deadline: the most cautious default.
FALLBACK_POLICY = SlaPolicy(category="other", network_business_days=2, psa_business_days=2)


class InquirySubmittedSubscriber(EventSubscriber[InquirySubmitted, UnitOfWork]):
    """``psc.inquiries.events``: a new inquiry goes to the queue of the network that serves the school."""

    name = "inquiry-submitted"
    handles = (InquirySubmitted,)

    def __init__(self, *, clock: Clock, calendar: BusinessCalendar) -> None:
        self._clock = clock
        self._calendar = calendar

    async def handle(self, uow: UnitOfWork, batch: list[Incoming[InquirySubmitted]]) -> None:
        now = self._clock.now()
        schools = await repository.get_schools(uow.conn, school_ids=[i.message.student.school_id for i in batch])
        policies = await repository.get_sla_policies(uow.conn)
        decided = [
            domain.assign(
                item.message,
                school=schools.get(item.message.student.school_id),
                policy=policies.get(item.message.category.value, FALLBACK_POLICY),
                calendar=self._calendar,
                now=now,
            )
            for item in batch
        ]
        new = await repository.insert_assignments(uow.conn, assignments=[assignment for assignment, _ in decided])
        for assignment, event in decided:
            if assignment.inquiry_id in new:
                uow.emit(ROUTING_EVENTS, event)


async def load_directory(pool: asyncpg.Pool, *, schools_csv: Path) -> int:
    """Upsert the school list into the directory; rows that fail validation are reported and left out."""
    with schools_csv.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    schools, problems = domain.schools_from_rows(rows)
    for problem in problems:
        log.warning("school list row left out", line=problem.line, field=problem.field, reason=problem.reason)
    async with UnitOfWork(pool) as uow:
        await repository.upsert_directory(uow.conn, schools=schools)
    return len(schools)
