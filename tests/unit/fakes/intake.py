"""Intake's unit of work in memory."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from uuid import UUID

from fakes import FakeOutbox
from services.intake.domain import Assignment, Inquiry
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

    async def get(self, *, inquiry_id: UUID | None = None, reference: str | None = None) -> Inquiry | None:
        found = [i for i in self.by_id.values() if inquiry_id in (None, i.id) and reference in (None, i.reference)]
        if not found:
            return None
        return replace(found[0], assignment=self.assignments.get(found[0].id))

    async def assignments_for_update(self, *, inquiry_ids: Sequence[UUID]) -> dict[UUID, Assignment | None]:
        return {i: self.assignments.get(i) for i in inquiry_ids if i in self.by_id}

    async def save_assignments(self, *, assignments: Mapping[UUID, Assignment]) -> None:
        self.assignments.update(assignments)


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
