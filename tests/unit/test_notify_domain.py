"""Notify's pure rules and its templates."""

from dataclasses import fields
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from services.notify import domain
from services.notify.domain import Contact, SendResult
from services.notify.providers import message_id_for
from services.notify.templates import TemplateRenderer
from shared.contracts.notifications import NotificationFailed, NotificationRetrying, NotificationSent

RENDERER = TemplateRenderer()
NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


def contact(**changes: object) -> Contact:
    base = {
        "inquiry_id": uuid4(),
        "reference": "PSC-26-000042",
        "name": "Ana Lopez",
        "email": "ana@example.org",
        "mobile_phone": "+13125550147",
        "language": "es",
        "sms_consent": True,
    }
    return Contact(**{**base, **changes})  # type: ignore[arg-type]


def plan(
    c: Contact,
    suppressed: set[tuple[str, str]] | None = None,
    *,
    template: str = "inquiry_received",
    unsubscribed: set[tuple[str, str]] | None = None,
    now: datetime = NOW,
) -> list[domain.PlannedDelivery]:
    """The deliveries of a message; for the acknowledgment, in the order email, text."""
    context = domain.parent_context(c, status_base_url="https://psc.example.org")
    context |= {"question": "Q?", "summary": "S."}
    planned = domain.plan_parent_message(
        c,
        domain.Plan(template, context, uuid4(), "c", now),
        suppressed=domain.Suppressed(blocked=suppressed or set(), unsubscribed=unsubscribed or set()),
        renderer=RENDERER,
        new_id=uuid4,
        both_channels=template == "inquiry_received",
    )
    return sorted(planned, key=lambda d: d.channel)


def test_a_parent_who_consented_gets_an_email_and_a_text_in_their_language() -> None:
    email, sms = plan(contact())
    assert (email.channel, email.status, sms.channel, sms.status) == ("email", "pending", "sms", "pending")
    assert email.subject == "Recibimos su inquietud (PSC-26-000042)"
    assert "Estimado/a Ana Lopez" in email.body and "PSC-26-000042" in sms.body


def test_without_consent_the_text_is_recorded_as_suppressed_with_the_reason() -> None:
    _, sms = plan(contact(sms_consent=False))
    assert sms.status == "suppressed" and sms.reason == "no consent to text messages"


def test_an_address_on_the_suppression_list_is_not_written_to() -> None:
    email, _ = plan(contact(), suppressed={("email", "ana@example.org")})
    assert email.status == "suppressed" and "suppression list" in (email.reason or "")


def test_the_dedup_key_is_event_channel_and_recipient() -> None:
    event_id = uuid4()
    assert domain.dedup_key(event_id, "email", "Ana@Example.org") == f"{event_id}:email:ana@example.org"


def test_after_the_acknowledgment_a_parent_who_consented_is_texted_and_not_emailed() -> None:
    (text,) = plan(contact(), template="inquiry_assigned")
    assert (text.channel, text.status, text.essential) == ("sms", "pending", False)


def test_a_parent_who_opted_out_of_texts_is_emailed_instead_and_the_text_recorded_as_suppressed() -> None:
    email, text = plan(contact(), template="inquiry_resolved", unsubscribed={("sms", "+13125550147")})
    assert (text.status, text.reason) == ("suppressed", "recipient opted out")
    assert (email.status, email.subject) == ("pending", "Su caso está resuelto (PSC-26-000042)")


def test_an_unsubscribed_address_still_gets_essential_mail_but_no_optional_mail() -> None:
    no_texts = contact(sms_consent=False, mobile_phone=None)
    unsubscribed = {("email", "ana@example.org")}
    (resolved,) = plan(no_texts, template="inquiry_resolved", unsubscribed=unsubscribed)
    (assigned,) = plan(no_texts, template="inquiry_assigned", unsubscribed=unsubscribed)
    assert (resolved.status, assigned.status, assigned.reason) == ("pending", "suppressed", "recipient opted out")


def test_a_text_in_quiet_hours_is_held_until_eight_in_the_morning_in_chicago() -> None:
    evening = datetime(2026, 11, 20, 3, 30, tzinfo=UTC)  # 21:30 in Chicago (CST, UTC-6)
    (text,) = plan(contact(), template="inquiry_assigned", now=evening)
    assert text.next_attempt_at == datetime(2026, 11, 20, 14, 0, tzinfo=UTC)
    assert text.status == "pending" and "quiet hours" in (text.reason or "")
    (email, _) = plan(contact(), now=evening)
    assert email.next_attempt_at is None, "mail is not held"


def test_an_urgent_inquiry_is_texted_at_once_even_in_quiet_hours() -> None:
    evening = datetime(2026, 11, 20, 3, 30, tzinfo=UTC)
    (text,) = plan(contact(urgent=True), template="inquiry_assigned", now=evening)
    assert text.next_attempt_at is None and text.reason is None


def test_a_fallback_is_the_same_message_on_the_other_channel_pointing_at_the_one_it_replaces() -> None:
    (text,) = plan(contact(), template="inquiry_resolved")
    fallback = domain.fallback_for(
        text,
        contact(),
        now=NOW,
        renderer=RENDERER,
        context=text.context,
        suppressed=domain.Suppressed(),
        new_id=uuid4(),
    )
    assert fallback is not None
    assert (fallback.channel, fallback.fallback_of, fallback.event_id) == ("email", text.id, text.event_id)
    assert "S." in fallback.body


@pytest.mark.parametrize(
    ("code", "kind"),
    [(421, "transient"), (450, "transient"), (550, "bad_address"), (553, "bad_address"), (552, "permanent")],
)
def test_smtp_reply_codes_are_classified(code: int, kind: str) -> None:
    assert domain.classify_smtp(code) == kind


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (500, None, "transient"),
        (503, "20500", "transient"),
        (429, "20429", "transient"),
        (None, "30003", "transient"),
        (400, "21610", "bad_address"),
        (400, "21614", "bad_address"),
        (None, "30006", "bad_address"),
        (401, "20003", "permanent"),
        (400, "21602", "permanent"),
    ],
)
def test_twilio_answers_are_classified(status: int | None, code: str | None, kind: str) -> None:
    assert domain.classify_twilio(status, code) == kind


def test_retries_back_off_with_jitter() -> None:
    assert domain.retry_delay(1, jitter=lambda: 0.0).total_seconds() == 30
    assert domain.retry_delay(1, jitter=lambda: 1.0).total_seconds() == 36
    assert domain.retry_delay(3, jitter=lambda: 0.0).total_seconds() == 120
    assert domain.retry_delay(20, jitter=lambda: 0.0).total_seconds() == 3600


def test_a_refused_address_fails_at_once_and_is_to_be_suppressed() -> None:
    refused = SendResult(uuid4(), ok=False, error="SMS API 400 code 21610", kind="bad_address", error_code="21610")
    outcome = domain.after_attempt(refused, attempts=1, max_attempts=6, now=NOW)
    assert (outcome.status, outcome.suppress_address, outcome.error_code) == ("failed", True, "21610")


def test_a_transient_failure_is_retried_later_and_a_permanent_one_is_not() -> None:
    delivery_id = uuid4()
    later = domain.after_attempt(SendResult(delivery_id, ok=False, error="down"), attempts=1, max_attempts=6, now=NOW)
    assert later.status == "pending" and later.next_attempt_at is not None and later.next_attempt_at > NOW
    refused = SendResult(delivery_id, ok=False, error="refused", permanent=True)
    assert domain.after_attempt(refused, attempts=1, max_attempts=6, now=NOW).status == "failed"
    assert (
        domain.after_attempt(SendResult(delivery_id, ok=False), attempts=6, max_attempts=6, now=NOW).status == "failed"
    )
    assert domain.after_attempt(SendResult(delivery_id, ok=True), attempts=1, max_attempts=6, now=NOW).status == "sent"


def test_the_message_id_is_stable_per_delivery_and_carries_no_address() -> None:
    key = domain.dedup_key(uuid4(), "email", "ana@example.org")
    assert message_id_for(key) == message_id_for(key)
    assert "ana" not in message_id_for(key) and "example.org" not in message_id_for(key)
    assert message_id_for(key) != message_id_for(key.replace("ana@", "bea@"))


def claimed(attempts: int = 1) -> domain.ClaimedDelivery:
    """The email of a consenting parent, as the dispatcher claims it."""
    email, _ = plan(contact())
    return domain.ClaimedDelivery(
        **{f.name: getattr(email, f.name) for f in fields(domain.Delivery)}, attempts=attempts
    )


def test_a_sent_message_is_announced_with_the_provider_s_id_and_no_address() -> None:
    delivery = claimed()
    outcome, event = domain.settle(
        delivery, SendResult(delivery.id, ok=True, provider_message_id="<m1@psc.local>"), max_attempts=6, now=NOW
    )
    assert outcome.status == "sent" and isinstance(event, NotificationSent)
    assert (event.delivery_id, event.inquiry_id, event.channel, event.language) == (
        delivery.id,
        delivery.inquiry_id,
        "email",
        "es",
    )
    assert (event.provider_message_id, event.occurred_at) == ("<m1@psc.local>", NOW)
    assert delivery.recipient not in event.model_dump_json()


def test_a_failure_is_announced_as_failed_once_given_up_and_as_retrying_while_it_is_retried() -> None:
    delivery = claimed()
    refused = SendResult(delivery.id, ok=False, error="recipient refused", permanent=True)
    _, event = domain.settle(delivery, refused, max_attempts=6, now=NOW)
    assert isinstance(event, NotificationFailed) and event.reason == "recipient refused"
    _, later = domain.settle(
        delivery, SendResult(delivery.id, ok=False, error="down"), max_attempts=6, now=NOW, jitter=lambda: 0.0
    )
    assert isinstance(later, NotificationRetrying)
    assert (later.attempt, later.reason, later.next_attempt_at) == (1, "down", NOW + timedelta(seconds=30))


def test_a_suppressed_delivery_is_announced_with_its_reason() -> None:
    _, sms = plan(contact(sms_consent=False))
    event = domain.notification_suppressed(sms, now=NOW, reason=sms.reason)
    assert (event.delivery_id, event.channel, event.reason, event.template) == (
        sms.id,
        "sms",
        "no consent to text messages",
        "inquiry_received",
    )
    assert sms.recipient not in event.model_dump_json()
