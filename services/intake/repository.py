"""All of intake's SQL: ``InquiryRepository`` on a unit of work's connection (``uow.inquiries``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from uuid import UUID

from asyncpg import Record
from asyncpg.pool import PoolConnectionProxy

from services.intake.domain import ASSIGNMENT_FIELDS, Assignment, Inquiry
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
