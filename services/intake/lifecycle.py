"""The case lifecycle, pure: which action moves an inquiry from which status to which, and when a resolved inquiry
can no longer be reopened.

``received -> assigned -> acknowledged -> in_progress -> waiting_on_parent -> resolved -> closed``

- ``assign`` (routing's ``inquiry.assigned``, escalations, reroutes, reassignments) moves ``received`` to
  ``assigned``; in any later status it only keeps the assignment current.
- ``in_progress`` is entered by the first note staff add after acknowledging (work has started), by the parent's
  reply to a question, and by a reopen.
- ``reopen`` works on a resolved inquiry within the reopen window (``PSC_INTAKE_REOPEN_WINDOW_DAYS`` after its
  resolution); after that the inquiry is closed (``inquiry.closed``, reason ``reopen_window_passed``) and a reopen
  answers with a new inquiry linked to the old one (``follow_up_of``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal, get_args

Status = Literal["received", "assigned", "acknowledged", "in_progress", "waiting_on_parent", "resolved", "closed"]
STATUSES: tuple[Status, ...] = get_args(Status)
OPEN_STATUSES: tuple[Status, ...] = ("received", "assigned", "acknowledged", "in_progress", "waiting_on_parent")

Action = Literal[
    "assign", "acknowledge", "note", "request_info", "parent_reply", "resolve", "reopen", "close", "reassign", "link"
]
ACTIONS: tuple[Action, ...] = get_args(Action)

_WORKING: tuple[Status, ...] = ("acknowledged", "in_progress", "waiting_on_parent")

# action -> {status it may be taken in: status it leads to}. Anything not listed is refused.
TRANSITIONS: dict[Action, dict[Status, Status]] = {
    "assign": {"received": "assigned", **{s: s for s in STATUSES if s != "received"}},
    "acknowledge": {"assigned": "acknowledged"},
    "note": {
        "received": "received",
        "assigned": "assigned",
        "acknowledged": "in_progress",
        "in_progress": "in_progress",
        "waiting_on_parent": "waiting_on_parent",
        "resolved": "resolved",
    },
    "request_info": {"acknowledged": "waiting_on_parent", "in_progress": "waiting_on_parent"},
    "parent_reply": {"waiting_on_parent": "in_progress"},
    "resolve": {s: "resolved" for s in _WORKING},
    "reopen": {"resolved": "in_progress"},
    "close": {"resolved": "closed"},
    "reassign": {s: s for s in ("assigned", *_WORKING)},
    "link": {s: s for s in STATUSES if s != "closed"},
}

_WHY: dict[Action, str] = {
    "acknowledge": "only an assigned inquiry can be acknowledged",
    "note": "a closed inquiry takes no notes",
    "request_info": "the parent can be asked only while the inquiry is acknowledged or in progress",
    "parent_reply": "a reply is recorded only while the inquiry waits on the parent",
    "resolve": "only an acknowledged inquiry that is not resolved can be resolved",
    "reopen": "only a resolved inquiry can be reopened",
    "close": "only a resolved inquiry can be closed",
    "reassign": "only an assigned inquiry that is not resolved can be reassigned",
    "link": "a closed inquiry cannot be linked",
}


class Refused(Exception):
    """The action is not allowed in the inquiry's status (HTTP 409 with this reason)."""

    def __init__(self, *, status: str, action: str, why: str) -> None:
        super().__init__(f"cannot {action.replace('_', ' ')} an inquiry that is {status}: {why}")
        self.status = status
        self.action = action


def transition(status: str, action: Action) -> Status:
    """The status ``action`` leads to from ``status``; ``Refused`` when it is not allowed there."""
    allowed = TRANSITIONS[action]
    if status not in allowed:
        raise Refused(status=status, action=action, why=_WHY.get(action, "not allowed"))
    return allowed[status]


def allowed(status: str, action: Action) -> bool:
    return status in TRANSITIONS[action]


def close_due_at(resolved_at: datetime, *, window_days: int) -> datetime:
    """When a resolved inquiry closes by itself: the end of its reopen window."""
    return resolved_at + timedelta(days=window_days)


def reopen_window_open(close_due: datetime | None, *, now: datetime) -> bool:
    """A resolved inquiry can be reopened until its window ends (closed exactly at the end)."""
    return close_due is not None and now < close_due
