"""Which staff.updated event of a batch a service's staff table takes for each staff member."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.auth.staff_table import latest_of_each
from shared.contracts.routing import StaffUpdated

T0 = datetime(2026, 10, 13, 15, 30, tzinfo=UTC)


def event(staff_id: str, *, active: bool, at: datetime) -> StaffUpdated:
    return StaffUpdated(
        occurred_at=at, correlation_id="t", staff_id=staff_id, role="psa", network_id="network-1", active=active
    )


def test_the_latest_change_of_each_staff_member_wins_whatever_the_arrival_order() -> None:
    disabled = event("a", active=False, at=T0)
    older = event("a", active=True, at=T0 - timedelta(minutes=1))
    other = event("b", active=True, at=T0 - timedelta(hours=1))
    latest = latest_of_each([disabled, other, older])
    assert {e.staff_id: e.active for e in latest} == {"a": False, "b": True}


def test_of_two_changes_at_the_same_time_the_later_one_in_the_batch_wins() -> None:
    first, second = event("a", active=True, at=T0), event("a", active=False, at=T0)
    assert latest_of_each([first, second]) == [second]


def test_an_empty_batch_has_nothing() -> None:
    assert latest_of_each([]) == []
