"""All of routing's SQL: ``DirectoryRepository`` (``uow.directory``) and ``AssignmentRepository``
(``uow.assignments``) on a unit of work's connection."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from asyncpg import Record
from asyncpg.pool import PoolConnectionProxy

from services.routing.domain import (
    CENTRAL_ID,
    CENTRAL_NAME,
    Assignment,
    Network,
    NetworkSummary,
    School,
    SlaPolicy,
)

_SCHOOL_SELECT = (
    "SELECT s.id, s.short_name, s.long_name, s.network_id, n.name AS network_name"
    " FROM schools s LEFT JOIN networks n ON n.id = s.network_id"
)


def _school(row: Record) -> School:
    network = Network(row["network_id"], row["network_name"]) if row["network_id"] else None
    return School(id=row["id"], short_name=row["short_name"], long_name=row["long_name"], network=network)


class DirectoryRepository:
    """Network offices and the schools each serves, in routing's schema."""

    def __init__(self, conn: PoolConnectionProxy) -> None:
        self._conn = conn

    async def upsert(self, *, schools: Sequence[School]) -> None:
        """The schools and the networks they name (and the central queue); rows that did not change are not touched."""
        networks = {s.network.id: s.network for s in schools if s.network} | {
            CENTRAL_ID: Network(CENTRAL_ID, CENTRAL_NAME)
        }
        await self._conn.execute(
            "INSERT INTO networks (id, name, kind) SELECT * FROM unnest($1::text[], $2::text[], $3::text[])"
            " ON CONFLICT (id) DO UPDATE SET name = excluded.name, kind = excluded.kind, updated_at = now()"
            " WHERE (networks.name, networks.kind) IS DISTINCT FROM (excluded.name, excluded.kind)",
            list(networks),
            [n.name for n in networks.values()],
            ["central" if n.id == CENTRAL_ID else "network" for n in networks.values()],
        )
        await self._conn.execute(
            "INSERT INTO schools (id, short_name, long_name, network_id)"
            " SELECT * FROM unnest($1::int[], $2::text[], $3::text[], $4::text[])"
            " ON CONFLICT (id) DO UPDATE SET short_name = excluded.short_name, long_name = excluded.long_name,"
            " network_id = excluded.network_id, updated_at = now()"
            " WHERE (schools.short_name, schools.long_name, schools.network_id)"
            " IS DISTINCT FROM (excluded.short_name, excluded.long_name, excluded.network_id)",
            [s.id for s in schools],
            [s.short_name for s in schools],
            [s.long_name for s in schools],
            [s.network.id if s.network else None for s in schools],
        )

    async def get_schools(self, *, school_ids: Sequence[int]) -> dict[int, School]:
        """The schools the directory knows among ``school_ids``, by id."""
        rows = await self._conn.fetch(f"{_SCHOOL_SELECT} WHERE s.id = ANY($1::int[])", list(set(school_ids)))
        return {row["id"]: _school(row) for row in rows}

    async def get_school(self, *, school_id: int) -> School | None:
        row = await self._conn.fetchrow(f"{_SCHOOL_SELECT} WHERE s.id = $1", school_id)
        return _school(row) if row else None

    async def list_networks(self) -> list[NetworkSummary]:
        """Every network with its number of schools: the networks by name, then the central queue."""
        rows = await self._conn.fetch(
            "SELECT n.id, n.name, n.kind, count(s.id) AS schools FROM networks n"
            " LEFT JOIN schools s ON s.network_id = n.id GROUP BY n.id ORDER BY n.kind DESC, n.name"
        )
        return [
            NetworkSummary(id=row["id"], name=row["name"], kind=row["kind"], schools=row["schools"]) for row in rows
        ]


class AssignmentRepository:
    """The SLA policies, and the assignments with their deadlines, in routing's schema."""

    def __init__(self, conn: PoolConnectionProxy) -> None:
        self._conn = conn

    async def get_sla_policies(self) -> dict[str, SlaPolicy]:
        """Each category's policy, by category."""
        rows = await self._conn.fetch("SELECT category, network_business_days, psa_business_days FROM sla_policies")
        return {
            row["category"]: SlaPolicy(
                category=row["category"],
                network_business_days=row["network_business_days"],
                psa_business_days=row["psa_business_days"],
            )
            for row in rows
        }

    async def insert_new(self, *, assignments: Sequence[Assignment]) -> set[UUID]:
        """Insert new assignments and their network-tier deadline; return the inquiry ids that were new.

        An inquiry already assigned (or repeated within ``assignments``: the first one counts) is left as it is.
        """
        if not assignments:
            return set()
        rows = await self._conn.fetch(
            "INSERT INTO assignments (inquiry_id, category, school_id, network_id, queue, tier, reason, assigned_at,"
            " updated_at) SELECT *, a.assigned_at FROM unnest($1::uuid[], $2::text[], $3::int[], $4::text[],"
            " $5::text[], $6::text[], $7::text[], $8::timestamptz[]) AS a(inquiry_id, category, school_id,"
            " network_id, queue, tier, reason, assigned_at) ON CONFLICT (inquiry_id) DO NOTHING RETURNING inquiry_id",
            [a.inquiry_id for a in assignments],
            [a.category for a in assignments],
            [a.school_id for a in assignments],
            [a.network.id for a in assignments],
            [a.queue for a in assignments],
            [a.tier for a in assignments],
            [a.reason for a in assignments],
            [a.assigned_at for a in assignments],
        )
        new = {row["inquiry_id"] for row in rows}
        fresh = [a for a in assignments if a.inquiry_id in new]
        await self._conn.execute(
            "INSERT INTO deadlines (inquiry_id, tier, due_at) SELECT * FROM unnest($1::uuid[], $2::text[],"
            " $3::timestamptz[]) ON CONFLICT DO NOTHING",
            [a.inquiry_id for a in fresh],
            [a.tier for a in fresh],
            [a.due_at for a in fresh],
        )
        return new

    async def get(self, *, inquiry_id: UUID) -> Assignment | None:
        """The inquiry's assignment with its network's name now and the deadline of its current tier."""
        row = await self._conn.fetchrow(
            "SELECT a.inquiry_id, a.category, a.school_id, a.network_id, n.name AS network_name, a.queue, a.tier,"
            " a.reason, a.assigned_at, d.due_at FROM assignments a JOIN networks n ON n.id = a.network_id"
            " LEFT JOIN deadlines d ON d.inquiry_id = a.inquiry_id AND d.tier = a.tier WHERE a.inquiry_id = $1",
            inquiry_id,
        )
        if row is None:
            return None
        return Assignment(
            inquiry_id=row["inquiry_id"],
            category=row["category"],
            school_id=row["school_id"],
            network=Network(row["network_id"], row["network_name"]),
            queue=row["queue"],
            tier=row["tier"],
            reason=row["reason"],
            assigned_at=row["assigned_at"],
            due_at=row["due_at"],
        )
