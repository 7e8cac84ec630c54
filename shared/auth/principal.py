"""Who is calling and what they may do: pure rules, no I/O.

Roles (``staff.updated``'s ``role``): ``network_staff`` and ``psa`` see and work only their network's inquiries;
``central_staff`` sees and works all; ``auditor`` sees all and reads only. API keys are other district systems: they
carry scopes (``inquiries:submit``, ``inquiries:read``) and no network, so a key that may read reads every network.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

CENTRAL_NETWORK = "central"


class Role(StrEnum):
    NETWORK_STAFF = "network_staff"
    PSA = "psa"
    CENTRAL_STAFF = "central_staff"
    AUDITOR = "auditor"


class Scope(StrEnum):
    SUBMIT = "inquiries:submit"
    READ = "inquiries:read"


ALL_SCOPES = frozenset(Scope)
# Roles that see every network; the others only their own.
_DISTRICT_WIDE = frozenset({Role.CENTRAL_STAFF, Role.AUDITOR})
_READ_ONLY = frozenset({Role.AUDITOR})


def network_of(role: Role, network_id: str) -> str:
    """The network a staff member belongs to: 'central' for central staff and auditors, whatever was given."""
    return CENTRAL_NETWORK if role in _DISTRICT_WIDE else network_id


@dataclass(frozen=True)
class Principal:
    """The caller of a request: a signed-in staff member or a district system's API key."""

    id: str
    kind: Literal["staff", "api_key"]
    role: Role | None = None
    network_id: str | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def staff(cls, staff_id: str, *, role: Role | str, network_id: str) -> Principal:
        checked = Role(role)
        return cls(id=staff_id, kind="staff", role=checked, network_id=network_of(checked, network_id))

    @classmethod
    def api_key(cls, key_id: str, *, scopes: frozenset[str]) -> Principal:
        return cls(id=key_id, kind="api_key", scopes=frozenset(scopes))

    @property
    def is_staff(self) -> bool:
        return self.kind == "staff"

    @property
    def may_act(self) -> bool:
        """Whether this caller may change cases: staff other than auditors (API keys only submit, by scope)."""
        return self.is_staff and self.role not in _READ_ONLY

    @property
    def district_wide(self) -> bool:
        return self.role in _DISTRICT_WIDE if self.is_staff else Scope.READ in self.scopes

    def sees_network(self, network_id: str | None) -> bool:
        """Whether this caller may see an inquiry of ``network_id`` (None: not routed yet, so no network's own)."""
        if self.district_wide:
            return True
        return self.is_staff and network_id is not None and network_id == self.network_id

    def allows(self, scope: Scope | str) -> bool:
        """Whether this caller holds ``scope``: an API key by its scopes; staff read, and submit if they may act."""
        if not self.is_staff:
            return scope in self.scopes
        if scope == Scope.READ:
            return True
        return scope == Scope.SUBMIT and self.may_act

    def has_role(self, *roles: Role) -> bool:
        return self.is_staff and self.role in roles
