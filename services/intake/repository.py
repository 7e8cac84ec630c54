"""All of intake's SQL: ``InquiryRepository`` on a unit of work's connection (``uow.inquiries``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from uuid import UUID

from asyncpg import Record
from asyncpg.pool import PoolConnectionProxy

from services.intake.domain import ASSIGNMENT_FIELDS, Assignment, Inquiry
from services.intake.parents import Attempts, ParentRecord
from shared.contracts.inquiries import InquirySubmission

_ASSIGNMENT_COLUMNS = ", ".join(ASSIGNMENT_FIELDS)
_INQUIRY_COLUMNS = (
    "id, reference, status, category, channel, description, parent, student, submitted_by, source, correlation_id,"
    f" created_at, updated_at, {_ASSIGNMENT_COLUMNS}"
)
# $1 is the inquiry id; the assignment's fields follow in ASSIGNMENT_FIELDS order. Only constant names go in.
_SAVE_ASSIGNMENT = (
    "UPDATE inquiries SET "  # noqa: S608
    + ", ".join(f"{name} = ${i}" for i, name in enumerate(ASSIGNMENT_FIELDS, start=2))
    + f", updated_at = greatest(updated_at, ${2 + ASSIGNMENT_FIELDS.index('assigned_at')}) WHERE id = $1"
)


def _assignment(row: Record) -> Assignment | None:
    if row["network_id"] is None:
        return None
    return Assignment(**{name: row[name] for name in ASSIGNMENT_FIELDS})


def _inquiry(row: Record) -> Inquiry:
    return Inquiry(
        id=row["id"],
        reference=row["reference"],
        status=row["status"],
        submission=InquirySubmission(
            parent=row["parent"],
            student=row["student"],
            category=row["category"],
            description=row["description"],
            channel=row["channel"],
            submitted_by=row["submitted_by"],
        ),
        source=row["source"],
        correlation_id=row["correlation_id"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        assignment=_assignment(row),
    )


class InquiryRepository:
    """Inquiries, their reference numbers and idempotency keys, in intake's schema."""

    def __init__(self, conn: PoolConnectionProxy) -> None:
        self._conn = conn

    async def next_reference_numbers(self, *, count: int) -> list[int]:
        rows = await self._conn.fetch("SELECT nextval('inquiry_reference_seq') AS n FROM generate_series(1, $1)", count)
        return [int(row["n"]) for row in rows]

    async def claim_keys(self, *, claims: Sequence[tuple[str, str, UUID]]) -> set[UUID]:
        """Insert (key, fingerprint, inquiry id) rows; return the inquiry ids whose key was new.

        A key already present (or repeated within ``claims``) is left as it is; a concurrent transaction holding the
        same key makes this one wait for it, so two replicas never both claim a key.
        """
        if not claims:
            return set()
        rows = await self._conn.fetch(
            "INSERT INTO idempotency_keys (key, fingerprint, inquiry_id)"
            " SELECT * FROM unnest($1::text[], $2::text[], $3::uuid[]) ON CONFLICT (key) DO NOTHING"
            " RETURNING inquiry_id",
            [c[0] for c in claims],
            [c[1] for c in claims],
            [c[2] for c in claims],
        )
        return {row["inquiry_id"] for row in rows}

    async def find_keys(self, *, keys: Sequence[str]) -> dict[str, tuple[str, UUID]]:
        """For each key already claimed: the fingerprint of its content and the inquiry it created."""
        rows = await self._conn.fetch(
            "SELECT key, fingerprint, inquiry_id FROM idempotency_keys WHERE key = ANY($1::text[])", list(keys)
        )
        return {row["key"]: (row["fingerprint"], row["inquiry_id"]) for row in rows}

    async def add(self, *, inquiries: Sequence[Inquiry]) -> None:
        await self._conn.executemany(
            "INSERT INTO inquiries (id, reference, status, category, channel, description, parent, student,"
            " submitted_by, source, correlation_id, created_at, updated_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7::text::jsonb, $8::text::jsonb, $9, $10, $11, $12, $13)",
            [
                (
                    i.id,
                    i.reference,
                    i.status,
                    i.submission.category.value,
                    i.submission.channel.value,
                    i.submission.description,
                    i.submission.parent.model_dump_json(),
                    i.submission.student.model_dump_json(),
                    i.submission.submitted_by,
                    i.source,
                    i.correlation_id,
                    i.created_at,
                    i.updated_at,
                )
                for i in inquiries
            ],
        )

    async def get(self, *, inquiry_id: UUID | None = None, reference: str | None = None) -> Inquiry | None:
        """By id, or else by reference number."""
        if inquiry_id is not None:
            row = await self._conn.fetchrow(
                f"SELECT {_INQUIRY_COLUMNS} FROM inquiries WHERE id = $1",  # noqa: S608 - constant columns
                inquiry_id,
            )
        else:
            row = await self._conn.fetchrow(
                f"SELECT {_INQUIRY_COLUMNS} FROM inquiries WHERE reference = $1",  # noqa: S608 - constant columns
                reference,
            )
        return _inquiry(row) if row else None

    async def assignments_for_update(self, *, inquiry_ids: Sequence[UUID]) -> dict[UUID, Assignment | None]:
        """What routing decided so far for each inquiry intake has (None: not yet), rows locked for the update."""
        rows = await self._conn.fetch(
            f"SELECT id, {_ASSIGNMENT_COLUMNS} FROM inquiries WHERE id = ANY($1::uuid[]) FOR UPDATE",  # noqa: S608
            list(set(inquiry_ids)),
        )
        return {row["id"]: _assignment(row) for row in rows}

    async def save_assignments(self, *, assignments: Mapping[UUID, Assignment]) -> None:
        await self._conn.executemany(
            _SAVE_ASSIGNMENT,
            [
                (inquiry_id, *(getattr(assignment, name) for name in ASSIGNMENT_FIELDS))
                for inquiry_id, assignment in assignments.items()
            ],
        )


class StatusPageRepository:
    """The parent's status page: status tokens (their digests), what the parent may see of an inquiry, and the
    attempts counted per reference and per client (shared by every replica)."""

    def __init__(self, conn: PoolConnectionProxy) -> None:
        self._conn = conn

    async def add_tokens(self, *, digests: Mapping[UUID, bytes]) -> None:
        await self._conn.executemany(
            "INSERT INTO status_tokens (inquiry_id, digest) VALUES ($1, $2)", list(digests.items())
        )

    async def parent_record(self, *, reference: str) -> ParentRecord | None:
        row = await self._conn.fetchrow(
            "SELECT i.id, i.reference, i.status, i.parent ->> 'mobile_phone' AS phone, t.digest, i.network_name,"
            " i.due_at FROM inquiries i LEFT JOIN status_tokens t ON t.inquiry_id = i.id WHERE i.reference = $1",
            reference,
        )
        if row is None:
            return None
        return ParentRecord(
            inquiry_id=row["id"],
            reference=row["reference"],
            status=row["status"],
            phone=row["phone"],
            token_digest=row["digest"],
            office=row["network_name"],
            due_at=row["due_at"],
        )

    async def count_attempts(
        self, *, keys: Sequence[tuple[str, str]], now: datetime, window_ends: datetime
    ) -> dict[str, Attempts]:
        """Count one attempt for each (scope, key), in its current window or a new one ending at ``window_ends``;
        return each scope's count so far. The rows stay locked until the transaction ends, so replicas count in turn
        (``keys`` in the same order every time: reference, then client)."""
        rows = await self._conn.fetch(
            "INSERT INTO status_attempts AS a (scope, key, attempts, window_ends)"
            " SELECT scope, key, 1, $3 FROM unnest($1::text[], $2::text[]) AS k (scope, key)"
            " ON CONFLICT (scope, key) DO UPDATE SET"
            " attempts = CASE WHEN a.window_ends <= $4 THEN 1 ELSE a.attempts + 1 END,"
            " window_ends = CASE WHEN a.window_ends <= $4 THEN excluded.window_ends ELSE a.window_ends END"
            " RETURNING scope, attempts, window_ends",
            [scope for scope, _ in keys],
            [key for _, key in keys],
            window_ends,
            now,
        )
        return {row["scope"]: Attempts(count=row["attempts"], window_ends=row["window_ends"]) for row in rows}

    async def take_back(self, *, keys: Sequence[tuple[str, str]]) -> None:
        """A proven attempt does not count."""
        await self._conn.execute(
            "UPDATE status_attempts SET attempts = attempts - 1"
            " WHERE (scope, key) IN (SELECT * FROM unnest($1::text[], $2::text[])) AND attempts > 0",
            [scope for scope, _ in keys],
            [key for _, key in keys],
        )

    async def prune_attempts(self, *, now: datetime, limit: int = 100) -> None:
        """Forget up to ``limit`` windows that have ended (skipping rows another replica holds)."""
        await self._conn.execute(
            "DELETE FROM status_attempts WHERE ctid IN (SELECT ctid FROM status_attempts WHERE window_ends <= $1"
            " LIMIT $2 FOR UPDATE SKIP LOCKED)",
            now,
            limit,
        )
