"""Staff of the networks and of central, and the pool that gives inquiries out least-loaded first."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from shared.contracts.routing import StaffRole, Tier

ROLE_OF_TIER: Mapping[Tier, StaffRole] = {"network": "network_staff", "psa": "psa", "central": "central_staff"}


ASSIGNABLE_ROLES: frozenset[StaffRole] = frozenset(ROLE_OF_TIER.values())
"""The roles inquiries go to; auditors read (audit log, cases) and are never given one."""


@dataclass(frozen=True)
class Staff:
    """A staff member of routing's directory. ``name`` and ``email`` (their work address, for notify) are directory
    data, not a parent's; they travel in ``staff.updated``."""

    id: str
    name: str
    role: StaffRole
    network_id: str
    active: bool = True
    open_load: int = 0
    email: str | None = None


def network_rule_problem(role: StaffRole, network_id: str) -> str | None:
    """Why a role cannot serve that network (central staff serve 'central', network staff and PSAs a network;
    auditors either); None when it can."""
    if role == "central_staff" and network_id != "central":
        return "central staff serve network 'central'"
    if role in ("network_staff", "psa") and network_id == "central":
        return "only central staff and auditors serve network 'central'"
    return None


class StaffPool:
    """Active staff of some networks with their open loads, to give inquiries out least-loaded first.

    Built from the staff rows as a transaction read them; ``take`` and ``release`` change the loads as the use case
    assigns, and ``changed`` says which loads to write back. ``choices`` are the (network, role) pairs where ``take``
    chose between two or more people: before its transaction commits, the use case holds those pairs and checks
    that the loads it chose by still stand (``StaffRepository.confirm``), so two replicas assigning at once never
    both give the least-loaded person an inquiry on the same stale count.
    """

    def __init__(self, staff: Iterable[Staff]) -> None:
        self._staff = {member.id: member for member in staff}
        self._load = {member.id: member.open_load for member in self._staff.values()}
        self._start = dict(self._load)
        self._active: dict[tuple[str, StaffRole], list[str]] = {}
        self._choices: set[tuple[str, StaffRole]] = set()
        for member in self._staff.values():
            if member.active and member.role in ASSIGNABLE_ROLES:
                self._active.setdefault((member.network_id, member.role), []).append(member.id)

    def has(self, network_id: str, role: StaffRole) -> bool:
        return bool(self._active.get((network_id, role)))

    def take(self, network_id: str, role: StaffRole) -> str | None:
        """The least-loaded active staff member of ``role`` in ``network_id`` (ties by id), now one inquiry busier."""
        candidates = self._active.get((network_id, role))
        if not candidates:
            return None
        if len(candidates) > 1:
            self._choices.add((network_id, role))
        chosen = min(candidates, key=lambda staff_id: (self._load[staff_id], staff_id))
        self._load[chosen] += 1
        return chosen

    def choices(self) -> list[tuple[str, StaffRole]]:
        """The (network, role) pairs where a least-loaded choice was made, in order (the order locks are taken in)."""
        return sorted(self._choices)

    def as_read(self, pairs: Iterable[tuple[str, StaffRole]]) -> dict[str, tuple[bool, int]]:
        """Staff id -> (active, open load as read) of the members of these pairs: what the choices stood on."""
        wanted = set(pairs)
        return {m.id: (m.active, self._start[m.id]) for m in self._staff.values() if (m.network_id, m.role) in wanted}

    def is_active(self, staff_id: str, *, network_id: str, role: StaffRole) -> bool:
        return staff_id in self._active.get((network_id, role), [])

    def has_member(self, staff_id: str) -> bool:
        member = self._staff.get(staff_id)
        return member is not None and member.active and member.role in ASSIGNABLE_ROLES

    def retake(self, staff_id: str) -> None:
        """``staff_id`` has one more inquiry (a reopened one comes back to its assignee)."""
        self._load[staff_id] += 1

    def release(self, staff_id: str | None) -> None:
        if staff_id is not None and staff_id in self._load:
            self._load[staff_id] = max(0, self._load[staff_id] - 1)

    def load(self, staff_id: str) -> int:
        return self._load[staff_id]

    def changed(self) -> dict[str, int]:
        """Staff id -> how much its open load changed (only the ones that did)."""
        return {i: self._load[i] - self._start[i] for i in self._load if self._load[i] != self._start[i]}
