"""Notify's pure rules and its templates."""

from dataclasses import fields
from datetime import UTC, datetime
from uuid import uuid4

import pytest

from services.notify import domain
from services.notify.domain import Contact, SendResult
from services.notify.providers import message_id_for
from services.notify.templates import TemplateRenderer
from shared.contracts.notifications import NotificationFailed, NotificationSent

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


def plan(c: Contact, suppressed: set[tuple[str, str]] | None = None) -> list[domain.PlannedDelivery]:
    return domain.plan_acknowledgment(
        c,
        event_id=uuid4(),
        correlation_id="c",
        suppressed=suppressed or set(),
        renderer=RENDERER,
        new_id=uuid4,
    )


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


@pytest.mark.parametrize("language", ["en", "es", "zh", "ar", "pl", "vi", "ur"])
def test_every_language_has_all_three_acknowledgment_templates(language: str) -> None:
    for channel in ("email", "sms"):
        rendered = RENDERER.render(
            "inquiry_received", language=language, channel=channel, context={"parent_name": "N", "reference": "R-1"}
        )
        assert "R-1" in rendered.body
        assert (rendered.subject is not None) == (channel == "email")


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


def test_a_failure_is_announced_once_given_up_and_not_while_it_is_retried() -> None:
    delivery = claimed()
    refused = SendResult(delivery.id, ok=False, error="recipient refused", permanent=True)
    _, event = domain.settle(delivery, refused, max_attempts=6, now=NOW)
    assert isinstance(event, NotificationFailed) and event.reason == "recipient refused"
    _, later = domain.settle(delivery, SendResult(delivery.id, ok=False, error="down"), max_attempts=6, now=NOW)
    assert later is None


def test_a_suppressed_delivery_is_announced_with_its_reason() -> None:
    _, sms = plan(contact(sms_consent=False))
    event = domain.notification_suppressed(sms, now=NOW)
    assert (event.delivery_id, event.channel, event.reason, event.template) == (
        sms.id,
        "sms",
        "no consent to text messages",
        "inquiry_received",
    )
    assert sms.recipient not in event.model_dump_json()
