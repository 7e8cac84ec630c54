"""An inquiry's routing state (``Assignment``: network, tier, assignee) and its two SLA clocks in the tier that has
it, and when the next warning, escalation or breach falls due on them (``next_step``, ``scheduled``)."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal
from uuid import UUID

from services.routing.directory import Network
from services.routing.policies import Rules
from shared.business_calendar import DistrictCalendar
from shared.contracts.inquiries import Urgency
from shared.contracts.routing import AssignmentReason, Queue, SlaClockName, Tier

CLOCKS: tuple[SlaClockName, ...] = ("first_response", "resolution")


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
        if not self.running or self.since is None:
            return None
        warn_in = self._warning_in(warning_at)
        return None if warn_in is None else calendar.add_business(self.since, warn_in)

    def _warning_in(self, warning_at: float) -> int | None:
        """Business seconds from ``since`` to the warning point; None once warned or when there is no point left."""
        if self.warned:
            return None
        point = math.ceil(self.target * warning_at)
        if point <= self.elapsed or point >= self.target:
            return None
        return point - self.elapsed

    def due_and_warning(
        self, since: datetime, calendar: DistrictCalendar, warning_at: float
    ) -> tuple[datetime, datetime | None]:
        """A running clock's ``due`` and ``warning_due`` (``since`` is its start), counted from one position on the
        calendar: the deadline worker asks both for every clock it looks at."""
        return calendar.add_business_two(since, self.target - self.elapsed, self._warning_in(warning_at))

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
            return clock_of(target, 0, None, True, False)
        return clock_of(target, 0, at if self.running else None, False, False)


def clock_of(target: int, elapsed: int, since: datetime | None, stopped: bool, warned: bool) -> SlaClock:
    """``SlaClock(...)`` for values known to be whole (read from the database, or a next tier's), without running the
    frozen dataclass' ``__init__`` (a field at a time through ``object.__setattr__``): the deadline worker makes two
    for every inquiry it escalates and reads two for every one it claims."""
    clock = object.__new__(SlaClock)
    clock.__dict__.update(target=target, elapsed=elapsed, since=since, stopped=stopped, warned=warned)
    return clock


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


def evolve(assignment: Assignment, **changes: object) -> Assignment:
    """``replace`` for the deadline worker's hot path: the same copy with some fields changed, without running
    ``__init__`` again (a tenth of the cost; the worker does this for every inquiry it fires)."""
    copy = object.__new__(Assignment)
    copy.__dict__.update(assignment.__dict__)
    copy.__dict__.update(changes)
    return copy


def _plan(assignment: Assignment, rules: Rules) -> tuple[Step | None, datetime | None]:
    """The next step and the tier's run-out, each clock's due time and warning point worked out once.

    At the same instant a run-out goes before a warning (its warning is then moot), first response before resolution.
    """
    if assignment.status != "open" or assignment.breached_at is not None:
        return None, None
    calendar, warning_at = rules.calendar, rules.policies.warning_at
    # The earliest by (instant, rank): rank 0 and 1 are the two clocks' run-outs, 2 and 3 their warnings.
    best_at: datetime | None = None
    best_rank = 0
    tier_due: datetime | None = None
    for index, clock in enumerate((assignment.first_response, assignment.resolution)):
        if clock is None or clock.stopped or clock.since is None:
            continue
        due, warn = clock.due_and_warning(clock.since, calendar, warning_at)
        if tier_due is None or due < tier_due:
            tier_due = due
        if best_at is None or due < best_at or (due == best_at and index < best_rank):
            best_at, best_rank = due, index
        if warn is not None and (warn < best_at or (warn == best_at and 2 + index < best_rank)):
            best_at, best_rank = warn, 2 + index
    if best_at is None:
        return None, None
    action: Action = "warning" if best_rank >= 2 else "breach" if assignment.tier == "central" else "escalation"
    return Step(best_at, action, CLOCKS[best_rank % 2]), tier_due


def next_step(assignment: Assignment, rules: Rules) -> Step | None:
    """The earliest warning or run-out of the running clocks; None for a resolved, breached or paused inquiry."""
    return _plan(assignment, rules)[0]


def scheduled(assignment: Assignment, rules: Rules) -> Assignment:
    """The assignment with ``due_at`` (when the tier runs out if nothing happens) and ``next_due_at`` (when the next
    warning, escalation or breach fires) worked out from its clocks."""
    if assignment.first_response is None and assignment.resolution is None:
        return assignment  # assigned before clocks existed: it keeps its stored due time and never fires
    step, due = _plan(assignment, rules)
    return evolve(assignment, next_due_at=step.at if step else None, due_at=due)


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
        evolve(assignment, tier=tier, tier_started_at=at, first_response=first, resolution=resolution), rules
    )
