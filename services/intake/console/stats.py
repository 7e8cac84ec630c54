"""The dashboard's and the equity view's figures, computed in PostgreSQL over intake's own tables (inquiries and their
history: routing's escalations and breaches are events intake keeps). Business time is the overlap with the district's
open hours, which the caller reads from routing's calendar and passes in as intervals: no calendar rule is repeated.

"Resolved within the SLA" is routing's judgement: a resolved inquiry that never had ``inquiry.sla_breached``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from services.intake.lifecycle import OPEN_STATUSES

DIMENSIONS = {
    "network": "coalesce(i.network_name, 'Not routed yet')",
    "language": "coalesce(i.parent ->> 'preferred_language', 'en')",
    "category": "i.category",
    "school": "i.student ->> 'school_id'",
}
"""Equity groupings: a name for the dashboard -> its SQL expression (constants, never input)."""


@dataclass(frozen=True)
class NetworkLoad:
    network: str
    open: int
    due_today: int
    escalated: int
    breached: int


@dataclass(frozen=True)
class EquityRow:
    dimension: str
    key: str
    cases: int
    ack_median: float | None
    ack_p90: float | None
    resolve_median: float | None
    resolve_p90: float | None
    within_sla: float | None
    """Share of the resolved cases resolved without a breach (0..1); None when none was resolved."""


_LOAD = """
SELECT coalesce(i.network_name, 'Not routed yet') AS network,
       count(*) AS open,
       count(*) FILTER (WHERE i.due_at < $2) AS due_today,
       count(*) FILTER (WHERE EXISTS (SELECT 1 FROM history h WHERE h.inquiry_id = i.id
                                        AND h.event_type = 'inquiry.escalated')) AS escalated,
       count(*) FILTER (WHERE EXISTS (SELECT 1 FROM history h WHERE h.inquiry_id = i.id
                                        AND h.event_type = 'inquiry.sla_breached')) AS breached
FROM inquiries i
WHERE i.status = ANY($1::text[]) AND ($3::text[] IS NULL OR i.network_id = ANY($3::text[]))
GROUP BY 1 ORDER BY 1
"""


async def network_load(
    pool: asyncpg.Pool, *, end_of_today: datetime, network_ids: Sequence[str] | None
) -> list[NetworkLoad]:
    """Open inquiries by network: how many, due before the end of today, escalated, breached."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            _LOAD, list(OPEN_STATUSES), end_of_today, list(network_ids) if network_ids is not None else None
        )
    return [NetworkLoad(r["network"], r["open"], r["due_today"], r["escalated"], r["breached"]) for r in rows]


def _equity_sql(expression: str) -> str:
    return f"""
WITH open_hours AS (SELECT * FROM unnest($1::timestamptz[], $2::timestamptz[]) AS o(opens, closes)),
cases AS (
    SELECT {expression} AS key, i.created_at, i.resolved_at,
           (SELECT min(h.occurred_at) FROM history h
             WHERE h.inquiry_id = i.id AND h.event_type = 'inquiry.acknowledged') AS acknowledged_at,
           EXISTS (SELECT 1 FROM history h
                    WHERE h.inquiry_id = i.id AND h.event_type = 'inquiry.sla_breached') AS breached
    FROM inquiries i
    WHERE i.created_at >= $3 AND i.created_at < $4
      AND ($5::text[] IS NULL OR i.network_id = ANY($5::text[]))
),
timed AS (
    SELECT c.key, c.resolved_at IS NOT NULL AS resolved, c.breached,
           (SELECT sum(extract(epoch FROM least(o.closes, c.acknowledged_at) - greatest(o.opens, c.created_at)))
              FROM open_hours o WHERE o.opens < c.acknowledged_at AND o.closes > c.created_at) AS ack_seconds,
           (SELECT sum(extract(epoch FROM least(o.closes, c.resolved_at) - greatest(o.opens, c.created_at)))
              FROM open_hours o WHERE o.opens < c.resolved_at AND o.closes > c.created_at) AS resolve_seconds,
           c.acknowledged_at IS NOT NULL AS acknowledged
    FROM cases c
)
SELECT key, count(*) AS cases,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY coalesce(ack_seconds, 0)) FILTER (WHERE acknowledged) AS ack_median,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY coalesce(ack_seconds, 0)) FILTER (WHERE acknowledged) AS ack_p90,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY coalesce(resolve_seconds, 0)) FILTER (WHERE resolved)
           AS resolve_median,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY coalesce(resolve_seconds, 0)) FILTER (WHERE resolved)
           AS resolve_p90,
       (count(*) FILTER (WHERE resolved AND NOT breached))::float8 / nullif(count(*) FILTER (WHERE resolved), 0)
           AS within_sla
FROM timed GROUP BY GROUPING SETS ((key), ()) ORDER BY key NULLS FIRST
"""  # noqa: S608 - the expression is one of DIMENSIONS' constants


async def equity(
    pool: asyncpg.Pool,
    *,
    dimension: str,
    open_hours: Sequence[tuple[datetime, datetime]],
    since: datetime,
    until: datetime,
    network_ids: Sequence[str] | None,
) -> list[EquityRow]:
    """Business time to acknowledge and to resolve (median, 90th percentile, in business seconds) and the share
    resolved within the SLA, per ``dimension`` value; the first row (key 'District') is the whole district's."""
    expression = DIMENSIONS[dimension]
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            _equity_sql(expression),
            [o for o, _ in open_hours],
            [c for _, c in open_hours],
            since,
            until,
            list(network_ids) if network_ids is not None else None,
        )
    return [
        EquityRow(
            dimension=dimension,
            key=r["key"] if r["key"] is not None else "District",
            cases=r["cases"],
            ack_median=r["ack_median"],
            ack_p90=r["ack_p90"],
            resolve_median=r["resolve_median"],
            resolve_p90=r["resolve_p90"],
            within_sla=r["within_sla"],
        )
        for r in rows
    ]
