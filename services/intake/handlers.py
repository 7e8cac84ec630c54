"""Intake's handlers: recording submissions (both doors use ``record_submissions``) and following routing.

Each reads what it needs, calls the domain, saves, and emits events through the unit of work's outbox.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from uuid import UUID

from aiokafka import ConsumerRecord

from services.intake import domain, repository
from services.intake.domain import Assignment, Inquiry, NewSubmission
from shared.clock import Clock
from shared.contracts.envelope import FieldError
from shared.contracts.inquiries import SubmissionRejected, SubmitInquiry
from shared.contracts.routing import InquiryAssigned
from shared.contracts.topics import INQUIRY_EVENTS, INQUIRY_REJECTIONS
from shared.db.unit_of_work import UnitOfWork
from shared.kafka import records
from shared.kafka.batch_consumer import Incoming
from shared.kafka.event_subscriber import EventSubscriber
from shared.kafka.records import InvalidMessage
from shared.logging import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class Created:
    inquiry: Inquiry


@dataclass(frozen=True)
class Replayed:
    """The idempotency key was seen with the same content: the inquiry already exists."""

    inquiry_id: UUID


@dataclass(frozen=True)
class KeyReused:
    """The idempotency key was seen with different content: refused, nothing stored."""

    key: str


Outcome = Created | Replayed | KeyReused


async def record_submissions(
    uow: UnitOfWork, news: list[NewSubmission], *, clock: Clock, reference_prefix: str
) -> list[Outcome]:
    """Store new inquiries and emit ``inquiry.submitted`` for each, honouring idempotency keys. Batch-sized I/O."""
    now = clock.now()
    ids = [uuid.uuid4() for _ in news]
    fingerprints = [domain.fingerprint(new.submission) for new in news]
    claims = [
        (new.idempotency_key, fp, i) for new, fp, i in zip(news, fingerprints, ids, strict=True) if new.idempotency_key
    ]
    claimed = await repository.claim_idempotency_keys(uow.conn, claims=claims)
    earlier = await repository.find_idempotency_keys(uow.conn, keys=[key for key, _, i in claims if i not in claimed])
    to_create = {k for k, (new, i) in enumerate(zip(news, ids, strict=True)) if not new.idempotency_key or i in claimed}
    numbers = iter(await repository.next_reference_numbers(uow.conn, count=len(to_create)))
    outcomes: list[Outcome] = []
    created: list[Inquiry] = []
    for k, new in enumerate(news):
        if k in to_create:
            reference = domain.format_reference(reference_prefix, now.year, next(numbers))
            inquiry, event = domain.submit(new, inquiry_id=ids[k], reference=reference, now=now)
            created.append(inquiry)
            uow.emit(INQUIRY_EVENTS, event)
            outcomes.append(Created(inquiry))
            continue
        assert new.idempotency_key is not None
        fingerprint, existing_id = earlier[new.idempotency_key]
        if fingerprint == fingerprints[k]:
            outcomes.append(Replayed(existing_id))
        else:
            outcomes.append(KeyReused(new.idempotency_key))
    await repository.insert_inquiries(uow.conn, inquiries=created)
    return outcomes


class SubmissionsSubscriber:
    """``psc.inquiries.submit``: other services' submissions, validated like the HTTP body.

    Deduplication is by idempotency key (the correlation id when none is given), not by the inbox: a command has
    no event id, and the broker's offsets are no identity (Tansu forgets them on restart).
    """

    name = "inquiry-submissions"

    def __init__(self, *, clock: Clock, reference_prefix: str) -> None:
        self._clock = clock
        self._prefix = reference_prefix

    def parse(self, record: ConsumerRecord) -> SubmitInquiry:
        return records.parse_command(record, SubmitInquiry)

    def dedup_id(self, message: SubmitInquiry) -> UUID | None:
        return None

    async def handle(self, uow: UnitOfWork, batch: list[Incoming[SubmitInquiry]]) -> None:
        news = [
            NewSubmission(
                submission=item.message,  # a SubmitInquiry is a validated InquirySubmission: no second validation
                source="kafka",
                correlation_id=item.message.correlation_id,
                idempotency_key=item.message.idempotency_key or f"correlation:{item.message.correlation_id}",
            )
            for item in batch
        ]
        outcomes = await record_submissions(uow, news, clock=self._clock, reference_prefix=self._prefix)
        for item, outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, KeyReused):
                errors = [FieldError(field="idempotency_key", reason="was used before for a different submission")]
                uow.emit(INQUIRY_REJECTIONS, self._rejection(item.record, errors, outcome.key))

    async def reject(self, uow: UnitOfWork, record: ConsumerRecord, error: InvalidMessage) -> bool:
        uow.emit(
            INQUIRY_REJECTIONS, self._rejection(record, error.errors, records.body_field(record, "idempotency_key"))
        )
        return True

    def _rejection(self, record: ConsumerRecord, errors: list[FieldError], key: str | None) -> SubmissionRejected:
        return SubmissionRejected(
            occurred_at=self._clock.now(),
            correlation_id=records.correlation_id_or_position(record),
            errors=errors,
            idempotency_key=key,
            origin_topic=record.topic,
            origin_partition=record.partition,
            origin_offset=record.offset,
        )


class RoutingEventsSubscriber(EventSubscriber[InquiryAssigned]):
    """``psc.routing.events``: remember which queue has each inquiry, to show it to staff."""

    name = "routing-events"
    handles = (InquiryAssigned,)

    async def handle(self, uow: UnitOfWork, batch: list[Incoming[InquiryAssigned]]) -> None:
        # Only the assignment columns: the inquiry's content is not needed to apply routing's decision.
        current = await repository.get_assignments_for_update(
            uow.conn, inquiry_ids=[item.message.inquiry_id for item in batch]
        )
        decided: dict[UUID, Assignment] = {}
        for item in batch:
            event = item.message
            if event.inquiry_id not in current:
                log.warning("assignment for an inquiry intake does not have", inquiry_id=str(event.inquiry_id))
                continue
            previous = decided.get(event.inquiry_id) or current[event.inquiry_id]
            decided[event.inquiry_id] = domain.newer_assignment(previous, domain.assignment_from(event))
        await repository.save_assignments(uow.conn, assignments=decided)
