"""All of routing's SQL on a unit of work's connection: ``DirectoryRepository`` (``uow.directory``),
``AssignmentRepository`` (``uow.assignments``: each inquiry's routing state and clocks, and their history),
``StaffRepository`` (``uow.staff``) and ``CalendarRepository`` (``uow.calendar``: emergency closures)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any
from uuid import UUID

from asyncpg import Record
from asyncpg.pool import PoolConnectionProxy
from pydantic_core import to_json

from services.routing.clocks import Assignment, SlaClock, clock_of
from services.routing.directory import CENTRAL_ID, CENTRAL_NAME, Network, NetworkSummary, School
from services.routing.domain import HistoryEntry
from services.routing.staff import Staff, StaffPool

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


_ASSIGNMENT_SELECT = (
    "SELECT a.inquiry_id, a.category, a.school_id, a.network_id, n.name AS network_name, a.queue, a.tier, a.reason,"
    " a.assigned_at, a.due_at, a.urgency, a.assignee_id, a.status, a.tier_started_at, a.next_due_at, a.breached_at,"
    " a.fr_target, a.fr_elapsed, a.fr_since, a.fr_stopped, a.fr_warned,"
    " a.res_target, a.res_elapsed, a.res_since, a.res_stopped, a.res_warned"
    " FROM assignments a JOIN networks n ON n.id = a.network_id"
)


def _clock(target: int | None, elapsed: int, since: datetime | None, stopped: bool, warned: bool) -> SlaClock | None:
    return None if target is None else clock_of(target, elapsed, since, stopped, warned)


_NETWORKS: dict[tuple[str, str], Network] = {}


def _network(network_id: str, name: str) -> Network:
    """One ``Network`` per id and name, kept: a claim of a thousand rows names a handful of networks."""
    found = _NETWORKS.get((network_id, name))
    if found is None:
        if len(_NETWORKS) > 1000:
            _NETWORKS.clear()
        found = _NETWORKS[(network_id, name)] = Network(network_id, name)
    return found


def _assignment(row: Record) -> Assignment:
    """An assignment from a row of ``_ASSIGNMENT_SELECT``, by position (the deadline worker reads 1,000 a round)."""
    assignment = object.__new__(Assignment)
    assignment.__dict__.update(
        inquiry_id=row[0],
        category=row[1],
        school_id=row[2],
        network=_network(row[3], row[4]),
        queue=row[5],
        tier=row[6],
        reason=row[7],
        assigned_at=row[8],
        due_at=row[9],
        urgency=row[10],
        assignee_id=row[11],
        status=row[12],
        tier_started_at=row[13],
        next_due_at=row[14],
        breached_at=row[15],
        first_response=_clock(row[16], row[17], row[18], row[19], row[20]),
        resolution=_clock(row[21], row[22], row[23], row[24], row[25]),
    )
    return assignment


# The state columns a change writes, in the order of ``_state``; each goes in as an array (one statement per batch).
_STATE = (
    ("network_id", "text"),
    ("queue", "text"),
    ("tier", "text"),
    ("assignee_id", "text"),
    ("status", "text"),
    ("tier_started_at", "timestamptz"),
    ("due_at", "timestamptz"),
    ("next_due_at", "timestamptz"),
    ("breached_at", "timestamptz"),
    ("fr_target", "int"),
    ("fr_elapsed", "int"),
    ("fr_since", "timestamptz"),
    ("fr_stopped", "bool"),
    ("fr_warned", "bool"),
    ("res_target", "int"),
    ("res_elapsed", "int"),
    ("res_since", "timestamptz"),
    ("res_stopped", "bool"),
    ("res_warned", "bool"),
)


def _clock_values(clock: SlaClock | None) -> tuple[Any, ...]:
    if clock is None:
        return (None, 0, None, False, False)
    return (clock.target, clock.elapsed, clock.since, clock.stopped, clock.warned)


def _state(a: Assignment) -> tuple[Any, ...]:
    return (
        a.inquiry_id,
        a.network.id,
        a.queue,
        a.tier,
        a.assignee_id,
        a.status,
        a.tier_started_at,
        a.due_at,
        a.next_due_at,
        a.breached_at,
        *_clock_values(a.first_response),
        *_clock_values(a.resolution),
    )


def _rows_json(rows: Sequence[Sequence[Any]]) -> str:
    """Rows as one JSON document of arrays (UUIDs and instants as ISO text), for ``jsonb_array_elements``: one
    parameter for a whole batch. It costs far less on both sides than an array per column (asyncpg checks every
    element of an array parameter in Python; PostgreSQL takes the JSON apart in C)."""
    return to_json(rows).decode()


def _json_columns(columns: Sequence[tuple[str, str]]) -> str:
    """``(r->>0)::type AS name, ...`` for the columns of ``_rows_json``'s arrays."""
    return ", ".join(f"(r->>{i})::{kind} AS {name}" for i, (name, kind) in enumerate(columns))


_UPDATE_STATE = (
    "UPDATE assignments a SET "  # noqa: S608 - only the constant column names above go in
    + ", ".join(f"{name} = u.{name}" for name, _ in _STATE)
    + ", updated_at = $2 FROM (SELECT "
    + _json_columns([("inquiry_id", "uuid"), *_STATE])
    + " FROM jsonb_array_elements($1::text::jsonb) AS r) AS u WHERE a.inquiry_id = u.inquiry_id"
)

_HISTORY = (  # in the order of ``HistoryEntry``'s fields
    ("inquiry_id", "uuid"),
    ("event_type", "text"),
    ("tier", "text"),
    ("occurred_at", "timestamptz"),
    ("clock", "text"),
    ("to_tier", "text"),
    ("network_id", "text"),
    ("assignee_id", "text"),
    ("due_at", "timestamptz"),
    ("detail", "text"),
)
_INSERT_HISTORY = (
    f"INSERT INTO sla_history ({', '.join(name for name, _ in _HISTORY)})"  # noqa: S608 - constant names only
    f" SELECT {_json_columns(_HISTORY)} FROM jsonb_array_elements($1::text::jsonb) AS r"
)


class AssignmentRepository:
    """Each inquiry's routing state (network, tier, assignee, clocks) and what fired, in routing's schema."""

    def __init__(self, conn: PoolConnectionProxy) -> None:
        self._conn = conn

    async def insert_new(self, *, assignments: Sequence[Assignment]) -> set[UUID]:
        """Insert new assignments; return the inquiry ids that were new.

        An inquiry already assigned (or repeated within ``assignments``: the first one counts) is left as it is.
        """
        if not assignments:
            return set()
        rows = await self._conn.fetch(
            "INSERT INTO assignments (inquiry_id, category, school_id, network_id, queue, tier, reason, assigned_at,"
            " updated_at, urgency) SELECT a.inquiry_id, a.category, a.school_id, a.network_id, a.queue, a.tier,"
            " a.reason, a.assigned_at, a.assigned_at, a.urgency FROM unnest($1::uuid[], $2::text[], $3::int[],"
            " $4::text[], $5::text[], $6::text[], $7::text[], $8::timestamptz[], $9::text[]) AS a(inquiry_id,"
            " category, school_id, network_id, queue, tier, reason, assigned_at, urgency)"
            " ON CONFLICT (inquiry_id) DO NOTHING RETURNING inquiry_id",
            [a.inquiry_id for a in assignments],
            [a.category for a in assignments],
            [a.school_id for a in assignments],
            [a.network.id for a in assignments],
            [a.queue for a in assignments],
            [a.tier for a in assignments],
            [a.reason for a in assignments],
            [a.assigned_at for a in assignments],
            [a.urgency for a in assignments],
        )
        new = {row["inquiry_id"] for row in rows}
        first: dict[UUID, Assignment] = {}
        for a in assignments:
            if a.inquiry_id in new:
                first.setdefault(a.inquiry_id, a)
        await self.save(assignments=list(first.values()), now=max(a.assigned_at for a in assignments))
        return new

    async def save(self, *, assignments: Sequence[Assignment], now: datetime) -> None:
        """Write the routing state (network, tier, assignee, clocks, due times) of these assignments."""
        if not assignments:
            return
        await self._conn.execute(_UPDATE_STATE, _rows_json([_state(a) for a in assignments]), now)

    async def get(self, *, inquiry_id: UUID) -> Assignment | None:
        """The inquiry's routing state, with its network's name now."""
        row = await self._conn.fetchrow(f"{_ASSIGNMENT_SELECT} WHERE a.inquiry_id = $1", inquiry_id)
        return _assignment(row) if row else None

    async def lock(self, *, inquiry_ids: Iterable[UUID]) -> dict[UUID, Assignment]:
        """The assignments of these inquiries, locked for this transaction (in id order, so two never deadlock)."""
        rows = await self._conn.fetch(
            f"{_ASSIGNMENT_SELECT} WHERE a.inquiry_id = ANY($1::uuid[]) ORDER BY a.inquiry_id FOR UPDATE OF a",
            list(set(inquiry_ids)),
        )
        return {row["inquiry_id"]: _assignment(row) for row in rows}

    async def claim_due(self, *, now: datetime, limit: int) -> list[Assignment]:
        """Up to ``limit`` assignments whose next warning, escalation or breach is due, earliest first, locked for
        this transaction; rows another replica holds are skipped (``FOR UPDATE SKIP LOCKED``)."""
        rows = await self._conn.fetch(
            f"{_ASSIGNMENT_SELECT} WHERE a.next_due_at <= $1 ORDER BY a.next_due_at LIMIT $2"
            " FOR UPDATE OF a SKIP LOCKED",
            now,
            limit,
        )
        return [_assignment(row) for row in rows]

    async def next_due(self) -> datetime | None:
        """When the earliest pending warning, escalation or breach is due."""
        due: datetime | None = await self._conn.fetchval("SELECT min(next_due_at) FROM assignments")
        return due

    async def lock_open(self, *, school_ids: Sequence[int] | None = None) -> list[Assignment]:
        """Open assignments with clocks (of these schools, when given), locked in id order."""
        where = "a.status = 'open' AND (a.fr_target IS NOT NULL OR a.res_target IS NOT NULL)"
        if school_ids is None:
            rows = await self._conn.fetch(f"{_ASSIGNMENT_SELECT} WHERE {where} ORDER BY a.inquiry_id FOR UPDATE OF a")
        else:
            rows = await self._conn.fetch(
                f"{_ASSIGNMENT_SELECT} WHERE {where} AND a.school_id = ANY($1::int[])"
                " ORDER BY a.inquiry_id FOR UPDATE OF a",
                list(school_ids),
            )
        return [_assignment(row) for row in rows]

    async def lock_without_clocks(self) -> list[Assignment]:
        """Open assignments made before clocks existed, locked (rows another replica holds are skipped)."""
        rows = await self._conn.fetch(
            f"{_ASSIGNMENT_SELECT} WHERE a.status = 'open' AND a.fr_target IS NULL AND a.res_target IS NULL"
            " ORDER BY a.inquiry_id FOR UPDATE OF a SKIP LOCKED"
        )
        return [_assignment(row) for row in rows]

    async def open_in_network(self, *, network_id: str) -> list[Assignment]:
        rows = await self._conn.fetch(f"{_ASSIGNMENT_SELECT} WHERE a.network_id = $1 AND a.status = 'open'", network_id)
        return [_assignment(row) for row in rows]

    async def add_history(self, *, entries: Sequence[HistoryEntry]) -> None:
        if entries:
            await self._conn.execute(_INSERT_HISTORY, _rows_json(entries))

    async def history(self, *, inquiry_id: UUID) -> list[HistoryEntry]:
        rows = await self._conn.fetch(
            "SELECT inquiry_id, event_type, tier, occurred_at, clock, to_tier, network_id, assignee_id, due_at, detail"
            " FROM sla_history WHERE inquiry_id = $1 ORDER BY id",
            inquiry_id,
        )
        return [HistoryEntry(**dict(row)) for row in rows]


def _staff(row: Record) -> Staff:
    return Staff(
        id=row["id"],
        name=row["name"],
        role=row["role"],
        network_id=row["network_id"],
        active=row["active"],
        open_load=row["open_load"],
        email=row["email"],
    )


_STAFF_COLUMNS = "id, name, role, network_id, active, open_load, email"
_STAFF_SELECT = f"SELECT {_STAFF_COLUMNS} FROM staff"  # noqa: S608 - constant column names


class StaffRepository:
    """The staff directory and each member's open load."""

    def __init__(self, conn: PoolConnectionProxy) -> None:
        self._conn = conn
        self._loads: dict[str, int] = {}

    async def pool(self, *, network_ids: Iterable[str]) -> StaffPool:
        """The staff of these networks (and central) with their open loads, to give inquiries out from.

        Read without locking, so the deadline workers of all replicas do not wait for each other for their whole
        transaction; a use case that chose least-loaded staff from it ``confirm``s the pairs it chose in before it
        writes (and decides again on a fresh read if another replica changed them), and ``add_load`` keeps every
        count exact.
        """
        rows = await self._conn.fetch(
            f"{_STAFF_SELECT} WHERE network_id = ANY($1::text[])", sorted({*network_ids, CENTRAL_ID})
        )
        return StaffPool(_staff(row) for row in rows)

    async def hold(self, *, pairs: Sequence[tuple[str, str]]) -> None:
        """Take the transaction's advisory lock on each (network, role) pair, in the order given (sorted by the
        caller, so two transactions never wait on each other in a circle): whoever assigns from a pair, or changes
        its members, does so one transaction at a time from here to its commit."""
        if pairs:
            await self._conn.execute(
                "SELECT pg_advisory_xact_lock(hashtext('routing.staff:' || p.network_id || ':' || p.role))"
                " FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS p(network_id, role, n)",
                [network for network, _ in pairs],
                [role for _, role in pairs],
            )

    async def confirm(self, *, staff: StaffPool) -> bool:
        """Hold the pairs where ``staff`` made least-loaded choices and check that their members and loads are as
        ``staff`` read them; False when another transaction changed them in between (decide again: the pairs stay
        held until the commit, so the second read stands)."""
        pairs = staff.choices()
        if not pairs:
            return True
        await self.hold(pairs=pairs)
        rows = await self._conn.fetch(
            "SELECT s.id, s.active, s.open_load FROM staff s JOIN unnest($1::text[], $2::text[]) AS p(network_id, role)"
            " ON s.network_id = p.network_id AND s.role = p.role",
            [network for network, _ in pairs],
            [role for _, role in pairs],
        )
        return {row["id"]: (row["active"], row["open_load"]) for row in rows} == staff.as_read(pairs)

    async def add_load(self, *, changes: dict[str, int]) -> None:
        """Change open loads by these amounts, at the very end of the caller's transaction (``write_loads``, after
        its outbox rows): the staff rows stay locked only for their update and the commit. Every round of the
        deadline workers of every replica changes the same few loads (a network's PSA), so whatever else ran while
        they were locked would run one transaction at a time."""
        for staff_id, delta in changes.items():
            self._loads[staff_id] = self._loads.get(staff_id, 0) + delta

    async def write_loads(self) -> None:
        """Write the load changes ``add_load`` gathered: the rows locked in id order (two transactions never
        deadlock), NO KEY UPDATE like the update itself (it does not wait for the KEY SHARE locks that saving an
        assignee, a foreign key, takes)."""
        changes = {staff_id: delta for staff_id, delta in self._loads.items() if delta}
        self._loads.clear()
        if changes:
            await self._conn.execute(
                "SELECT id FROM staff WHERE id = ANY($1::text[]) ORDER BY id FOR NO KEY UPDATE", sorted(changes)
            )
            await self._conn.execute(
                "UPDATE staff s SET open_load = greatest(0, s.open_load + c.delta) FROM unnest($1::text[], $2::int[])"
                " AS c(id, delta) WHERE s.id = c.id",
                list(changes),
                list(changes.values()),
            )

    async def all(self, *, network_id: str | None = None) -> list[Staff]:
        if network_id is None:
            rows = await self._conn.fetch(f"{_STAFF_SELECT} ORDER BY network_id, role, id")
        else:
            rows = await self._conn.fetch(f"{_STAFF_SELECT} WHERE network_id = $1 ORDER BY role, id", network_id)
        return [_staff(row) for row in rows]

    async def get(self, *, staff_id: str) -> Staff | None:
        row = await self._conn.fetchrow(f"{_STAFF_SELECT} WHERE id = $1", staff_id)
        return _staff(row) if row else None

    async def known_networks(self, *, network_ids: Iterable[str]) -> set[str]:
        rows = await self._conn.fetch("SELECT id FROM networks WHERE id = ANY($1::text[])", list(set(network_ids)))
        return {row["id"] for row in rows}

    async def upsert(self, *, staff: Sequence[Staff], only_new: bool, now: datetime) -> list[Staff]:
        """Add these staff (and, unless ``only_new``, change the ones that differ); the rows added or changed."""
        if not staff:
            return []
        before = await self._conn.fetch(
            "SELECT network_id, role FROM staff WHERE id = ANY($1::text[])", [m.id for m in staff]
        )
        pairs = {(row["network_id"], row["role"]) for row in before} | {(m.network_id, m.role) for m in staff}
        await self.hold(pairs=sorted(pairs))  # nobody assigns from a pair while its members change
        conflict = (
            "DO NOTHING"
            if only_new
            else "DO UPDATE SET name = excluded.name, role = excluded.role, network_id = excluded.network_id,"
            " active = excluded.active, email = excluded.email, updated_at = excluded.updated_at"
            " WHERE (staff.name, staff.role, staff.network_id, staff.active, staff.email)"
            " IS DISTINCT FROM (excluded.name, excluded.role, excluded.network_id, excluded.active, excluded.email)"
        )
        rows = await self._conn.fetch(
            "INSERT INTO staff (id, name, role, network_id, active, email, updated_at) SELECT s.*, $7::timestamptz"  # noqa: S608
            " FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bool[], $6::text[]) AS s(id, name, role,"
            f" network_id, active, email) ON CONFLICT (id) {conflict} RETURNING {_STAFF_COLUMNS}",
            [m.id for m in staff],
            [m.name for m in staff],
            [m.role for m in staff],
            [m.network_id for m in staff],
            [m.active for m in staff],
            [m.email for m in staff],
            now,
        )
        return [_staff(row) for row in rows]


class CalendarRepository:
    """Emergency closure days, shared by every replica."""

    def __init__(self, conn: PoolConnectionProxy) -> None:
        self._conn = conn

    async def closures(self) -> dict[date, str]:
        rows = await self._conn.fetch("SELECT day, reason FROM calendar_closures")
        return {row["day"]: row["reason"] for row in rows}

    async def add_closure(self, *, day: date, reason: str, now: datetime) -> bool:
        """Record a closure day; False when that day was closed already. Serialized with a transaction lock, so two
        replicas adding closures never move the same deadlines from different calendars."""
        await self._conn.execute("SELECT pg_advisory_xact_lock(hashtext('routing.calendar_closures'))")
        added = await self._conn.fetchval(
            "INSERT INTO calendar_closures (day, reason, added_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING"
            " RETURNING true",
            day,
            reason,
            now,
        )
        return bool(added)
