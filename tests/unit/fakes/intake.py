"""Intake's unit of work in memory."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from uuid import UUID

from fakes import FakeOutbox
from services.intake.domain import (
    Assignment,
    CaseState,
    HistoryEntry,
    Inquiry,
    Link,
    Note,
    QueueFilter,
    same_parent_and_student,
)
from services.intake.parents import Attempts, ParentRecord
from shared.contracts.inquiries import InquirySubmission

# Sample data for intake's unit tests.
NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
SUBMISSION = InquirySubmission.model_validate(
    {
        "parent": {"name": "Ana Lopez", "email": "ana@example.org"},
        "student": {"school_id": 609794, "grade": "K"},
        "category": "attendance",
        "description": "Absences marked wrongly.",
        "channel": "walk_in",
    }
)


class FakeInquiries:
    def __init__(self) -> None:
        self.by_id: dict[UUID, Inquiry] = {}
        self.assignments: dict[UUID, Assignment] = {}
        self.keys: dict[str, tuple[str, UUID]] = {}
        self.notes: dict[UUID, Note] = {}
        self.history_by_event: dict[UUID, HistoryEntry] = {}
        self.link_rows: dict[tuple[UUID, UUID], Link] = {}
        self.action_keys: dict[str, tuple[str, UUID]] = {}
        self._last_number = 0

    async def next_reference_numbers(self, *, count: int) -> list[int]:
        first = self._last_number + 1
        self._last_number += count
        return list(range(first, first + count))

    async def claim_keys(self, *, claims: Sequence[tuple[str, str, UUID]]) -> set[UUID]:
        claimed: set[UUID] = set()
        for key, fingerprint, inquiry_id in claims:
            if key not in self.keys:
                self.keys[key] = (fingerprint, inquiry_id)
                claimed.add(inquiry_id)
        return claimed

    async def find_keys(self, *, keys: Sequence[str]) -> dict[str, tuple[str, UUID]]:
        return {key: self.keys[key] for key in keys if key in self.keys}

    async def add(self, *, inquiries: Sequence[Inquiry]) -> None:
        for inquiry in inquiries:
            self.by_id[inquiry.id] = inquiry

    async def get(
        self, *, inquiry_id: UUID | None = None, reference: str | None = None, for_update: bool = False
    ) -> Inquiry | None:
        found = [i for i in self.by_id.values() if inquiry_id in (None, i.id) and reference in (None, i.reference)]
        return self._current(found[0]) if found else None

    def _current(self, inquiry: Inquiry) -> Inquiry:
        return replace(inquiry, assignment=self.assignments.get(inquiry.id))

    async def lock_states(self, *, inquiry_ids: Sequence[UUID]) -> dict[UUID, CaseState]:
        return {
            i: CaseState(i, self.by_id[i].status, self.by_id[i].updated_at, self.assignments.get(i))
            for i in inquiry_ids
            if i in self.by_id
        }

    async def save_states(self, *, states: Sequence[CaseState]) -> None:
        for state in states:
            self.by_id[state.id] = replace(self.by_id[state.id], status=state.status, updated_at=state.updated_at)
            if state.assignment is not None:
                self.assignments[state.id] = state.assignment

    async def save(self, *, inquiries: Sequence[Inquiry]) -> None:
        for inquiry in inquiries:
            self.by_id[inquiry.id] = replace(inquiry, assignment=None)
            if inquiry.assignment is not None:
                self.assignments[inquiry.id] = inquiry.assignment

    async def add_note(self, *, note: Note) -> None:
        self.notes[note.id] = note

    async def visible_notes(self, *, inquiry_id: UUID) -> list[Note]:
        return [n for n in self.notes.values() if n.inquiry_id == inquiry_id and n.visible_to_parent]

    async def add_history(self, *, entries: Sequence[HistoryEntry]) -> None:
        for entry in entries:
            self.history_by_event.setdefault(entry.event_id, entry)

    async def history(self, *, inquiry_id: UUID) -> list[HistoryEntry]:
        mine = [e for e in self.history_by_event.values() if e.inquiry_id == inquiry_id]
        return [
            replace(e, note=self.notes.get(e.note_id) if e.note_id else None)
            for e in sorted(mine, key=lambda e: e.occurred_at)
        ]

    async def add_links(self, *, links: Sequence[Link]) -> None:
        for link in links:
            self.link_rows.setdefault((link.inquiry_id, link.linked_inquiry_id), link)

    async def links(self, *, inquiry_id: UUID, both_ways: bool = False) -> list[Link]:
        return [
            link
            for link in self.link_rows.values()
            if link.inquiry_id == inquiry_id or (both_ways and link.linked_inquiry_id == inquiry_id)
        ]

    async def likely_duplicates(self, *, inquiries: Sequence[Inquiry], since: datetime) -> dict[UUID, UUID]:
        found: dict[UUID, UUID] = {}
        for new in inquiries:
            same = [
                i
                for i in self.by_id.values()
                if i.id != new.id and i.created_at >= since and same_parent_and_student(i.submission, new.submission)
            ]
            if same:
                found[new.id] = max(same, key=lambda i: (i.created_at, i.id)).id
        return found

    async def find_action_key(self, *, key: str) -> tuple[str, UUID] | None:
        return self.action_keys.get(key)

    async def claim_action_key(self, *, key: str, fingerprint: str, inquiry_id: UUID, answer_id: UUID) -> bool:
        if key in self.action_keys:
            return False
        self.action_keys[key] = (fingerprint, answer_id)
        return True

    async def due_for_closing(self, *, now: datetime, limit: int) -> list[Inquiry]:
        due = [i for i in self.by_id.values() if i.status == "resolved" and i.close_due_at and i.close_due_at <= now]
        return [self._current(i) for i in sorted(due, key=lambda i: i.close_due_at or now)[:limit]]

    async def next_close_due(self) -> datetime | None:
        return min(
            (i.close_due_at for i in self.by_id.values() if i.status == "resolved" and i.close_due_at), default=None
        )

    async def queue(self, *, where: QueueFilter, limit: int) -> list[Inquiry]:
        found = [self._current(i) for i in self.by_id.values()]
        admitted = [i for i in found if where.admits(i)]
        if where.most_urgent_first:
            return sorted(admitted, key=where.urgency_key)[:limit]
        return sorted(admitted, key=lambda i: (i.created_at, i.id), reverse=True)[:limit]


class FakeStatusPages:
    """The status page's tokens and attempts; a parent record is read from the inquiries' fake."""

    def __init__(self, inquiries: FakeInquiries) -> None:
        self._inquiries = inquiries
        self.digests: dict[UUID, bytes] = {}
        self.attempts: dict[tuple[str, str], Attempts] = {}

    async def add_tokens(self, *, digests: Mapping[UUID, bytes]) -> None:
        self.digests.update(digests)

    async def parent_record(self, *, reference: str) -> ParentRecord | None:
        inquiry = await self._inquiries.get(reference=reference)
        if inquiry is None:
            return None
        return ParentRecord(
            inquiry_id=inquiry.id,
            reference=inquiry.reference,
            status=inquiry.status,
            phone=inquiry.submission.parent.mobile_phone,
            token_digest=self.digests.get(inquiry.id),
            office=inquiry.assignment.network_name if inquiry.assignment else None,
            due_at=inquiry.assignment.due_at if inquiry.assignment else None,
        )

    async def count_attempts(
        self, *, keys: Sequence[tuple[str, str]], now: datetime, window_ends: datetime
    ) -> dict[str, Attempts]:
        counted = {}
        for scope, key in keys:
            current = self.attempts.get((scope, key))
            if current is None or current.window_ends <= now:
                current = Attempts(count=0, window_ends=window_ends)
            self.attempts[(scope, key)] = counted[scope] = replace(current, count=current.count + 1)
        return counted

    async def take_back(self, *, keys: Sequence[tuple[str, str]]) -> None:
        for key in keys:
            if key in self.attempts and self.attempts[key].count > 0:
                self.attempts[key] = replace(self.attempts[key], count=self.attempts[key].count - 1)

    async def prune_attempts(self, *, now: datetime, limit: int = 100) -> None:
        for key in [key for key, attempts in self.attempts.items() if attempts.window_ends <= now][:limit]:
            del self.attempts[key]


class FakeIntakeUnitOfWork(FakeOutbox):
    def __init__(self) -> None:
        super().__init__()
        self.inquiries = FakeInquiries()
        self.status_pages = FakeStatusPages(self.inquiries)
