"""Notify's unit of work in memory."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from uuid import UUID, uuid4

from fakes import FakeOutbox
from services.notify.domain import (
    AttemptOutcome,
    ClaimedDelivery,
    Contact,
    Delivery,
    DeliveryEntry,
    PlannedDelivery,
)
from services.notify.templates import TemplateRenderer
from shared.contracts.inquiries import InquirySubmitted

# Sample data for notify's unit tests.
NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
RENDERER = TemplateRenderer()


def submitted(
    email: str | None = "ana@example.org", phone: str | None = None, *, sms_consent: bool = False
) -> InquirySubmitted:
    """An ``inquiry.submitted`` of a new inquiry, from a parent with these contact details."""
    return InquirySubmitted.model_validate(
        {
            "inquiry_id": uuid4(),
            "occurred_at": NOW,
            "correlation_id": "req-1",
            "reference": "PSC-26-000042",
            "category": "attendance",
            "channel": "walk_in",
            "parent": {
                "name": "Ana Lopez",
                "email": email,
                "mobile_phone": phone,
                "preferred_language": "es",
                "sms_consent": sms_consent,
            },
            "student": {"school_id": 609794, "grade": "K"},
        }
    )


def claimed_from(planned: PlannedDelivery, *, attempts: int) -> ClaimedDelivery:
    """The delivery as the dispatcher's claim returns it."""
    return ClaimedDelivery(
        **{field.name: getattr(planned, field.name) for field in fields(Delivery)}, attempts=attempts
    )


class FakeContacts:
    def __init__(self) -> None:
        self.by_inquiry: dict[UUID, Contact] = {}

    async def upsert(self, *, contacts: Sequence[Contact], now: datetime) -> None:
        self.by_inquiry.update((c.inquiry_id, c) for c in contacts)


class FakeSuppressions:
    def __init__(self) -> None:
        self.listed: set[tuple[str, str]] = set()

    async def among(self, *, addresses: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        return {(channel, address.lower()) for channel, address in addresses} & self.listed

    async def add(self, *, channel: str, address: str, reason: str) -> None:
        self.listed.add((channel, address.lower()))


@dataclass
class StoredDelivery:
    """A row of the delivery log."""

    planned: PlannedDelivery
    status: str
    reason: str | None
    next_attempt_at: datetime
    created_at: datetime
    attempts: int = 0
    provider_message_id: str | None = None
    sent_at: datetime | None = None


class FakeDeliveries:
    def __init__(self) -> None:
        self.by_id: dict[UUID, StoredDelivery] = {}

    async def insert(self, *, planned: Sequence[PlannedDelivery], now: datetime) -> set[UUID]:
        taken = {row.planned.dedup_key for row in self.by_id.values()}
        inserted: set[UUID] = set()
        for p in planned:
            if p.dedup_key not in taken:
                taken.add(p.dedup_key)
                self.by_id[p.id] = StoredDelivery(p, p.status, p.reason, next_attempt_at=now, created_at=now)
                inserted.add(p.id)
        return inserted

    async def claim_due(self, *, limit: int, now: datetime, lease_seconds: float) -> list[ClaimedDelivery]:
        """Due pending deliveries only: no replica here dies mid-send."""
        due = sorted(
            (row for row in self.by_id.values() if row.status == "pending" and row.next_attempt_at <= now),
            key=lambda row: row.next_attempt_at,
        )[:limit]
        for row in due:
            row.status, row.attempts = "sending", row.attempts + 1
        return [claimed_from(row.planned, attempts=row.attempts) for row in due]

    async def record_outcomes(
        self, *, outcomes: Sequence[tuple[UUID, AttemptOutcome, str | None]], now: datetime
    ) -> None:
        for delivery_id, outcome, provider_id in outcomes:
            row = self.by_id[delivery_id]
            if row.status != "sending":
                continue
            row.status, row.reason = outcome.status, outcome.reason
            row.next_attempt_at = outcome.next_attempt_at or row.next_attempt_at
            row.provider_message_id = provider_id or row.provider_message_id
            row.sent_at = now if outcome.status == "sent" else row.sent_at

    async def of_inquiry(self, *, inquiry_id: UUID) -> list[DeliveryEntry]:
        rows = sorted(
            (row for row in self.by_id.values() if row.planned.inquiry_id == inquiry_id),
            key=lambda row: (row.created_at, row.planned.channel),
        )
        # The planned message's fields, overridden by what became of it (status, reason).
        return [DeliveryEntry.model_validate({**vars(row.planned), **vars(row)}) for row in rows]


class FakeNotifyUnitOfWork(FakeOutbox):
    def __init__(self) -> None:
        super().__init__()
        self.contacts = FakeContacts()
        self.suppressions = FakeSuppressions()
        self.deliveries = FakeDeliveries()
