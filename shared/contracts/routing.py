"""Routing's events: where an inquiry went, and when it is due."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field

from shared.contracts.envelope import InquiryEvent

Queue = Literal["network", "central"]
Tier = Literal["network", "psa", "central"]
AssignmentReason = Literal["school_network", "school_without_network", "unknown_school"]


class InquiryAssigned(InquiryEvent):
    """An inquiry was given to the queue that serves the student's school."""

    event_type: Literal["inquiry.assigned"] = "inquiry.assigned"
    network_id: str = Field(description="Directory id of the network office (or 'central')")
    network_name: str = Field(description="Name staff and parents know it by, e.g. 'Network 4'")
    queue: Queue = Field(description="'network' when a network office has it, 'central' for the Parent Support Center")
    tier: Tier = Field(description="Escalation tier that holds the inquiry now")
    reason: AssignmentReason = Field(description="Why this queue was chosen")
    school_id: int = Field(description="The student's school id as submitted")
    school_name: str | None = Field(None, description="The school's name, when the directory knows the school")
    due_at: AwareDatetime = Field(description="When the inquiry escalates if not resolved (business calendar)")
