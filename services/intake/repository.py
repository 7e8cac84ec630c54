"""All of intake's SQL: ``InquiryRepository`` on a unit of work's connection (``uow.inquiries``)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from uuid import UUID

from asyncpg import Record
from asyncpg.pool import PoolConnectionProxy

from services.intake.domain import (
    ASSIGNMENT_FIELDS,
    Assignment,
    CaseState,
    HistoryEntry,
    Inquiry,
    Link,
    Note,
    QueueFilter,
)
from services.intake.parents import Attempts, ParentRecord
from shared.contracts.inquiries import InquirySubmission

_ASSIGNMENT_COLUMNS = ", ".join(ASSIGNMENT_FIELDS)
_INQUIRY_COLUMNS = (
    "id, reference, status, category, channel, description, parent, student, submitted_by, source, correlation_id,"
    f" created_at, updated_at, {_ASSIGNMENT_COLUMNS}, resolved_at, close_due_at"
)
# $1 is the inquiry id, then status, updated_at, resolved_at, close_due_at, then the assignment's fields in
# ASSIGNMENT_FIELDS order. Only constant names go in.
_SAVE = (
    "UPDATE inquiries SET status = $2, updated_at = $3, resolved_at = $4, close_due_at = $5, "  # noqa: S608
    + ", ".join(f"{name} = ${i}" for i, name in enumerate(ASSIGNMENT_FIELDS, start=6))
    + " WHERE id = $1"
)
# $1 is the inquiry id, then status, updated_at, then the assignment's fields.
_SAVE_STATE = (
    "UPDATE inquiries SET status = $2, updated_at = $3, "  # noqa: S608
    + ", ".join(f"{name} = ${i}" for i, name in enumerate(ASSIGNMENT_FIELDS, start=4))
    + " WHERE id = $1"
)
_NOTE_COLUMNS = "id, inquiry_id, kind, text, visible_to_parent, by, created_at"


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
        resolved_at=row["resolved_at"],
        close_due_at=row["close_due_at"],
    )


def _note(row: Record) -> Note:
    return Note(**{name: row[name] for name in _NOTE_COLUMNS.split(", ")})


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

    async def get(
        self, *, inquiry_id: UUID | None = None, reference: str | None = None, for_update: bool = False
    ) -> Inquiry | None:
        """By id, or else by reference number; ``for_update`` locks the row for the transaction."""
        lock = " FOR UPDATE" if for_update else ""
        column, value = ("id", inquiry_id) if inquiry_id is not None else ("reference", reference)
        row = await self._conn.fetchrow(
            f"SELECT {_INQUIRY_COLUMNS} FROM inquiries WHERE {column} = $1{lock}",  # noqa: S608 - constant names
            value,
        )
        return _inquiry(row) if row else None

    async def lock_states(self, *, inquiry_ids: Sequence[UUID]) -> dict[UUID, CaseState]:
        """Status and assignment of the inquiries intake has among these, rows locked (in id order: no deadlock);
        the content is not read."""
        rows = await self._conn.fetch(
            f"SELECT id, status, updated_at, {_ASSIGNMENT_COLUMNS} FROM inquiries"  # noqa: S608 - constant columns
            " WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE",
            list(set(inquiry_ids)),
        )
        return {row["id"]: CaseState(row["id"], row["status"], row["updated_at"], _assignment(row)) for row in rows}

    async def save_states(self, *, states: Sequence[CaseState]) -> None:
        await self._conn.executemany(
            _SAVE_STATE,
            [
                (
                    c.id,
                    c.status,
                    c.updated_at,
                    *(getattr(c.assignment, name) if c.assignment else None for name in ASSIGNMENT_FIELDS),
                )
                for c in states
            ],
        )

    async def save(self, *, inquiries: Sequence[Inquiry]) -> None:
        """The lifecycle columns (status, times, assignment); the inquiry's content never changes."""
        await self._conn.executemany(
            _SAVE,
            [
                (
                    i.id,
                    i.status,
                    i.updated_at,
                    i.resolved_at,
                    i.close_due_at,
                    *(getattr(i.assignment, name) if i.assignment else None for name in ASSIGNMENT_FIELDS),
                )
                for i in inquiries
            ],
        )

    async def add_note(self, *, note: Note) -> None:
        await self._conn.execute(
            f"INSERT INTO notes ({_NOTE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)",  # noqa: S608
            *(getattr(note, name) for name in _NOTE_COLUMNS.split(", ")),
        )

    async def visible_notes(self, *, inquiry_id: UUID) -> list[Note]:
        """The notes the parent may read (status page), oldest first."""
        rows = await self._conn.fetch(
            f"SELECT {_NOTE_COLUMNS} FROM notes WHERE inquiry_id = $1 AND visible_to_parent"  # noqa: S608
            " ORDER BY created_at, id",
            inquiry_id,
        )
        return [_note(row) for row in rows]

    async def add_history(self, *, entries: Sequence[HistoryEntry]) -> None:
        """Each event once: a redelivered one (same event id) is left as it is."""
        if not entries:
            return
        await self._conn.execute(
            "INSERT INTO history (event_id, inquiry_id, event_type, occurred_at, source, by, note_id, detail)"
            " SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::timestamptz[], $5::text[], $6::text[],"
            " $7::uuid[], $8::text[]::jsonb[]) ON CONFLICT (event_id) DO NOTHING",
            [e.event_id for e in entries],
            [e.inquiry_id for e in entries],
            [e.event_type for e in entries],
            [e.occurred_at for e in entries],
            [e.source for e in entries],
            [e.by for e in entries],
            [e.note_id for e in entries],
            [json.dumps(e.detail or {}) for e in entries],
        )

    async def history(self, *, inquiry_id: UUID) -> list[HistoryEntry]:
        """In the order things happened (ties in the order intake stored them), with each note's text."""
        rows = await self._conn.fetch(
            "SELECT h.event_id, h.inquiry_id, h.event_type, h.occurred_at, h.source, h.by, h.note_id,"
            " h.detail::text AS detail, n.kind, n.text, n.visible_to_parent, n.by AS note_by, n.created_at AS note_at"
            " FROM history h LEFT JOIN notes n ON n.id = h.note_id WHERE h.inquiry_id = $1"
            " ORDER BY h.occurred_at, h.id",
            inquiry_id,
        )
        return [
            HistoryEntry(
                event_id=row["event_id"],
                inquiry_id=row["inquiry_id"],
                event_type=row["event_type"],
                occurred_at=row["occurred_at"],
                source=row["source"],
                by=row["by"],
                note_id=row["note_id"],
                detail=json.loads(row["detail"]),
                note=None
                if row["note_id"] is None
                else Note(
                    row["note_id"],
                    inquiry_id,
                    row["kind"],
                    row["text"],
                    row["visible_to_parent"],
                    row["note_by"],
                    row["note_at"],
                ),
            )
            for row in rows
        ]

    async def add_links(self, *, links: Sequence[Link]) -> None:
        await self._conn.executemany(
            "INSERT INTO links (inquiry_id, linked_inquiry_id, relation, by, created_at) VALUES ($1, $2, $3, $4, $5)"
            " ON CONFLICT DO NOTHING",
            [(link.inquiry_id, link.linked_inquiry_id, link.relation, link.by, link.created_at) for link in links],
        )

    async def links(self, *, inquiry_id: UUID, both_ways: bool = False) -> list[Link]:
        other_way = " OR linked_inquiry_id = $1" if both_ways else ""
        rows = await self._conn.fetch(
            "SELECT inquiry_id, linked_inquiry_id, relation, by, created_at FROM links"  # noqa: S608 - constant
            f" WHERE inquiry_id = $1{other_way} ORDER BY created_at",
            inquiry_id,
        )
        return [Link(**dict(row)) for row in rows]

    async def likely_duplicates(self, *, inquiries: Sequence[Inquiry], since: datetime) -> dict[UUID, UUID]:
        """For each of ``inquiries``, the latest stored inquiry since ``since`` of the same category, student and
        parent (``domain.same_parent_and_student``), if any. One query; each lookup goes through the index on the
        parent's email or on the phone."""
        if not inquiries:
            return {}
        subs = [i.submission for i in inquiries]
        same_case = (
            "i.category = c.category AND i.created_at >= $7 AND i.id <> c.id"
            " AND i.student ->> 'school_id' = c.school AND i.student ->> 'grade' = c.grade"
        )
        rows = await self._conn.fetch(
            "SELECT c.id, d.id AS duplicate_of"  # noqa: S608 - constant text, values as $n
            " FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])"
            " AS c(id, school, category, grade, email, phone)"
            " CROSS JOIN LATERAL ("
            f"(SELECT i.id, i.created_at FROM inquiries i WHERE lower(i.parent ->> 'email') = c.email AND {same_case})"
            f" UNION ALL (SELECT i.id, i.created_at FROM inquiries i WHERE i.parent ->> 'mobile_phone' = c.phone"
            f" AND {same_case}) ORDER BY created_at DESC, id DESC LIMIT 1) AS d",
            [i.id for i in inquiries],
            [str(s.student.school_id) for s in subs],
            [s.category.value for s in subs],
            [s.student.grade for s in subs],
            [s.parent.email.lower() if s.parent.email else None for s in subs],
            [s.parent.mobile_phone for s in subs],
            since,
        )
        return {row["id"]: row["duplicate_of"] for row in rows}

    async def find_action_key(self, *, key: str) -> tuple[str, UUID] | None:
        """A staff action's key seen before: its fingerprint and the inquiry it answered with."""
        row = await self._conn.fetchrow("SELECT fingerprint, answer_id FROM action_keys WHERE key = $1", key)
        return (row["fingerprint"], row["answer_id"]) if row else None

    async def claim_action_key(self, *, key: str, fingerprint: str, inquiry_id: UUID, answer_id: UUID) -> bool:
        """False when the key is taken (a concurrent transaction holding it makes this one wait for it)."""
        claimed = await self._conn.fetchval(
            "INSERT INTO action_keys (key, fingerprint, inquiry_id, answer_id) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (key) DO NOTHING RETURNING true",
            key,
            fingerprint,
            inquiry_id,
            answer_id,
        )
        return bool(claimed)

    async def due_for_closing(self, *, now: datetime, limit: int) -> list[Inquiry]:
        """Resolved inquiries whose reopen window has passed, claimed: rows another transaction holds are skipped."""
        rows = await self._conn.fetch(
            f"SELECT {_INQUIRY_COLUMNS} FROM inquiries WHERE status = 'resolved' AND close_due_at <= $1"  # noqa: S608
            " ORDER BY close_due_at LIMIT $2 FOR UPDATE SKIP LOCKED",
            now,
            limit,
        )
        return [_inquiry(row) for row in rows]

    async def next_close_due(self) -> datetime | None:
        due: datetime | None = await self._conn.fetchval(
            "SELECT min(close_due_at) FROM inquiries WHERE status = 'resolved'"
        )
        return due

    async def queue(self, *, where: QueueFilter, limit: int) -> list[Inquiry]:
        """The staff queue, newest first, ``limit`` rows after the cursor (or most urgent first: ``most_urgent_first``).
        Each filter is a parameter (never text)."""
        conditions, args = [], []

        def arg(value: object) -> str:
            args.append(value)
            return f"${len(args)}"

        if where.status is not None:
            conditions.append(f"status = {arg(where.status)}")
        if where.network_id is not None:
            conditions.append(f"network_id = {arg(where.network_id)}")
        if where.network_ids is not None:
            conditions.append(f"network_id = ANY({arg(list(where.network_ids))}::text[])")
        if where.category is not None:
            conditions.append(f"category = {arg(where.category)}")
        if where.school_id is not None:
            conditions.append(f"student ->> 'school_id' = {arg(str(where.school_id))}")
        if where.reference is not None:
            escaped = where.reference.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            conditions.append(f"reference LIKE {arg(escaped + '%')}")
        if where.before is not None:
            conditions.append(f"(created_at, id) < ({arg(where.before[0])}, {arg(where.before[1])})")
        where_sql = " WHERE " + " AND ".join(conditions) if conditions else ""
        order = "due_at NULLS LAST, created_at, id" if where.most_urgent_first else "created_at DESC, id DESC"
        rows = await self._conn.fetch(
            f"SELECT {_INQUIRY_COLUMNS} FROM inquiries{where_sql}"  # noqa: S608 - constant names, values as $n
            f" ORDER BY {order} LIMIT {arg(limit)}",
            *args,
        )
        return [_inquiry(row) for row in rows]


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
        (callers count a client before a reference, so the locks are always taken in one order)."""
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
