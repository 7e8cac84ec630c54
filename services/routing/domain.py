"""Routing's decisions, pure and synchronous: who gets a new inquiry, what fires when its clocks run out (warnings,
escalation network -> PSA -> central, breach), how the clocks follow the case, closures, reroutes, reassignment, and
what each shows in the inquiry's history. The parts they stand on have their own modules: ``directory`` (networks,
schools), ``calendar`` (business time), ``policies`` (targets, ``Rules``), ``staff`` (the pool) and ``clocks``
(``SlaClock``, ``Assignment``, scheduling)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal, NamedTuple
from uuid import UUID

from services.routing.clocks import CLOCKS, Assignment, Step, evolve, next_step, scheduled, start_tier
from services.routing.directory import CENTRAL_ID, CENTRAL_NAME, Network, School
from services.routing.policies import Rules
from services.routing.staff import ROLE_OF_TIER, StaffPool
from shared.contracts.envelope import InquiryEvent
from shared.contracts.inquiries import InquirySubmitted
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
    Tier,
)


class HistoryEntry(NamedTuple):
    """A warning, escalation, breach, moved deadline or reroute, as the inquiry's routing history shows it (a named
    tuple: the deadline worker writes one for every event it fires, and it goes to the database as it is)."""

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
    late worker neither gives the next tier extra time nor takes it away. (The events are validated as they are
    built: ``model_construct`` measured no faster, as pydantic inspects the event id's default factory each call.)
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
    moved = evolve(assignment, network=network, queue=queue, assignee_id=staff.take(network.id, ROLE_OF_TIER[to_tier]))
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


def start_clocks(assignment: Assignment, *, rules: Rules, staff: StaffPool) -> Assignment:
    """An open inquiry assigned before clocks existed (migration 0003) gets them: its tier's clocks counted from when
    it was assigned, on today's policy and calendar, and the least-loaded staff of the tier when nobody has it. What
    is already past due then fires through the deadline worker, each step at its own due time."""
    if assignment.first_response is not None or assignment.resolution is not None or assignment.status != "open":
        return assignment
    assignee = assignment.assignee_id or staff.take(assignment.network.id, ROLE_OF_TIER[assignment.tier])
    return start_tier(
        evolve(assignment, assignee_id=assignee), assignment.tier, at=assignment.assigned_at, rules=rules, fresh=True
    )


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
    moved = evolve(assignment, assignee_id=staff_id)
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
