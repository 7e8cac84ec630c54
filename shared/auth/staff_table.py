"""A service's copy of routing's staff directory, as ``shared.auth.StaffDirectory`` reads it: the ``staff`` table of
columns ``staff_id``, ``role``, ``network_id``, ``active`` and ``updated_at`` (the time of the ``staff.updated``
event that wrote the row), and the directory over a service's pool.

Routing owns the directory and announces every change on ``psc.routing.staff``; each service that follows it keeps
these columns so a token of a staff member made inactive is refused at once, not when it expires (15 minutes).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from shared.auth.access import StaffRecord
from shared.contracts.routing import StaffUpdated

ReadStaff = Callable[[PoolConnectionProxy, str], Awaitable[StaffRecord | None]]


def latest_of_each(events: Sequence[StaffUpdated]) -> list[StaffUpdated]:
    """Each staff member's latest event of a batch (by the time routing made the change, not arrival order)."""
    latest: dict[str, StaffUpdated] = {}
    for event in events:
        held = latest.get(event.staff_id)
        if held is None or held.occurred_at <= event.occurred_at:
            latest[event.staff_id] = event
    return list(latest.values())


async def follow_staff_rows(conn: PoolConnectionProxy, events: Sequence[StaffUpdated]) -> None:
    """Write ``staff.updated`` events into the ``staff`` table; an event older than the row on file changes nothing
    (a replayed or redelivered event never undoes a newer change, such as a staff member made inactive)."""
    latest = latest_of_each(events)
    await conn.execute(
        "INSERT INTO staff (staff_id, role, network_id, active, updated_at)"
        " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::boolean[], $5::timestamptz[])"
        " ON CONFLICT (staff_id) DO UPDATE SET role = excluded.role, network_id = excluded.network_id,"
        " active = excluded.active, updated_at = excluded.updated_at"
        " WHERE staff.updated_at <= excluded.updated_at",
        [e.staff_id for e in latest],
        [e.role for e in latest],
        [e.network_id for e in latest],
        [e.active for e in latest],
        [e.occurred_at for e in latest],
    )


async def staff_row(conn: PoolConnectionProxy, staff_id: str) -> StaffRecord | None:
    """The staff member as the ``staff`` table has them; None when no event about them has come yet."""
    row = await conn.fetchrow("SELECT staff_id, role, network_id, active FROM staff WHERE staff_id = $1", staff_id)
    if row is None:
        return None
    return StaffRecord(staff_id=row["staff_id"], role=row["role"], network_id=row["network_id"], active=row["active"])


class PooledStaffDirectory:
    """``shared.auth.StaffDirectory`` reading one row per staff token, on a connection of the service's pool (its own
    short read: no transaction of a request's is held)."""

    def __init__(self, pool: asyncpg.Pool, read: ReadStaff = staff_row) -> None:
        self._pool = pool
        self._read = read

    async def staff_member(self, staff_id: str) -> StaffRecord | None:
        async with self._pool.acquire() as conn:
            return await self._read(conn, staff_id)
