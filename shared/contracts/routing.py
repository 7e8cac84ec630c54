"""Routing's events: where an inquiry went, who has it, its SLA clocks (warnings, escalations, breaches, moved
deadlines) and the staff directory routing owns."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field, StrictBool, StrictInt

from shared.contracts.envelope import Event, InquiryEvent
from shared.contracts.text import Email, Text

Queue = Literal["network", "central"]
Tier = Literal["network", "psa", "central"]
AssignmentReason = Literal["school_network", "school_without_network", "unknown_school"]
SlaClockName = Literal["first_response", "resolution"]
StaffRole = Literal["network_staff", "psa", "central_staff", "auditor"]
"""Auditors read (audit log, cases) and are never assigned inquiries."""
EscalationWhy = Literal["next_tier", "no_psa_on_file"]
DeadlineMoveReason = Literal["closure"]


class InquiryAssigned(InquiryEvent):
    """An inquiry was given to the queue that serves the student's school."""

    event_type: Literal["inquiry.assigned"] = "inquiry.assigned"
    network_id: Text = Field(description="Directory id of the network office (or 'central')")
    network_name: Text = Field(description="Name staff and parents know it by, e.g. 'Network 4'")
    queue: Queue = Field(description="'network' when a network office has it, 'central' for the Parent Support Center")
    tier: Tier = Field(description="Escalation tier that holds the inquiry now")
    reason: AssignmentReason = Field(description="Why this queue was chosen")
    school_id: StrictInt = Field(description="The student's school id as submitted")
    school_name: Text | None = Field(None, description="The school's name, when the directory knows the school")
    due_at: AwareDatetime = Field(description="When the inquiry escalates if nothing happens (business calendar)")
    assignee_id: Text | None = Field(
        None, description="Staff id of the assignee (least-loaded active staff of the tier); None: nobody on file"
    )


class InquirySlaWarning(InquiryEvent):
    """A tier's clock passed its warning point (75% of its time by default): the assignee should act now."""

    event_type: Literal["inquiry.sla_warning"] = "inquiry.sla_warning"
    tier: Tier = Field(description="Tier whose time is running out")
    clock: SlaClockName = Field(description="Which clock: first response (acknowledgment) or resolution")
    network_id: Text = Field(description="Network (or 'central') that has the inquiry")
    assignee_id: Text | None = Field(None, description="Staff id of the assignee")
    escalates_at: AwareDatetime = Field(description="When this clock runs out if nothing happens")


class InquiryEscalated(InquiryEvent):
    """A tier's time ran out: the inquiry went to the next tier, whose clock starts now."""

    event_type: Literal["inquiry.escalated"] = "inquiry.escalated"
    from_tier: Tier = Field(description="Tier whose time ran out")
    to_tier: Tier = Field(description="Tier that has the inquiry now")
    clock: SlaClockName = Field(description="The clock that ran out")
    why: EscalationWhy = Field(
        description="'next_tier', or 'no_psa_on_file': the network has no active PSA, so it went straight to central"
    )
    network_id: Text = Field(description="Network (or 'central') that has the inquiry now")
    network_name: Text = Field(description="Its name")
    assignee_id: Text | None = Field(None, description="Staff id of the new assignee; None when nobody is on file")
    due_at: AwareDatetime = Field(description="When the tier's clock had run out")
    next_due_at: AwareDatetime | None = Field(
        description="When the new tier escalates (or breaches) if nothing happens; None while its clocks are paused"
    )


class InquirySlaBreached(InquiryEvent):
    """Central's time ran out too: the district's service level was missed. Announced once per inquiry."""

    event_type: Literal["inquiry.sla_breached"] = "inquiry.sla_breached"
    tier: Tier = Field(description="Always 'central': the last tier")
    clock: SlaClockName = Field(description="The clock that ran out")
    assignee_id: Text | None = Field(None, description="Staff id of the assignee")
    due_at: AwareDatetime = Field(description="When central's clock ran out")


class InquiryDeadlineMoved(InquiryEvent):
    """The inquiry's deadline moved because the calendar changed (an emergency closure day)."""

    event_type: Literal["inquiry.deadline_moved"] = "inquiry.deadline_moved"
    tier: Tier = Field(description="Tier that has the inquiry")
    reason: DeadlineMoveReason = Field(description="Why it moved")
    previous_due_at: AwareDatetime | None = Field(description="When it would have escalated before")
    due_at: AwareDatetime | None = Field(description="When it escalates now")


class InquiryRerouted(InquiryEvent):
    """The student's school moved to another network: the inquiry went there at the same tier, elapsed time kept."""

    event_type: Literal["inquiry.rerouted"] = "inquiry.rerouted"
    school_id: StrictInt = Field(description="The school that changed network")
    from_network_id: Text = Field(description="Network that had the inquiry")
    to_network_id: Text = Field(description="Network that has it now (or 'central')")
    to_network_name: Text = Field(description="Its name")
    tier: Tier = Field(description="Tier, the same as before")
    assignee_id: Text | None = Field(None, description="Staff id of the new assignee")
    due_at: AwareDatetime | None = Field(description="When it escalates if nothing happens")


class InquiryReassigned(InquiryEvent):
    """Another staff member of the same tier and network has the inquiry now; its clocks go on as they were."""

    event_type: Literal["inquiry.reassigned"] = "inquiry.reassigned"
    tier: Tier = Field(description="Tier, the same as before")
    network_id: Text = Field(description="Network (or 'central'), the same as before")
    from_assignee_id: Text | None = Field(description="Who had it")
    assignee_id: Text = Field(description="Who has it now")
    due_at: AwareDatetime | None = Field(description="When it escalates if nothing happens (unchanged)")


class StaffUpdated(Event):
    """A staff member was added or changed in routing's directory (routing owns staff; others follow this event:
    intake's sign-in accounts, notify's staff emails). A staff member's name and work email are directory data,
    not a parent's: they travel so that notify can write to staff and the console can show who has a case."""

    event_type: Literal["staff.updated"] = "staff.updated"
    staff_id: Text = Field(description="The staff member's id (what they sign in as); also the Kafka key")
    role: StaffRole = Field(description="network_staff, psa or central_staff")
    network_id: Text = Field(description="Network they serve ('central' for central staff)")
    active: StrictBool = Field(description="False once they no longer take inquiries")
    name: Text | None = Field(None, description="Name shown to colleagues, e.g. 'Alex A.'")
    email: Email | None = Field(None, description="Work email notify writes to about what is theirs to do")

    def partition_key(self) -> str:
        return self.staff_id
