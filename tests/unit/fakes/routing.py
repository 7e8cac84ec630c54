"""Routing's unit of work in memory."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from uuid import UUID

from fakes import FakeOutbox
from services.routing.domain import (
    CENTRAL_ID,
    CENTRAL_NAME,
    Assignment,
    BusinessCalendar,
    Network,
    NetworkSummary,
    School,
    SlaPolicy,
)

# Sample data for routing's unit tests: Friday 20 Nov 2026, 9:00 in Chicago; no holidays but weekends.
NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
CALENDAR = BusinessCalendar(timezone="America/Chicago", holidays=frozenset())
NETWORK_1 = Network("network-1", "Network 1")
EDISON = School(609794, "EDISON", "Thomas A Edison Regional Gifted Center ES", NETWORK_1)
ENGLEWOOD = School(610592, "ENGLEWOOD STEM HS", "Englewood STEM HS", None)
POLICIES = [
    SlaPolicy("special_education", network_business_days=2, psa_business_days=2),
    SlaPolicy("attendance", network_business_days=3, psa_business_days=2),
]


class FakeDirectory:
    def __init__(self) -> None:
        self.networks: dict[str, tuple[Network, str]] = {}
        self.schools: dict[int, School] = {}

    async def upsert(self, *, schools: Sequence[School]) -> None:
        for school in schools:
            if school.network:
                self.networks[school.network.id] = (school.network, "network")
            self.schools[school.id] = school
        self.networks[CENTRAL_ID] = (Network(CENTRAL_ID, CENTRAL_NAME), "central")

    async def get_schools(self, *, school_ids: Sequence[int]) -> dict[int, School]:
        return {i: self.schools[i] for i in school_ids if i in self.schools}

    async def get_school(self, *, school_id: int) -> School | None:
        return self.schools.get(school_id)

    async def list_networks(self) -> list[NetworkSummary]:
        summaries = [
            NetworkSummary(
                id=network.id,
                name=network.name,
                kind=kind,
                schools=sum(1 for s in self.schools.values() if s.network and s.network.id == network.id),
            )
            for network, kind in self.networks.values()
        ]
        summaries.sort(key=lambda n: n.name)
        summaries.sort(key=lambda n: n.kind, reverse=True)
        return summaries


class FakeAssignments:
    def __init__(self, policies: Sequence[SlaPolicy] = POLICIES) -> None:
        self.policies = {p.category: p for p in policies}
        self.by_inquiry: dict[UUID, Assignment] = {}

    async def get_sla_policies(self) -> dict[str, SlaPolicy]:
        return dict(self.policies)

    async def insert_new(self, *, assignments: Sequence[Assignment]) -> set[UUID]:
        new: set[UUID] = set()
        for assignment in assignments:
            if assignment.inquiry_id not in self.by_inquiry:
                self.by_inquiry[assignment.inquiry_id] = assignment
                new.add(assignment.inquiry_id)
        return new

    async def get(self, *, inquiry_id: UUID) -> Assignment | None:
        return self.by_inquiry.get(inquiry_id)


class FakeRoutingUnitOfWork(FakeOutbox):
    def __init__(self, schools: Sequence[School] = (EDISON, ENGLEWOOD)) -> None:
        super().__init__()
        self.directory = FakeDirectory()
        self.directory.schools = {s.id: s for s in schools}
        self.directory.networks = {s.network.id: (s.network, "network") for s in schools if s.network}
        self.assignments = FakeAssignments()
