"""The catalog's copy of routing's staff directory: it follows ``staff.updated`` on ``psc.routing.staff`` into its
``staff`` table, and every staff token is checked against it (a staff member made inactive is refused at once, not
when their token expires). Nothing of a staff member but id, role, network and whether active is kept."""

from __future__ import annotations

from fastapi import FastAPI

from shared.auth.staff_table import PooledStaffDirectory, follow_staff_rows
from shared.contracts.routing import StaffUpdated
from shared.contracts.topics import STAFF_EVENTS
from shared.db.unit_of_work import UnitOfWork
from shared.kafka.batch_consumer import Incoming
from shared.kafka.event_subscriber import EventSubscriber
from shared.service import ServiceRuntime


class StaffSubscriber(EventSubscriber[StaffUpdated, UnitOfWork]):
    """``psc.routing.staff``: who is staff, in which role and network, and whether still active (deduplicated by
    event id in the inbox; the latest event of each staff member wins, by the time routing made the change)."""

    name = "staff-directory"
    handles = (StaffUpdated,)

    async def handle(self, uow: UnitOfWork, batch: list[Incoming[StaffUpdated]]) -> None:
        await follow_staff_rows(uow.conn, [item.message for item in batch])


def serve_access(app: FastAPI, runtime: ServiceRuntime) -> None:
    """Follow routing's staff directory and check every staff token against it (before ``runtime.start()``)."""
    runtime.subscribe(StaffSubscriber(), topic=STAFF_EVENTS, unit_of_work=UnitOfWork)
    app.state.staff_directory = PooledStaffDirectory(runtime.pool)
