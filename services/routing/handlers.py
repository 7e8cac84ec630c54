"""Routing's use cases. Each takes a unit of work with routing's repositories on it, calls the domain, saves, and
emits events through the unit of work's outbox; transport (Kafka in ``subscribers.py``, HTTP in ``api.py``, the
deadline worker in ``deadlines.py``, the files read at start in ``app.py``) calls them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import TypeVar
from uuid import UUID

from services.routing import clocks, directory, domain, files
from services.routing.clocks import Assignment
from services.routing.directory import NetworkSummary, RowProblem, School
from services.routing.domain import HistoryEntry, LifecycleKind
from services.routing.policies import Rules
from services.routing.staff import Staff, StaffPool
from services.routing.unit_of_work import RoutingUnitOfWork
from shared.contracts.calendar import CalendarClosureAdded
from shared.contracts.directory import SchoolListPublished, SchoolListRejected
from shared.contracts.envelope import FieldError, InquiryEvent
from shared.contracts.inquiries import InquirySubmitted
from shared.contracts.lifecycle import (
    InquiryAcknowledged,
    InquiryParentReplied,
    InquiryReopened,
    InquiryResolved,
    InquiryWaitingOnParent,
    LifecycleEvent,
)
from shared.contracts.routing import InquiryAssigned, InquiryRerouted, StaffUpdated
from shared.contracts.topics import CALENDAR_EVENTS, DIRECTORY_UPDATES, ROUTING_EVENTS, STAFF_EVENTS
from shared.logging import get_logger

log = get_logger(__name__)
T = TypeVar("T")

_KINDS: dict[type[LifecycleEvent], LifecycleKind] = {
    InquiryAcknowledged: "acknowledged",
    InquiryWaitingOnParent: "waiting_on_parent",
    InquiryParentReplied: "parent_replied",
    InquiryResolved: "resolved",
    InquiryReopened: "reopened",
}


class UnknownInquiry(LookupError):
    """A lifecycle event for an inquiry routing never assigned: the record is parked with this reason."""


class Refused(ValueError):
    """An operator's request routing will not carry out, and why (the API answers 409)."""


class PastDay(Refused):
    """A closure for a day already past (the API answers 422 naming the date)."""


async def current_rules(uow: RoutingUnitOfWork, base: Rules) -> Rules:
    """The rules with the emergency closures every replica has recorded (read in the caller's transaction)."""
    closures = await uow.calendar.closures()
    if not closures:
        return base
    return replace(base, calendar=base.calendar.with_closures(closures))


async def decided_with_staff(
    uow: RoutingUnitOfWork, network_ids: Iterable[str], decide: Callable[[StaffPool], T]
) -> tuple[StaffPool, T]:
    """``decide`` (pure rules that give inquiries to staff from the pool) on the staff of these networks, with its
    least-loaded choices confirmed: the pairs it chose in are held to the commit and their loads are as read; when
    another replica changed them in between, decide again on a fresh read (under the held pairs)."""
    networks = set(network_ids)
    staff = await uow.staff.pool(network_ids=networks)
    result = decide(staff)
    for _ in range(_CONFIRM_TRIES):
        if await uow.staff.confirm(staff=staff):
            return staff, result
        staff = await uow.staff.pool(network_ids=networks)
        result = decide(staff)
    raise RuntimeError("the staff loads kept changing under held locks")  # a bug: nothing changes a held pair


_CONFIRM_TRIES = 8


async def assign_inquiries(
    uow: RoutingUnitOfWork, events: Sequence[InquirySubmitted], *, rules: Rules, now: datetime
) -> None:
    """Give each new inquiry to the network that serves its school and the least-loaded staff member of the tier,
    start its clocks and emit ``inquiry.assigned``. An inquiry assigned before (or twice in ``events``) keeps its first
    assignment and is announced once."""
    if not events:
        return
    rules = await current_rules(uow, rules)
    schools = await uow.directory.get_schools(school_ids=[event.student.school_id for event in events])
    networks = {school.network.id for school in schools.values() if school.network}
    firsts: dict[UUID, InquirySubmitted] = {}
    for event in events:
        firsts.setdefault(event.inquiry_id, event)  # the first of each inquiry counts

    def decide(staff: StaffPool) -> list[tuple[Assignment, InquiryAssigned]]:
        return [
            domain.assign(event, school=schools.get(event.student.school_id), staff=staff, rules=rules, now=now)
            for event in firsts.values()
        ]

    staff, decided = await decided_with_staff(uow, networks, decide)
    new = await uow.assignments.insert_new(assignments=[assignment for assignment, _ in decided])
    for assignment, assigned in decided:
        if assignment.inquiry_id in new:
            uow.emit(ROUTING_EVENTS, assigned)
        else:
            staff.release(assignment.assignee_id)  # assigned before: the load it took back
    await uow.staff.add_load(changes=staff.changed())


async def follow_lifecycle(
    uow: RoutingUnitOfWork, events: Sequence[LifecycleEvent], *, rules: Rules, now: datetime
) -> None:
    """Move each inquiry's clocks as its case moves (see ``domain.follow``), in the order of ``events``. The time of a
    step is when it happened (never later than ``now``). An event for an inquiry routing never assigned raises
    ``UnknownInquiry``: it cannot be applied, and is parked with the reason."""
    if not events:
        return
    rules = await current_rules(uow, rules)
    locked = await uow.assignments.lock(inquiry_ids=[event.inquiry_id for event in events])
    unknown = sorted({str(event.inquiry_id) for event in events if event.inquiry_id not in locked})
    if unknown:
        raise UnknownInquiry(f"routing never assigned inquiry {', '.join(unknown)}")

    def decide(staff: StaffPool) -> dict[UUID, Assignment]:
        changed: dict[UUID, Assignment] = {}
        for event in events:
            current = changed.get(event.inquiry_id, locked[event.inquiry_id])
            at = min(event.occurred_at, now)
            changed[event.inquiry_id] = domain.follow(current, _KINDS[type(event)], at=at, rules=rules, staff=staff)
        return changed

    staff, changed = await decided_with_staff(uow, {a.network.id for a in locked.values()}, decide)
    await uow.assignments.save(assignments=list(changed.values()), now=now)
    await uow.staff.add_load(changes=staff.changed())


async def apply_inquiry_events(
    uow: RoutingUnitOfWork, events: Sequence[InquirySubmitted | LifecycleEvent], *, rules: Rules, now: datetime
) -> None:
    """Intake's events in their order on the topic (one inquiry's events are on one partition, in order): runs of
    submissions are assigned, runs of lifecycle steps move clocks."""
    run: list[InquirySubmitted | LifecycleEvent] = []
    for event in [*events, None]:
        if run and (event is None or isinstance(event, InquirySubmitted) != isinstance(run[0], InquirySubmitted)):
            if isinstance(run[0], InquirySubmitted):
                await assign_inquiries(uow, [e for e in run if isinstance(e, InquirySubmitted)], rules=rules, now=now)
            else:
                await follow_lifecycle(uow, [e for e in run if isinstance(e, LifecycleEvent)], rules=rules, now=now)
            run = []
        if event is not None:
            run.append(event)


async def fire_due(uow: RoutingUnitOfWork, *, rules: Rules, now: datetime, limit: int) -> int:
    """Claim up to ``limit`` inquiries whose next warning, escalation or breach is due (rows other replicas hold are
    skipped), fire everything due on each, and save the new state with its events and history in this transaction:
    each fires exactly once whatever the number of replicas. Returns how many inquiries were claimed."""
    claimed = await uow.assignments.claim_due(now=now, limit=limit)
    if not claimed:
        return 0
    rules = await current_rules(uow, rules)
    staff, fired = await decided_with_staff(
        uow,
        {a.network.id for a in claimed},
        lambda staff: [domain.fire(assignment, now=now, rules=rules, staff=staff) for assignment in claimed],
    )
    await uow.assignments.save(assignments=[f.assignment for f in fired], now=now)
    await _announce(uow, [event for f in fired for event in f.events])
    await uow.staff.add_load(changes=staff.changed())  # written last, after the outbox: locked only for the commit
    return len(claimed)


async def start_missing_clocks(uow: RoutingUnitOfWork, *, rules: Rules, now: datetime) -> int:
    """Give clocks to the open inquiries assigned before clocks existed (see ``domain.start_clocks``); run at start
    by every replica (each takes the rows the others do not hold). Returns how many got clocks."""
    old = await uow.assignments.lock_without_clocks()
    if not old:
        return 0
    rules = await current_rules(uow, rules)
    staff, started = await decided_with_staff(
        uow,
        {a.network.id for a in old},
        lambda staff: [domain.start_clocks(assignment, rules=rules, staff=staff) for assignment in old],
    )
    await uow.assignments.save(assignments=started, now=now)
    await uow.staff.add_load(changes=staff.changed())
    return len(started)


async def _announce(uow: RoutingUnitOfWork, events: Sequence[InquiryEvent]) -> None:
    """Emit routing's events about inquiries and keep each in its inquiry's routing history."""
    for event in events:
        uow.emit(ROUTING_EVENTS, event)
    await uow.assignments.add_history(entries=[domain.history_of(event) for event in events])


async def next_due(uow: RoutingUnitOfWork) -> datetime | None:
    return await uow.assignments.next_due()


@dataclass(frozen=True)
class ClosureAdded:
    day: date
    reason: str
    moved: int


async def add_closure(uow: RoutingUnitOfWork, *, day: date, reason: str, rules: Rules, now: datetime) -> ClosureAdded:
    """Close the offices on ``day`` (an emergency closure): every inquiry in flight whose deadline moves is saved
    with its new deadline and announced (``inquiry.deadline_moved``), and the closure itself is announced
    (``calendar.closure_added`` on ``psc.calendar.events``). A day already past, or already closed, is
    refused; today is allowed (a closure called in the morning)."""
    today = rules.calendar.local_day(now)
    if day < today:
        raise PastDay(f"is in the past (today is {today} on the district's clock)")
    before = await current_rules(uow, rules)
    if not await uow.calendar.add_closure(day=day, reason=reason, now=now):
        raise Refused(f"{day} is already an emergency closure day")
    after = replace(before, calendar=before.calendar.with_closure(day, reason))
    moved: list[Assignment] = []
    announced: list[InquiryEvent] = []
    for assignment in await uow.assignments.lock_open():
        event = domain.moved_by_closure(clocks.scheduled(assignment, before), rules=after, now=now)
        if event is not None:
            moved.append(clocks.scheduled(assignment, after))
            announced.append(event)
    await uow.assignments.save(assignments=moved, now=now)
    await _announce(uow, announced)
    # In the same transaction as the closure: the other clocks on the district calendar (catalog's referrals) learn
    # of every closure routing records, and of none it does not.
    uow.emit(
        CALENDAR_EVENTS,
        CalendarClosureAdded(occurred_at=now, correlation_id=f"closure-{day.isoformat()}", day=day, reason=reason),
    )
    return ClosureAdded(day=day, reason=reason, moved=len(moved))


@dataclass(frozen=True)
class DirectoryLoaded:
    """How many schools went into the directory, and the rows of the school list left out."""

    schools: int
    problems: list[RowProblem]


@dataclass(frozen=True)
class SchoolsLoaded:
    """A new school list: how many schools, how many changed network, how many open inquiries were rerouted."""

    schools: int
    moved_schools: int
    rerouted: int


async def load_schools(
    uow: RoutingUnitOfWork, schools: Sequence[School], *, rules: Rules, now: datetime
) -> SchoolsLoaded:
    """Load a new school list (already validated whole) and send the open inquiries of every school that changed
    network to its new network at the same tier, elapsed time kept, each announced as ``inquiry.rerouted``."""
    before = await uow.directory.get_schools(school_ids=[school.id for school in schools])
    await uow.directory.upsert(schools=schools)
    moved = {
        school.id: school
        for school in schools
        if school.id in before and _network_id(before[school.id]) != _network_id(school)
    }
    rerouted = 0
    if moved:
        rules = await current_rules(uow, rules)
        open_ones = await uow.assignments.lock_open(school_ids=list(moved))

        def decide(staff: StaffPool) -> list[tuple[Assignment, InquiryRerouted]]:
            return [
                result
                for assignment in open_ones
                if (
                    result := domain.reroute(assignment, moved[assignment.school_id], rules=rules, staff=staff, now=now)
                )
            ]

        networks = {a.network.id for a in open_ones} | {n for s in moved.values() if (n := _network_id(s))}
        staff, rerouted_ones = await decided_with_staff(uow, networks, decide)
        changed = [assignment for assignment, _ in rerouted_ones]
        announced: list[InquiryEvent] = [event for _, event in rerouted_ones]
        await uow.assignments.save(assignments=changed, now=now)
        await _announce(uow, announced)
        await uow.staff.add_load(changes=staff.changed())
        rerouted = len(changed)
    return SchoolsLoaded(schools=len(schools), moved_schools=len(moved), rerouted=rerouted)


@dataclass(frozen=True)
class Origin:
    """Where a message stood on the broker (for a rejection to point at)."""

    topic: str
    partition: int
    offset: int


async def apply_published_school_list(
    uow: RoutingUnitOfWork, published: SchoolListPublished, *, origin: Origin, rules: Rules, now: datetime
) -> SchoolsLoaded | None:
    """A school list published on the directory topic: loaded as ``psc load-schools`` loads one, or, with any bad
    row, nothing loaded and ``directory.school_list_rejected`` naming each bad line. None when refused."""
    schools, problems = files.schools_or_problems(published.csv, strict=True)
    if problems:
        log.warning("school list refused", list_id=published.list_id, problems=len(problems))
        uow.emit(
            DIRECTORY_UPDATES,
            SchoolListRejected(
                occurred_at=now,
                correlation_id=published.correlation_id,
                list_id=published.list_id,
                errors=[FieldError(field="csv", reason=problem) for problem in problems],
                origin_topic=origin.topic,
                origin_partition=origin.partition,
                origin_offset=origin.offset,
            ),
        )
        return None
    return await load_schools(uow, schools, rules=rules, now=now)


async def reassign(uow: RoutingUnitOfWork, inquiry_id: UUID, staff_id: str, *, now: datetime) -> Assignment | None:
    """Another staff member of the same tier and network takes the inquiry; its clocks go on as they were.
    Announced as ``inquiry.reassigned``. None when routing never assigned the inquiry; ``Refused`` when that staff
    member cannot take it."""
    locked = await uow.assignments.lock(inquiry_ids=[inquiry_id])
    assignment = locked.get(inquiry_id)
    if assignment is None:
        return None
    staff = await uow.staff.pool(network_ids={assignment.network.id})
    try:
        moved, event = domain.reassign(assignment, staff_id, staff=staff, now=now)
    except ValueError as refused:
        raise Refused(str(refused)) from None
    await uow.assignments.save(assignments=[moved], now=now)
    await _announce(uow, [event])
    await uow.staff.add_load(changes=staff.changed())
    return moved


def _network_id(school: School) -> str | None:
    return school.network.id if school.network else None


async def put_staff(uow: RoutingUnitOfWork, staff: Sequence[Staff], *, now: datetime, only_new: bool) -> list[Staff]:
    """Add or change staff members (``only_new``: add the ones not on file, as the staff file's seed does) and
    announce each added or changed one as ``staff.updated`` with their name and work email (intake follows it for
    sign-in accounts, notify for staff emails). A network the directory does not know is refused."""
    unknown = {m.network_id for m in staff} - await uow.staff.known_networks(network_ids={m.network_id for m in staff})
    if unknown:
        raise Refused(f"no such network in the directory: {', '.join(sorted(unknown))}")
    changed = await uow.staff.upsert(staff=staff, only_new=only_new, now=now)
    for member in changed:
        uow.emit(
            STAFF_EVENTS,
            StaffUpdated(
                occurred_at=now,
                correlation_id=f"staff-{member.id}",
                staff_id=member.id,
                role=member.role,
                network_id=member.network_id,
                active=member.active,
                name=member.name,
                email=member.email,
            ),
        )
    return changed


async def list_staff(uow: RoutingUnitOfWork, *, network_id: str | None = None) -> list[Staff]:
    return await uow.staff.all(network_id=network_id)


async def routing_state(
    uow: RoutingUnitOfWork, inquiry_id: UUID, *, rules: Rules
) -> tuple[Assignment, list[HistoryEntry], Rules] | None:
    """The inquiry's routing state, the history of what fired, and the rules in force (for time left)."""
    assignment = await uow.assignments.get(inquiry_id=inquiry_id)
    if assignment is None:
        return None
    return assignment, await uow.assignments.history(inquiry_id=inquiry_id), await current_rules(uow, rules)


async def network_queue(
    uow: RoutingUnitOfWork, network_id: str, *, rules: Rules, now: datetime
) -> list[tuple[Assignment, int | None]]:
    """A network's open inquiries, least business time left first (paused ones last)."""
    rules = await current_rules(uow, rules)
    return domain.queue_order(await uow.assignments.open_in_network(network_id=network_id), rules, now)


async def load_directory(uow: RoutingUnitOfWork, rows: list[dict[str, str]]) -> DirectoryLoaded:
    """Upsert the district's school list (its rows, as read from the CSV) into the directory; rows that fail
    validation are reported and left out."""
    schools, problems = directory.schools_from_rows(rows)
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
