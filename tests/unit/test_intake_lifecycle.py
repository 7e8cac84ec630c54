"""The case lifecycle's state machine: every action in every status, allowed or refused."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fakes.intake import NOW

from services.intake import lifecycle
from services.intake.lifecycle import ACTIONS, STATUSES, Action, Status

# The whole table, written out: (action, from) -> to. Every pair not here must be refused.
EXPECTED: dict[tuple[Action, Status], Status] = {
    ("assign", "received"): "assigned",
    ("assign", "assigned"): "assigned",
    ("assign", "acknowledged"): "acknowledged",
    ("assign", "in_progress"): "in_progress",
    ("assign", "waiting_on_parent"): "waiting_on_parent",
    ("assign", "resolved"): "resolved",
    ("assign", "closed"): "closed",
    ("acknowledge", "assigned"): "acknowledged",
    ("note", "received"): "received",
    ("note", "assigned"): "assigned",
    ("note", "acknowledged"): "in_progress",
    ("note", "in_progress"): "in_progress",
    ("note", "waiting_on_parent"): "waiting_on_parent",
    ("note", "resolved"): "resolved",
    ("request_info", "acknowledged"): "waiting_on_parent",
    ("request_info", "in_progress"): "waiting_on_parent",
    ("parent_reply", "waiting_on_parent"): "in_progress",
    ("resolve", "acknowledged"): "resolved",
    ("resolve", "in_progress"): "resolved",
    ("resolve", "waiting_on_parent"): "resolved",
    ("reopen", "resolved"): "in_progress",
    ("close", "resolved"): "closed",
    ("reassign", "assigned"): "assigned",
    ("reassign", "acknowledged"): "acknowledged",
    ("reassign", "in_progress"): "in_progress",
    ("reassign", "waiting_on_parent"): "waiting_on_parent",
    ("link", "received"): "received",
    ("link", "assigned"): "assigned",
    ("link", "acknowledged"): "acknowledged",
    ("link", "in_progress"): "in_progress",
    ("link", "waiting_on_parent"): "waiting_on_parent",
    ("link", "resolved"): "resolved",
}
ALLOWED = sorted(EXPECTED)
REFUSED = sorted((a, s) for a in ACTIONS for s in STATUSES if (a, s) not in EXPECTED)


@pytest.mark.parametrize(("action", "status"), ALLOWED)
def test_an_allowed_action_leads_to_its_status(action: Action, status: Status) -> None:
    assert lifecycle.transition(status, action) == EXPECTED[(action, status)]
    assert lifecycle.allowed(status, action)


@pytest.mark.parametrize(("action", "status"), REFUSED)
def test_a_refused_action_names_the_status_and_the_action(action: Action, status: Status) -> None:
    with pytest.raises(lifecycle.Refused) as refused:
        lifecycle.transition(status, action)
    assert refused.value.status == status and refused.value.action == action
    assert status in str(refused.value) and action.replace("_", " ") in str(refused.value)
    assert not lifecycle.allowed(status, action)


def test_the_table_covers_every_action_and_refuses_something_of_each_but_assign() -> None:
    assert {a for a, _ in REFUSED} == set(ACTIONS) - {"assign"}
    assert len(ALLOWED) + len(REFUSED) == len(ACTIONS) * len(STATUSES)


def test_the_reopen_window_ends_exactly_window_days_after_the_resolution() -> None:
    due = lifecycle.close_due_at(NOW, window_days=14)
    assert due == NOW + timedelta(days=14)
    assert lifecycle.reopen_window_open(due, now=due - timedelta(seconds=1))
    assert not lifecycle.reopen_window_open(due, now=due)
    assert not lifecycle.reopen_window_open(None, now=NOW)
