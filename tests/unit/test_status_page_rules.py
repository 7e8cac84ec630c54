"""The status page's rules and use case, against the in-memory unit of work: the token issued with each inquiry,
the second factor, the parent's terms, and the limits per reference and per client."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest
from fakes.intake import NOW, SUBMISSION, FakeIntakeUnitOfWork

from services.intake import handlers, parents
from services.intake.domain import Assignment, NewSubmission, Note
from services.intake.parents import Attempts, Factor, Limits, ParentRecord, VisibleNote
from services.intake.status import Limited, NotShown, Shown, show_status

LIMITS = Limits(per_reference=2, per_client=4, window_seconds=600)
WITH_PHONE = SUBMISSION.model_copy(
    update={"parent": SUBMISSION.parent.model_copy(update={"mobile_phone": "+13125550148"})}
)


def record(**changes: object) -> ParentRecord:
    fields: dict[str, object] = {
        "inquiry_id": uuid4(),
        "reference": "PSC-26-000001",
        "status": "assigned",
        "phone": "+13125550148",
        "token_digest": parents.token_digest("the-token"),
        "office": "Network 4",
        "due_at": NOW,
    }
    return ParentRecord(**(fields | changes))  # type: ignore[arg-type]


def test_a_factor_proves_only_its_own_inquiry() -> None:
    assert parents.proves(record(), Factor(phone_last4="0148"))
    assert parents.proves(record(), Factor(token="the-token"))
    assert not parents.proves(record(), Factor(phone_last4="0149"))
    assert not parents.proves(record(), Factor(token="another-token"))
    assert not parents.proves(None, Factor(phone_last4="0148"))
    assert not parents.proves(None, Factor(token="the-token"))
    assert not parents.proves(record(phone=None), Factor(phone_last4="0148"))
    assert not parents.proves(record(token_digest=None), Factor(token="the-token"))


def test_tokens_are_random_and_kept_as_their_digest() -> None:
    first, second = parents.new_token(), parents.new_token()
    assert first != second and len(first) == 43
    assert parents.token_digest(first) != parents.token_digest(second)
    assert len(parents.token_digest(first)) == 32


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        ("received", "received", True),
        ("assigned", "received", True),
        ("acknowledged", "in_progress", True),
        ("in_progress", "in_progress", True),
        ("waiting_on_parent", "waiting_on_you", True),
        ("resolved", "resolved", False),
        ("closed", "closed", False),
        ("a_status_not_known_yet", "in_progress", True),
    ],
)
def test_the_page_speaks_the_parents_terms(status: str, code: str, expected: bool) -> None:
    page = parents.status_page(
        record(status=status, question="Which bus stop?", notes=(VisibleNote(text="Called", written_at=NOW),))
    )
    assert page.status == code
    assert (page.expected_by is not None) == expected
    assert page.asked_of_you == ("Which bus stop?" if code == "waiting_on_you" else None)
    assert [(n.text, n.date) for n in page.notes] == [("Called", NOW)]


def test_retry_after_is_when_the_last_exceeded_window_ends() -> None:
    assert parents.retry_after([], now=NOW) is None
    windows = [Attempts(3, NOW + timedelta(seconds=10.2)), Attempts(9, NOW + timedelta(seconds=100))]
    assert parents.retry_after(windows, now=NOW) == 100
    assert parents.retry_after([Attempts(3, NOW)], now=NOW) == 1


async def recorded(uow: FakeIntakeUnitOfWork) -> tuple[str, str]:
    new = NewSubmission(submission=WITH_PHONE, source="http", correlation_id="c-1", idempotency_key=None)
    (outcome,) = await handlers.record_submissions(uow, [new], now=NOW, reference_prefix="PSC")
    assert isinstance(outcome, handlers.Created)
    (event,) = [e for _, e in uow.emitted]
    token = getattr(event, "status_token", None)
    assert isinstance(token, str)
    return outcome.inquiry.reference, token


async def test_each_inquiry_gets_a_token_in_its_event_and_only_the_digest_is_kept() -> None:
    uow = FakeIntakeUnitOfWork()
    reference, token = await recorded(uow)
    (digest,) = uow.status_pages.digests.values()
    assert digest == parents.token_digest(token) and token.encode() != digest
    shown = await show_status(uow, reference=reference, factor=Factor(token=token), client="c", now=NOW, limits=LIMITS)
    assert isinstance(shown, Shown) and shown.page.reference == reference


async def test_failures_are_limited_per_reference_known_or_not_and_a_token_still_answers() -> None:
    uow = FakeIntakeUnitOfWork()
    reference, token = await recorded(uow)
    uow.inquiries.assignments[next(iter(uow.inquiries.by_id))] = Assignment(
        network_id="4", network_name="Network 4", queue="network", tier="network", assigned_at=NOW, due_at=NOW
    )
    for ref in (reference, "PSC-26-999999"):
        outcomes = [
            await show_status(
                uow, reference=ref, factor=Factor(phone_last4="9999"), client=f"c{n}", now=NOW, limits=LIMITS
            )
            for n in range(LIMITS.per_reference + 1)
        ]
        assert outcomes[:-1] == [NotShown()] * LIMITS.per_reference
        assert outcomes[-1] == Limited(retry_after=600)
    right_digits = await show_status(
        uow, reference=reference, factor=Factor(phone_last4="0148"), client="c9", now=NOW, limits=LIMITS
    )
    assert isinstance(right_digits, Limited)
    by_token = await show_status(
        uow, reference=reference, factor=Factor(token=token), client="c9", now=NOW, limits=LIMITS
    )
    assert isinstance(by_token, Shown) and by_token.page.office == "Network 4"
    later = NOW + timedelta(seconds=LIMITS.window_seconds)
    again = await show_status(
        uow, reference=reference.lower(), factor=Factor(phone_last4="0148"), client="c9", now=later, limits=LIMITS
    )
    assert isinstance(again, Shown)


async def test_failures_are_limited_per_client_and_successes_do_not_count() -> None:
    uow = FakeIntakeUnitOfWork()
    reference, _ = await recorded(uow)
    for _ in range(LIMITS.per_client + 2):
        seen = await show_status(
            uow, reference=reference, factor=Factor(phone_last4="0148"), client="me", now=NOW, limits=LIMITS
        )
        assert isinstance(seen, Shown)
    for n in range(LIMITS.per_client):
        missed = await show_status(
            uow, reference=f"PSC-26-90000{n}", factor=Factor(phone_last4="0148"), client="me", now=NOW, limits=LIMITS
        )
        assert missed == NotShown()
    stopped = await show_status(
        uow, reference=reference, factor=Factor(phone_last4="0148"), client="me", now=NOW, limits=LIMITS
    )
    assert stopped == Limited(retry_after=600)
    elsewhere = await show_status(
        uow, reference=reference, factor=Factor(phone_last4="0148"), client="you", now=NOW, limits=LIMITS
    )
    assert isinstance(elsewhere, Shown)


def test_the_page_shows_the_visible_notes_and_the_latest_question() -> None:
    inquiry_id = uuid4()
    notes = [
        Note(uuid4(), inquiry_id, "note", "An internal remark", False, "staff-1", NOW),
        Note(uuid4(), inquiry_id, "question", "First question?", True, "staff-1", NOW),
        Note(uuid4(), inquiry_id, "parent_reply", "The parent's answer", False, "staff-1", NOW),
        Note(uuid4(), inquiry_id, "question", "Second question?", True, "staff-1", NOW),
        Note(uuid4(), inquiry_id, "note", "We called the school.", True, "staff-1", NOW),
    ]
    page = parents.status_page(parents.with_notes(record(status="waiting_on_parent"), notes))
    assert [note.text for note in page.notes] == ["First question?", "Second question?", "We called the school."]
    assert page.asked_of_you == "Second question?"
    assert "staff-1" not in page.model_dump_json()


async def test_a_client_past_its_limit_adds_no_rows_for_the_references_it_makes_up() -> None:
    uow = FakeIntakeUnitOfWork()
    for n in range(LIMITS.per_client + 3):
        await show_status(
            uow, reference=f"PSC-26-8{n:05d}", factor=Factor(phone_last4="0000"), client="me", now=NOW, limits=LIMITS
        )
    counted_references = [key for scope, key in uow.status_pages.attempts if scope == "reference"]
    assert len(counted_references) == LIMITS.per_client
