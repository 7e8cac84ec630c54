"""The district's directory updates: a new school list (the same CSV ``psc load-schools`` reads), and its refusal."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from shared.contracts.envelope import Event, Rejection
from shared.contracts.text import STORABLE, ShortText

SchoolListCsv = Annotated[str, StringConstraints(min_length=1, max_length=5_000_000), STORABLE]


class SchoolListPublished(Event):
    """The district published a new school list: routing loads it whole (or not at all) and reroutes the open
    inquiries of every school that changed network."""

    event_type: Literal["directory.school_list_published"] = "directory.school_list_published"
    list_id: ShortText = Field(description="The publisher's id for this list (e.g. 'sy2627-v3'); also the Kafka key")
    csv: SchoolListCsv = Field(description="The list as CSV: school_id, short_name, long_name, network")

    def partition_key(self) -> str:
        return self.list_id


class SchoolListRejected(Rejection):
    """A published school list had bad rows and nothing of it was loaded; each bad line is named."""

    event_type: Literal["directory.school_list_rejected"] = "directory.school_list_rejected"
    list_id: ShortText = Field(description="The refused list's id")
