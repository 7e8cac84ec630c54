"""The district calendar's events: routing owns the emergency closures (``POST /v1/calendar/closures``) and
announces each, so every clock on business time (catalog's referral reply clocks) stops on that day too."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field

from shared.contracts.envelope import Event
from shared.contracts.text import ShortText


class CalendarClosureAdded(Event):
    """The offices close on ``day`` (an emergency closure, e.g. a snow day): it is not a business day."""

    event_type: Literal["calendar.closure_added"] = "calendar.closure_added"
    day: date = Field(description="The closed day, on the district's clock (YYYY-MM-DD); also the Kafka message key")
    reason: ShortText = Field(description="Why, e.g. 'snow day'")

    def partition_key(self) -> str:
        return self.day.isoformat()
