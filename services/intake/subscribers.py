"""Intake's Kafka transport: read records, pick dedup ids, answer refusals; the use cases are in ``handlers.py``."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

from aiokafka import ConsumerRecord

from services.intake import handlers
from services.intake.domain import NewSubmission
from services.intake.unit_of_work import IntakeUnitOfWork
from shared.clock import Clock
from shared.contracts.envelope import FieldError
from shared.contracts.inquiries import SubmissionRejected, SubmitInquiry
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

    def __init__(self, *, clock: Clock, reference_prefix: str, duplicate_window: timedelta | None) -> None:
        self._clock = clock
        self._prefix = reference_prefix
        self._duplicate_window = duplicate_window

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
        outcomes = await handlers.record_submissions(
            uow, news, now=self._clock.now(), reference_prefix=self._prefix, duplicate_window=self._duplicate_window
        )
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


class RoutingEventsSubscriber(EventSubscriber[handlers.RoutingEvent, IntakeUnitOfWork]):
    """``psc.routing.events``: routing's assignments, escalations, reroutes and reassignments keep who has each
    inquiry current (``received`` becomes ``assigned``); those and its SLA warnings, breaches and moved deadlines
    go into the case's history."""

    name = "routing-events"
    handles = handlers.ROUTING_EVENT_TYPES

    async def handle(self, uow: IntakeUnitOfWork, batch: list[Incoming[handlers.RoutingEvent]]) -> None:
        await handlers.apply_routing_events(uow, [item.message for item in batch])


class NotifyEventsSubscriber(EventSubscriber[handlers.NotifyEvent, IntakeUnitOfWork]):
    """``psc.notify.events``: what was sent to the parent, or why not, in the case's history (stored once each)."""

    name = "notify-events"
    handles = handlers.NOTIFY_EVENT_TYPES

    async def handle(self, uow: IntakeUnitOfWork, batch: list[Incoming[handlers.NotifyEvent]]) -> None:
        await handlers.record_notifications(uow, [item.message for item in batch])
