"""Routing's unit of work in memory."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from uuid import UUID
from zoneinfo import ZoneInfo

from fakes import FakeOutbox
from services.routing.clocks import Assignment
from services.routing.directory import CENTRAL_ID, CENTRAL_NAME, Network, NetworkSummary, School
from services.routing.domain import HistoryEntry
from services.routing.files import SLA_POLICIES, read_policies
from services.routing.policies import Rules, SlaPolicies
from services.routing.staff import Staff, StaffPool
from shared.business_calendar import DistrictCalendar

# Sample data for routing's unit tests: Friday 20 Nov 2026, 9:00 in Chicago; no holidays but weekends.
NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
CALENDAR = DistrictCalendar(zone=ZoneInfo("America/Chicago"))
POLICIES: SlaPolicies = read_policies(SLA_POLICIES, business_day_seconds=CALENDAR.business_day_seconds)
RULES = Rules(calendar=CALENDAR, policies=POLICIES)
NETWORK_1 = Network("network-1", "Network 1")
NETWORK_2 = Network("network-2", "Network 2")
EDISON = School(609794, "EDISON", "Thomas A Edison Regional Gifted Center ES", NETWORK_1)
ENGLEWOOD = School(610592, "ENGLEWOOD STEM HS", "Englewood STEM HS", None)
STAFF = [
    Staff("n1-psa", "P One", "psa", "network-1"),
    Staff("n1-staff-1", "S One", "network_staff", "network-1"),
    Staff("n1-staff-2", "S Two", "network_staff", "network-1"),
    Staff("n2-staff-1", "T One", "network_staff", "network-2"),
    Staff("central-1", "C One", "central_staff", "central"),
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
    def __init__(self) -> None:
        self.by_inquiry: dict[UUID, Assignment] = {}
        self.log: list[HistoryEntry] = []

    async def insert_new(self, *, assignments: Sequence[Assignment]) -> set[UUID]:
        new: set[UUID] = set()
        for assignment in assignments:
            if assignment.inquiry_id not in self.by_inquiry:
                self.by_inquiry[assignment.inquiry_id] = assignment
                new.add(assignment.inquiry_id)
        return new

    async def save(self, *, assignments: Sequence[Assignment], now: datetime) -> None:
        for assignment in assignments:
            self.by_inquiry[assignment.inquiry_id] = assignment

    async def get(self, *, inquiry_id: UUID) -> Assignment | None:
        return self.by_inquiry.get(inquiry_id)

    async def lock(self, *, inquiry_ids: Iterable[UUID]) -> dict[UUID, Assignment]:
        return {i: self.by_inquiry[i] for i in set(inquiry_ids) if i in self.by_inquiry}

    async def claim_due(self, *, now: datetime, limit: int) -> list[Assignment]:
        due = [a for a in self.by_inquiry.values() if a.next_due_at is not None and a.next_due_at <= now]
        return sorted(due, key=lambda a: a.next_due_at or now)[:limit]

    async def next_due(self) -> datetime | None:
        return min((a.next_due_at for a in self.by_inquiry.values() if a.next_due_at), default=None)

    async def lock_open(self, *, school_ids: Sequence[int] | None = None) -> list[Assignment]:
        return [
            a
            for a in self.by_inquiry.values()
            if a.status == "open" and a.first_response is not None and (school_ids is None or a.school_id in school_ids)
        ]

    async def lock_without_clocks(self) -> list[Assignment]:
        return [
            a
            for a in self.by_inquiry.values()
            if a.status == "open" and a.first_response is None and a.resolution is None
        ]

    async def open_in_network(self, *, network_id: str) -> list[Assignment]:
        return [a for a in self.by_inquiry.values() if a.status == "open" and a.network.id == network_id]

    async def add_history(self, *, entries: Sequence[HistoryEntry]) -> None:
        self.log.extend(entries)

    async def history(self, *, inquiry_id: UUID) -> list[HistoryEntry]:
        return [e for e in self.log if e.inquiry_id == inquiry_id]


class FakeStaff:
    def __init__(self, staff: Sequence[Staff] = STAFF, networks: Iterable[str] = ("network-1", "network-2")) -> None:
        self.members = {m.id: m for m in staff}
        self.networks = {*networks, CENTRAL_ID}
        self.confirmations = 0

    async def pool(self, *, network_ids: Iterable[str]) -> StaffPool:
        wanted = {*network_ids, CENTRAL_ID}
        return StaffPool(m for m in self.members.values() if m.network_id in wanted)

    async def confirm(self, *, staff: StaffPool) -> bool:
        """One process, one transaction at a time: what the pool read is what is stored (``confirmations`` counts
        the pools whose choices were checked)."""
        self.confirmations += bool(staff.choices())
        return True

    async def add_load(self, *, changes: dict[str, int]) -> None:
        for staff_id, delta in changes.items():
            member = self.members[staff_id]
            self.members[staff_id] = replace(member, open_load=max(0, member.open_load + delta))

    async def all(self, *, network_id: str | None = None) -> list[Staff]:
        return [m for m in self.members.values() if network_id is None or m.network_id == network_id]

    async def get(self, *, staff_id: str) -> Staff | None:
        return self.members.get(staff_id)

    async def known_networks(self, *, network_ids: Iterable[str]) -> set[str]:
        return set(network_ids) & self.networks

    async def upsert(self, *, staff: Sequence[Staff], only_new: bool, now: datetime) -> list[Staff]:
        changed = []
        for member in staff:
            old = self.members.get(member.id)
            if old is not None and (only_new or replace(old, open_load=0) == member):
                continue
            self.members[member.id] = replace(member, open_load=old.open_load if old else 0)
            changed.append(self.members[member.id])
        return changed


class FakeClosures:
    def __init__(self) -> None:
        self.days: dict[date, str] = {}

    async def closures(self) -> dict[date, str]:
        return dict(self.days)

    async def add_closure(self, *, day: date, reason: str, now: datetime) -> bool:
        if day in self.days:
            return False
        self.days[day] = reason
        return True


class FakeRoutingUnitOfWork(FakeOutbox):
    def __init__(self, schools: Sequence[School] = (EDISON, ENGLEWOOD), staff: Sequence[Staff] = STAFF) -> None:
        super().__init__()
        self.directory = FakeDirectory()
        self.directory.schools = {s.id: s for s in schools}
        self.directory.networks = {s.network.id: (s.network, "network") for s in schools if s.network}
        self.assignments = FakeAssignments()
        self.staff = FakeStaff(staff)
        self.calendar = FakeClosures()
