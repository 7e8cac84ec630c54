"""The console's dashboard figures in the real PostgreSQL, over intake's own tables (its migrations): open cases by
network, and the equity view's business-time percentiles and share within the SLA, to the second; and the queue's
order, most urgent first."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
import pytest_asyncio
from service_databases import migrated_pool

from services.intake import handlers
from services.intake.console import stats
from services.intake.domain import QueueFilter
from services.intake.unit_of_work import PostgresIntakeUnitOfWork
from shared.settings import PlatformSettings

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]
MONDAY = datetime(2026, 11, 16, tzinfo=UTC)
# The district's open hours, 09:00-17:00 in Chicago (15:00-23:00 UTC), Monday and Tuesday.
OPEN_HOURS = [(MONDAY + timedelta(hours=15), MONDAY + timedelta(hours=23)), *[]]
OPEN_HOURS.append((OPEN_HOURS[0][0] + timedelta(days=1), OPEN_HOURS[0][1] + timedelta(days=1)))


def at(day: int, hour: float) -> datetime:
    return MONDAY + timedelta(days=day, hours=hour)


@pytest_asyncio.fixture(loop_scope="session")
async def pool(platform: PlatformSettings) -> AsyncIterator[asyncpg.Pool]:
    async with migrated_pool(platform, "intake") as migrated:
        yield migrated


async def inquiry(
    pool: asyncpg.Pool,
    *,
    network: tuple[str, str],
    language: str,
    status: str,
    created: datetime,
    due: datetime | None = None,
    resolved: datetime | None = None,
    events: dict[str, datetime] | None = None,
) -> None:
    inquiry_id = uuid.uuid4()
    async with pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO inquiries (id, reference, status, category, channel, description, parent, student, source,"
            " correlation_id, created_at, updated_at, network_id, network_name, queue, tier, assigned_at, due_at,"
            " resolved_at) VALUES ($1, $2, $3, 'attendance', 'phone', 'a concern', $4::jsonb, $5::jsonb, 'http',"
            " 'c', $6, $6, $7, $8, 'network', 'network', $6, $9, $10)",
            inquiry_id,
            f"PSC-26-{uuid.uuid4().int % 1_000_000:06d}",
            status,
            {"name": "P", "email": "p@example.org", "preferred_language": language},
            {"school_id": 609794, "grade": "3"},
            created,
            *network,
            due,
            resolved,
        )
        for event_type, when in (events or {}).items():
            await conn.execute(
                "INSERT INTO history (event_id, inquiry_id, event_type, occurred_at, source) VALUES ($1, $2, $3, $4,"
                " 'routing')",
                uuid.uuid4(),
                inquiry_id,
                event_type,
                when,
            )


NETWORK_1, NETWORK_2 = ("network-1", "Network 1"), ("network-2", "Network 2")


async def test_business_time_percentiles_and_the_share_within_the_sla(pool: asyncpg.Pool) -> None:
    # Acknowledged after 1 h, resolved after 8 business hours (7 on Monday, 1 on Tuesday), within the SLA.
    await inquiry(
        pool, network=NETWORK_1, language="es", status="resolved", created=at(0, 16), resolved=at(1, 16),
        events={"inquiry.acknowledged": at(0, 17)},
    )  # fmt: skip
    # Created an hour before closing, acknowledged half an hour after opening (1.5 h), resolved after 3 h, breached.
    await inquiry(
        pool, network=NETWORK_1, language="es", status="closed", created=at(0, 22), resolved=at(1, 17),
        events={"inquiry.acknowledged": at(1, 15.5), "inquiry.sla_breached": at(1, 16.5)},
    )  # fmt: skip
    # Acknowledged after half an hour, still open.
    await inquiry(
        pool, network=NETWORK_2, language="en", status="in_progress", created=at(0, 15), due=at(1, 1),
        events={"inquiry.acknowledged": at(0, 15.5)},
    )  # fmt: skip
    # Outside the period: never counted.
    await inquiry(pool, network=NETWORK_2, language="en", status="received", created=at(7, 16))

    rows = await stats.equity(
        pool, dimension="network", open_hours=OPEN_HOURS, since=MONDAY, until=at(2, 0), network_ids=None
    )
    by_key = {row.key: row for row in rows}
    assert [row.key for row in rows] == ["District", "Network 1", "Network 2"]
    district, first, second = by_key["District"], by_key["Network 1"], by_key["Network 2"]
    assert (district.cases, district.ack_median, district.resolve_median, district.within_sla) == (3, 3600, 19800, 0.5)
    assert (first.cases, first.ack_median, first.ack_p90) == (2, 4500, pytest.approx(5220))
    assert (first.resolve_median, first.resolve_p90, first.within_sla) == (19800, pytest.approx(27000), 0.5)
    assert (second.cases, second.ack_median, second.resolve_median, second.within_sla) == (1, 1800, None, None)

    by_language = await stats.equity(
        pool, dimension="language", open_hours=OPEN_HOURS, since=MONDAY, until=at(2, 0), network_ids=["network-1"]
    )
    assert [(row.key, row.cases) for row in by_language] == [("District", 2), ("es", 2)]


async def test_open_cases_by_network_due_today_escalated_and_breached(pool: asyncpg.Pool) -> None:
    await inquiry(pool, network=NETWORK_1, language="en", status="assigned", created=at(0, 16), due=at(9, 0),
                  events={"inquiry.escalated": at(0, 20)})  # fmt: skip
    await inquiry(pool, network=NETWORK_2, language="en", status="in_progress", created=at(0, 15), due=at(1, 1),
                  events={"inquiry.sla_breached": at(1, 2)})  # fmt: skip
    await inquiry(pool, network=NETWORK_2, language="en", status="resolved", created=at(0, 15), resolved=at(0, 16))

    load = await stats.network_load(pool, end_of_today=at(1, 6), network_ids=None)
    assert [(x.network, x.open, x.due_today, x.escalated, x.breached) for x in load] == [
        ("Network 1", 1, 0, 1, 0),
        ("Network 2", 1, 1, 0, 1),
    ]
    mine = await stats.network_load(pool, end_of_today=at(1, 6), network_ids=["network-2"])
    assert [x.network for x in mine] == ["Network 2"]


async def test_the_queue_lists_each_status_most_urgent_first_whatever_arrived_last(pool: asyncpg.Pool) -> None:
    # Oldest overdue first, then the next due, then the newest; one not yet routed (no due time) last.
    await inquiry(pool, network=NETWORK_1, language="en", status="assigned", created=at(0, 16), due=at(1, 22))
    await inquiry(pool, network=NETWORK_1, language="en", status="assigned", created=at(0, 15), due=at(0, 20))
    await inquiry(pool, network=NETWORK_1, language="en", status="assigned", created=at(1, 15), due=at(2, 15))
    await inquiry(pool, network=NETWORK_1, language="en", status="assigned", created=at(1, 16), due=None)
    where = QueueFilter(status="assigned", network_ids=frozenset({"network-1"}), most_urgent_first=True)
    async with PostgresIntakeUnitOfWork(pool) as uow:
        urgent = await handlers.queue(uow, where, limit=10)
        first_two = await handlers.queue(uow, where, limit=2)
        newest = await handlers.queue(uow, QueueFilter(status="assigned"), limit=10)
    due = [i.assignment.due_at if i.assignment else None for i in urgent]
    assert due == [at(0, 20), at(1, 22), at(2, 15), None]
    assert [i.id for i in first_two] == [i.id for i in urgent[:2]], "a page of the most urgent, not of the newest"
    assert [i.created_at for i in newest] == sorted((i.created_at for i in newest), reverse=True), "the API's order"
