"""Routing's rules, pure and synchronous: which queue serves a school, who gets an inquiry, the district's business
calendar, and the SLA clocks (warnings, escalation network -> PSA -> central, breach) that follow the case."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from uuid import UUID
from zoneinfo import ZoneInfo

from shared.contracts.envelope import InquiryEvent
from shared.contracts.inquiries import InquirySubmitted, Urgency
from shared.contracts.routing import (
    AssignmentReason,
    EscalationWhy,
    InquiryAssigned,
    InquiryDeadlineMoved,
    InquiryEscalated,
    InquiryReassigned,
    InquiryRerouted,
    InquirySlaBreached,
    InquirySlaWarning,
    Queue,
    SlaClockName,
    StaffRole,
    Tier,
)

CENTRAL_ID = "central"
CENTRAL_NAME = "Parent Support Center"
TIERS: tuple[Tier, ...] = ("network", "psa", "central")
URGENCIES: tuple[Urgency, ...] = ("normal", "urgent")
ROLE_OF_TIER: Mapping[Tier, StaffRole] = {"network": "network_staff", "psa": "psa", "central": "central_staff"}
CLOCKS: tuple[SlaClockName, ...] = ("first_response", "resolution")


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


# -- The district's business calendar -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DistrictCalendar:
    """Business hours on the district's clock, on weekdays that are not closed days.

    Closed days are the US and Illinois public holidays, the district's own calendar (breaks, school holidays) and
    emergency closures. SLA time is counted in business seconds: an hour at 16:30 on a Friday is thirty minutes that
    day and thirty on Monday morning. Business hours never span a daylight-saving change (at 2:00), so each day's
    window is taken on the wall clock and converted: the arithmetic is right on both change days.
    """

    zone: ZoneInfo
    opens: time = time(8, 0)
    closes: time = time(17, 0)
    closed_days: Mapping[date, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.closes <= self.opens:
            raise ValueError("business hours must close after they open")
        # Each day's business window in UTC (None when closed), worked out once: the deadline worker asks often.
        object.__setattr__(self, "_windows", {})

    @property
    def business_day_seconds(self) -> int:
        return (self.closes.hour * 3600 + self.closes.minute * 60) - (self.opens.hour * 3600 + self.opens.minute * 60)

    def closed_reason(self, day: date) -> str | None:
        """Why the offices are closed on ``day`` (a weekend, a holiday's name, a break); None on a business day."""
        if day.weekday() >= 5:
            return "weekend"
        return self.closed_days.get(day)

    def is_business_day(self, day: date) -> bool:
        return self.closed_reason(day) is None

    def with_closure(self, day: date, reason: str) -> DistrictCalendar:
        return replace(self, closed_days={**self.closed_days, day: reason})

    def local_day(self, at: datetime) -> date:
        return at.astimezone(self.zone).date()

    def _window(self, day: date) -> tuple[datetime, datetime] | None:
        """The day's business hours as UTC instants; None when the offices are closed that day."""
        windows: dict[date, tuple[datetime, datetime] | None] = self._windows  # type: ignore[attr-defined]
        if day not in windows:
            windows[day] = (
                (
                    datetime.combine(day, self.opens, tzinfo=self.zone).astimezone(UTC),
                    datetime.combine(day, self.closes, tzinfo=self.zone).astimezone(UTC),
                )
                if self.is_business_day(day)
                else None
            )
        return windows[day]

    def business_seconds(self, start: datetime, end: datetime) -> int:
        """Business seconds between two instants (0 when ``end`` is not after ``start``)."""
        if end <= start:
            return 0
        total = timedelta()
        day, last = self.local_day(start), self.local_day(end)
        while day <= last:
            window = self._window(day)
            if window is not None:
                overlap = min(window[1], end) - max(window[0], start)
                if overlap > _NOTHING:
                    total += overlap
            day += _ONE_DAY
        return int(total.total_seconds())

    def add_business(self, start: datetime, seconds: int) -> datetime:
        """The instant when ``seconds`` of business time have passed after ``start``.

        Zero seconds from a moment outside business hours is that moment (nothing is left to count). Time is counted
        from the next opening: an inquiry at 23:00 or at 7:59 starts counting at 8:00 of the next business day.
        """
        if seconds <= 0:
            return start
        left = timedelta(seconds=seconds)
        day = self.local_day(start)
        for _ in range(3660):  # ten years of days: a calendar closed for longer is a configuration error
            window = self._window(day)
            if window is not None:
                begin = max(window[0], start)
                available = window[1] - begin
                if available > _NOTHING:
                    if left <= available:
                        return begin + left
                    left -= available
            day += _ONE_DAY
        raise ValueError("the calendar has no business day for ten years")


_ONE_DAY = timedelta(days=1)
_NOTHING = timedelta()


# -- SLA policies ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Targets:
    """How much business time a tier has: to acknowledge (first response) and to resolve, in seconds."""

    first_response: int
    resolution: int

    def of(self, clock: SlaClockName) -> int:
        return self.first_response if clock == "first_response" else self.resolution


@dataclass(frozen=True)
class SlaPolicies:
    """The district's SLA policies: targets per category, urgency and tier; the warning point as a fraction."""

    version: str
    warning_at: float
    targets: Mapping[tuple[str, Urgency, Tier], Targets]

    def targets_for(self, category: str, urgency: Urgency, tier: Tier) -> Targets:
        found = self.targets.get((category, urgency, tier)) or self.targets.get(("other", urgency, tier))
        if found is None:
            raise KeyError(f"no SLA policy for category {category!r}, urgency {urgency!r}, tier {tier!r}")
        return found


# -- Staff ------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Staff:
    id: str
    name: str
    role: StaffRole
    network_id: str
    active: bool = True
    open_load: int = 0


class StaffPool:
    """Active staff of some networks with their open loads, to give inquiries out least-loaded first.

    Built from the rows a transaction locked; ``take`` and ``release`` change the loads as the use case assigns, and
    ``changed`` says which loads to write back.
    """

    def __init__(self, staff: Iterable[Staff]) -> None:
        self._staff = {member.id: member for member in staff}
        self._load = {member.id: member.open_load for member in self._staff.values()}
        self._start = dict(self._load)
        self._active: dict[tuple[str, StaffRole], list[str]] = {}
        for member in self._staff.values():
            if member.active:
                self._active.setdefault((member.network_id, member.role), []).append(member.id)

    def has(self, network_id: str, role: StaffRole) -> bool:
        return bool(self._active.get((network_id, role)))

    def take(self, network_id: str, role: StaffRole) -> str | None:
        """The least-loaded active staff member of ``role`` in ``network_id`` (ties by id), now one inquiry busier."""
        candidates = self._active.get((network_id, role))
        if not candidates:
            return None
        chosen = min(candidates, key=lambda staff_id: (self._load[staff_id], staff_id))
        self._load[chosen] += 1
        return chosen

    def is_active(self, staff_id: str, *, network_id: str, role: StaffRole) -> bool:
        return staff_id in self._active.get((network_id, role), [])

    def has_member(self, staff_id: str) -> bool:
        member = self._staff.get(staff_id)
        return member is not None and member.active

    def retake(self, staff_id: str) -> None:
        """``staff_id`` has one more inquiry (a reopened one comes back to its assignee)."""
        self._load[staff_id] += 1

    def release(self, staff_id: str | None) -> None:
        if staff_id is not None and staff_id in self._load:
            self._load[staff_id] = max(0, self._load[staff_id] - 1)

    def load(self, staff_id: str) -> int:
        return self._load[staff_id]

    def changed(self) -> dict[str, int]:
        """Staff id -> how much its open load changed (only the ones that did)."""
        return {i: self._load[i] - self._start[i] for i in self._load if self._load[i] != self._start[i]}


# -- SLA clocks -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SlaClock:
    """One SLA clock of the tier that has the inquiry: its target and the business time counted so far.

    ``elapsed`` is what was counted before ``since``; while running, business time since ``since`` adds to it. A
    paused clock (waiting on the parent) has no ``since``; a stopped one (acknowledged, resolved) never runs again
    in this tier. ``warned`` is whether this tier's warning for it went out.
    """

    target: int
    elapsed: int = 0
    since: datetime | None = None
    stopped: bool = False
    warned: bool = False

    @classmethod
    def started(cls, target: int, at: datetime) -> SlaClock:
        return cls(target=target, since=at)

    @property
    def running(self) -> bool:
        return self.since is not None and not self.stopped

    @property
    def paused(self) -> bool:
        return self.since is None and not self.stopped

    def elapsed_at(self, calendar: DistrictCalendar, now: datetime) -> int:
        if self.since is None or self.stopped:
            return self.elapsed
        return self.elapsed + calendar.business_seconds(self.since, now)

    def left_at(self, calendar: DistrictCalendar, now: datetime) -> int:
        """Business seconds left before it runs out (negative once past)."""
        return self.target - self.elapsed_at(calendar, now)

    def due(self, calendar: DistrictCalendar) -> datetime | None:
        """When it runs out if it keeps running; None while paused or stopped."""
        if not self.running or self.since is None:
            return None
        return calendar.add_business(self.since, self.target - self.elapsed)

    def warning_due(self, calendar: DistrictCalendar, warning_at: float) -> datetime | None:
        if not self.running or self.since is None or self.warned:
            return None
        point = math.ceil(self.target * warning_at)
        if point <= self.elapsed or point >= self.target:
            return None
        return calendar.add_business(self.since, point - self.elapsed)

    def pause(self, calendar: DistrictCalendar, at: datetime) -> SlaClock:
        if not self.running:
            return self
        return replace(self, elapsed=self.elapsed_at(calendar, at), since=None)

    def resume(self, at: datetime) -> SlaClock:
        return replace(self, since=at) if self.paused else self

    def stop(self, calendar: DistrictCalendar, at: datetime) -> SlaClock:
        if self.stopped:
            return self
        return replace(self, elapsed=self.elapsed_at(calendar, at), since=None, stopped=True)

    def restart(self, target: int, at: datetime) -> SlaClock:
        return SlaClock.started(target, at)

    def next_tier(self, target: int, at: datetime) -> SlaClock:
        """The next tier's clock: a new target from zero; running if this one ran, paused if paused, stopped if
        stopped (an acknowledged inquiry is not acknowledged again because it escalated)."""
        if self.stopped:
            return SlaClock(target=target, stopped=True)
        return SlaClock(target=target, since=at if self.running else None)


Action = Literal["warning", "escalation", "breach"]


@dataclass(frozen=True)
class Step:
    """What fires next on an inquiry's clocks, and when."""

    at: datetime
    action: Action
    clock: SlaClockName


@dataclass(frozen=True)
class Assignment:
    """Where routing has an inquiry (network, queue, tier, assignee) and its SLA clocks in that tier.

    ``next_due_at`` is when the next warning, escalation or breach fires (what the deadline worker claims by);
    ``due_at`` is when the tier runs out if nothing happens. Both are derived from the clocks by ``scheduled``.
    """

    inquiry_id: UUID
    category: str
    school_id: int
    network: Network
    queue: Queue
    tier: Tier
    reason: AssignmentReason
    assigned_at: datetime
    due_at: datetime | None
    urgency: Urgency = "normal"
    assignee_id: str | None = None
    status: Literal["open", "resolved"] = "open"
    tier_started_at: datetime | None = None
    first_response: SlaClock | None = None
    resolution: SlaClock | None = None
    next_due_at: datetime | None = None
    breached_at: datetime | None = None

    def clock(self, name: SlaClockName) -> SlaClock | None:
        return self.first_response if name == "first_response" else self.resolution

    def with_clock(self, name: SlaClockName, clock: SlaClock) -> Assignment:
        return replace(self, first_response=clock) if name == "first_response" else replace(self, resolution=clock)

    @property
    def paused(self) -> bool:
        return self.resolution is not None and self.resolution.paused


@dataclass(frozen=True)
class HistoryEntry:
    """A warning, escalation, breach, moved deadline or reroute, as the inquiry's routing history shows it."""

    inquiry_id: UUID
    event_type: str
    tier: Tier
    occurred_at: datetime
    clock: SlaClockName | None = None
    to_tier: Tier | None = None
    network_id: str | None = None
    assignee_id: str | None = None
    due_at: datetime | None = None
    detail: str | None = None


@dataclass(frozen=True)
class Rules:
    """What the clock rules need besides the inquiry: the calendar and the policies."""

    calendar: DistrictCalendar
    policies: SlaPolicies


def _evolve(assignment: Assignment, **changes: object) -> Assignment:
    """``replace`` for the deadline worker's hot path: the same copy with some fields changed, without running
    ``__init__`` again (a tenth of the cost; the worker does this for every inquiry it fires)."""
    copy = object.__new__(Assignment)
    copy.__dict__.update(assignment.__dict__)
    copy.__dict__.update(changes)
    return copy


def _plan(assignment: Assignment, rules: Rules) -> tuple[Step | None, datetime | None]:
    """The next step and the tier's run-out, each clock's due time worked out once."""
    if assignment.status != "open" or assignment.breached_at is not None:
        return None, None
    steps: list[Step] = []
    dues: list[datetime] = []
    for name in CLOCKS:
        clock = assignment.clock(name)
        if clock is None or not clock.running:
            continue
        warn = clock.warning_due(rules.calendar, rules.policies.warning_at)
        if warn is not None:
            steps.append(Step(warn, "warning", name))
        due = clock.due(rules.calendar)
        if due is not None:
            dues.append(due)
            steps.append(Step(due, "breach" if assignment.tier == "central" else "escalation", name))
    # At the same instant a run-out goes before a warning (its warning is then moot), first response before resolution.
    order = {"breach": 0, "escalation": 0, "warning": 1}
    step = min(steps, key=lambda s: (s.at, order[s.action], CLOCKS.index(s.clock)), default=None)
    return step, min(dues, default=None)


def next_step(assignment: Assignment, rules: Rules) -> Step | None:
    """The earliest warning or run-out of the running clocks; None for a resolved, breached or paused inquiry."""
    return _plan(assignment, rules)[0]


def scheduled(assignment: Assignment, rules: Rules) -> Assignment:
    """The assignment with ``due_at`` (when the tier runs out if nothing happens) and ``next_due_at`` (when the next
    warning, escalation or breach fires) worked out from its clocks."""
    if assignment.first_response is None and assignment.resolution is None:
        return assignment  # assigned before clocks existed: it keeps its stored due time and never fires
    step, due = _plan(assignment, rules)
    return _evolve(assignment, next_due_at=step.at if step else None, due_at=due)


def start_tier(assignment: Assignment, tier: Tier, *, at: datetime, rules: Rules, fresh: bool = False) -> Assignment:
    """The assignment in ``tier`` from ``at``: the tier's targets, both clocks from zero (a stopped first-response
    clock stays stopped unless ``fresh``)."""
    targets = rules.policies.targets_for(assignment.category, assignment.urgency, tier)
    if fresh or assignment.first_response is None or assignment.resolution is None:
        first, resolution = SlaClock.started(targets.first_response, at), SlaClock.started(targets.resolution, at)
    else:
        first = assignment.first_response.next_tier(targets.first_response, at)
        resolution = assignment.resolution.next_tier(targets.resolution, at)
    return scheduled(
        _evolve(assignment, tier=tier, tier_started_at=at, first_response=first, resolution=resolution), rules
    )


def _central() -> Network:
    return Network(CENTRAL_ID, CENTRAL_NAME)


def _sla_correlation(inquiry_id: UUID) -> str:
    return f"sla-{inquiry_id}"


def assign(
    event: InquirySubmitted,
    *,
    school: School | None,
    staff: StaffPool,
    rules: Rules,
    now: datetime,
) -> tuple[Assignment, InquiryAssigned]:
    """Give the inquiry to the network that serves the school (the central queue when there is none), to the
    least-loaded active staff member of the tier, and start its clocks."""
    queue: Queue
    tier: Tier
    reason: AssignmentReason
    if school is None:
        network, queue, tier, reason = _central(), "central", "central", "unknown_school"
    elif school.network is None:
        network, queue, tier, reason = _central(), "central", "central", "school_without_network"
    else:
        network, queue, tier, reason = school.network, "network", "network", "school_network"
    assignment = start_tier(
        Assignment(
            inquiry_id=event.inquiry_id,
            category=event.category.value,
            school_id=event.student.school_id,
            network=network,
            queue=queue,
            tier=tier,
            reason=reason,
            assigned_at=now,
            due_at=None,
            urgency=event.urgency,
            assignee_id=staff.take(network.id, ROLE_OF_TIER[tier]),
        ),
        tier,
        at=now,
        rules=rules,
        fresh=True,
    )
    assert assignment.due_at is not None  # fresh clocks run
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
        due_at=assignment.due_at,
        assignee_id=assignment.assignee_id,
    )
    return assignment, assigned


@dataclass(frozen=True)
class Fired:
    """What the deadline worker did to one inquiry: its new state and the events to emit (each kept in its history)."""

    assignment: Assignment
    events: list[InquiryEvent]


def fire(assignment: Assignment, *, now: datetime, rules: Rules, staff: StaffPool) -> Fired:
    """Everything due on the inquiry's clocks by ``now``, in order: warnings, escalation network -> PSA -> central
    (straight to central when the network has no active PSA), and the breach after central's time.

    Each step happens at its due time, not at ``now``: the next tier's clock starts when the last one ran out, so a
    late worker neither gives the next tier extra time nor takes it away.
    """
    events: list[InquiryEvent] = []
    current = assignment
    correlation = _sla_correlation(assignment.inquiry_id)
    for _ in range(8):  # at most a warning and a run-out per clock and tier
        if current is not assignment and (current.next_due_at is None or current.next_due_at > now):
            break  # what ``scheduled`` worked out after the last step says nothing more is due
        step = next_step(current, rules)
        if step is None or step.at > now:
            break
        clock = current.clock(step.clock)
        assert clock is not None
        if step.action == "warning":
            current = scheduled(current.with_clock(step.clock, replace(clock, warned=True)), rules)
            due = clock.due(rules.calendar)
            assert due is not None
            events.append(
                InquirySlaWarning(
                    inquiry_id=current.inquiry_id,
                    occurred_at=step.at,
                    correlation_id=correlation,
                    tier=current.tier,
                    clock=step.clock,
                    network_id=current.network.id,
                    assignee_id=current.assignee_id,
                    escalates_at=due,
                )
            )
        elif step.action == "breach":
            current = scheduled(replace(current, breached_at=step.at), rules)
            events.append(
                InquirySlaBreached(
                    inquiry_id=current.inquiry_id,
                    occurred_at=step.at,
                    correlation_id=correlation,
                    tier=current.tier,
                    clock=step.clock,
                    assignee_id=current.assignee_id,
                    due_at=step.at,
                )
            )
        else:
            current, escalated = _escalate(current, step, rules=rules, staff=staff, correlation=correlation)
            events.append(escalated)
    return Fired(current, events)


def history_of(event: InquiryEvent) -> HistoryEntry:
    """How a warning, escalation, breach, moved deadline or reroute shows in the inquiry's routing history."""
    base = (event.inquiry_id, event.event_type)
    if isinstance(event, InquirySlaWarning):
        return HistoryEntry(
            *base,
            event.tier,
            event.occurred_at,
            clock=event.clock,
            network_id=event.network_id,
            assignee_id=event.assignee_id,
            due_at=event.escalates_at,
        )
    if isinstance(event, InquiryEscalated):
        return HistoryEntry(
            *base,
            event.from_tier,
            event.occurred_at,
            clock=event.clock,
            to_tier=event.to_tier,
            network_id=event.network_id,
            assignee_id=event.assignee_id,
            due_at=event.next_due_at,
            detail=event.why,
        )
    if isinstance(event, InquirySlaBreached):
        return HistoryEntry(
            *base, event.tier, event.occurred_at, clock=event.clock, assignee_id=event.assignee_id, due_at=event.due_at
        )
    if isinstance(event, InquiryDeadlineMoved):
        return HistoryEntry(
            *base,
            event.tier,
            event.occurred_at,
            due_at=event.due_at,
            detail=f"{event.reason}; was {event.previous_due_at}",
        )
    if isinstance(event, InquiryRerouted):
        return HistoryEntry(
            *base,
            event.tier,
            event.occurred_at,
            network_id=event.to_network_id,
            assignee_id=event.assignee_id,
            due_at=event.due_at,
            detail=f"school {event.school_id} moved from {event.from_network_id}",
        )
    if isinstance(event, InquiryReassigned):
        return HistoryEntry(
            *base,
            event.tier,
            event.occurred_at,
            network_id=event.network_id,
            assignee_id=event.assignee_id,
            due_at=event.due_at,
            detail=f"from {event.from_assignee_id}",
        )
    raise TypeError(f"{event.event_type} is not kept in the routing history")


def _escalate(
    assignment: Assignment, step: Step, *, rules: Rules, staff: StaffPool, correlation: str
) -> tuple[Assignment, InquiryEscalated]:
    why: EscalationWhy = "next_tier"
    to_tier: Tier
    if assignment.tier == "network" and staff.has(assignment.network.id, "psa"):
        to_tier, network, queue = "psa", assignment.network, assignment.queue
    else:
        if assignment.tier == "network":
            why = "no_psa_on_file"
        to_tier, network, queue = "central", _central(), "central"
    staff.release(assignment.assignee_id)
    moved = _evolve(assignment, network=network, queue=queue, assignee_id=staff.take(network.id, ROLE_OF_TIER[to_tier]))
    moved = start_tier(moved, to_tier, at=step.at, rules=rules)
    event = InquiryEscalated(
        inquiry_id=assignment.inquiry_id,
        occurred_at=step.at,
        correlation_id=correlation,
        from_tier=assignment.tier,
        to_tier=to_tier,
        clock=step.clock,
        why=why,
        network_id=network.id,
        network_name=network.name,
        assignee_id=moved.assignee_id,
        due_at=step.at,
        next_due_at=moved.due_at,
    )
    return moved, event


LifecycleKind = Literal["acknowledged", "waiting_on_parent", "parent_replied", "resolved", "reopened"]


def follow(assignment: Assignment, kind: LifecycleKind, *, at: datetime, rules: Rules, staff: StaffPool) -> Assignment:
    """The clocks after a step of the case: acknowledgment stops first response; waiting on the parent pauses
    resolution and the reply resumes it; resolution stops both; reopening starts resolution again from zero in the
    tier that has the inquiry (and lifts a breach: it is a new chance)."""
    first, resolution = assignment.first_response, assignment.resolution
    if first is None or resolution is None:
        return assignment  # assigned before clocks existed
    calendar = rules.calendar
    if kind == "reopened":
        if assignment.status != "resolved":
            return assignment
        targets = rules.policies.targets_for(assignment.category, assignment.urgency, assignment.tier)
        assignee = assignment.assignee_id
        if assignee is not None and staff.has_member(assignee):
            staff.retake(assignee)
        else:
            assignee = staff.take(assignment.network.id, ROLE_OF_TIER[assignment.tier])
        changed = replace(
            assignment,
            status="open",
            breached_at=None,
            assignee_id=assignee,
            resolution=resolution.restart(targets.resolution, at),
        )
    elif assignment.status != "open":
        return assignment  # a resolved inquiry's clocks are stopped already
    elif kind == "acknowledged":
        changed = replace(assignment, first_response=first.stop(calendar, at))
    elif kind == "waiting_on_parent":
        changed = replace(assignment, resolution=resolution.pause(calendar, at))
    elif kind == "parent_replied":
        changed = replace(assignment, resolution=resolution.resume(at))
    else:  # resolved
        staff.release(assignment.assignee_id)
        changed = replace(
            assignment,
            status="resolved",
            first_response=first.stop(calendar, at),
            resolution=resolution.stop(calendar, at),
        )
    return scheduled(changed, rules)


def moved_by_closure(assignment: Assignment, *, rules: Rules, now: datetime) -> InquiryDeadlineMoved | None:
    """After the calendar changed: the inquiry's announcement when its deadline moved; None when it did not."""
    rescheduled = scheduled(assignment, rules)
    if rescheduled.due_at == assignment.due_at:
        return None
    return InquiryDeadlineMoved(
        inquiry_id=assignment.inquiry_id,
        occurred_at=now,
        correlation_id=_sla_correlation(assignment.inquiry_id),
        tier=assignment.tier,
        reason="closure",
        previous_due_at=assignment.due_at,
        due_at=rescheduled.due_at,
    )


def reroute(
    assignment: Assignment, school: School, *, rules: Rules, staff: StaffPool, now: datetime
) -> tuple[Assignment, InquiryRerouted] | None:
    """An open inquiry whose school now belongs to another network goes there at the same tier, its clocks as they
    are (elapsed time kept), to the least-loaded staff of the tier there. A school that lost its network sends it to
    the central queue (tier central, elapsed time kept). None when nothing moves (central tier, same network)."""
    if assignment.status != "open" or assignment.tier == "central":
        return None
    target = school.network
    if target is not None and target.id == assignment.network.id:
        return None
    staff.release(assignment.assignee_id)
    tier: Tier
    queue: Queue
    if target is None:
        network, tier, queue = _central(), "central", "central"
        targets = rules.policies.targets_for(assignment.category, assignment.urgency, "central")
        first, resolution = assignment.first_response, assignment.resolution
        moved = replace(
            assignment,
            network=network,
            queue=queue,
            tier=tier,
            first_response=replace(first, target=targets.first_response) if first else None,
            resolution=replace(resolution, target=targets.resolution) if resolution else None,
        )
    else:
        network = target
        moved = replace(assignment, network=network)
    moved = scheduled(replace(moved, assignee_id=staff.take(network.id, ROLE_OF_TIER[moved.tier])), rules)
    event = InquiryRerouted(
        inquiry_id=assignment.inquiry_id,
        occurred_at=now,
        correlation_id=_sla_correlation(assignment.inquiry_id),
        school_id=school.id,
        from_network_id=assignment.network.id,
        to_network_id=network.id,
        to_network_name=network.name,
        tier=moved.tier,
        assignee_id=moved.assignee_id,
        due_at=moved.due_at,
    )
    return moved, event


def reassign(
    assignment: Assignment, staff_id: str, *, staff: StaffPool, now: datetime
) -> tuple[Assignment, InquiryReassigned]:
    """Give the inquiry to another active staff member of its tier's role in its network; the clocks go on as they
    were (elapsed time kept, no new deadline). Raises ``ValueError`` with the reason when that cannot be."""
    if assignment.status != "open":
        raise ValueError("the inquiry is resolved: reopen it first")
    role = ROLE_OF_TIER[assignment.tier]
    if not staff.is_active(staff_id, network_id=assignment.network.id, role=role):
        raise ValueError(f"{staff_id} is not active {role} of {assignment.network.id}")
    if staff_id == assignment.assignee_id:
        raise ValueError(f"{staff_id} has it already")
    staff.release(assignment.assignee_id)
    staff.retake(staff_id)
    moved = _evolve(assignment, assignee_id=staff_id)
    event = InquiryReassigned(
        inquiry_id=assignment.inquiry_id,
        occurred_at=now,
        correlation_id=_sla_correlation(assignment.inquiry_id),
        tier=assignment.tier,
        network_id=assignment.network.id,
        from_assignee_id=assignment.assignee_id,
        assignee_id=staff_id,
        due_at=assignment.due_at,
    )
    return moved, event


def queue_order(assignments: Sequence[Assignment], rules: Rules, now: datetime) -> list[tuple[Assignment, int | None]]:
    """A network's open inquiries with the business seconds left on the tier (None while paused), least time first;
    paused ones last."""
    rows: list[tuple[Assignment, int | None]] = []
    for assignment in assignments:
        left = [
            clock.left_at(rules.calendar, now)
            for name in CLOCKS
            if (clock := assignment.clock(name)) is not None and clock.running
        ]
        rows.append((assignment, min(left) if left else None))
    return sorted(rows, key=lambda row: (row[1] is None, row[1] if row[1] is not None else 0))
