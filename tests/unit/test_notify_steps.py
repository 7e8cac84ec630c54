"""Each step of a case against the in-memory unit of work: who is told what, once; events that come before the
inquiry they are about; STOP, START, HELP; status callbacks; unsubscribe; resend; fallback to the other channel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from fakes.notify import NOW, RENDERER, FakeNotifyUnitOfWork, submitted

from services.notify import handlers
from services.notify.domain import ClaimedDelivery, SendResult
from shared.contracts.envelope import InquiryEvent
from shared.contracts.inquiries import InquirySubmitted
from shared.contracts.lifecycle import (
    InquiryAcknowledged,
    InquiryNoteAdded,
    InquiryReopened,
    InquiryResolved,
    InquiryWaitingOnParent,
)
from shared.contracts.notifications import (
    ContactOptedIn,
    ContactOptedOut,
    NotificationDeliveryReported,
    NotificationFailed,
    NotificationSuppressed,
)
from shared.contracts.routing import InquiryAssigned, InquiryEscalated, InquirySlaWarning, StaffUpdated
from shared.contracts.topics import NOTIFICATION_EVENTS

PHONE = "+13125550147"
RULES = handlers.Rules(status_base_url="https://parents.example", contact_key_secret="k", help_contact="773-553-1000")


def common(inquiry_id: UUID) -> dict[str, Any]:
    return {"inquiry_id": inquiry_id, "occurred_at": NOW, "correlation_id": "c"}


ASSIGNMENT = {"network_id": "n4", "network_name": "Network 4", "queue": "network", "tier": "network"}


def assigned(inquiry_id: UUID, assignee: str | None = "ns-1") -> InquiryAssigned:
    """Routing's assignment to Network 4's queue, to ``assignee``."""
    fields = {**ASSIGNMENT, "reason": "school_network", "school_id": 609794, "assignee_id": assignee}
    return InquiryAssigned.model_validate({**common(inquiry_id), **fields, "due_at": NOW + timedelta(days=2)})


async def apply(uow: FakeNotifyUnitOfWork, *events: InquiryEvent, now: datetime = NOW) -> None:
    await handlers.apply_case_events(uow, list(events), renderer=RENDERER, now=now, rules=RULES)


def sent(uow: FakeNotifyUnitOfWork) -> list[tuple[str, str, str]]:
    """(template, channel, status) of every delivery, in the order queued."""
    return [(r.planned.template, r.planned.channel, r.status) for r in uow.deliveries.by_id.values()]


async def staff(uow: FakeNotifyUnitOfWork, staff_id: str = "ns-1", email: str | None = "alex@district.example") -> None:
    member = {"staff_id": staff_id, "role": "network_staff", "network_id": "n4", "name": "Alex A.", "email": email}
    event = StaffUpdated.model_validate({"occurred_at": NOW, "correlation_id": "s", "active": True, **member})
    await handlers.follow_staff(uow, [event], now=NOW)


async def test_a_case_s_whole_life_tells_the_parent_each_step_once_in_their_language() -> None:
    uow = FakeNotifyUnitOfWork()
    first = submitted("ana@example.org", PHONE, sms_consent=True, status_token="tok")
    i = first.inquiry_id
    by = {"by": "ns-1"}
    steps: list[InquiryEvent] = [
        first,
        assigned(i),
        InquiryAcknowledged(**common(i), **by),
        InquiryWaitingOnParent(**common(i), **by, question="¿Tiene el pase de autobús?"),
        InquiryNoteAdded(**common(i), **by, note_id=uuid4(), visible_to_parent=False),
        InquiryNoteAdded(**common(i), **by, note_id=uuid4(), visible_to_parent=True),
        InquiryResolved(**common(i), **by, summary="La parada se movió."),
        InquiryReopened(**common(i), **by),
    ]
    await apply(uow, *steps)
    await apply(uow, *steps)  # redelivered: nothing twice
    assert sent(uow) == [
        ("inquiry_received", "email", "pending"),
        ("inquiry_received", "sms", "pending"),
        ("inquiry_assigned", "sms", "pending"),
        ("inquiry_waiting_on_parent", "sms", "pending"),
        ("inquiry_note_added", "sms", "pending"),
        ("inquiry_resolved", "sms", "pending"),
        ("inquiry_reopened", "sms", "pending"),
    ]
    bodies = {r.planned.template: r.planned.body for r in uow.deliveries.by_id.values()}
    assert "https://parents.example/status/PSC-26-000042?token=tok" in bodies["inquiry_received"]
    assert "Network 4" in bodies["inquiry_assigned"] and "Tiene el pase" in bodies["inquiry_waiting_on_parent"]
    assert uow.contacts.by_inquiry[i].office_name == "Network 4"


async def test_an_event_that_comes_before_its_inquiry_waits_and_is_told_right_after_it() -> None:
    uow = FakeNotifyUnitOfWork()
    first = submitted("ana@example.org")
    await apply(uow, assigned(first.inquiry_id))
    assert sent(uow) == [] and len(uow.waiting.parked) == 1
    await apply(uow, first)
    assert sent(uow) == [("inquiry_received", "email", "pending"), ("inquiry_assigned", "email", "pending")]
    assert uow.waiting.parked == {}


async def test_staff_hear_of_what_is_theirs_by_email() -> None:
    uow = FakeNotifyUnitOfWork()
    await staff(uow)
    first = submitted("ana@example.org")
    i = first.inquiry_id
    warning = InquirySlaWarning(
        **common(i),
        tier="network",
        clock="first_response",
        network_id="n4",
        assignee_id="ns-1",
        escalates_at=NOW + timedelta(hours=4),
    )
    to_psa = InquiryEscalated(
        **common(i),
        from_tier="network",
        to_tier="psa",
        clock="first_response",
        why="next_tier",
        network_id="n4",
        network_name="Network 4 PSA",
        assignee_id="ns-1",
        due_at=NOW,
        next_due_at=NOW + timedelta(days=1),
    )
    await apply(uow, first, assigned(i), warning, to_psa)
    staff_mail = [
        (r.planned.template, r.planned.recipient)
        for r in uow.deliveries.by_id.values()
        if r.planned.audience == "staff"
    ]
    assert staff_mail == [
        ("staff_assigned", "alex@district.example"),
        ("staff_sla_warning", "alex@district.example"),
        ("staff_escalated", "alex@district.example"),
    ]
    warning_mail = next(r.planned for r in uow.deliveries.by_id.values() if r.planned.template == "staff_sla_warning")
    assert warning_mail.subject == "Time is running out: inquiry PSC-26-000042"
    assert "first response" in warning_mail.body and "(Chicago time)" in warning_mail.body


async def test_staff_without_an_email_or_unknown_are_not_written_to() -> None:
    uow = FakeNotifyUnitOfWork()
    await staff(uow, email=None)
    first = submitted("ana@example.org")
    await apply(uow, first, assigned(first.inquiry_id), assigned(first.inquiry_id, "nobody"))
    assert [r.planned.audience for r in uow.deliveries.by_id.values()] == ["parent", "parent", "parent"]


async def test_stop_opts_out_announced_under_the_contact_key_then_a_new_step_is_emailed_not_texted() -> None:
    uow = FakeNotifyUnitOfWork()
    first = submitted("ana@example.org", PHONE, sms_consent=True)
    await apply(uow, first)
    answer = await handlers.sms_inbound(uow, sender=PHONE, body=" Stop. ", renderer=RENDERER, rules=RULES, now=NOW)
    assert (answer.keyword, answer.reply) == ("opt_out", None)
    again = await handlers.sms_inbound(uow, sender=PHONE, body="STOP", renderer=RENDERER, rules=RULES, now=NOW)
    assert again.keyword == "opt_out"
    (opted_out,) = [e for e in uow.events_on(NOTIFICATION_EVENTS) if isinstance(e, ContactOptedOut)]
    assert (
        opted_out.keyword == "STOP"
        and PHONE not in opted_out.model_dump_json()
        and "5550147" not in opted_out.contact_key
    )
    await apply(uow, assigned(first.inquiry_id))
    assert sent(uow)[-2:] == [("inquiry_assigned", "sms", "suppressed"), ("inquiry_assigned", "email", "pending")]
    suppressed = [e for e in uow.events_on(NOTIFICATION_EVENTS) if isinstance(e, NotificationSuppressed)]
    assert [(e.channel, e.reason) for e in suppressed] == [("sms", "recipient opted out")]
    start = await handlers.sms_inbound(uow, sender=PHONE, body="start", renderer=RENDERER, rules=RULES, now=NOW)
    assert start.keyword == "opt_in" and start.reply and "STOP" in start.reply and "Volverá" in start.reply
    assert any(isinstance(e, ContactOptedIn) for e in uow.events_on(NOTIFICATION_EVENTS))


async def test_help_answers_with_the_office_s_contact_in_the_parent_s_language() -> None:
    uow = FakeNotifyUnitOfWork()
    first = submitted("ana@example.org", PHONE, sms_consent=True)
    await apply(uow, first, assigned(first.inquiry_id))
    answer = await handlers.sms_inbound(uow, sender=PHONE, body="help", renderer=RENDERER, rules=RULES, now=NOW)
    assert answer.reply == "Network 4: para ayuda, llame o escriba a 773-553-1000. Responda STOP para darse de baja."
    unknown = await handlers.sms_inbound(
        uow, sender="+13125550999", body="hola", renderer=RENDERER, rules=RULES, now=NOW
    )
    assert unknown.keyword == "other" and unknown.reply and "does not read replies" in unknown.reply


async def texted(uow: FakeNotifyUnitOfWork) -> tuple[InquirySubmitted, ClaimedDelivery]:
    first = submitted("ana@example.org", PHONE, sms_consent=True)
    await apply(uow, first, assigned(first.inquiry_id))
    claimed = await uow.deliveries.claim_due(limit=10, now=NOW, lease_seconds=60)
    text = next(d for d in claimed if d.template == "inquiry_assigned")
    results = [(d, SendResult(d.id, ok=True, provider_message_id=f"SM{d.id.hex}")) for d in claimed]
    await handlers.record_attempts(uow, results, max_attempts=6, now=NOW, renderer=RENDERER, rules=RULES)
    return first, text


async def test_a_status_callback_that_comes_before_its_send_is_recorded_is_held_and_applied_then() -> None:
    uow = FakeNotifyUnitOfWork()
    first = submitted(None, PHONE, sms_consent=True)
    await apply(uow, first)
    (text,) = await uow.deliveries.claim_due(limit=10, now=NOW, lease_seconds=60)
    early = await handlers.sms_status(
        uow, message_sid="SMearly", status="delivered", error_code=None, renderer=RENDERER, rules=RULES, now=NOW
    )
    assert early == "held"
    result = SendResult(text.id, ok=True, provider_message_id="SMearly")
    await handlers.record_attempts(uow, [(text, result)], max_attempts=6, now=NOW, renderer=RENDERER, rules=RULES)
    row = uow.deliveries.by_id[text.id]
    assert (row.status, row.provider_status, uow.deliveries.held) == ("sent", "delivered", [])


async def test_a_status_callback_updates_the_log() -> None:
    uow = FakeNotifyUnitOfWork()
    _, text = await texted(uow)
    answer = await handlers.sms_status(
        uow,
        message_sid=f"SM{text.id.hex}",
        status="delivered",
        error_code=None,
        renderer=RENDERER,
        rules=RULES,
        now=NOW,
    )
    assert answer == "recorded" and uow.deliveries.by_id[text.id].provider_status == "delivered"
    assert any(isinstance(e, NotificationDeliveryReported) for e in uow.events_on(NOTIFICATION_EVENTS))


async def report(uow: FakeNotifyUnitOfWork, text: ClaimedDelivery, status: str, code: str | None) -> None:
    await handlers.sms_status(
        uow,
        message_sid=f"SM{text.id.hex}",
        status=status,
        error_code=code,
        renderer=RENDERER,
        rules=RULES,
        now=NOW,
        jitter=lambda: 0.0,
    )


async def test_an_undelivered_text_to_a_landline_suppresses_the_number_and_falls_back_to_email() -> None:
    uow = FakeNotifyUnitOfWork()
    _, text = await texted(uow)
    await report(uow, text, "undelivered", "30006")
    assert uow.deliveries.by_id[text.id].status == "failed"
    assert uow.suppressions.kinds[("sms", PHONE)][0] == "bounced"
    fallback = [r.planned for r in uow.deliveries.by_id.values() if r.planned.fallback_of == text.id]
    assert [(f.channel, f.template) for f in fallback] == [("email", "inquiry_assigned")]
    assert any(isinstance(e, NotificationFailed) for e in uow.events_on(NOTIFICATION_EVENTS))


async def test_an_undelivered_text_that_may_pass_is_sent_again_later() -> None:
    uow = FakeNotifyUnitOfWork()
    _, text = await texted(uow)
    await report(uow, text, "undelivered", "30003")
    row = uow.deliveries.by_id[text.id]
    assert (row.status, row.next_attempt_at) == ("pending", NOW + timedelta(seconds=30))


async def test_a_permanent_send_failure_falls_back_to_the_other_channel() -> None:
    uow = FakeNotifyUnitOfWork()
    first = submitted("ana@example.org", PHONE, sms_consent=True)
    await apply(uow, first)
    await apply(uow, assigned(first.inquiry_id))
    claimed = [
        d
        for d in await uow.deliveries.claim_due(limit=10, now=NOW, lease_seconds=60)
        if d.template == "inquiry_assigned"
    ]
    (text,) = claimed
    refused = SendResult(text.id, ok=False, error="SMS API 400 code 21614", kind="bad_address", error_code="21614")
    await handlers.record_attempts(uow, [(text, refused)], max_attempts=6, now=NOW, renderer=RENDERER, rules=RULES)
    assert sent(uow)[-2:] == [("inquiry_assigned", "sms", "failed"), ("inquiry_assigned", "email", "pending")]


async def test_one_click_unsubscribe_stops_optional_mail_and_is_announced() -> None:
    uow = FakeNotifyUnitOfWork()
    first = submitted("ana@example.org")
    await apply(uow, first, assigned(first.inquiry_id))
    mail = next(r.planned for r in uow.deliveries.by_id.values() if r.planned.template == "inquiry_assigned")
    assert await handlers.unsubscribe(uow, delivery_id=mail.id, rules=RULES, now=NOW)
    assert not await handlers.unsubscribe(uow, delivery_id=uuid4(), rules=RULES, now=NOW)
    (event,) = [e for e in uow.events_on(NOTIFICATION_EVENTS) if isinstance(e, ContactOptedOut)]
    assert (event.channel, event.keyword) == ("email", "unsubscribe-link")
    resolved = InquiryResolved(**common(first.inquiry_id), by="ns-1", summary="Done.")
    reopened = InquiryReopened(**common(first.inquiry_id), by="ns-1")
    await apply(uow, resolved, reopened)
    assert sent(uow)[-2:] == [("inquiry_resolved", "email", "pending"), ("inquiry_reopened", "email", "suppressed")]


async def test_a_failed_message_is_resent_by_hand_once_and_nothing_else_is() -> None:
    uow = FakeNotifyUnitOfWork()
    await apply(uow, submitted("ana@example.org"))
    (mail,) = await uow.deliveries.claim_due(limit=10, now=NOW, lease_seconds=60)
    await handlers.record_attempts(
        uow, [(mail, SendResult(mail.id, ok=False, error="x", kind="permanent"))], max_attempts=6, now=NOW
    )
    assert await handlers.resend(uow, delivery_id=mail.id, now=NOW) == "queued"
    assert await handlers.resend(uow, delivery_id=mail.id, now=NOW) == "not_failed"
    assert await handlers.resend(uow, delivery_id=uuid4(), now=NOW) == "unknown"
    assert uow.deliveries.by_id[mail.id].status == "pending"


async def test_quiet_hours_hold_a_text_but_not_an_urgent_one() -> None:
    uow = FakeNotifyUnitOfWork()
    night = datetime(2026, 11, 20, 4, 0, tzinfo=UTC)  # 22:00 in Chicago
    normal = submitted(None, PHONE, sms_consent=True)
    urgent = submitted(None, "+13125550148", sms_consent=True, urgency="urgent")
    await apply(uow, normal, urgent, now=night)
    due = {r.planned.recipient: r.next_attempt_at for r in uow.deliveries.by_id.values()}
    assert due == {PHONE: datetime(2026, 11, 20, 14, 0, tzinfo=UTC), "+13125550148": night}


async def test_the_parents_other_emails_wait_until_the_acknowledgment_email_has_gone() -> None:
    uow = FakeNotifyUnitOfWork()
    await staff(uow)
    first = submitted("ana@example.org")  # email only: every message to her is an email
    rules = handlers.Rules(resources_wait_seconds=2.5)  # the acknowledgment's email waits for the catalog
    await handlers.apply_case_events(uow, [first, assigned(first.inquiry_id)], renderer=RENDERER, now=NOW, rules=rules)
    later = NOW + timedelta(seconds=1)

    claimed = await uow.deliveries.claim_due(limit=10, now=later, lease_seconds=60)
    assert [(d.template, d.channel) for d in claimed] == [("staff_assigned", "email")], "no 'assigned' yet"
    uow.resources.overdue.update(uow.resources.by_request)  # the catalog did not answer in time
    assert await handlers.release_overdue(uow, limit=10, now=later) == 1
    (ack,) = await uow.deliveries.claim_due(limit=10, now=later, lease_seconds=60)
    assert ack.template == "inquiry_received", "released: it goes first, alone"
    assert await uow.deliveries.claim_due(limit=10, now=later, lease_seconds=60) == [], "still being sent"
    result = SendResult(ack.id, ok=True, provider_message_id="m-1")
    await handlers.record_attempts(uow, [(ack, result)], max_attempts=6, now=later, renderer=RENDERER, rules=RULES)
    (then,) = await uow.deliveries.claim_due(limit=10, now=later, lease_seconds=60)
    assert (then.template, then.channel) == ("inquiry_assigned", "email")


async def test_an_older_staff_change_arriving_late_never_undoes_a_newer_one() -> None:
    uow = FakeNotifyUnitOfWork()
    member = {"staff_id": "ns-1", "role": "network_staff", "network_id": "n4", "name": "Alex A."}
    disabled = StaffUpdated.model_validate({"occurred_at": NOW, "correlation_id": "s", "active": False, **member})
    older = StaffUpdated.model_validate(
        {"occurred_at": NOW - timedelta(hours=1), "correlation_id": "s", "active": True, **member}
    )
    await handlers.follow_staff(uow, [disabled], now=NOW)
    await handlers.follow_staff(uow, [older], now=NOW)  # replayed, or redelivered after the newer one
    assert uow.staff.by_id["ns-1"].active is False
    await handlers.follow_staff(uow, [disabled, older], now=NOW)  # in one batch, in any order: the latest wins
    assert uow.staff.by_id["ns-1"].active is False
