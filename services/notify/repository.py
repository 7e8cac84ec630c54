"""All of notify's SQL: one repository per table on a unit of work's connection (``uow.contacts``,
``uow.suppressions``, ``uow.deliveries``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from datetime import datetime
from uuid import UUID

from asyncpg.pool import PoolConnectionProxy

from services.notify.domain import AttemptOutcome, ClaimedDelivery, Contact, DeliveryEntry, PlannedDelivery

# Only constant names go into the statements below.
_CLAIMED_COLUMNS = ", ".join(field.name for field in fields(ClaimedDelivery))
_ENTRY_COLUMNS = ", ".join(DeliveryEntry.model_fields)
# $1 limit, $2 now, $3 lease in seconds.
_CLAIM_DUE = (
    "UPDATE deliveries SET status = 'sending', claimed_at = $2, attempts = attempts + 1, updated_at = $2"  # noqa: S608
    " WHERE id IN (SELECT id FROM deliveries WHERE (status = 'pending' AND next_attempt_at <= $2)"
    " OR (status = 'sending' AND claimed_at < $2 - make_interval(secs => $3))"
    f" ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED) RETURNING {_CLAIMED_COLUMNS}"
)


class ContactRepository:
    """What notify knows of each inquiry's parent: contact details and consent, as submitted."""

    def __init__(self, conn: PoolConnectionProxy) -> None:
        self._conn = conn

    async def upsert(self, *, contacts: Sequence[Contact], now: datetime) -> None:
        await self._conn.executemany(
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


class SuppressionRepository:
    """Addresses never to write to (bounces, opt-outs), kept in lower case."""

    def __init__(self, conn: PoolConnectionProxy) -> None:
        self._conn = conn

    async def among(self, *, addresses: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        """The (channel, address) pairs on the list; addresses are compared in lower case and returned so."""
        if not addresses:
            return set()
        rows = await self._conn.fetch(
            "SELECT channel, address FROM suppressions s JOIN unnest($1::text[], $2::text[]) AS q(channel, address)"
            " USING (channel, address)",
            [a[0] for a in addresses],
            [a[1].lower() for a in addresses],
        )
        return {(row["channel"], row["address"]) for row in rows}

    async def add(self, *, channel: str, address: str, reason: str) -> None:
        await self._conn.execute(
            "INSERT INTO suppressions (channel, address, reason) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            channel,
            address.lower(),
            reason,
        )


class DeliveryRepository:
    """The delivery log: queued, claimed for sending, and what each attempt left behind."""

    def __init__(self, conn: PoolConnectionProxy) -> None:
        self._conn = conn

    async def insert(self, *, planned: Sequence[PlannedDelivery], now: datetime) -> set[UUID]:
        """Queue deliveries; one already queued under the same dedup key is left alone. Returns the ids inserted."""
        if not planned:
            return set()
        rows = await self._conn.fetch(
            "INSERT INTO deliveries (id, dedup_key, event_id, inquiry_id, channel, recipient, template, language,"
            " subject, body, status, reason, correlation_id, next_attempt_at, created_at, updated_at)"
            " SELECT *, $13::timestamptz, $13::timestamptz, $13::timestamptz FROM unnest($1::uuid[], $2::text[],"
            " $3::uuid[], $4::uuid[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],"
            " $11::text[], $12::text[], $14::text[]) ON CONFLICT (dedup_key) DO NOTHING RETURNING id",
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

    async def claim_due(self, *, limit: int, now: datetime, lease_seconds: float) -> list[ClaimedDelivery]:
        """Mark up to ``limit`` due deliveries as 'sending' and return them. Replicas skip each other's rows; a claim
        older than the lease (a replica that died mid-send) is taken again."""
        rows = await self._conn.fetch(_CLAIM_DUE, limit, now, float(lease_seconds))
        return [ClaimedDelivery(**dict(row)) for row in rows]

    async def record_outcomes(
        self, *, outcomes: Sequence[tuple[UUID, AttemptOutcome, str | None]], now: datetime
    ) -> None:
        """(delivery id, outcome, provider message id) each; only deliveries still 'sending' are touched."""
        await self._conn.executemany(
            "UPDATE deliveries SET status = $2, next_attempt_at = coalesce($3, next_attempt_at), reason = $4,"
            " provider_message_id = coalesce($5, provider_message_id), updated_at = $6,"
            " sent_at = CASE WHEN $2 = 'sent' THEN $6 ELSE sent_at END WHERE id = $1 AND status = 'sending'",
            [(i, o.status, o.next_attempt_at, o.reason, provider_id, now) for i, o, provider_id in outcomes],
        )

    async def of_inquiry(self, *, inquiry_id: UUID) -> list[DeliveryEntry]:
        rows = await self._conn.fetch(
            f"SELECT {_ENTRY_COLUMNS} FROM deliveries WHERE inquiry_id = $1"  # noqa: S608 - constant columns
            " ORDER BY created_at, channel",
            inquiry_id,
        )
        return [DeliveryEntry(**dict(row)) for row in rows]
