"""Notify's use cases against the in-memory unit of work: every branch in milliseconds (the same use cases run
through the real broker, database, mail catcher and SMS sink in tests/integration/test_inquiry_path.py)."""

from __future__ import annotations

from datetime import timedelta

from fakes.notify import NOW, RENDERER, FakeNotifyUnitOfWork, submitted

from services.notify import handlers
from services.notify.domain import ClaimedDelivery, SendResult
from shared.contracts.inquiries import InquirySubmitted
from shared.contracts.notifications import (
    NotificationFailed,
    NotificationRetrying,
    NotificationSent,
    NotificationSuppressed,
)
from shared.contracts.topics import NOTIFICATION_EVENTS

PHONE = "+13125550147"


async def acknowledge(uow: FakeNotifyUnitOfWork, *events: InquirySubmitted) -> None:
    await handlers.acknowledge_submissions(uow, list(events), renderer=RENDERER, now=NOW)


def by_channel(uow: FakeNotifyUnitOfWork) -> dict[str, tuple[str, str | None]]:
    """Channel -> (status, reason) of every delivery in the log."""
    return {row.planned.channel: (row.status, row.reason) for row in uow.deliveries.by_id.values()}


async def test_a_parent_who_consented_is_written_to_by_email_and_text_and_remembered() -> None:
    uow = FakeNotifyUnitOfWork()
    event = submitted("ana@example.org", PHONE, sms_consent=True)
    await acknowledge(uow, event)
    assert by_channel(uow) == {"email": ("pending", None), "sms": ("pending", None)}
    assert uow.contacts.by_inquiry[event.inquiry_id].sms_consent is True
    assert uow.emitted == []  # sent and failed are announced by the dispatcher, after sending


async def test_without_sms_consent_no_text_is_queued_and_the_suppression_is_announced() -> None:
    uow = FakeNotifyUnitOfWork()
    await acknowledge(uow, submitted("ana@example.org", PHONE, sms_consent=False))
    assert by_channel(uow) == {"email": ("pending", None), "sms": ("suppressed", "no consent to text messages")}
    (event,) = uow.events_on(NOTIFICATION_EVENTS)
    assert isinstance(event, NotificationSuppressed)
    assert (event.channel, event.reason) == ("sms", "no consent to text messages")


async def test_an_address_on_the_suppression_list_gets_a_suppressed_delivery_and_event_without_the_address() -> None:
    uow = FakeNotifyUnitOfWork()
    await handlers.suppress(uow, channel="email", address="Ana@Example.org", reason="hard bounce")
    await acknowledge(uow, submitted("ana@example.org"))
    ((status, reason),) = by_channel(uow).values()
    assert status == "suppressed" and reason == "recipient is on the suppression list"
    (event,) = uow.events_on(NOTIFICATION_EVENTS)
    assert isinstance(event, NotificationSuppressed) and event.channel == "email"
    assert "ana@example.org" not in event.model_dump_json().lower()


async def test_a_redelivered_event_plans_nothing_twice_and_announces_nothing_twice() -> None:
    uow = FakeNotifyUnitOfWork()
    event = submitted("ana@example.org", PHONE, sms_consent=False)
    await acknowledge(uow, event)
    await acknowledge(uow, event, event)
    assert len(uow.deliveries.by_id) == 2 and len(uow.emitted) == 1


async def claimed_email(uow: FakeNotifyUnitOfWork, *, at: timedelta = timedelta(0)) -> ClaimedDelivery:
    """Queue an email and claim it as the dispatcher does, ``at`` after NOW."""
    if not uow.deliveries.by_id:
        await acknowledge(uow, submitted("ana@example.org"))
    (delivery,) = await uow.deliveries.claim_due(limit=10, now=NOW + at, lease_seconds=300)
    return delivery


async def record(
    uow: FakeNotifyUnitOfWork, delivery: ClaimedDelivery, result: SendResult, *, max_attempts: int = 6
) -> None:
    await handlers.record_attempts(uow, [(delivery, result)], max_attempts=max_attempts, now=NOW)


async def test_a_sent_message_is_recorded_with_the_provider_s_id_and_announced() -> None:
    uow = FakeNotifyUnitOfWork()
    delivery = await claimed_email(uow)
    await record(uow, delivery, SendResult(delivery.id, ok=True, provider_message_id="<m1@psc.local>"))
    row = uow.deliveries.by_id[delivery.id]
    assert (row.status, row.provider_message_id, row.sent_at) == ("sent", "<m1@psc.local>", NOW)
    (event,) = uow.events_on(NOTIFICATION_EVENTS)
    assert isinstance(event, NotificationSent)
    assert (event.delivery_id, event.provider_message_id) == (delivery.id, "<m1@psc.local>")


async def test_a_transient_failure_is_retried_later_and_announced_as_retrying() -> None:
    uow = FakeNotifyUnitOfWork()
    delivery = await claimed_email(uow)
    await record(uow, delivery, SendResult(delivery.id, ok=False, error="mail server unreachable: OSError"))
    row = uow.deliveries.by_id[delivery.id]
    assert row.status == "pending" and row.next_attempt_at > NOW
    (event,) = uow.events_on(NOTIFICATION_EVENTS)
    assert isinstance(event, NotificationRetrying) and event.attempt == 1
    assert uow.deliveries.attempt_log == [(delivery.id, 1, "pending", "mail server unreachable: OSError")]
    assert await uow.deliveries.claim_due(limit=10, now=NOW, lease_seconds=300) == []  # not due yet


async def test_after_the_last_attempt_the_delivery_fails_and_the_failure_is_announced() -> None:
    uow = FakeNotifyUnitOfWork()
    down = "mail server unreachable: OSError"
    for attempt in range(3):
        delivery = await claimed_email(uow, at=timedelta(hours=attempt))
        await record(uow, delivery, SendResult(delivery.id, ok=False, error=down), max_attempts=3)
    assert delivery.attempts == 3 and uow.deliveries.by_id[delivery.id].status == "failed"
    *retries, event = uow.events_on(NOTIFICATION_EVENTS)
    assert [type(e) for e in retries] == [NotificationRetrying, NotificationRetrying]
    assert isinstance(event, NotificationFailed) and event.reason == down


async def test_the_delivery_log_of_an_inquiry_leaves_out_other_inquiries() -> None:
    uow = FakeNotifyUnitOfWork()
    mine, other = submitted("ana@example.org", PHONE, sms_consent=True), submitted("bea@example.org")
    await acknowledge(uow, mine, other)
    entries = await handlers.deliveries_of(uow, mine.inquiry_id)
    assert [(e.channel, e.status, e.attempts) for e in entries] == [("email", "pending", 0), ("sms", "pending", 0)]
