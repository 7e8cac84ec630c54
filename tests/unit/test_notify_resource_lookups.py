"""The acknowledgment's resources against the in-memory unit of work: the held email, the lookup through the outbox,
the reply that fills and releases it, the wait that releases it without, and every copy that must change nothing
(the same rules run through the real broker, database, catalog and mail catcher in
tests/integration/test_notify_resources.py)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from uuid import uuid4

from fakes.notify import NOW, RENDERER, FakeNotifyUnitOfWork, submitted

from services.notify import handlers, resources
from services.notify.handlers import Rules
from shared.contracts.catalog import LookupRejected, LookupReplied, LookupResources, ResourceView
from shared.contracts.envelope import FieldError
from shared.contracts.inquiries import InquiryCategory, InquirySubmitted
from shared.contracts.topics import CATALOG_LOOKUPS, NOTIFY_CATALOG_REPLIES

PHONE = "+13125550147"
RULES = Rules(resources_wait_seconds=2.5)


def view(service_id: str, name: str, **fields: Any) -> ResourceView:
    return ResourceView.model_validate(
        {
            "id": service_id,
            "name": name,
            "alternate_name": None,
            "description": "What it does.",
            "status": "active",
            "organization": {"id": "cps", "name": "Chicago Public Schools"},
            "categories": ["attendance"],
            "languages": ["en", "es"],
            "phones": [{"number": "(773) 553-1000", "extension": None, "type": "voice", "description": None}],
            "locations": [],
            "url": None,
            "email": None,
            "eligibility_description": None,
            "fees_description": None,
            "updated_at": NOW,
            **fields,
        }
    )


FOUND = [
    view(
        "attendance-office",
        "Office of Attendance",
        translations={"es": {"name": "Oficina de Asistencia"}},
        url="https://www.cps.edu/attendance",
    ),
    view("closed-program", "A closed program", status="inactive"),
    view("truancy-line", "Truancy Prevention Line", phones=[]),  # no way to reach it: left out
    view(
        "safe-passage",
        "Safe Passage",
        phones=[
            {"number": "(773) 553-1801", "extension": None, "type": "fax", "description": None},
            {"number": "(773) 553-3060", "extension": "2", "type": "voice", "description": None},
        ],
    ),
    view("stls", "Students in Temporary Living Situations", translations={"es": {"name": "Estudiantes STLS"}}),
    view("fourth", "A fourth resource"),
]


async def acknowledge(uow: FakeNotifyUnitOfWork, *events: InquirySubmitted, rules: Rules = RULES) -> None:
    await handlers.apply_case_events(uow, list(events), renderer=RENDERER, now=NOW, rules=rules)


def replied(event: InquirySubmitted, results: list[ResourceView]) -> LookupReplied:
    return LookupReplied(
        occurred_at=NOW + timedelta(seconds=1),
        correlation_id=event.correlation_id,
        request_id=resources.request_id_for(event.event_id),
        total=len(results),
        results=results,
    )


def email_row(uow: FakeNotifyUnitOfWork) -> Any:
    (row,) = [r for r in uow.deliveries.by_id.values() if r.planned.channel == "email"]
    return row


async def test_the_acknowledgment_email_waits_and_a_lookup_by_category_goes_through_the_outbox() -> None:
    uow = FakeNotifyUnitOfWork()
    event = submitted("ana@example.org", PHONE, sms_consent=True)
    await acknowledge(uow, event)
    rows = {r.planned.channel: r for r in uow.deliveries.by_id.values()}
    assert (rows["email"].status, rows["email"].reason) == ("pending", resources.WAITING_REASON)
    assert rows["email"].next_attempt_at == NOW + timedelta(seconds=2.5)
    assert (rows["sms"].reason, rows["sms"].next_attempt_at) == (None, NOW), "the text never waits"
    (request,) = uow.events_on(CATALOG_LOOKUPS)
    # What the catalog reads: the request alone (its model forbids any other field), keyed by the correlation id.
    body = LookupResources.model_validate(json.loads(request.model_dump_json()))
    assert body.request_id == resources.request_id_for(event.event_id) == request.event_id
    assert (body.category, body.reply_to, body.correlation_id) == ("attendance", NOTIFY_CATALOG_REPLIES, "req-1")
    assert body.q is None and body.language is None and body.limit == resources.ASKED
    assert request.partition_key() == "req-1"
    wait = uow.resources.by_request[body.request_id]
    assert (wait.wait.language, wait.wait.category, wait.wait_seconds, wait.outcome) == ("es", "attendance", 2.5, None)


async def test_a_redelivered_submission_asks_nothing_again() -> None:
    uow = FakeNotifyUnitOfWork()
    event = submitted()
    await acknowledge(uow, event)
    await acknowledge(uow, event)
    assert len(uow.events_on(CATALOG_LOOKUPS)) == 1 and len(uow.deliveries.by_id) == 1


async def test_the_reply_fills_two_or_three_resources_in_the_parents_language_and_releases_the_email() -> None:
    uow = FakeNotifyUnitOfWork()
    event = submitted(language="es")
    await acknowledge(uow, event)
    before = email_row(uow).planned.body
    assert await handlers.fill_resources(uow, [replied(event, FOUND)], renderer=RENDERER, now=NOW) == 1
    row = email_row(uow)
    assert (row.status, row.reason, row.next_attempt_at) == ("pending", None, NOW)
    body = row.planned.body
    assert "Oficinas y programas que pueden ayudarle mientras tanto:" in body
    assert "- Oficina de Asistencia: (773) 553-1000, https://www.cps.edu/attendance\n" in body
    assert "- Safe Passage: (773) 553-3060 ext. 2\n" in body, "English when the catalog has no Spanish name"
    assert "- Estudiantes STLS: (773) 553-1000\n" in body
    assert "closed program" not in body and "Truancy" not in body and "fourth" not in body
    assert body.count("\n- ") == 3 and body != before
    assert row.planned.html is not None and row.planned.html.count("<li>") == 3
    assert row.planned.context["resource_1"] == "Oficina de Asistencia"
    (claimed,) = await uow.deliveries.claim_due(limit=10, now=NOW, lease_seconds=300)
    assert claimed.body == body, "the dispatcher sends what the reply filled in"
    assert uow.resources.by_request[resources.request_id_for(event.event_id)].resources == len(FOUND)


async def test_a_second_copy_of_the_reply_or_a_reply_after_the_send_changes_nothing() -> None:
    uow = FakeNotifyUnitOfWork()
    event = submitted(language="en")
    await acknowledge(uow, event)
    await handlers.fill_resources(uow, [replied(event, FOUND[:1])], renderer=RENDERER, now=NOW)
    filled = email_row(uow).planned.body
    assert "- Office of Attendance: (773) 553-1000, https://www.cps.edu/attendance\n" in filled
    assert await handlers.fill_resources(uow, [replied(event, FOUND[3:])], renderer=RENDERER, now=NOW) == 0
    assert email_row(uow).planned.body == filled


async def test_without_an_answer_the_email_goes_after_the_wait_without_resources_and_a_late_reply_is_ignored() -> None:
    uow = FakeNotifyUnitOfWork()
    event = submitted()
    await acknowledge(uow, event)
    planned = email_row(uow).planned.body
    assert await handlers.release_overdue(uow, limit=10, now=NOW) == 0, "nothing is over yet"
    assert email_row(uow).next_attempt_at == NOW + timedelta(seconds=2.5)
    uow.resources.overdue.add(resources.request_id_for(event.event_id))
    later = NOW + timedelta(seconds=1)
    assert await handlers.release_overdue(uow, limit=10, now=later) == 1
    row = email_row(uow)
    assert (row.status, row.reason, row.next_attempt_at, row.planned.body) == ("pending", None, later, planned)
    assert "\n- " not in planned
    assert await handlers.fill_resources(uow, [replied(event, FOUND)], renderer=RENDERER, now=later) == 0
    assert email_row(uow).planned.body == planned
    assert await handlers.release_overdue(uow, limit=10, now=later) == 0, "settled once"


async def test_a_refused_lookup_releases_the_email_as_planned() -> None:
    uow = FakeNotifyUnitOfWork()
    event = submitted()
    await acknowledge(uow, event)
    refusal = LookupRejected(
        occurred_at=NOW,
        correlation_id="req-1",
        request_id=resources.request_id_for(event.event_id),
        errors=[FieldError(field="category", reason="is not a known category")],
        origin_topic=CATALOG_LOOKUPS,
        origin_partition=0,
        origin_offset=7,
    )
    unreadable = refusal.model_copy(update={"request_id": None})
    await handlers.fill_resources(uow, [unreadable, refusal], renderer=RENDERER, now=NOW)
    row = email_row(uow)
    assert (row.reason, row.next_attempt_at) == (None, NOW) and "\n- " not in row.planned.body
    assert uow.resources.by_request[resources.request_id_for(event.event_id)].outcome == "rejected"


async def test_an_email_already_being_sent_is_never_rewritten() -> None:
    uow = FakeNotifyUnitOfWork()
    event = submitted()
    await acknowledge(uow, event)
    await uow.deliveries.claim_due(limit=10, now=NOW + timedelta(seconds=3), lease_seconds=300)
    assert await handlers.fill_resources(uow, [replied(event, FOUND)], renderer=RENDERER, now=NOW) == 0
    assert email_row(uow).status == "sending" and "\n- " not in email_row(uow).planned.body


async def test_no_email_to_hold_or_no_wait_set_means_no_lookup() -> None:
    texts_only = FakeNotifyUnitOfWork()
    await acknowledge(texts_only, submitted(None, PHONE, sms_consent=True))
    no_wait = FakeNotifyUnitOfWork()
    await acknowledge(no_wait, submitted(), rules=Rules(resources_wait_seconds=0))
    assert texts_only.events_on(CATALOG_LOOKUPS) == [] and no_wait.events_on(CATALOG_LOOKUPS) == []
    assert (email_row(no_wait).reason, email_row(no_wait).next_attempt_at) == (None, NOW)
    assert texts_only.resources.by_request == {} and no_wait.resources.by_request == {}


async def test_a_suppressed_email_waits_for_nothing() -> None:
    uow = FakeNotifyUnitOfWork()
    await uow.suppressions.add(channel="email", address="ana@example.org", reason="bounced", kind="bounced")
    await acknowledge(uow, submitted())
    assert email_row(uow).status == "suppressed" and uow.events_on(CATALOG_LOOKUPS) == []


def test_resource_names_follow_the_parents_language_then_english() -> None:
    attendance = FOUND[0]
    assert resources.name_in(attendance, "es-MX") == "Oficina de Asistencia"
    assert resources.name_in(attendance, "ES") == "Oficina de Asistencia"
    assert resources.name_in(attendance, "vi") == "Office of Attendance"
    variables = resources.resource_variables([], "es")
    assert variables == resources.NO_RESOURCES and set(variables) == {
        f"resource_{n}{part}" for n in (1, 2, 3) for part in ("", "_contact")
    }


def test_the_request_id_is_the_same_on_every_replica_and_differs_per_acknowledgment() -> None:
    first, second = uuid4(), uuid4()
    assert resources.request_id_for(first) == resources.request_id_for(first) != resources.request_id_for(second)


FRESH = Rules(resources_wait_seconds=2.5, resources_fresh_seconds=600)


async def test_one_reply_releases_every_acknowledgment_of_its_category_then_waiting() -> None:
    uow = FakeNotifyUnitOfWork()
    first, second = submitted("ana@example.org", language="es"), submitted("bo@example.org", language="en")
    await acknowledge(uow, first, second, rules=FRESH)
    assert len(uow.events_on(CATALOG_LOOKUPS)) == 2, "each asks: neither knows the other's answer will come first"
    assert await handlers.fill_resources(uow, [replied(first, FOUND)], renderer=RENDERER, now=NOW) == 2
    bodies = {r.planned.recipient: r.planned.body for r in uow.deliveries.by_id.values()}
    assert "- Oficina de Asistencia: (773) 553-1000, https://www.cps.edu/attendance\n" in bodies["ana@example.org"]
    assert "- Office of Attendance: (773) 553-1000, https://www.cps.edu/attendance\n" in bodies["bo@example.org"]
    assert all(r.reason is None and r.next_attempt_at == NOW for r in uow.deliveries.by_id.values())
    assert await handlers.fill_resources(uow, [replied(second, FOUND[3:])], renderer=RENDERER, now=NOW) == 0


async def test_a_fresh_answer_serves_the_next_acknowledgment_of_its_category_at_once_a_stale_one_asks_again() -> None:
    uow = FakeNotifyUnitOfWork()
    first = submitted("ana@example.org")
    await acknowledge(uow, first, rules=FRESH)
    await handlers.fill_resources(uow, [replied(first, FOUND)], renderer=RENDERER, now=NOW)
    asked = len(uow.events_on(CATALOG_LOOKUPS))

    later = submitted("bo@example.org", language="en")
    await acknowledge(uow, later, rules=FRESH)
    (row,) = [r for r in uow.deliveries.by_id.values() if r.planned.recipient == "bo@example.org"]
    assert (row.reason, row.next_attempt_at) == (None, NOW), "nothing to wait for"
    assert "- Office of Attendance: (773) 553-1000, https://www.cps.edu/attendance\n" in row.planned.body
    assert len(uow.events_on(CATALOG_LOOKUPS)) == asked, "and nothing asked"

    other = submitted("cy@example.org")
    other = other.model_copy(update={"category": InquiryCategory.SPECIAL_EDUCATION})
    await acknowledge(uow, other, rules=FRESH)
    (row,) = [r for r in uow.deliveries.by_id.values() if r.planned.recipient == "cy@example.org"]
    assert row.reason == resources.WAITING_REASON, "another category's answer serves nothing here"

    uow.resources.stale.add("attendance")
    stale = submitted("di@example.org")
    await acknowledge(uow, stale, rules=FRESH)
    (row,) = [r for r in uow.deliveries.by_id.values() if r.planned.recipient == "di@example.org"]
    assert row.reason == resources.WAITING_REASON and len(uow.events_on(CATALOG_LOOKUPS)) == asked + 2
