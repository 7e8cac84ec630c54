"""All of notify's SQL, behind small functions with keyword-only arguments."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from asyncpg.pool import PoolConnectionProxy

from services.notify.domain import AttemptOutcome, Contact, PlannedDelivery

Conn = PoolConnectionProxy


async def upsert_contacts(conn: Conn, *, contacts: Sequence[Contact], now: datetime) -> None:
    await conn.executemany(
        "INSERT INTO contacts (inquiry_id, reference, name, email, mobile_phone, language, sms_consent, updated_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        " ON CONFLICT (inquiry_id) DO UPDATE SET reference = excluded.reference,"
        " name = excluded.name, email = excluded.email, mobile_phone = excluded.mobile_phone,"
        " language = excluded.language, sms_consent = excluded.sms_consent, updated_at = excluded.updated_at",
        [
            (c.inquiry_id, c.reference, c.name, c.email, c.mobile_phone, c.language, c.sms_consent, now)
            for c in contacts
        ],
    )


async def suppressed_among(conn: Conn, *, addresses: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
    if not addresses:
        return set()
    rows = await conn.fetch(
        "SELECT channel, address FROM suppressions s JOIN unnest($1::text[], $2::text[]) AS q(channel, address)"
        " USING (channel, address)",
        [a[0] for a in addresses],
        [a[1].lower() for a in addresses],
    )
    return {(row["channel"], row["address"]) for row in rows}


async def add_suppression(conn: Conn, *, channel: str, address: str, reason: str) -> None:
    await conn.execute(
        "INSERT INTO suppressions (channel, address, reason) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        channel,
        address.lower(),
        reason,
    )


async def insert_deliveries(conn: Conn, *, planned: Sequence[PlannedDelivery], now: datetime) -> set[UUID]:
    """Queue deliveries; one already queued under the same dedup key is left alone. Returns the ids inserted."""
    if not planned:
        return set()
    rows = await conn.fetch(
        "INSERT INTO deliveries (id, dedup_key, event_id, inquiry_id, channel, recipient, template, language, subject,"
        " body, status, reason, correlation_id, next_attempt_at, created_at, updated_at)"
        " SELECT *, $13::timestamptz, $13::timestamptz, $13::timestamptz FROM unnest($1::uuid[], $2::text[],"
        " $3::uuid[], $4::uuid[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[],"
        " $12::text[], $14::text[]) ON CONFLICT (dedup_key) DO NOTHING RETURNING id",
        [p.id for p in planned],
        [p.dedup_key for p in planned],
        [p.event_id for p in planned],
        [p.inquiry_id for p in planned],
        [p.channel for p in planned],
        [p.recipient for p in planned],
        [p.template for p in planned],
        [p.language for p in planned],
        [p.subject for p in planned],
        [p.body for p in planned],
        [p.status for p in planned],
        [p.reason for p in planned],
        now,
        [p.correlation_id for p in planned],
    )
    return {row["id"] for row in rows}


async def claim_due(conn: Conn, *, limit: int, now: datetime, lease_seconds: int) -> list[Any]:
    """Mark up to ``limit`` due deliveries as 'sending' and return them. Replicas skip each other's rows; a claim
    older than the lease (a replica that died mid-send) is taken again."""
    return await conn.fetch(
        "UPDATE deliveries SET status = 'sending', claimed_at = $2, attempts = attempts + 1, updated_at = $2"
        " WHERE id IN (SELECT id FROM deliveries WHERE (status = 'pending' AND next_attempt_at <= $2)"
        " OR (status = 'sending' AND claimed_at < $2 - make_interval(secs => $3))"
        " ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED)"
        " RETURNING id, dedup_key, event_id, correlation_id, inquiry_id, channel, recipient, template, language,"
        " subject, body, attempts",
        limit,
        now,
        float(lease_seconds),
    )


async def record_outcomes(
    conn: Conn, *, outcomes: Sequence[tuple[UUID, AttemptOutcome, str | None]], now: datetime
) -> None:
    """(delivery id, outcome, provider message id) each."""
    await conn.executemany(
        "UPDATE deliveries SET status = $2, next_attempt_at = coalesce($3, next_attempt_at), reason = $4,"
        " provider_message_id = coalesce($5, provider_message_id), updated_at = $6,"
        " sent_at = CASE WHEN $2 = 'sent' THEN $6 ELSE sent_at END WHERE id = $1 AND status = 'sending'",
        [(i, o.status, o.next_attempt_at, o.reason, provider_id, now) for i, o, provider_id in outcomes],
    )


async def list_deliveries(conn: Conn, *, inquiry_id: UUID) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT id, channel, template, language, status, reason, attempts, created_at, sent_at FROM deliveries"
        " WHERE inquiry_id = $1 ORDER BY created_at, channel",
        inquiry_id,
    )
    return [dict(row) for row in rows]
