"""Intake's SQL for access: the staff it follows, the credentials, failed sign-ins and the audit log
(``AccessRepository`` on a unit of work's connection, ``uow.access``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from asyncpg import Record
from asyncpg.pool import PoolConnectionProxy

from shared.auth import StaffRecord
from shared.auth.staff_table import follow_staff_rows
from shared.contracts.routing import StaffUpdated
from shared.db.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class Account:
    """A username with a credential, and the staff member it is (None: routing's staff.updated has not come yet)."""

    username: str
    password_hash: str
    disabled_at: datetime | None
    staff: StaffRecord | None


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor_id: str
    actor_kind: str
    actor_role: str | None
    inquiry_id: UUID
    action: str
    correlation_id: str


@dataclass(frozen=True)
class AuditQuery:
    """Filters of the audit log (None leaves one out); newest first, ``before_id`` is the page cursor."""

    actor_id: str | None = None
    inquiry_id: UUID | None = None
    since: datetime | None = None
    until: datetime | None = None
    before_id: int | None = None
    limit: int = 100


def _staff(row: Record) -> StaffRecord | None:
    if row["role"] is None:
        return None
    return StaffRecord(staff_id=row["username"], role=row["role"], network_id=row["network_id"], active=row["active"])


class AccessRepository:
    def __init__(self, conn: PoolConnectionProxy) -> None:
        self._conn = conn

    async def follow_staff(self, *, events: Sequence[StaffUpdated]) -> None:
        """Apply routing's staff.updated events; an event older than what is on file changes nothing."""
        await follow_staff_rows(self._conn, events)

    async def staff_member(self, staff_id: str) -> StaffRecord | None:
        """The staff member as a signed-in caller: active unless routing says otherwise or their credential is
        disabled (a staff member who signs in elsewhere, by OIDC, has none)."""
        row = await self._conn.fetchrow(
            "SELECT staff_id, role, network_id, active AND NOT EXISTS (SELECT 1 FROM credentials c"
            " WHERE c.username = staff_id AND c.disabled_at IS NOT NULL) AS active FROM staff WHERE staff_id = $1",
            staff_id,
        )
        if row is None:
            return None
        return StaffRecord(
            staff_id=row["staff_id"], role=row["role"], network_id=row["network_id"], active=row["active"]
        )

    async def account(self, username: str) -> Account | None:
        row = await self._conn.fetchrow(
            "SELECT c.username, c.password_hash, c.disabled_at, s.role, s.network_id, s.active"
            " FROM credentials c LEFT JOIN staff s ON s.staff_id = c.username WHERE c.username = $1",
            username,
        )
        if row is None:
            return None
        return Account(row["username"], row["password_hash"], row["disabled_at"], _staff(row))

    async def accounts(self) -> list[Account]:
        rows = await self._conn.fetch(
            "SELECT c.username, c.password_hash, c.disabled_at, s.role, s.network_id, s.active"
            " FROM credentials c LEFT JOIN staff s ON s.staff_id = c.username ORDER BY c.username"
        )
        return [Account(row["username"], row["password_hash"], row["disabled_at"], _staff(row)) for row in rows]

    async def put_credential(self, *, username: str, password_hash: str, now: datetime) -> None:
        """Set the password (and enable the account again)."""
        await self._conn.execute(
            "INSERT INTO credentials (username, password_hash, created_at) VALUES ($1, $2, $3)"
            " ON CONFLICT (username) DO UPDATE SET password_hash = excluded.password_hash, disabled_at = NULL",
            username,
            password_hash,
            now,
        )

    async def disable_credential(self, *, username: str, now: datetime) -> bool:
        status = await self._conn.execute(
            "UPDATE credentials SET disabled_at = coalesce(disabled_at, $2) WHERE username = $1", username, now
        )
        return status != "UPDATE 0"

    async def lock_sign_in(self, *, username: str) -> None:
        """Serialize one username's sign-ins across replicas for the rest of the transaction."""
        await self._conn.execute("SELECT pg_advisory_xact_lock(hashtext('psc.sign_in.' || $1))", username)

    async def failures_since(self, *, subjects: Sequence[str], since: datetime) -> dict[str, tuple[int, datetime]]:
        """Per subject: failed sign-ins since ``since`` and the oldest of them."""
        rows = await self._conn.fetch(
            "SELECT subject, count(*) AS n, min(failed_at) AS oldest FROM sign_in_failures"
            " WHERE subject = ANY($1::text[]) AND failed_at > $2 GROUP BY subject",
            list(subjects),
            since,
        )
        return {row["subject"]: (row["n"], row["oldest"]) for row in rows}

    async def add_failures(self, *, subjects: Sequence[str], at: datetime, forget_before: datetime) -> None:
        await self._conn.execute(
            "DELETE FROM sign_in_failures WHERE subject = ANY($1::text[]) AND failed_at <= $2",
            list(subjects),
            forget_before,
        )
        await self._conn.execute(
            "INSERT INTO sign_in_failures (subject, failed_at) SELECT unnest($1::text[]), $2", list(subjects), at
        )

    async def clear_failures(self, *, subject: str) -> None:
        await self._conn.execute("DELETE FROM sign_in_failures WHERE subject = $1", subject)

    async def record_reads(self, *, entries: Sequence[AuditEntry]) -> None:
        await self._conn.execute(
            "INSERT INTO audit_log (at, actor_id, actor_kind, actor_role, inquiry_id, action, correlation_id)"
            " SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::uuid[], $6::text[],"
            " $7::text[])",
            [e.at for e in entries],
            [e.actor_id for e in entries],
            [e.actor_kind for e in entries],
            [e.actor_role for e in entries],
            [e.inquiry_id for e in entries],
            [e.action for e in entries],
            [e.correlation_id for e in entries],
        )

    async def audit(self, query: AuditQuery) -> list[AuditEntry]:
        rows = await self._conn.fetch(
            "SELECT id, at, actor_id, actor_kind, actor_role, inquiry_id, action, correlation_id FROM audit_log"
            " WHERE ($1::text IS NULL OR actor_id = $1) AND ($2::uuid IS NULL OR inquiry_id = $2)"
            " AND ($3::timestamptz IS NULL OR at >= $3) AND ($4::timestamptz IS NULL OR at < $4)"
            " AND ($5::bigint IS NULL OR id < $5) ORDER BY id DESC LIMIT $6",
            query.actor_id,
            query.inquiry_id,
            query.since,
            query.until,
            query.before_id,
            query.limit,
        )
        return [AuditEntry(**dict(row)) for row in rows]


class PostgresAccessUnitOfWork(UnitOfWork):
    access: AccessRepository

    def _bind(self, conn: PoolConnectionProxy) -> None:
        self.access = AccessRepository(conn)
