"""Notify's handlers: plan the acknowledgment for each submitted inquiry (queued in the delivery log)."""

from __future__ import annotations

import uuid

from services.notify import domain, repository
from services.notify.domain import Renderer
from shared.clock import Clock
from shared.contracts.inquiries import InquirySubmitted
from shared.contracts.notifications import NotificationSuppressed
from shared.contracts.topics import NOTIFICATION_EVENTS
from shared.db.unit_of_work import UnitOfWork
from shared.kafka.batch_consumer import Incoming
from shared.kafka.event_subscriber import EventSubscriber


class InquirySubmittedSubscriber(EventSubscriber[InquirySubmitted, UnitOfWork]):
    """``psc.inquiries.events``: remember the parent's contact and consent; queue 'we received your concern'.

    Sending happens in the dispatcher, after this transaction commits: a handler never talks to a provider.
    """

    name = "inquiry-submitted"
    handles = (InquirySubmitted,)

    def __init__(self, *, clock: Clock, renderer: Renderer) -> None:
        self._clock = clock
        self._renderer = renderer

    async def handle(self, uow: UnitOfWork, batch: list[Incoming[InquirySubmitted]]) -> None:
        now = self._clock.now()
        contacts = [domain.contact_from(item.message) for item in batch]
        await repository.upsert_contacts(uow.conn, contacts=contacts, now=now)
        addresses = [("email", c.email) for c in contacts if c.email] + [
            ("sms", c.mobile_phone) for c in contacts if c.mobile_phone
        ]
        suppressed = await repository.suppressed_among(uow.conn, addresses=addresses)
        planned = [
            delivery
            for item, contact in zip(batch, contacts, strict=True)
            for delivery in domain.plan_acknowledgment(
                contact,
                event_id=item.message.event_id,
                correlation_id=item.message.correlation_id,
                suppressed=suppressed,
                renderer=self._renderer,
                new_id=uuid.uuid4,
            )
        ]
        inserted = await repository.insert_deliveries(uow.conn, planned=planned, now=now)
        for delivery in planned:
            if delivery.status == "suppressed" and delivery.id in inserted:
                uow.emit(
                    NOTIFICATION_EVENTS,
                    NotificationSuppressed(
                        inquiry_id=delivery.inquiry_id,
                        occurred_at=now,
                        correlation_id=delivery.correlation_id,
                        delivery_id=delivery.id,
                        channel=delivery.channel,
                        template=delivery.template,
                        language=delivery.language,
                        reason=delivery.reason or "suppressed",
                    ),
                )
