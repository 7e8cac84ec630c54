"""All of intake's SQL, behind small functions with keyword-only arguments."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

from asyncpg.pool import PoolConnectionProxy

from services.intake.domain import Assignment, Inquiry
from shared.contracts.inquiries import InquirySubmission

Conn = PoolConnectionProxy


async def next_reference_numbers(conn: Conn, *, count: int) -> list[int]:
    rows = await conn.fetch("SELECT nextval('inquiry_reference_seq') AS n FROM generate_series(1, $1)", count)
    return [row["n"] for row in rows]


async def claim_idempotency_keys(conn: Conn, *, claims: Sequence[tuple[str, str, UUID]]) -> set[UUID]:
    """Insert (key, fingerprint, inquiry id) rows; return the inquiry ids whose key was new.

    A key already present (or repeated within ``claims``) is left as it is; a concurrent transaction holding the
    same key makes this one wait for it, so two replicas never both claim a key.
    """
    if not claims:
        return set()
    rows = await conn.fetch(
        "INSERT INTO idempotency_keys (key, fingerprint, inquiry_id)"
        " SELECT * FROM unnest($1::text[], $2::text[], $3::uuid[]) ON CONFLICT (key) DO NOTHING"
        " RETURNING inquiry_id",
        [c[0] for c in claims],
        [c[1] for c in claims],
        [c[2] for c in claims],
    )
    return {row["inquiry_id"] for row in rows}


async def find_idempotency_keys(conn: Conn, *, keys: Sequence[str]) -> dict[str, tuple[str, UUID]]:
    rows = await conn.fetch(
        "SELECT key, fingerprint, inquiry_id FROM idempotency_keys WHERE key = ANY($1::text[])", list(keys)
    )
    return {row["key"]: (row["fingerprint"], row["inquiry_id"]) for row in rows}


async def insert_inquiries(conn: Conn, *, inquiries: Sequence[Inquiry]) -> None:
    await conn.executemany(
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


_COLUMNS = (
    "id, reference, status, category, channel, description, parent, student, submitted_by, source, correlation_id,"
    " created_at, updated_at, network_id, network_name, queue, tier, assigned_at, due_at"
)


def _assignment(row: Any) -> Assignment | None:
    if row["network_id"] is None:
        return None
    return Assignment(
        network_id=row["network_id"],
        network_name=row["network_name"],
        queue=row["queue"],
        tier=row["tier"],
        assigned_at=row["assigned_at"],
        due_at=row["due_at"],
    )


def _inquiry(row: Any) -> Inquiry:
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


async def get_inquiry(conn: Conn, *, inquiry_id: UUID | None = None, reference: str | None = None) -> Inquiry | None:
    if inquiry_id is not None:
        row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM inquiries WHERE id = $1", inquiry_id)  # noqa: S608 - constant
    else:
        row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM inquiries WHERE reference = $1", reference)  # noqa: S608
    return _inquiry(row) if row else None


async def get_assignments_for_update(conn: Conn, *, inquiry_ids: Sequence[UUID]) -> dict[UUID, Assignment | None]:
    """What routing decided so far for each inquiry intake has (None: not yet), rows locked for the update."""
    rows = await conn.fetch(
        "SELECT id, network_id, network_name, queue, tier, assigned_at, due_at FROM inquiries"
        " WHERE id = ANY($1::uuid[]) FOR UPDATE",
        list(set(inquiry_ids)),
    )
    return {row["id"]: _assignment(row) for row in rows}


async def save_assignments(conn: Conn, *, assignments: Mapping[UUID, Assignment]) -> None:
    await conn.executemany(
        "UPDATE inquiries SET network_id = $2, network_name = $3, queue = $4, tier = $5, assigned_at = $6,"
        " due_at = $7, updated_at = greatest(updated_at, $6) WHERE id = $1",
        [
            (inquiry_id, a.network_id, a.network_name, a.queue, a.tier, a.assigned_at, a.due_at)
            for inquiry_id, a in assignments.items()
        ],
    )
