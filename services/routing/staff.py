"""Staff of the networks and of central, and the pool that gives inquiries out least-loaded first."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from shared.contracts.routing import StaffRole, Tier

ROLE_OF_TIER: Mapping[Tier, StaffRole] = {"network": "network_staff", "psa": "psa", "central": "central_staff"}


@dataclass(frozen=True)
class Staff:
    id: str
    name: str
    role: StaffRole
    network_id: str
    active: bool = True
    open_load: int = 0


class StaffPool:
    """Active staff of some networks with their open loads, to give inquiries out least-loaded first.

    Built from the rows a transaction locked; ``take`` and ``release`` change the loads as the use case assigns, and
    ``changed`` says which loads to write back.
    """

    def __init__(self, staff: Iterable[Staff]) -> None:
        self._staff = {member.id: member for member in staff}
        self._load = {member.id: member.open_load for member in self._staff.values()}
        self._start = dict(self._load)
        self._active: dict[tuple[str, StaffRole], list[str]] = {}
        for member in self._staff.values():
            if member.active:
                self._active.setdefault((member.network_id, member.role), []).append(member.id)

    def has(self, network_id: str, role: StaffRole) -> bool:
        return bool(self._active.get((network_id, role)))

    def take(self, network_id: str, role: StaffRole) -> str | None:
        """The least-loaded active staff member of ``role`` in ``network_id`` (ties by id), now one inquiry busier."""
        candidates = self._active.get((network_id, role))
        if not candidates:
            return None
        chosen = min(candidates, key=lambda staff_id: (self._load[staff_id], staff_id))
        self._load[chosen] += 1
        return chosen

    def is_active(self, staff_id: str, *, network_id: str, role: StaffRole) -> bool:
        return staff_id in self._active.get((network_id, role), [])

    def has_member(self, staff_id: str) -> bool:
        member = self._staff.get(staff_id)
        return member is not None and member.active

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
