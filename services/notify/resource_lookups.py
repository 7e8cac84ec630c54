"""The acknowledgments waiting for the catalog's resources, in PostgreSQL (``resource_lookups``), and the held
acknowledgment emails they release (rows of ``deliveries`` still pending and never tried).

Every statement that settles a lookup locks its row and requires it unsettled, so of the reply, a redelivered reply
and the sweep on any replica exactly one settles it; a delivery is changed only while 'pending' with no attempt, so a
send the dispatcher already claimed is never rewritten.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from asyncpg.pool import PoolConnectionProxy

from services.notify.domain import ACKNOWLEDGMENT, Rendered
from services.notify.resources import ANSWERS, ResourceWait
from shared.contracts.catalog import ResourceView

_WAIT_COLUMNS = ("request_id", "inquiry_id", "event_id", "category", "language")
_HELD = "template = $2 AND channel = 'email' AND status = 'pending' AND attempts = 0"


@dataclass(frozen=True)
class HeldAcknowledgment:
    """A held acknowledgment email: what it needs to be rendered again."""

    delivery_id: UUID
    event_id: UUID
    language: str
    context: dict[str, str | None]


class ResourceLookupRepository:
    def __init__(self, conn: PoolConnectionProxy) -> None:
        self._conn = conn

    async def start(self, *, waits: Sequence[ResourceWait], wait_seconds: float, now: datetime) -> set[UUID]:
        """Record the waits; the request ids recorded now (a redelivered inquiry.submitted records none)."""
        if not waits:
            return set()
        columns = [[getattr(w, name) for w in waits] for name in _WAIT_COLUMNS]
        rows = await self._conn.fetch(
            "INSERT INTO resource_lookups (request_id, inquiry_id, event_id, category, language, requested_at,"
            " release_at) SELECT r, i, e, c, l, $6, clock_timestamp() + make_interval(secs => $7)"
            " FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[]) AS u(r, i, e, c, l)"
            " ON CONFLICT (request_id) DO NOTHING RETURNING request_id",
            *columns,
            now,
            float(wait_seconds),
        )
        return {row["request_id"] for row in rows}

    async def settle(
        self, *, request_ids: Collection[UUID], outcome: str, resources: int | None, now: datetime
    ) -> list[UUID]:
        """Settle the lookups still waiting among ``request_ids``; the events whose acknowledgment they held."""
        rows = await self._conn.fetch(
            "UPDATE resource_lookups SET outcome = $2, resources = $3, settled_at = $4"
            " WHERE request_id = ANY($1::uuid[]) AND outcome IS NULL RETURNING event_id",
            list(request_ids),
            outcome,
            resources,
            now,
        )
        return [row["event_id"] for row in rows]

    async def keep_answers(
        self, *, answers: Sequence[tuple[UUID, Sequence[ResourceView]]]
    ) -> dict[str, list[ResourceView]]:
        """Keep each category's latest answer among ``answers`` (request id, results; in the order they came) as the
        category's answer on file; the kept answer of each category. Replies to requests notify does not know are
        left out. Two statements whatever the number of answers."""
        rows = await self._conn.fetch(
            "SELECT request_id, category FROM resource_lookups WHERE request_id = ANY($1::uuid[])",
            [request_id for request_id, _ in answers],
        )
        category_of = {row["request_id"]: row["category"] for row in rows}
        kept = {category_of[r]: list(results) for r, results in answers if r in category_of}  # the last one wins
        if kept:
            await self._conn.execute(
                "INSERT INTO catalog_answers (category, results, answered_at)"
                " SELECT c, r::jsonb, clock_timestamp() FROM unnest($1::text[], $2::text[]) AS u(c, r)"
                " ON CONFLICT (category) DO UPDATE SET results = excluded.results, answered_at = excluded.answered_at",
                list(kept),
                [ANSWERS.dump_json(results).decode() for results in kept.values()],
            )
        return kept

    async def settle_answered(self, *, found: Mapping[str, int], now: datetime) -> dict[UUID, str]:
        """Settle every lookup still waiting in the categories of ``found`` (category: how many resources its
        answer has): one answer serves them all. The events whose acknowledgment they held, with their category."""
        rows = await self._conn.fetch(
            "UPDATE resource_lookups l SET outcome = 'answered', resources = a.n, settled_at = $3"
            " FROM unnest($1::text[], $2::int[]) AS a(category, n)"
            " WHERE l.category = a.category AND l.outcome IS NULL RETURNING l.event_id, l.category",
            list(found),
            list(found.values()),
            now,
        )
        return {row["event_id"]: row["category"] for row in rows}

    async def fresh_answers(
        self, *, categories: Collection[str], fresh_seconds: float
    ) -> dict[str, list[ResourceView]]:
        """The kept answers of ``categories`` no older than ``fresh_seconds`` on the database's wall clock."""
        rows = await self._conn.fetch(
            "SELECT category, results::text AS results FROM catalog_answers WHERE category = ANY($1::text[])"
            " AND answered_at >= clock_timestamp() - make_interval(secs => $2)",
            list(categories),
            float(fresh_seconds),
        )
        return {row["category"]: ANSWERS.validate_json(row["results"]) for row in rows}

    async def settle_overdue(self, *, limit: int, now: datetime) -> list[UUID]:
        """Time out up to ``limit`` lookups past their wait (on the database's clock), skipping rows a reply or
        another replica holds; the events whose acknowledgment they held."""
        rows = await self._conn.fetch(
            "UPDATE resource_lookups SET outcome = 'timed_out', settled_at = $2 WHERE request_id IN"
            " (SELECT request_id FROM resource_lookups WHERE outcome IS NULL AND release_at <= clock_timestamp()"
            " ORDER BY release_at LIMIT $1 FOR UPDATE SKIP LOCKED) RETURNING event_id",
            limit,
            now,
        )
        return [row["event_id"] for row in rows]

    async def held(self, *, event_ids: Collection[UUID]) -> list[HeldAcknowledgment]:
        """The acknowledgment emails of these events still held (pending, never tried), locked."""
        rows = await self._conn.fetch(
            f"SELECT id, event_id, language, context::text AS context FROM deliveries"  # noqa: S608 - constant
            f" WHERE event_id = ANY($1::uuid[]) AND {_HELD} ORDER BY id FOR UPDATE",
            list(event_ids),
            ACKNOWLEDGMENT,
        )
        return [
            HeldAcknowledgment(row["id"], row["event_id"], row["language"], json.loads(row["context"])) for row in rows
        ]

    async def release(self, *, releases: Sequence[tuple[UUID, Rendered, dict[str, str | None]]], now: datetime) -> None:
        """Send these held emails now, as rendered again with the resources."""
        await self._conn.executemany(
            "UPDATE deliveries SET subject = $3, body = $4, html = $5, context = $6::jsonb, reason = NULL,"  # noqa: S608
            f" next_attempt_at = $7, updated_at = $7 WHERE id = $1 AND {_HELD}",
            [
                (delivery_id, ACKNOWLEDGMENT, r.subject, r.body, r.html, context, now)  # jsonb: the pool encodes
                for delivery_id, r, context in releases
            ],
        )

    async def release_as_planned(self, *, event_ids: Collection[UUID], now: datetime) -> None:
        """Send the held emails of these events now, as planned (without resources)."""
        await self._conn.execute(
            f"UPDATE deliveries SET reason = NULL, next_attempt_at = $3, updated_at = $3"  # noqa: S608 - constant
            f" WHERE event_id = ANY($1::uuid[]) AND {_HELD}",
            list(event_ids),
            ACKNOWLEDGMENT,
            now,
        )
