"""Notify's use cases. Each takes a unit of work with notify's repositories on it, calls the domain, saves, and emits
events through the unit of work's outbox; transport (Kafka in ``subscribers.py``, HTTP in ``api.py``, the sending
loop in ``dispatcher.py``) calls them. None talks to a provider: sending happens in the dispatcher, after commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from services.notify import domain
from services.notify.domain import Channel, ClaimedDelivery, DeliveryEntry, Renderer, SendResult
from services.notify.unit_of_work import NotifyUnitOfWork
from shared.contracts.inquiries import InquirySubmitted
from shared.contracts.topics import NOTIFICATION_EVENTS


async def acknowledge_submissions(
    uow: NotifyUnitOfWork, events: Sequence[InquirySubmitted], *, renderer: Renderer, now: datetime
) -> None:
    """Remember each parent's contact and consent; queue 'we received your concern' (one per event, channel and
    recipient, however often the event comes). A message that will not be sent is recorded as 'suppressed' and
    announced, once."""
    contacts = [domain.contact_from(event) for event in events]
    await uow.contacts.upsert(contacts=contacts, now=now)
    addresses = [("email", c.email) for c in contacts if c.email] + [
        ("sms", c.mobile_phone) for c in contacts if c.mobile_phone
    ]
    suppressed = await uow.suppressions.among(addresses=addresses)
    planned = [
        delivery
        for event, contact in zip(events, contacts, strict=True)
        for delivery in domain.plan_acknowledgment(
            contact,
            event_id=event.event_id,
            correlation_id=event.correlation_id,
            suppressed=suppressed,
            renderer=renderer,
            new_id=uuid.uuid4,
        )
    ]
    inserted = await uow.deliveries.insert(planned=planned, now=now)
    for delivery in planned:
        if delivery.status == "suppressed" and delivery.id in inserted:
            uow.emit(NOTIFICATION_EVENTS, domain.notification_suppressed(delivery, now=now))


async def record_attempts(
    uow: NotifyUnitOfWork,
    attempts: Sequence[tuple[ClaimedDelivery, SendResult]],
    *,
    max_attempts: int,
    now: datetime,
    time_scale: float = 1.0,
) -> None:
    """Record what each send attempt left behind (sent, to retry later, failed) and announce the sent and failed.

    ``time_scale``: the clock's time per real second, so retries wait as long on the wall at any clock speed."""
    outcomes = []
    for delivery, result in attempts:
        outcome, event = domain.settle(delivery, result, max_attempts=max_attempts, now=now, time_scale=time_scale)
        outcomes.append((delivery.id, outcome, result.provider_message_id))
        if event is not None:
            uow.emit(NOTIFICATION_EVENTS, event)
    await uow.deliveries.record_outcomes(outcomes=outcomes, now=now)


async def deliveries_of(uow: NotifyUnitOfWork, inquiry_id: UUID) -> list[DeliveryEntry]:
    """An inquiry's delivery log, oldest first."""
    return await uow.deliveries.of_inquiry(inquiry_id=inquiry_id)


async def suppress(uow: NotifyUnitOfWork, *, channel: Channel, address: str, reason: str) -> None:
    """Never write to this address on this channel again (nothing queued for it before is withdrawn)."""
    await uow.suppressions.add(channel=channel, address=address, reason=reason)
