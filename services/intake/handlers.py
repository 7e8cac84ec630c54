"""Intake's use cases. Each takes a unit of work with intake's repositories on it, calls the domain, saves, and emits
events through the unit of work's outbox; transport (Kafka in ``subscribers.py``, HTTP in ``api.py``) calls them.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from services.intake import domain, parents
from services.intake.domain import Assignment, Inquiry, NewSubmission
from services.intake.unit_of_work import IntakeUnitOfWork
from shared.contracts.routing import InquiryAssigned
from shared.contracts.topics import INQUIRY_EVENTS
from shared.logging import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class Created:
    inquiry: Inquiry


@dataclass(frozen=True)
class Replayed:
    """The idempotency key was seen with the same content: the inquiry already exists."""

    inquiry_id: UUID


@dataclass(frozen=True)
class KeyReused:
    """The idempotency key was seen with different content: refused, nothing stored."""

    key: str


Outcome = Created | Replayed | KeyReused


async def record_submissions(
    uow: IntakeUnitOfWork, news: Sequence[NewSubmission], *, now: datetime, reference_prefix: str
) -> list[Outcome]:
    """Store new inquiries and emit ``inquiry.submitted`` for each, honouring idempotency keys. Batch-sized I/O:
    both doors (one HTTP request, a Kafka batch) come through here."""
    ids = [uuid.uuid4() for _ in news]
    fingerprints = [domain.fingerprint(new.submission) for new in news]
    claims = [
        (new.idempotency_key, fp, i) for new, fp, i in zip(news, fingerprints, ids, strict=True) if new.idempotency_key
    ]
    claimed = await uow.inquiries.claim_keys(claims=claims)
    earlier = await uow.inquiries.find_keys(keys=[key for key, _, i in claims if i not in claimed])
    to_create = {k for k, (new, i) in enumerate(zip(news, ids, strict=True)) if not new.idempotency_key or i in claimed}
    numbers = iter(await uow.inquiries.next_reference_numbers(count=len(to_create)))
    outcomes: list[Outcome] = []
    created: list[Inquiry] = []
    tokens: dict[UUID, bytes] = {}
    for k, new in enumerate(news):
        if k in to_create:
            reference = domain.format_reference(reference_prefix, now.year, next(numbers))
            inquiry, event = domain.submit(new, inquiry_id=ids[k], reference=reference, now=now)
            created.append(inquiry)
            # The parent's status token: in the event for notify's link, kept here only as its digest.
            token = parents.new_token()
            tokens[inquiry.id] = parents.token_digest(token)
            event = event.model_copy(update={"status_token": token})
            uow.emit(INQUIRY_EVENTS, event)
            outcomes.append(Created(inquiry))
            continue
        assert new.idempotency_key is not None
        fingerprint, existing_id = earlier[new.idempotency_key]
        if fingerprint == fingerprints[k]:
            outcomes.append(Replayed(existing_id))
        else:
            outcomes.append(KeyReused(new.idempotency_key))
    await uow.inquiries.add(inquiries=created)
    await uow.status_pages.add_tokens(digests=tokens)
    return outcomes


async def apply_assignments(uow: IntakeUnitOfWork, events: Sequence[InquiryAssigned]) -> None:
    """Remember which queue has each inquiry, to show it to staff. Only the assignment columns are touched: the
    inquiry's content is not needed to apply routing's decision, and a late older decision changes nothing."""
    current = await uow.inquiries.assignments_for_update(inquiry_ids=[event.inquiry_id for event in events])
    decided: dict[UUID, Assignment] = {}
    for event in events:
        if event.inquiry_id not in current:
            log.warning("assignment for an inquiry intake does not have", inquiry_id=str(event.inquiry_id))
            continue
        previous = decided.get(event.inquiry_id) or current[event.inquiry_id]
        decided[event.inquiry_id] = domain.newer_assignment(previous, domain.assignment_from(event))
    await uow.inquiries.save_assignments(assignments=decided)


async def find_inquiry(uow: IntakeUnitOfWork, id_or_reference: str) -> Inquiry | None:
    """``PSC-26-000123`` (any case) or the inquiry's UUID."""
    try:
        return await uow.inquiries.get(inquiry_id=UUID(id_or_reference))
    except ValueError:
        return await uow.inquiries.get(reference=id_or_reference.upper())
