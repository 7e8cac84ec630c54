"""Notify's unit of work in memory."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from fakes import FakeOutbox
from services.notify.domain import (
    ACKNOWLEDGMENT,
    AttemptOutcome,
    ClaimedDelivery,
    Contact,
    Delivery,
    DeliveryEntry,
    PlannedDelivery,
    Rendered,
    StaffMember,
    Suppressed,
)
from services.notify.resource_lookups import HeldAcknowledgment
from services.notify.resources import ResourceWait
from services.notify.templates import TemplateRenderer
from shared.contracts.catalog import ResourceView
from shared.contracts.inquiries import InquirySubmitted

# Sample data for notify's unit tests: Friday 20 Nov 2026, 09:00 in Chicago (not quiet hours).
NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
RENDERER = TemplateRenderer()


def submitted(
    email: str | None = "ana@example.org",
    phone: str | None = None,
    *,
    sms_consent: bool = False,
    urgency: str = "normal",
    language: str = "es",
    status_token: str | None = None,
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
            "urgency": urgency,
            "status_token": status_token,
            "parent": {
                "name": "Ana Lopez",
                "email": email,
                "mobile_phone": phone,
                "preferred_language": language,
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
        self.locked: list[UUID] = []

    async def upsert(self, *, contacts: Sequence[Contact], now: datetime) -> None:
        for c in contacts:
            known = self.by_inquiry.get(c.inquiry_id)
            self.by_inquiry[c.inquiry_id] = replace(c, office_name=known.office_name if known else c.office_name)

    async def lock(self, *, inquiry_ids: Collection[UUID]) -> None:
        self.locked.extend(inquiry_ids)

    async def of(self, *, inquiry_ids: Collection[UUID]) -> dict[UUID, Contact]:
        return {i: self.by_inquiry[i] for i in inquiry_ids if i in self.by_inquiry}

    async def set_offices(self, *, offices: Sequence[tuple[UUID, str]], now: datetime) -> None:
        for inquiry_id, office in offices:
            self.by_inquiry[inquiry_id] = replace(self.by_inquiry[inquiry_id], office_name=office)

    async def latest_by_phone(self, *, phone: str) -> Contact | None:
        found = [c for c in self.by_inquiry.values() if c.mobile_phone == phone]
        return found[-1] if found else None


class FakeStaff:
    def __init__(self) -> None:
        self.by_id: dict[str, StaffMember] = {}
        self.changed_at: dict[str, datetime] = {}

    async def upsert(self, *, staff: Sequence[tuple[StaffMember, datetime]]) -> None:
        for member, at in staff:
            if self.changed_at.get(member.staff_id, at) <= at:
                self.by_id[member.staff_id], self.changed_at[member.staff_id] = member, at

    async def of(self, *, staff_ids: Collection[str]) -> dict[str, StaffMember]:
        return {i: self.by_id[i] for i in staff_ids if i in self.by_id}


class FakeWaitingEvents:
    def __init__(self) -> None:
        self.parked: dict[UUID, tuple[UUID, str]] = {}

    async def park(self, *, events: Sequence[tuple[UUID, UUID, str, str]], now: datetime) -> None:
        for event_id, inquiry_id, _, payload in events:
            self.parked.setdefault(event_id, (inquiry_id, payload))

    async def take(self, *, inquiry_ids: Collection[UUID]) -> list[str]:
        taken = [(e, p) for e, (i, p) in self.parked.items() if i in inquiry_ids]
        for event_id, _ in taken:
            del self.parked[event_id]
        return [payload for _, payload in taken]


class FakeSuppressions:
    def __init__(self) -> None:
        self.kinds: dict[tuple[str, str], tuple[str, str]] = {}

    @property
    def listed(self) -> set[tuple[str, str]]:
        return set(self.kinds)

    async def state(self, *, addresses: Sequence[tuple[str, str]]) -> Suppressed:
        asked = {(channel, address.lower()) for channel, address in addresses}
        return Suppressed(
            blocked={a for a in asked if a in self.kinds and self.kinds[a][0] != "opted_out"},
            unsubscribed={a for a in asked if a in self.kinds and self.kinds[a][0] == "opted_out"},
        )

    async def among(self, *, addresses: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        return {(channel, address.lower()) for channel, address in addresses} & self.listed

    async def add(self, *, channel: str, address: str, reason: str, kind: str = "manual") -> bool:
        new = (channel, address.lower()) not in self.kinds
        self.kinds[(channel, address.lower())] = (kind, reason)
        return new

    async def lift(self, *, channel: str, address: str) -> bool:
        key = (channel, address.lower())
        if key in self.kinds and (self.kinds[key][0] == "opted_out" or "21610" in self.kinds[key][1]):
            del self.kinds[key]
            return True
        return False

    async def entries(self, *, addresses: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
        return [
            {"channel": c, "kind": self.kinds[(c, a.lower())][0], "reason": self.kinds[(c, a.lower())][1]}
            for c, a in addresses
            if (c, a.lower()) in self.kinds
        ]


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
    provider_status: str | None = None
    error_code: str | None = None


class FakeDeliveries:
    def __init__(self) -> None:
        self.by_id: dict[UUID, StoredDelivery] = {}
        self.attempt_log: list[tuple[UUID, int, str, str | None]] = []
        self.held: list[tuple[str, str, str | None]] = []
        self.locked_messages: list[str] = []

    async def insert(self, *, planned: Sequence[PlannedDelivery], now: datetime) -> set[UUID]:
        taken = {row.planned.dedup_key for row in self.by_id.values()}
        inserted: set[UUID] = set()
        for p in planned:
            if p.dedup_key not in taken:
                taken.add(p.dedup_key)
                due = p.next_attempt_at or now
                self.by_id[p.id] = StoredDelivery(p, p.status, p.reason, next_attempt_at=due, created_at=now)
                inserted.add(p.id)
        return inserted

    async def claim_due(self, *, limit: int, now: datetime, lease_seconds: float) -> list[ClaimedDelivery]:
        """Due pending deliveries only: no replica here dies mid-send."""
        # A parent's other emails wait until the inquiry's acknowledgment email has gone.
        acknowledging = {
            row.planned.inquiry_id
            for row in self.by_id.values()
            if (row.planned.template, row.planned.channel) == (ACKNOWLEDGMENT, "email")
            and row.status in ("pending", "sending")
        }

        def behind_acknowledgment(row: StoredDelivery) -> bool:
            p = row.planned
            return (
                (p.audience, p.channel) == ("parent", "email")
                and p.template != ACKNOWLEDGMENT
                and (p.inquiry_id in acknowledging)
            )

        due = sorted(
            (
                row
                for row in self.by_id.values()
                if row.status == "pending" and row.next_attempt_at <= now and not behind_acknowledgment(row)
            ),
            key=lambda row: (row.planned.template != ACKNOWLEDGMENT, row.next_attempt_at),  # acknowledgments first
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
            row.status, row.reason, row.error_code = outcome.status, outcome.reason, outcome.error_code
            row.next_attempt_at = outcome.next_attempt_at or row.next_attempt_at
            row.provider_message_id = provider_id or row.provider_message_id
            row.sent_at = now if outcome.status == "sent" else row.sent_at

    async def log_attempts(self, *, attempts: Sequence[tuple[UUID, int, str, str | None]], now: datetime) -> None:
        self.attempt_log.extend(attempts)

    async def of_inquiry(self, *, inquiry_id: UUID) -> list[DeliveryEntry]:
        rows = sorted(
            (row for row in self.by_id.values() if row.planned.inquiry_id == inquiry_id),
            key=lambda row: (row.created_at, row.planned.audience, row.planned.channel),
        )
        # The planned message's fields, overridden by what became of it (status, reason).
        return [DeliveryEntry.model_validate({**vars(row.planned), **vars(row)}) for row in rows]

    async def attempts_of(self, *, inquiry_id: UUID) -> list[dict[str, Any]]:
        return [
            {"delivery_id": d, "attempt": n, "outcome": o, "detail": x, "at": NOW}
            for d, n, o, x in self.attempt_log
            if self.by_id[d].planned.inquiry_id == inquiry_id
        ]

    async def get(self, *, delivery_id: UUID) -> tuple[ClaimedDelivery, str, dict[str, str | None]] | None:
        row = self.by_id.get(delivery_id)
        if row is None:
            return None
        return claimed_from(row.planned, attempts=row.attempts), row.status, dict(row.planned.context)

    async def by_provider_id(self, *, provider_message_id: str) -> tuple[ClaimedDelivery, str] | None:
        for row in self.by_id.values():
            if row.provider_message_id == provider_message_id:
                return claimed_from(row.planned, attempts=row.attempts), row.status
        return None

    async def report(self, *, delivery_id: UUID, provider_status: str, error_code: str | None, now: datetime) -> None:
        row = self.by_id[delivery_id]
        row.provider_status, row.error_code = provider_status, error_code or row.error_code

    async def requeue(
        self, *, delivery_id: UUID, at: datetime, reason: str | None, now: datetime, statuses: Sequence[str]
    ) -> bool:
        row = self.by_id[delivery_id]
        if row.status not in statuses:
            return False
        row.status, row.next_attempt_at, row.reason, row.provider_status = "pending", at, reason, None
        return True

    async def lock_messages(self, *, message_sids: Collection[str]) -> None:
        self.locked_messages.extend(message_sids)

    async def hold_report(self, *, message_sid: str, status: str, error_code: str | None, now: datetime) -> None:
        self.held.append((message_sid, status, error_code))

    async def take_reports(self, *, message_sids: Collection[str]) -> list[tuple[str, str, str | None]]:
        taken = [report for report in self.held if report[0] in message_sids]
        self.held = [report for report in self.held if report[0] not in message_sids]
        return taken

    async def fail(self, *, delivery_id: UUID, reason: str, now: datetime) -> None:
        row = self.by_id[delivery_id]
        row.status, row.reason = "failed", reason


@dataclass
class StoredLookup:
    """A row of resource_lookups."""

    wait: ResourceWait
    wait_seconds: float
    outcome: str | None = None
    resources: int | None = None


class FakeResourceLookups:
    """The waits for the catalog, over the fake delivery log. The database's wall clock is the test's to say: a wait
    is over when its request id is in ``overdue``, and a kept answer is stale when its category is in ``stale``."""

    def __init__(self, deliveries: FakeDeliveries) -> None:
        self.by_request: dict[UUID, StoredLookup] = {}
        self.overdue: set[UUID] = set()
        self.answers: dict[str, list[ResourceView]] = {}
        self.stale: set[str] = set()
        self._deliveries = deliveries

    async def keep_answers(
        self, *, answers: Sequence[tuple[UUID, Sequence[ResourceView]]]
    ) -> dict[str, list[ResourceView]]:
        kept = {self.by_request[r].wait.category: list(results) for r, results in answers if r in self.by_request}
        self.answers.update(kept)
        self.stale -= set(kept)
        return kept

    async def settle_answered(self, *, found: Mapping[str, int], now: datetime) -> dict[UUID, str]:
        settled = {}
        for row in self.by_request.values():
            if row.outcome is None and row.wait.category in found:
                row.outcome, row.resources = "answered", found[row.wait.category]
                settled[row.wait.event_id] = row.wait.category
        return settled

    async def fresh_answers(
        self, *, categories: Collection[str], fresh_seconds: float
    ) -> dict[str, list[ResourceView]]:
        return {c: list(self.answers[c]) for c in categories if c in self.answers and c not in self.stale}

    async def start(self, *, waits: Sequence[ResourceWait], wait_seconds: float, now: datetime) -> set[UUID]:
        started = {w.request_id for w in waits if w.request_id not in self.by_request}
        for w in waits:
            self.by_request.setdefault(w.request_id, StoredLookup(w, wait_seconds))
        return started

    async def settle(
        self, *, request_ids: Collection[UUID], outcome: str, resources: int | None, now: datetime
    ) -> list[UUID]:
        settled = []
        for request_id in request_ids:
            row = self.by_request.get(request_id)
            if row is not None and row.outcome is None:
                row.outcome, row.resources = outcome, resources
                settled.append(row.wait.event_id)
        return settled

    async def settle_overdue(self, *, limit: int, now: datetime) -> list[UUID]:
        due = [r for r in self.by_request.values() if r.outcome is None and r.wait.request_id in self.overdue][:limit]
        for row in due:
            row.outcome = "timed_out"
        return [row.wait.event_id for row in due]

    def _held(self, event_ids: Collection[UUID]) -> list[StoredDelivery]:
        return [
            row
            for row in self._deliveries.by_id.values()
            if row.planned.event_id in event_ids
            and row.planned.template == ACKNOWLEDGMENT
            and row.planned.channel == "email"
            and row.status == "pending"
            and row.attempts == 0
        ]

    async def held(self, *, event_ids: Collection[UUID]) -> list[HeldAcknowledgment]:
        return [
            HeldAcknowledgment(row.planned.id, row.planned.event_id, row.planned.language, dict(row.planned.context))
            for row in self._held(event_ids)
        ]

    async def release(self, *, releases: Sequence[tuple[UUID, Rendered, dict[str, str | None]]], now: datetime) -> None:
        for delivery_id, rendered, context in releases:
            row = self._deliveries.by_id[delivery_id]
            if row not in self._held({row.planned.event_id}):
                continue
            row.planned = replace(
                row.planned, subject=rendered.subject, body=rendered.body, html=rendered.html, context=context
            )
            row.reason, row.next_attempt_at = None, now

    async def release_as_planned(self, *, event_ids: Collection[UUID], now: datetime) -> None:
        for row in self._held(event_ids):
            row.reason, row.next_attempt_at = None, now


class FakeNotifyUnitOfWork(FakeOutbox):
    def __init__(self) -> None:
        super().__init__()
        self.contacts = FakeContacts()
        self.staff = FakeStaff()
        self.waiting = FakeWaitingEvents()
        self.suppressions = FakeSuppressions()
        self.deliveries = FakeDeliveries()
        self.resources = FakeResourceLookups(self.deliveries)
