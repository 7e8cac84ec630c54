"""Intake's Kafka transport: read records, pick dedup ids, answer refusals; the use cases are in ``handlers.py``."""

from __future__ import annotations

from uuid import UUID

from aiokafka import ConsumerRecord

from services.intake import handlers
from services.intake.domain import NewSubmission
from services.intake.unit_of_work import IntakeUnitOfWork
from shared.clock import Clock
from shared.contracts.envelope import FieldError
from shared.contracts.inquiries import SubmissionRejected, SubmitInquiry
from shared.contracts.routing import InquiryAssigned
from shared.contracts.topics import INQUIRY_REJECTIONS
from shared.kafka import records
from shared.kafka.batch_consumer import Incoming
from shared.kafka.event_subscriber import EventSubscriber
from shared.kafka.records import InvalidMessage


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

    async def handle(self, uow: IntakeUnitOfWork, batch: list[Incoming[SubmitInquiry]]) -> None:
        news = [
            NewSubmission(
                submission=item.message,  # a SubmitInquiry is a validated InquirySubmission: no second validation
                source="kafka",
                correlation_id=item.message.correlation_id,
                idempotency_key=item.message.idempotency_key or f"correlation:{item.message.correlation_id}",
            )
            for item in batch
        ]
        outcomes = await handlers.record_submissions(uow, news, now=self._clock.now(), reference_prefix=self._prefix)
        for item, outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, handlers.KeyReused):
                errors = [FieldError(field="idempotency_key", reason="was used before for a different submission")]
                uow.emit(INQUIRY_REJECTIONS, self._rejection(item.record, errors, outcome.key))

    async def reject(self, uow: IntakeUnitOfWork, record: ConsumerRecord, error: InvalidMessage) -> bool:
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


class RoutingEventsSubscriber(EventSubscriber[InquiryAssigned, IntakeUnitOfWork]):
    """``psc.routing.events``: routing's assignments, applied to the inquiries intake shows staff."""

    name = "routing-events"
    handles = (InquiryAssigned,)

    async def handle(self, uow: IntakeUnitOfWork, batch: list[Incoming[InquiryAssigned]]) -> None:
        await handlers.apply_assignments(uow, [item.message for item in batch])
