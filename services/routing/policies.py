"""The district's SLA policies (targets per category, urgency and tier; the warning point) and ``Rules``: the calendar
and the policies together, which every clock rule needs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from shared.business_calendar import DistrictCalendar
from shared.contracts.inquiries import Urgency
from shared.contracts.routing import SlaClockName, Tier

TIERS: tuple[Tier, ...] = ("network", "psa", "central")
URGENCIES: tuple[Urgency, ...] = ("normal", "urgent")


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


@dataclass(frozen=True)
class Rules:
    """What the clock rules need besides the inquiry: the calendar and the policies."""

    calendar: DistrictCalendar
    policies: SlaPolicies
