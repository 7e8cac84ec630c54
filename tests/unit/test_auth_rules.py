"""The permission rules: each role and API key against each action (see shared/auth/principal.py)."""

from __future__ import annotations

import pytest

from shared.auth import CENTRAL_NETWORK, Principal, Role, Scope

NETWORK = "network-1"
OTHER = "network-2"

# role -> (sees own network, sees another network, sees an unrouted inquiry, may act, may read, may submit)
MATRIX = {
    Role.NETWORK_STAFF: (True, False, False, True, True, True),
    Role.PSA: (True, False, False, True, True, True),
    Role.CENTRAL_STAFF: (True, True, True, True, True, True),
    Role.AUDITOR: (True, True, True, False, True, False),
}


@pytest.mark.parametrize("role", list(Role))
def test_each_role_against_each_action(role: Role) -> None:
    staff = Principal.staff("s-1", role=role, network_id=NETWORK)
    own, other, unrouted, acts, reads, submits = MATRIX[role]
    assert staff.sees_network(NETWORK) is own
    assert staff.sees_network(OTHER) is other
    assert staff.sees_network(None) is unrouted
    assert staff.may_act is acts
    assert staff.allows(Scope.READ) is reads
    assert staff.allows(Scope.SUBMIT) is submits
    assert staff.is_staff


@pytest.mark.parametrize("role", [Role.CENTRAL_STAFF, Role.AUDITOR])
def test_central_staff_and_auditors_belong_to_central(role: Role) -> None:
    assert Principal.staff("s-1", role=role, network_id=NETWORK).network_id == CENTRAL_NETWORK


@pytest.mark.parametrize("role", [Role.NETWORK_STAFF, Role.PSA])
def test_network_roles_keep_their_network(role: Role) -> None:
    assert Principal.staff("s-1", role=role, network_id=NETWORK).network_id == NETWORK


@pytest.mark.parametrize(
    ("scopes", "reads", "submits"),
    [
        (frozenset(), False, False),
        (frozenset({Scope.READ}), True, False),
        (frozenset({Scope.SUBMIT}), False, True),
        (frozenset({Scope.READ, Scope.SUBMIT}), True, True),
    ],
)
def test_api_keys_do_what_their_scopes_say(scopes: frozenset[str], reads: bool, submits: bool) -> None:
    key = Principal.api_key("sis", scopes=scopes)
    assert key.allows(Scope.READ) is reads
    assert key.allows(Scope.SUBMIT) is submits
    assert key.sees_network(NETWORK) is reads
    assert not key.may_act
    assert not key.is_staff
    assert not key.has_role(*Role)


def test_roles_are_checked_by_name() -> None:
    auditor = Principal.staff("a-1", role="auditor", network_id="central")
    assert auditor.has_role(Role.AUDITOR, Role.CENTRAL_STAFF)
    assert not auditor.has_role(Role.CENTRAL_STAFF)
    with pytest.raises(ValueError, match="superuser"):
        Principal.staff("x", role="superuser", network_id=NETWORK)
