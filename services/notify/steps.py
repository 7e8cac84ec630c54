"""Who is told what at each step of a case, pure: an event of ``psc.inquiries.events`` or ``psc.routing.events``, the
parent's contact and the staff directory in; the deliveries to queue (and the contact's new office) out.

Parent: received (inquiry.submitted), assigned (inquiry.assigned), escalated (inquiry.escalated), waiting on the
parent (inquiry.waiting_on_parent, with the question), a note visible to the parent (inquiry.note_added, announced
only), resolved (inquiry.resolved, with the summary), reopened (inquiry.reopened).
Staff, by email: an inquiry assigned to them (inquiry.assigned, .reassigned, .rerouted with an assignee), an SLA
warning (inquiry.sla_warning, to the assignee), an escalation reaching a PSA or central (inquiry.escalated to the
'psa' or 'central' tier, to the new assignee). Every other event changes nothing or only the office on file.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from uuid import UUID

from services.notify import sms
from services.notify.domain import (
    Contact,
    Plan,
    PlannedDelivery,
    Renderer,
    StaffMember,
    Suppressed,
    parent_context,
    plan_parent_message,
    plan_staff_message,
)
from services.notify.resources import NO_RESOURCES, resource_variables
from shared.contracts.catalog import ResourceView
from shared.contracts.envelope import InquiryEvent
from shared.contracts.inquiries import InquirySubmitted
from shared.contracts.lifecycle import (
    InquiryNoteAdded,
    InquiryReopened,
    InquiryResolved,
    InquiryWaitingOnParent,
)
from shared.contracts.routing import (
    InquiryAssigned,
    InquiryEscalated,
    InquiryReassigned,
    InquiryRerouted,
    InquirySlaWarning,
)

STAFF_ESCALATION_TIERS = frozenset({"psa", "central"})


@dataclass(frozen=True)
class Step:
    """What one event asks of notify."""

    deliveries: list[PlannedDelivery]
    contact: Contact
    """The contact as it stands after the event (its office may have changed)."""


@dataclass(frozen=True)
class Directory:
    staff: Mapping[str, StaffMember]
    suppressed: Suppressed
    renderer: Renderer
    new_id: Callable[[], UUID]
    status_base_url: str
    answers: Mapping[str, Sequence[ResourceView]] = field(default_factory=dict)
    """The catalog's fresh answers by inquiry category: an acknowledgment of one of them names its resources now."""


def chicago(moment: datetime | None) -> str:
    """A deadline as staff read it: Chicago time, to the minute; '' when there is none."""
    if moment is None:
        return ""
    return moment.astimezone(sms.CHICAGO).strftime("%a %d %b %Y %H:%M")


def step_for(event: InquiryEvent, contact: Contact, directory: Directory, *, now: datetime) -> Step:
    """The deliveries ``event`` asks for; none for an event no one is told of."""
    contact = _with_office(event, contact)
    parent: tuple[str, dict[str, str | None]] | None = None
    staff: list[tuple[str, str, dict[str, str]]] = []
    if isinstance(event, InquirySubmitted):
        answer = directory.answers.get(event.category.value)
        # Without a fresh answer the resources are filled in when the catalog answers (see resources.py).
        found = NO_RESOURCES if answer is None else resource_variables(answer, contact.language)
        parent = ("inquiry_received", dict(found))
    elif isinstance(event, InquiryAssigned):
        parent = ("inquiry_assigned", {})
        staff.append(("staff_assigned", event.assignee_id or "", {"tier": event.tier, "due_at": chicago(event.due_at)}))
    elif isinstance(event, InquiryEscalated):
        parent = ("inquiry_escalated", {})
        if event.to_tier in STAFF_ESCALATION_TIERS:
            extra = {"tier": event.to_tier, "from_tier": event.from_tier, "due_at": chicago(event.next_due_at)}
            staff.append(("staff_escalated", event.assignee_id or "", extra))
    elif isinstance(event, InquirySlaWarning):
        extra = {"tier": event.tier, "clock": event.clock.replace("_", " "), "due_at": chicago(event.escalates_at)}
        staff.append(("staff_sla_warning", event.assignee_id or "", extra))
    elif isinstance(event, InquiryReassigned | InquiryRerouted):
        staff.append(("staff_assigned", event.assignee_id or "", {"tier": event.tier, "due_at": chicago(event.due_at)}))
    elif isinstance(event, InquiryWaitingOnParent):
        parent = ("inquiry_waiting_on_parent", {"question": event.question})
    elif isinstance(event, InquiryNoteAdded) and event.visible_to_parent:
        parent = ("inquiry_note_added", {})
    elif isinstance(event, InquiryResolved):
        parent = ("inquiry_resolved", {"summary": event.summary})
    elif isinstance(event, InquiryReopened):
        parent = ("inquiry_reopened", {})
    deliveries: list[PlannedDelivery] = []
    if parent is not None:
        template, variables = parent
        told = parent_context(contact, status_base_url=directory.status_base_url, **variables)
        plan = Plan(template, told, event.event_id, event.correlation_id, now)
        deliveries += plan_parent_message(
            contact,
            plan,
            suppressed=directory.suppressed,
            renderer=directory.renderer,
            new_id=directory.new_id,
            both_channels=template == "inquiry_received",
        )
    for template, staff_id, extra in staff:
        member = directory.staff.get(staff_id)
        if member is None:
            continue
        context = {
            "staff_name": member.name or member.staff_id,
            "reference": contact.reference,
            "office_name": contact.office_name or "",
            "tier": "",
            "due_at": "",
            **extra,
        }
        plan = Plan(template, dict(context), event.event_id, event.correlation_id, now)
        staff_delivery = plan_staff_message(
            member,
            plan,
            inquiry_id=contact.inquiry_id,
            suppressed=directory.suppressed,
            renderer=directory.renderer,
            new_id=directory.new_id(),
        )
        if staff_delivery is not None:
            deliveries.append(staff_delivery)
    return Step(deliveries, contact)


def _with_office(event: InquiryEvent, contact: Contact) -> Contact:
    """The office the parent is told of: the network (or central) that has the inquiry now."""
    if isinstance(event, InquiryAssigned | InquiryEscalated):
        return replace(contact, office_name=event.network_name)
    if isinstance(event, InquiryRerouted):
        return replace(contact, office_name=event.to_network_name)
    return contact
