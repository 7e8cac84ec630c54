"""Routing's side of access control: it owns the staff directory, so every staff token is checked against its own
``staff`` table (a staff member made inactive here is refused at once, not when their token expires)."""

from __future__ import annotations

from asyncpg.pool import PoolConnectionProxy
from fastapi import FastAPI

from services.routing.repository import StaffRepository
from shared.auth import StaffRecord
from shared.auth.staff_table import PooledStaffDirectory
from shared.service import ServiceRuntime


async def directory_record(conn: PoolConnectionProxy, staff_id: str) -> StaffRecord | None:
    """The staff member of routing's directory as ``shared.auth`` reads a signed-in caller."""
    member = await StaffRepository(conn).get(staff_id=staff_id)
    if member is None:
        return None
    return StaffRecord(staff_id=member.id, role=member.role, network_id=member.network_id, active=member.active)


def serve_access(app: FastAPI, runtime: ServiceRuntime) -> None:
    """Check every staff token against routing's own directory (once the runtime's pool is open)."""
    app.state.staff_directory = PooledStaffDirectory(runtime.pool, directory_record)
