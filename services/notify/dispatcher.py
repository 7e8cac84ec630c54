"""The delivery dispatcher: sends queued messages and records what happened, with an event for each outcome.

Round by round: claim due deliveries (committed as 'sending', so replicas skip them), send them all concurrently,
then in one transaction record each outcome and emit notification.sent / notification.failed through the outbox.
A failure that may pass (server unreachable, 5xx) is retried later with growing delays; a refused address is not.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any
from uuid import UUID

import asyncpg

from services.notify import domain, repository
from services.notify.domain import SendResult
from services.notify.providers import EmailOut, SmsSender, SmtpSender, message_id_for
from shared.background import RoundWorker
from shared.clock import Clock
from shared.contracts.notifications import NotificationFailed, NotificationSent
from shared.contracts.topics import NOTIFICATION_EVENTS
from shared.db.unit_of_work import UnitOfWork
from shared.logging import get_logger

log = get_logger(__name__)


class DeliveryDispatcher:
    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        email: SmtpSender,
        sms: SmsSender,
        clock: Clock,
        batch_size: int,
        max_attempts: int,
        lease_seconds: int,
        on_commit: Callable[[], None] | None = None,
        poll_interval: float = 1.0,
    ) -> None:
        self._pool = pool
        self._email = email
        self._sms = sms
        self._clock = clock
        self._batch_size = batch_size
        self._max_attempts = max_attempts
        self._lease_seconds = lease_seconds
        self._on_commit = on_commit
        self._worker = RoundWorker(
            "delivery-dispatcher", self.dispatch_due, batch_size=batch_size, poll_interval=poll_interval
        )

    def wake(self) -> None:
        self._worker.wake()

    @property
    def running(self) -> bool:
        return self._worker.running

    async def start(self) -> None:
        self._worker.start()

    async def stop(self) -> None:
        await self._worker.stop()

    async def dispatch_due(self) -> int:
        """One round; returns how many deliveries it handled."""
        async with self._pool.acquire() as conn, conn.transaction():
            claimed = await repository.claim_due(
                conn, limit=self._batch_size, now=self._clock.now(), lease_seconds=self._lease_seconds
            )
        if not claimed:
            return 0
        results = await self._send(claimed)
        await self._record(claimed, results)
        return len(claimed)

    async def _send(self, claimed: list[Any]) -> dict[UUID, SendResult]:
        emails = [
            EmailOut(
                delivery_id=row["id"],
                recipient=row["recipient"],
                subject=row["subject"] or "",
                body=row["body"],
                message_id=message_id_for(row["dedup_key"]),
            )
            for row in claimed
            if row["channel"] == "email"
        ]
        texts = [(row["id"], row["recipient"], row["body"]) for row in claimed if row["channel"] == "sms"]
        sent_email, sent_sms = await asyncio.gather(self._email.send_all(emails), self._sms.send_all(texts))
        return {result.delivery_id: result for result in [*sent_email, *sent_sms]}

    async def _record(self, claimed: list[Any], results: dict[UUID, SendResult]) -> None:
        now = self._clock.now()
        async with UnitOfWork(self._pool, on_commit=self._on_commit) as uow:
            outcomes = []
            for row in claimed:
                result = results[row["id"]]
                outcome = domain.after_attempt(
                    result, attempts=row["attempts"], max_attempts=self._max_attempts, now=now
                )
                outcomes.append((row["id"], outcome, result.provider_message_id))
                event_fields = {
                    "inquiry_id": row["inquiry_id"],
                    "occurred_at": now,
                    "correlation_id": row["correlation_id"],
                    "delivery_id": row["id"],
                    "channel": row["channel"],
                    "template": row["template"],
                    "language": row["language"],
                }
                if outcome.status == "sent":
                    uow.emit(
                        NOTIFICATION_EVENTS,
                        NotificationSent(**event_fields, provider_message_id=result.provider_message_id),
                    )
                elif outcome.status == "failed":
                    uow.emit(NOTIFICATION_EVENTS, NotificationFailed(**event_fields, reason=outcome.reason or "failed"))
            await repository.record_outcomes(uow.conn, outcomes=outcomes, now=now)
