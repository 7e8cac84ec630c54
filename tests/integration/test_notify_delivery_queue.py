"""Notify's delivery queue rules in the real PostgreSQL (its migrations, its repositories, its use cases), where the
unit tests hold them against the in-memory fake: acknowledgments are claimed first; a parent's later emails wait
until the acknowledgment email has gone; one answer of the catalog releases every acknowledgment of its category and
is kept for the next; an older staff change never undoes a newer one."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from service_databases import migrated_pool

from services.notify import handlers
from services.notify.resources import request_id_for
from services.notify.templates import TemplateRenderer
from services.notify.unit_of_work import PostgresNotifyUnitOfWork
from shared.contracts.catalog import LookupReplied, ResourceView
from shared.contracts.inquiries import InquirySubmitted
from shared.contracts.routing import InquiryAssigned, StaffUpdated
from shared.settings import PlatformSettings

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)  # Friday 09:00 in Chicago: no quiet hours
RENDERER = TemplateRenderer()
HOLDING = handlers.Rules(resources_wait_seconds=60, resources_fresh_seconds=600)
ALEX = {"staff_id": "ns-1", "role": "network_staff", "network_id": "n4", "name": "Alex A."}


@pytest_asyncio.fixture(loop_scope="session")
async def pool(platform: PlatformSettings) -> AsyncIterator[asyncpg.Pool]:
    async with migrated_pool(platform, "notify") as migrated:
        yield migrated


def submitted(email: str, *, category: str = "attendance", language: str = "en") -> InquirySubmitted:
    return InquirySubmitted.model_validate(
        {
            "inquiry_id": uuid.uuid4(),
            "occurred_at": NOW,
            "correlation_id": f"c-{uuid.uuid4().hex[:6]}",
            "reference": "PSC-26-000042",
            "category": category,
            "channel": "walk_in",
            "urgency": "normal",
            "parent": {"name": "Ana Lopez", "email": email, "preferred_language": language, "sms_consent": False},
            "student": {"school_id": 609794, "grade": "3"},
        }
    )


def assigned(inquiry_id: uuid.UUID) -> InquiryAssigned:
    return InquiryAssigned.model_validate(
        {
            "inquiry_id": inquiry_id,
            "occurred_at": NOW,
            "correlation_id": "c",
            "network_id": "n4",
            "network_name": "Network 4",
            "queue": "network",
            "tier": "network",
            "reason": "school_network",
            "school_id": 609794,
            "assignee_id": "ns-1",
            "due_at": NOW + timedelta(days=2),
        }
    )


def staff_change(*, active: bool, at: datetime) -> StaffUpdated:
    return StaffUpdated.model_validate(
        {"occurred_at": at, "correlation_id": "s", "active": active, "email": "alex@district.example", **ALEX}
    )


def resource(name: str) -> ResourceView:
    return ResourceView.model_validate(
        {
            "id": name.lower().replace(" ", "-"),
            "name": name,
            "alternate_name": None,
            "description": "What it does.",
            "status": "active",
            "organization": {"id": "cps", "name": "Chicago Public Schools"},
            "categories": ["attendance"],
            "languages": ["en"],
            "phones": [{"number": "(773) 553-1000", "extension": None, "type": "voice", "description": None}],
            "locations": [],
            "url": None,
            "email": None,
            "eligibility_description": None,
            "fees_description": None,
            "updated_at": NOW,
        }
    )


async def apply(pool: asyncpg.Pool, *events: Any, rules: handlers.Rules = HOLDING) -> None:
    async with PostgresNotifyUnitOfWork(pool) as uow:
        await handlers.apply_case_events(uow, list(events), renderer=RENDERER, now=NOW, rules=rules)


async def claim(pool: asyncpg.Pool, *, limit: int = 10) -> list[tuple[str, str]]:
    """(template, recipient) of what the dispatcher would claim now, in its order."""
    async with PostgresNotifyUnitOfWork(pool) as uow:
        claimed = await uow.deliveries.claim_due(limit=limit, now=NOW + timedelta(seconds=1), lease_seconds=300)
    return [(d.template, d.recipient) for d in claimed]


async def test_the_parents_later_emails_wait_until_the_acknowledgment_has_gone_and_acknowledgments_go_first(
    pool: asyncpg.Pool,
) -> None:
    async with PostgresNotifyUnitOfWork(pool) as uow:
        await handlers.follow_staff(uow, [staff_change(active=True, at=NOW)], now=NOW)
    held = submitted("held@example.org")
    await apply(pool, held, assigned(held.inquiry_id))  # the acknowledgment email waits for the catalog
    assert await claim(pool) == [("staff_assigned", "alex@district.example")], "no 'assigned' before it"

    # Without holding: an older staff email is due, yet a newer acknowledgment is claimed before it.
    fresh = submitted("fresh@example.org")
    await apply(pool, fresh, rules=handlers.Rules())
    await apply(pool, assigned(fresh.inquiry_id), rules=handlers.Rules())
    async with pool.acquire() as conn:  # the staff email fell due an hour before the acknowledgment
        await conn.execute(
            "UPDATE deliveries SET next_attempt_at = $1 WHERE template = 'staff_assigned' AND status = 'pending'",
            NOW - timedelta(hours=1),
        )
    first = await claim(pool, limit=1)
    assert first == [("inquiry_received", "fresh@example.org")]
    assert await claim(pool) == [("staff_assigned", "alex@district.example")], "'assigned' waits: sending"

    async with PostgresNotifyUnitOfWork(pool) as uow:  # the catalog answers: the held acknowledgment goes ...
        await handlers.fill_resources(
            uow, [reply(held, [resource("Office of Attendance")])], renderer=RENDERER, now=NOW
        )
    assert await claim(pool) == [("inquiry_received", "held@example.org")]
    assert await claim(pool) == [], "... and the parent's 'assigned' email only once it has gone"


def reply(event: InquirySubmitted, results: list[ResourceView]) -> LookupReplied:
    return LookupReplied(
        occurred_at=NOW,
        correlation_id=event.correlation_id,
        request_id=request_id_for(event.event_id),
        total=len(results),
        results=results,
    )


async def test_one_answer_releases_every_acknowledgment_of_its_category_and_serves_the_next_at_once(
    pool: asyncpg.Pool,
) -> None:
    first, second = submitted("one@example.org"), submitted("two@example.org")
    other = submitted("three@example.org", category="enrollment")
    await apply(pool, first, second, other)
    answer = [resource("Office of Attendance"), resource("Truancy Prevention Line")]
    async with PostgresNotifyUnitOfWork(pool) as uow:
        released = await handlers.fill_resources(uow, [reply(second, answer)], renderer=RENDERER, now=NOW)
    assert released == 2, "both attendance acknowledgments, not the enrollment one"
    bodies = await acknowledgment_bodies(pool)
    assert all("- Office of Attendance: (773) 553-1000" in bodies[a] for a in ("one@example.org", "two@example.org"))
    assert "Office of Attendance" not in bodies["three@example.org"]

    later = submitted("four@example.org")
    await apply(pool, later)  # the kept answer is fresh: no wait, no lookup
    async with pool.acquire() as conn:
        waits = await conn.fetchval("SELECT count(*) FROM resource_lookups WHERE inquiry_id = $1", later.inquiry_id)
        reason = await conn.fetchval(
            "SELECT reason FROM deliveries WHERE inquiry_id = $1 AND channel = 'email'", later.inquiry_id
        )
    assert (waits, reason) == (0, None)
    assert "- Truancy Prevention Line: (773) 553-1000" in (await acknowledgment_bodies(pool))["four@example.org"]


async def acknowledgment_bodies(pool: asyncpg.Pool) -> dict[str, str]:
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT recipient, body FROM deliveries WHERE template = 'inquiry_received'")
    return {row["recipient"]: row["body"] for row in rows}


async def test_an_older_staff_change_arriving_late_never_undoes_a_newer_one(pool: asyncpg.Pool) -> None:
    async with PostgresNotifyUnitOfWork(pool) as uow:
        await handlers.follow_staff(uow, [staff_change(active=False, at=NOW)], now=NOW)
    async with PostgresNotifyUnitOfWork(pool) as uow:  # replayed, or redelivered after the newer one
        await handlers.follow_staff(uow, [staff_change(active=True, at=NOW - timedelta(hours=1))], now=NOW)
    async with PostgresNotifyUnitOfWork(pool) as uow:
        member = (await uow.staff.of(staff_ids=["ns-1"]))["ns-1"]
    assert member.active is False
