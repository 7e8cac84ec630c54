"""Notify's use cases. Each takes a unit of work with notify's repositories on it, calls the domain, saves, and emits
events through the unit of work's outbox; transport (Kafka in ``subscribers.py``, HTTP in ``api.py``, the sending
loop in ``dispatcher.py``) calls them. None talks to a provider: sending happens in the dispatcher, after commit.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal
from uuid import UUID

from pydantic import TypeAdapter

from services.notify import domain, resources, sms, steps
from services.notify.domain import (
    STAFF_MESSAGES,
    Channel,
    ClaimedDelivery,
    Contact,
    DeliveryEntry,
    PlannedDelivery,
    Renderer,
    SendResult,
    StaffMember,
)
from services.notify.signing import contact_key
from services.notify.unit_of_work import NotifyUnitOfWork
from shared.auth.staff_table import latest_of_each
from shared.contracts.catalog import LookupRejected, LookupReplied
from shared.contracts.envelope import InquiryEvent, event_parser
from shared.contracts.inquiries import InquirySubmitted
from shared.contracts.lifecycle import CASE_EVENTS
from shared.contracts.notifications import (
    ContactOptedIn,
    ContactOptedOut,
    NotificationDeliveryReported,
    NotificationFailed,
)
from shared.contracts.routing import (
    InquiryAssigned,
    InquiryEscalated,
    InquiryReassigned,
    InquiryRerouted,
    InquirySlaWarning,
    StaffUpdated,
)
from shared.contracts.topics import CATALOG_LOOKUPS, NOTIFICATION_EVENTS

ROUTING_EVENTS_TOLD = (InquiryAssigned, InquiryEscalated, InquirySlaWarning, InquiryReassigned, InquiryRerouted)
"""Routing's events notify acts on (the rest of ``psc.routing.events`` is skipped)."""
CASE_EVENTS_TOLD = (InquirySubmitted, *CASE_EVENTS)
"""Intake's events notify follows (some change nothing: acknowledged, parent_replied, closed, linked)."""
_WAITING: TypeAdapter[Any] = event_parser(*CASE_EVENTS_TOLD, *ROUTING_EVENTS_TOLD)


@dataclass(frozen=True)
class Rules:
    """Settings the use cases need."""

    status_base_url: str = "http://127.0.0.1:8001"
    contact_key_secret: str = "development"  # noqa: S105 - the settings give the real one
    help_contact: str = "Parent Support Center, 773-553-1000, parentsupport@district.example"
    max_attempts: int = 6
    time_scale: float = 1.0
    """The clock's time per real second (PSC_CLOCK_SPEED), so retries wait as long on the wall at any speed."""
    resources_wait_seconds: float = 0.0
    """How long the acknowledgment's email waits for the catalog's resources (PSC_NOTIFY_RESOURCES_WAIT_SECONDS,
    wall seconds); 0: no lookup, the email goes at once without resources."""
    resources_fresh_seconds: float = 0.0
    """How long the catalog's answer for a category serves later acknowledgments without asking again
    (PSC_NOTIFY_RESOURCES_FRESH_SECONDS, wall seconds); 0: every acknowledgment asks."""


# --- steps of the case ------------------------------------------------------------------------------------------------


async def acknowledge_submissions(
    uow: NotifyUnitOfWork,
    events: Sequence[InquirySubmitted],
    *,
    renderer: Renderer,
    now: datetime,
    rules: Rules | None = None,
) -> None:
    """The acknowledgment alone (kept for callers that only have inquiry.submitted)."""
    await apply_case_events(uow, events, renderer=renderer, now=now, rules=rules or Rules())


async def apply_case_events(
    uow: NotifyUnitOfWork,
    events: Sequence[InquiryEvent],
    *,
    renderer: Renderer,
    now: datetime,
    rules: Rules,
    new_id: Callable[[], UUID] = uuid.uuid4,
) -> None:
    """Queue what each event asks for (one message per event, channel and recipient, however often it comes).

    ``inquiry.submitted`` records the parent's contact, consent and language. An event about an inquiry whose contact
    has not arrived (routing's topic is not ordered with intake's) waits in notify's table and is handled, in order,
    right after the inquiry.submitted it needs. A message that will not be sent is recorded 'suppressed' with the
    reason, and announced once."""
    submitted = [e for e in events if isinstance(e, InquirySubmitted)]
    await uow.contacts.lock(inquiry_ids=sorted({e.inquiry_id for e in events}))
    if submitted:
        await uow.contacts.upsert(contacts=[domain.contact_from(e) for e in submitted], now=now)
    ordered: list[InquiryEvent] = []
    released = {e.inquiry_id for e in submitted}
    for event in events:
        ordered.append(event)
        if isinstance(event, InquirySubmitted) and event.inquiry_id in released:
            released.discard(event.inquiry_id)
            ordered += [_WAITING.validate_json(p) for p in await uow.waiting.take(inquiry_ids=[event.inquiry_id])]
    contacts = await uow.contacts.of(inquiry_ids={e.inquiry_id for e in ordered})
    parked = [e for e in ordered if e.inquiry_id not in contacts]
    if parked:
        await uow.waiting.park(
            events=[(e.event_id, e.inquiry_id, e.event_type, e.model_dump_json()) for e in parked], now=now
        )
    to_handle = [e for e in ordered if e.inquiry_id in contacts]
    staff = await uow.staff.of(staff_ids={s for e in to_handle if (s := getattr(e, "assignee_id", None))})
    addresses = _addresses(contacts.values(), staff.values())
    asks_catalog = rules.resources_wait_seconds > 0 and bool(submitted)
    answers = {}
    if asks_catalog and rules.resources_fresh_seconds > 0:
        answers = await uow.resources.fresh_answers(
            categories={e.category.value for e in submitted}, fresh_seconds=rules.resources_fresh_seconds
        )
    directory = steps.Directory(
        staff=staff,
        suppressed=await uow.suppressions.state(addresses=addresses),
        renderer=renderer,
        new_id=new_id,
        status_base_url=rules.status_base_url,
        answers=answers,
    )
    planned: list[PlannedDelivery] = []
    offices: dict[UUID, str] = {}
    for event in to_handle:
        step = steps.step_for(event, contacts[event.inquiry_id], directory, now=now)
        planned += step.deliveries
        if step.contact.office_name != contacts[event.inquiry_id].office_name and step.contact.office_name:
            offices[event.inquiry_id] = step.contact.office_name
        contacts[event.inquiry_id] = step.contact
    if offices:
        await uow.contacts.set_offices(offices=list(offices.items()), now=now)
    if asks_catalog:
        # The service clock's due time is a backstop: the wait is released on the wall (see release_overdue).
        until = now + timedelta(seconds=rules.resources_wait_seconds * rules.time_scale)
        unanswered = {e.event_id for e in submitted if e.category.value not in answers}
        planned = resources.hold(planned, until=until, events=unanswered)
    inserted = await _queue(uow, planned, now=now)
    await _ask_for_resources(uow, submitted, planned, inserted, contacts=contacts, rules=rules, now=now)


async def _ask_for_resources(
    uow: NotifyUnitOfWork,
    submitted: Sequence[InquirySubmitted],
    planned: Sequence[PlannedDelivery],
    inserted: set[UUID],
    *,
    contacts: dict[UUID, Contact],
    rules: Rules,
    now: datetime,
) -> None:
    """One lookup per acknowledgment whose email was queued held just now (a redelivery asks nothing again)."""
    held = {p.event_id for p in planned if p.id in inserted and p.reason == resources.WAITING_REASON}
    asking = {e.event_id: e for e in submitted if e.event_id in held}
    if not asking:
        return
    waits = [
        resources.ResourceWait(
            request_id=resources.request_id_for(e.event_id),
            inquiry_id=e.inquiry_id,
            event_id=e.event_id,
            category=e.category.value,
            language=contacts[e.inquiry_id].language,
        )
        for e in asking.values()
    ]
    started = await uow.resources.start(waits=waits, wait_seconds=rules.resources_wait_seconds, now=now)
    for event in asking.values():
        if resources.request_id_for(event.event_id) in started:
            uow.emit(CATALOG_LOOKUPS, resources.lookup_for(event, now=now))


async def fill_resources(
    uow: NotifyUnitOfWork, replies: Sequence[LookupReplied | LookupRejected], *, renderer: Renderer, now: datetime
) -> int:
    """The catalog answered: the held acknowledgment emails of its category are rendered again with its resources (in
    the email's language, English names where the catalog has no translation) and go now; the answer is kept for the
    category's next acknowledgments. A refusal releases them as planned. A reply after the wait, or a second copy of
    one, changes nothing. The whole batch of replies in a few statements. Returns how many emails were released."""
    rejected = [r.request_id for r in replies if isinstance(r, LookupRejected) and r.request_id is not None]
    if rejected:
        events = await uow.resources.settle(request_ids=rejected, outcome="rejected", resources=None, now=now)
        await uow.resources.release_as_planned(event_ids=events, now=now)
    answers = [(r.request_id, r.results) for r in replies if isinstance(r, LookupReplied) and r.request_id]
    if not answers:
        return 0
    kept = await uow.resources.keep_answers(answers=answers)
    waiting = await uow.resources.settle_answered(found={c: len(found) for c, found in kept.items()}, now=now)
    releases = []
    for held in await uow.resources.held(event_ids=list(waiting)):
        context = held.context | resources.resource_variables(kept[waiting[held.event_id]], held.language)
        rendered = renderer.render(domain.ACKNOWLEDGMENT, language=held.language, channel="email", context=context)
        releases.append((held.delivery_id, rendered, context))
    await uow.resources.release(releases=releases, now=now)
    return len(releases)


async def release_overdue(uow: NotifyUnitOfWork, *, limit: int, now: datetime) -> int:
    """The acknowledgments that waited their time for the catalog go without resources. Returns how many lookups
    timed out."""
    events = await uow.resources.settle_overdue(limit=limit, now=now)
    if events:
        await uow.resources.release_as_planned(event_ids=events, now=now)
    return len(events)


def _addresses(contacts: Any, staff: Any) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for c in contacts:
        if c.email:
            found.append(("email", c.email))
        if c.mobile_phone:
            found.append(("sms", c.mobile_phone))
    found += [("email", s.email) for s in staff if s.email]
    return found


async def _queue(uow: NotifyUnitOfWork, planned: Sequence[PlannedDelivery], *, now: datetime) -> set[UUID]:
    inserted = await uow.deliveries.insert(planned=planned, now=now)
    for delivery in planned:
        if delivery.status == "suppressed" and delivery.id in inserted:
            uow.emit(NOTIFICATION_EVENTS, domain.notification_suppressed(delivery, now=now, reason=delivery.reason))
    return inserted


async def follow_staff(uow: NotifyUnitOfWork, events: Sequence[StaffUpdated], *, now: datetime) -> None:
    """Keep each staff member's name, email and whether they are active, as routing's directory says: the latest
    change wins, by when routing made it, whatever order the events come in."""
    await uow.staff.upsert(
        staff=[
            (
                StaffMember(e.staff_id, e.role, e.network_id, e.active, e.name, str(e.email) if e.email else None),
                e.occurred_at,
            )
            for e in latest_of_each(events)
        ]
    )


# --- sending attempts -------------------------------------------------------------------------------------------------


async def record_attempts(
    uow: NotifyUnitOfWork,
    attempts: Sequence[tuple[ClaimedDelivery, SendResult]],
    *,
    max_attempts: int,
    now: datetime,
    time_scale: float = 1.0,
    renderer: Renderer | None = None,
    rules: Rules | None = None,
    jitter: Callable[[], float] = random.random,
) -> None:
    """Record what each send attempt left behind (sent, to retry later, failed) in the delivery log, and announce it.

    An address that refuses for good (a hard bounce, Twilio 21610, 21614/30006) is suppressed, and the parent's
    message goes to their other channel instead."""
    rules = rules or Rules(max_attempts=max_attempts, time_scale=time_scale)
    outcomes = []
    log = []
    refused: list[ClaimedDelivery] = []
    for delivery, result in attempts:
        outcome, event = domain.settle(
            delivery, result, max_attempts=max_attempts, now=now, time_scale=time_scale, jitter=jitter
        )
        outcomes.append((delivery.id, outcome, result.provider_message_id))
        log.append((delivery.id, delivery.attempts, outcome.status, outcome.reason or result.provider_message_id))
        uow.emit(NOTIFICATION_EVENTS, event)
        if outcome.suppress_address:
            refused.append(delivery)
            await uow.suppressions.add(
                channel=delivery.channel, address=delivery.recipient, reason=outcome.reason or "refused", kind="bounced"
            )
    await uow.deliveries.record_outcomes(outcomes=outcomes, now=now)
    await uow.deliveries.log_attempts(attempts=log, now=now)
    if refused and renderer is not None:
        await _fall_back(uow, refused, renderer=renderer, rules=rules, now=now)
    texts = [r.provider_message_id for d, r in attempts if d.channel == "sms" and r.ok and r.provider_message_id]
    if texts:
        await uow.deliveries.lock_messages(message_sids=texts)
    for sid, status, code in await uow.deliveries.take_reports(message_sids=texts):
        # The provider reported before this send was recorded: its report is applied now.
        await sms_status(
            uow, message_sid=sid, status=status, error_code=code, renderer=renderer, rules=rules, now=now, jitter=jitter
        )


async def _fall_back(
    uow: NotifyUnitOfWork, refused: Sequence[ClaimedDelivery], *, renderer: Renderer, rules: Rules, now: datetime
) -> None:
    parents = [d for d in refused if d.template not in STAFF_MESSAGES]
    contacts = await uow.contacts.of(inquiry_ids={d.inquiry_id for d in parents})
    suppressed = await uow.suppressions.state(addresses=_addresses(contacts.values(), []))
    planned: list[PlannedDelivery] = []
    for delivery in parents:
        contact = contacts.get(delivery.inquiry_id)
        stored = await uow.deliveries.get(delivery_id=delivery.id)
        if contact is None or stored is None:
            continue
        fallback = domain.fallback_for(
            delivery,
            contact,
            now=now,
            renderer=renderer,
            context=stored[2],
            suppressed=suppressed,
            new_id=uuid.uuid4(),
        )
        if fallback is not None:
            planned.append(fallback)
    await _queue(uow, planned, now=now)


# --- texts in: STOP, START, HELP; status callbacks --------------------------------------------------------------------


@dataclass(frozen=True)
class InboundAnswer:
    keyword: sms.Keyword
    reply: str | None
    """The text to answer with (TwiML <Message>), or None for none."""


async def sms_inbound(
    uow: NotifyUnitOfWork, *, sender: str, body: str, renderer: Renderer, rules: Rules, now: datetime
) -> InboundAnswer:
    """A parent texted in. STOP (and its synonyms) opts the number out of texts, START (UNSTOP, YES) back in, both
    announced on psc.notify.events under the number's contact key; HELP answers with the office's contact. The choice
    is in PostgreSQL: it holds across restarts and replicas. Any other text is answered with where to write instead."""
    kind, word = sms.keyword_of(body)
    contact = await uow.contacts.latest_by_phone(phone=sender)
    language = contact.language if contact else "en"
    context: dict[str, str | None] = {
        "office_name": (contact.office_name if contact else None) or domain.DEFAULT_OFFICE,
        "help_contact": rules.help_contact,
    }
    key = contact_key(rules.contact_key_secret, "sms", sender)
    about = {"occurred_at": now, "correlation_id": f"sms-inbound-{key[:16]}", "contact_key": key, "keyword": word}
    if kind == "opt_out":
        if await uow.suppressions.add(
            channel="sms", address=sender, reason=f"opted out by text ({word})", kind="opted_out"
        ):
            uow.emit(NOTIFICATION_EVENTS, ContactOptedOut(**about))
        # The carrier (or Twilio's Advanced Opt-Out) confirms a STOP itself: no second text from us.
        return InboundAnswer(kind, None)
    if kind == "opt_in":
        if await uow.suppressions.lift(channel="sms", address=sender):
            uow.emit(NOTIFICATION_EVENTS, ContactOptedIn(**about))
        return InboundAnswer(kind, _reply(renderer, "sms_opted_in", language, context))
    template = "sms_help" if kind == "help" else "sms_no_replies"
    return InboundAnswer(kind, _reply(renderer, template, language, context))


def _reply(renderer: Renderer, template: str, language: str, context: dict[str, str | None]) -> str:
    return renderer.render(template, language=language, channel="sms", context=context).body.strip()


StatusAnswer = Literal["recorded", "held"]


async def sms_status(
    uow: NotifyUnitOfWork,
    *,
    message_sid: str,
    status: str,
    error_code: str | None,
    renderer: Renderer | None,
    rules: Rules,
    now: datetime,
    jitter: Callable[[], float] = random.random,
) -> StatusAnswer:
    """The provider's report on a text (delivered, undelivered, failed...) into the delivery log, announced. An
    undelivered text is handled by its error class: retried later (30003), the number suppressed and the message sent
    by email (30006, 21610, 21614), or failed. A report on a send not recorded yet (the callback raced the commit, or
    an unknown MessageSid) is held, and applied when that send is recorded."""
    await uow.deliveries.lock_messages(message_sids=[message_sid])
    found = await uow.deliveries.by_provider_id(provider_message_id=message_sid)
    if found is None:
        await uow.deliveries.hold_report(message_sid=message_sid, status=status, error_code=error_code, now=now)
        return "held"
    delivery, _current = found
    await uow.deliveries.report(delivery_id=delivery.id, provider_status=status, error_code=error_code, now=now)
    detail = f"{status}" + (f" (error {error_code})" if error_code else "")
    await uow.deliveries.log_attempts(attempts=[(delivery.id, delivery.attempts, "reported", detail)], now=now)
    uow.emit(
        NOTIFICATION_EVENTS,
        NotificationDeliveryReported(
            **domain.about(delivery, now), provider_status=status, error_code=error_code or None
        ),
    )
    if status not in ("undelivered", "failed"):
        return "recorded"
    kind = domain.classify_twilio(None, error_code or None)
    reason = f"SMS provider: {detail}"
    if kind == "transient" and delivery.attempts < rules.max_attempts:
        delay = domain.retry_delay(delivery.attempts, jitter=jitter) * rules.time_scale
        await uow.deliveries.requeue(delivery_id=delivery.id, at=now + delay, reason=reason, now=now, statuses=["sent"])
        return "recorded"
    await uow.deliveries.fail(delivery_id=delivery.id, reason=reason, now=now)
    uow.emit(NOTIFICATION_EVENTS, NotificationFailed(**domain.about(delivery, now), reason=reason))
    if kind == "bad_address":
        await uow.suppressions.add(channel="sms", address=delivery.recipient, reason=reason, kind="bounced")
        if renderer is not None:
            await _fall_back(uow, [delivery], renderer=renderer, rules=rules, now=now)
    return "recorded"


# --- email unsubscribe, operators' API --------------------------------------------------------------------------------


async def unsubscribe(uow: NotifyUnitOfWork, *, delivery_id: UUID, rules: Rules, now: datetime) -> bool:
    """One-click unsubscribe (RFC 8058) from the mail of this delivery: its address gets no more optional mail
    (the acknowledgment, a question to answer and the outcome still go). False for an unknown delivery."""
    found = await uow.deliveries.get(delivery_id=delivery_id)
    if found is None or found[0].channel != "email":
        return False
    address = found[0].recipient
    if await uow.suppressions.add(channel="email", address=address, reason="one-click unsubscribe", kind="opted_out"):
        key = contact_key(rules.contact_key_secret, "email", address)
        uow.emit(
            NOTIFICATION_EVENTS,
            ContactOptedOut(
                occurred_at=now,
                correlation_id=f"unsubscribe-{delivery_id}",
                contact_key=key,
                channel="email",
                keyword="unsubscribe-link",
            ),
        )
    return True


ResendAnswer = Literal["queued", "unknown", "not_failed", "suppressed"]


async def resend(uow: NotifyUnitOfWork, *, delivery_id: UUID, now: datetime) -> ResendAnswer:
    """Send one failed message again, by hand: queued now, under the same delivery (the same Message-ID), unless its
    address is suppressed (lift the suppression first) or it did not fail."""
    found = await uow.deliveries.get(delivery_id=delivery_id)
    if found is None:
        return "unknown"
    delivery, status, _ = found
    if status != "failed":
        return "not_failed"
    state = await uow.suppressions.state(addresses=[(delivery.channel, delivery.recipient)])
    if state.refusal(delivery.channel, delivery.recipient, essential=delivery.essential):
        return "suppressed"
    await uow.deliveries.requeue(delivery_id=delivery_id, at=now, reason="resent by hand", now=now, statuses=["failed"])
    return "queued"


async def deliveries_of(uow: NotifyUnitOfWork, inquiry_id: UUID) -> list[DeliveryEntry]:
    """An inquiry's delivery log, oldest first."""
    return await uow.deliveries.of_inquiry(inquiry_id=inquiry_id)


async def attempts_of(uow: NotifyUnitOfWork, inquiry_id: UUID) -> list[dict[str, Any]]:
    return await uow.deliveries.attempts_of(inquiry_id=inquiry_id)


async def contact_of(uow: NotifyUnitOfWork, inquiry_id: UUID) -> tuple[Contact, list[dict[str, Any]]] | None:
    """The parent's contact as notify has it, and the suppressions on their addresses."""
    contact = (await uow.contacts.of(inquiry_ids=[inquiry_id])).get(inquiry_id)
    if contact is None:
        return None
    entries = await uow.suppressions.entries(addresses=_addresses([contact], []))
    return contact, entries


async def suppress(uow: NotifyUnitOfWork, *, channel: Channel, address: str, reason: str) -> None:
    """Never write to this address on this channel again (nothing queued for it before is withdrawn)."""
    await uow.suppressions.add(channel=channel, address=address, reason=reason)
