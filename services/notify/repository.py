"""Notify's PostgreSQL repositories, each usable on a unit of work's connection (``uow.contacts``, ``uow.staff``,
``uow.waiting``, ``uow.suppressions``, ``uow.deliveries``)."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import fields
from datetime import datetime
from typing import Any
from uuid import UUID

from asyncpg.pool import PoolConnectionProxy

from services.notify.domain import (
    ACKNOWLEDGMENT,
    AttemptOutcome,
    ClaimedDelivery,
    Contact,
    DeliveryEntry,
    PlannedDelivery,
    StaffMember,
    Suppressed,
)

# Only constant names go into the statements below.
_CLAIMED_COLUMNS = ", ".join(field.name for field in fields(ClaimedDelivery))
_CONTACT_COLUMNS = ", ".join(field.name for field in fields(Contact))
_ENTRY_COLUMNS = ", ".join(DeliveryEntry.model_fields)
# $1 limit, $2 now, $3 lease in seconds.
# A parent's other emails wait until their inquiry's acknowledgment email has gone (held for the catalog's resources,
# being sent or retried); migration 0005 indexes exactly this predicate.
_ACKNOWLEDGMENT_NOT_GONE = (
    f"ack.template = '{ACKNOWLEDGMENT}' AND ack.channel = 'email' AND ack.status IN ('pending', 'sending')"
)
_CLAIM_DUE = (
    "UPDATE deliveries SET status = 'sending', claimed_at = $2, attempts = attempts + 1, updated_at = $2"  # noqa: S608
    " WHERE id IN (SELECT id FROM deliveries d WHERE ((status = 'pending' AND next_attempt_at <= $2)"
    " OR (status = 'sending' AND claimed_at < $2 - make_interval(secs => $3)))"
    f" AND NOT (d.audience = 'parent' AND d.channel = 'email' AND d.template <> '{ACKNOWLEDGMENT}' AND EXISTS"
    f" (SELECT 1 FROM deliveries ack WHERE ack.inquiry_id = d.inquiry_id AND {_ACKNOWLEDGMENT_NOT_GONE}))"
    # Acknowledgments first: under a backlog (a burst's 'assigned' and staff emails) a new parent still hears at once
    # that the inquiry arrived; the rest go in the order they fell due.
    f" ORDER BY d.template <> '{ACKNOWLEDGMENT}', next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED)"
    f" RETURNING {_CLAIMED_COLUMNS}"
)


class ContactRepository:
    """What notify knows of each inquiry's parent: contact details, consent and language as submitted, and the
    office that has the inquiry now."""

    def __init__(self, conn: PoolConnectionProxy) -> None:
        self._conn = conn

    async def upsert(self, *, contacts: Sequence[Contact], now: datetime) -> None:
        """As submitted; the office on file (set by routing's events, which may come first) is kept."""
        await self._conn.executemany(
            "INSERT INTO contacts (inquiry_id, reference, name, email, mobile_phone, language, sms_consent,"
            " status_token, urgent, office_name, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
            " ON CONFLICT (inquiry_id) DO UPDATE SET reference = excluded.reference,"
            " name = excluded.name, email = excluded.email, mobile_phone = excluded.mobile_phone,"
            " language = excluded.language, sms_consent = excluded.sms_consent, status_token = excluded.status_token,"
            " urgent = excluded.urgent, updated_at = excluded.updated_at",
            [
                (
                    c.inquiry_id,
                    c.reference,
                    c.name,
                    c.email,
                    c.mobile_phone,
                    c.language,
                    c.sms_consent,
                    c.status_token,
                    c.urgent,
                    c.office_name,
                    now,
                )
                for c in contacts
            ],
        )

    async def of(self, *, inquiry_ids: Collection[UUID]) -> dict[UUID, Contact]:
        if not inquiry_ids:
            return {}
        rows = await self._conn.fetch(
            f"SELECT {_CONTACT_COLUMNS} FROM contacts WHERE inquiry_id = ANY($1::uuid[])",  # noqa: S608
            list(inquiry_ids),
        )
        return {row["inquiry_id"]: Contact(**dict(row)) for row in rows}

    async def lock(self, *, inquiry_ids: Collection[UUID]) -> None:
        """Hold these inquiries until the transaction ends (in one order, so two batches never deadlock): a parked
        event and the inquiry.submitted it waits for are never handled at the same time by two consumers."""
        await self._conn.execute(
            "SELECT pg_advisory_xact_lock(k) FROM (SELECT DISTINCT hashtextextended(i::text, 7) AS k"
            " FROM unnest($1::uuid[]) AS u(i) ORDER BY 1) AS keys",
            list(inquiry_ids),
        )

    async def set_offices(self, *, offices: Sequence[tuple[UUID, str]], now: datetime) -> None:
        await self._conn.executemany(
            "UPDATE contacts SET office_name = $2, updated_at = $3 WHERE inquiry_id = $1",
            [(inquiry_id, office, now) for inquiry_id, office in offices],
        )

    async def latest_by_phone(self, *, phone: str) -> Contact | None:
        row = await self._conn.fetchrow(
            f"SELECT {_CONTACT_COLUMNS} FROM contacts WHERE mobile_phone = $1"  # noqa: S608
            " ORDER BY updated_at DESC LIMIT 1",
            phone,
        )
        return Contact(**dict(row)) if row else None


class StaffRepository:
    """Staff notify can write to, following ``staff.updated``."""

    def __init__(self, conn: PoolConnectionProxy) -> None:
        self._conn = conn

    async def upsert(self, *, staff: Sequence[tuple[StaffMember, datetime]]) -> None:
        """Each member as of the time routing made the change; a change older than the row on file changes nothing
        (a redelivered or replayed event never makes a disabled member active again)."""
        await self._conn.executemany(
            "INSERT INTO staff (staff_id, role, network_id, active, name, email, updated_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (staff_id) DO UPDATE SET role = excluded.role,"
            " network_id = excluded.network_id, active = excluded.active, name = excluded.name,"
            " email = excluded.email, updated_at = excluded.updated_at WHERE staff.updated_at <= excluded.updated_at",
            [(s.staff_id, s.role, s.network_id, s.active, s.name, s.email, at) for s, at in staff],
        )

    async def of(self, *, staff_ids: Collection[str]) -> dict[str, StaffMember]:
        if not staff_ids:
            return {}
        rows = await self._conn.fetch(
            "SELECT staff_id, role, network_id, active, name, email FROM staff WHERE staff_id = ANY($1::text[])",
            list(staff_ids),
        )
        return {row["staff_id"]: StaffMember(**dict(row)) for row in rows}


class WaitingEventRepository:
    """Events about inquiries whose contact has not arrived yet."""

    def __init__(self, conn: PoolConnectionProxy) -> None:
        self._conn = conn

    async def park(self, *, events: Sequence[tuple[UUID, UUID, str, str]], now: datetime) -> None:
        """(event id, inquiry id, event type, JSON) each."""
        await self._conn.executemany(
            "INSERT INTO waiting_events (event_id, inquiry_id, event_type, payload, received_at)"
            " VALUES ($1, $2, $3, $4::text::jsonb, $5) ON CONFLICT DO NOTHING",
            [(*event, now) for event in events],
        )

    async def take(self, *, inquiry_ids: Collection[UUID]) -> list[str]:
        """The JSON of the events waiting for these inquiries, oldest first; they are removed."""
        if not inquiry_ids:
            return []
        rows = await self._conn.fetch(
            "DELETE FROM waiting_events WHERE inquiry_id = ANY($1::uuid[]) RETURNING payload::text, received_at",
            list(inquiry_ids),
        )
        return [row["payload"] for row in sorted(rows, key=lambda row: row["received_at"])]


class SuppressionRepository:
    """Addresses not to write to (bounces, opt-outs, staff's choice), kept in lower case."""

    def __init__(self, conn: PoolConnectionProxy) -> None:
        self._conn = conn

    async def state(self, *, addresses: Sequence[tuple[str, str]]) -> Suppressed:
        if not addresses:
            return Suppressed()
        rows = await self._conn.fetch(
            "SELECT channel, address, kind FROM suppressions s"
            " JOIN unnest($1::text[], $2::text[]) AS q(channel, address) USING (channel, address)",
            [a[0] for a in addresses],
            [a[1].lower() for a in addresses],
        )
        blocked = {(r["channel"], r["address"]) for r in rows if r["kind"] != "opted_out"}
        unsubscribed = {(r["channel"], r["address"]) for r in rows if r["kind"] == "opted_out"}
        return Suppressed(blocked=blocked, unsubscribed=unsubscribed)

    async def among(self, *, addresses: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        """Every (channel, address) pair on the list, whatever the kind."""
        state = await self.state(addresses=addresses)
        return {*state.blocked, *state.unsubscribed}

    async def add(self, *, channel: str, address: str, reason: str, kind: str = "manual") -> bool:
        """True when the address was not on the list before."""
        row = await self._conn.fetchval(
            "INSERT INTO suppressions (channel, address, reason, kind) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (channel, address) DO UPDATE SET reason = excluded.reason, kind = excluded.kind"
            " RETURNING (xmax = 0)",
            channel,
            address.lower(),
            reason,
            kind,
        )
        return bool(row)

    async def lift(self, *, channel: str, address: str) -> bool:
        """Lift an opt-out or a carrier's unsubscribe (START): True when there was one. A bounce stays."""
        removed = await self._conn.fetchval(
            "DELETE FROM suppressions WHERE channel = $1 AND address = $2"
            " AND (kind = 'opted_out' OR reason LIKE '%21610%') RETURNING 1",
            channel,
            address.lower(),
        )
        return removed is not None

    async def entries(self, *, addresses: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
        if not addresses:
            return []
        rows = await self._conn.fetch(
            "SELECT channel, kind, reason, created_at FROM suppressions s"
            " JOIN unnest($1::text[], $2::text[]) AS q(channel, address) USING (channel, address) ORDER BY channel",
            [a[0] for a in addresses],
            [a[1].lower() for a in addresses],
        )
        return [dict(row) for row in rows]


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
            " subject, body, status, reason, correlation_id, html, essential, segments, fallback_of, audience,"
            " next_attempt_at, context, created_at, updated_at)"
            " SELECT i, d, e, q, c, r, t, l, s, b, st, re, co, h, es, sg, fb, au, coalesce(na, $13::timestamptz),"
            " cx::jsonb, $13::timestamptz, $13::timestamptz"
            " FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::uuid[], $5::text[], $6::text[], $7::text[],"
            " $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $14::text[], $15::text[],"
            " $16::boolean[], $17::int[], $18::uuid[], $19::text[], $20::timestamptz[], $21::text[])"
            " AS u(i, d, e, q, c, r, t, l, s, b, st, re, co, h, es, sg, fb, au, na, cx)"
            " ON CONFLICT (dedup_key) DO NOTHING RETURNING id",
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
            [p.html for p in planned],
            [p.essential for p in planned],
            [p.segments for p in planned],
            [p.fallback_of for p in planned],
            [p.audience for p in planned],
            [p.next_attempt_at for p in planned],
            [json.dumps(p.context) for p in planned],
        )
        return {row["id"] for row in rows}

    async def claim_due(self, *, limit: int, now: datetime, lease_seconds: float) -> list[ClaimedDelivery]:
        """Mark up to ``limit`` due deliveries as 'sending' and return them. Replicas skip each other's rows; a claim
        older than the lease (a replica that died mid-send) is taken again. A text held for quiet hours is due at
        08:00: this claim is the sweep that releases it."""
        rows = await self._conn.fetch(_CLAIM_DUE, limit, now, float(lease_seconds))
        return [ClaimedDelivery(**dict(row)) for row in rows]

    async def record_outcomes(
        self, *, outcomes: Sequence[tuple[UUID, AttemptOutcome, str | None]], now: datetime
    ) -> None:
        """(delivery id, outcome, provider message id) each; only deliveries still 'sending' are touched. One
        statement for the whole round."""
        if not outcomes:
            return
        await self._conn.execute(
            "UPDATE deliveries d SET status = u.status, next_attempt_at = coalesce(u.next_at, d.next_attempt_at),"
            " reason = u.reason, provider_message_id = coalesce(u.provider_id, d.provider_message_id),"
            " updated_at = $1, error_code = u.error_code,"
            " sent_at = CASE WHEN u.status = 'sent' THEN $1 ELSE d.sent_at END"
            " FROM unnest($2::uuid[], $3::text[], $4::timestamptz[], $5::text[], $6::text[], $7::text[])"
            " AS u(id, status, next_at, reason, provider_id, error_code)"
            " WHERE d.id = u.id AND d.status = 'sending'",
            now,
            [i for i, _, _ in outcomes],
            [o.status for _, o, _ in outcomes],
            [o.next_attempt_at for _, o, _ in outcomes],
            [o.reason for _, o, _ in outcomes],
            [provider_id for _, _, provider_id in outcomes],
            [o.error_code for _, o, _ in outcomes],
        )

    async def log_attempts(self, *, attempts: Sequence[tuple[UUID, int, str, str | None]], now: datetime) -> None:
        """(delivery id, attempt, outcome, detail) each, into the delivery log's detail, in this order; one
        statement for the whole round."""
        if not attempts:
            return
        await self._conn.execute(
            "INSERT INTO delivery_attempts (delivery_id, attempt, outcome, detail, at)"
            " SELECT d, a, o, t, $1 FROM unnest($2::uuid[], $3::int[], $4::text[], $5::text[])"
            " WITH ORDINALITY AS u(d, a, o, t, n) ORDER BY n",
            now,
            [a[0] for a in attempts],
            [a[1] for a in attempts],
            [a[2] for a in attempts],
            [a[3] for a in attempts],
        )

    async def of_inquiry(self, *, inquiry_id: UUID) -> list[DeliveryEntry]:
        rows = await self._conn.fetch(
            f"SELECT {_ENTRY_COLUMNS} FROM deliveries WHERE inquiry_id = $1"  # noqa: S608 - constant columns
            " ORDER BY created_at, audience, channel",
            inquiry_id,
        )
        return [DeliveryEntry(**dict(row)) for row in rows]

    async def attempts_of(self, *, inquiry_id: UUID) -> list[dict[str, Any]]:
        rows = await self._conn.fetch(
            "SELECT a.delivery_id, a.attempt, a.outcome, a.detail, a.at FROM delivery_attempts a"
            " JOIN deliveries d ON d.id = a.delivery_id WHERE d.inquiry_id = $1 ORDER BY a.id",
            inquiry_id,
        )
        return [dict(row) for row in rows]

    async def get(self, *, delivery_id: UUID) -> tuple[ClaimedDelivery, str, dict[str, str | None]] | None:
        """A delivery, its status and the variables it was rendered with."""
        row = await self._conn.fetchrow(
            f"SELECT {_CLAIMED_COLUMNS}, status, context::text AS context FROM deliveries WHERE id = $1",  # noqa: S608
            delivery_id,
        )
        if row is None:
            return None
        values = dict(row)
        status, context = values.pop("status"), json.loads(values.pop("context"))
        return ClaimedDelivery(**values), status, context

    async def by_provider_id(self, *, provider_message_id: str) -> tuple[ClaimedDelivery, str] | None:
        row = await self._conn.fetchrow(
            f"SELECT {_CLAIMED_COLUMNS}, status FROM deliveries WHERE provider_message_id = $1",  # noqa: S608
            provider_message_id,
        )
        if row is None:
            return None
        values = dict(row)
        status = values.pop("status")
        return ClaimedDelivery(**values), status

    async def report(self, *, delivery_id: UUID, provider_status: str, error_code: str | None, now: datetime) -> None:
        await self._conn.execute(
            "UPDATE deliveries SET provider_status = $2, error_code = coalesce($3, error_code), updated_at = $4"
            " WHERE id = $1",
            delivery_id,
            provider_status,
            error_code,
            now,
        )

    async def requeue(
        self, *, delivery_id: UUID, at: datetime, reason: str | None, now: datetime, statuses: Sequence[str]
    ) -> bool:
        """Queue a delivery again (a resend by hand, an undelivered text worth retrying) when its status is one of
        ``statuses``: True when it was."""
        done = await self._conn.fetchval(
            "UPDATE deliveries SET status = 'pending', next_attempt_at = $2, reason = $3, updated_at = $4,"
            " provider_status = NULL WHERE id = $1 AND status = ANY($5::text[]) RETURNING 1",
            delivery_id,
            at,
            reason,
            now,
            list(statuses),
        )
        return done is not None

    async def lock_messages(self, *, message_sids: Collection[str]) -> None:
        """Hold these provider message ids until the transaction ends (in one order): a status callback and the
        recording of the send it reports on never miss each other."""
        await self._conn.execute(
            "SELECT pg_advisory_xact_lock(k) FROM (SELECT DISTINCT hashtextextended(s, 11) AS k"
            " FROM unnest($1::text[]) AS u(s) ORDER BY 1) AS keys",
            sorted(message_sids),
        )

    async def hold_report(self, *, message_sid: str, status: str, error_code: str | None, now: datetime) -> None:
        await self._conn.execute(
            "INSERT INTO early_reports (message_sid, status, error_code, received_at) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT DO NOTHING",
            message_sid,
            status,
            error_code,
            now,
        )

    async def take_reports(self, *, message_sids: Collection[str]) -> list[tuple[str, str, str | None]]:
        """The reports held for these sends, oldest first; they are removed."""
        if not message_sids:
            return []
        rows = await self._conn.fetch(
            "DELETE FROM early_reports WHERE message_sid = ANY($1::text[])"
            " RETURNING message_sid, status, error_code, received_at",
            list(message_sids),
        )
        ordered = sorted(rows, key=lambda row: row["received_at"])
        return [(row["message_sid"], row["status"], row["error_code"]) for row in ordered]

    async def fail(self, *, delivery_id: UUID, reason: str, now: datetime) -> None:
        await self._conn.execute(
            "UPDATE deliveries SET status = 'failed', reason = $2, updated_at = $3 WHERE id = $1",
            delivery_id,
            reason,
            now,
        )
