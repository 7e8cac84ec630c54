"""The delivery dispatcher: sends queued messages and records what happened, with an event for each outcome.

Round by round: claim due deliveries (committed as 'sending', so replicas skip them), send them all concurrently,
then in one transaction record each outcome and emit notification.sent / .retrying / .failed through the outbox.
A failure that may pass (server unreachable, SMTP 4xx, provider 5xx, Twilio 30003) is retried later with growing,
jittered delays; an address that refuses for good is suppressed and the message goes to the parent's other channel.
A text held for quiet hours is due at 08:00 Chicago time: the claim below is the sweep that sends it then.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from uuid import UUID

import asyncpg

from services.notify import handlers
from services.notify.domain import ClaimedDelivery, Renderer, SendResult
from services.notify.handlers import Rules
from services.notify.providers import EmailOut, SmsSender, SmtpSender, message_id_for
from services.notify.signing import unsubscribe_token
from services.notify.unit_of_work import PostgresNotifyUnitOfWork
from shared.background import RoundWorker
from shared.clock import Clock, clock_span
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
        renderer: Renderer | None = None,
        rules: Rules | None = None,
        public_base_url: str = "http://127.0.0.1:8003",
    ) -> None:
        self._renderer = renderer
        self._rules = rules
        self._public_base_url = public_base_url.rstrip("/")
        self._pool = pool
        self._email = email
        self._sms = sms
        self._clock = clock
        self._batch_size = batch_size
        self._max_attempts = max_attempts
        # The lease and the retries are waits of the wall, not of business time: on a sped-up clock
        # (PSC_CLOCK_SPEED) they last as long in real time, so no replica takes over a send still under way.
        self._lease = clock_span(clock, timedelta(seconds=lease_seconds))
        self._time_scale = clock_span(clock, timedelta(seconds=1)).total_seconds()
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
        async with PostgresNotifyUnitOfWork(self._pool) as uow:
            claimed = await uow.deliveries.claim_due(
                limit=self._batch_size, now=self._clock.now(), lease_seconds=self._lease.total_seconds()
            )
        if not claimed:
            return 0
        results = await self._send(claimed)
        await self._record(claimed, results)
        return len(claimed)

    async def _send(self, claimed: list[ClaimedDelivery]) -> dict[UUID, SendResult]:
        emails = [
            EmailOut(
                delivery_id=delivery.id,
                recipient=delivery.recipient,
                subject=delivery.subject or "",
                body=delivery.body,
                message_id=message_id_for(delivery.dedup_key),
                html=delivery.html,
                unsubscribe_url=None if delivery.essential else self.unsubscribe_url(delivery.id),
            )
            for delivery in claimed
            if delivery.channel == "email"
        ]
        texts = [(delivery.id, delivery.recipient, delivery.body) for delivery in claimed if delivery.channel == "sms"]
        sent_email, sent_sms = await asyncio.gather(self._email.send_all(emails), self._sms.send_all(texts))
        return {result.delivery_id: result for result in [*sent_email, *sent_sms]}

    def unsubscribe_url(self, delivery_id: UUID) -> str:
        """The signed one-click link (RFC 8058) of optional mail: POST, public, names the delivery."""
        secret = self._rules.contact_key_secret if self._rules else "development"
        token = unsubscribe_token(secret, str(delivery_id))
        return f"{self._public_base_url}/v1/unsubscribe/{delivery_id}?token={token}"

    async def _record(self, claimed: list[ClaimedDelivery], results: dict[UUID, SendResult]) -> None:
        now = self._clock.now()
        async with PostgresNotifyUnitOfWork(self._pool, on_commit=self._on_commit) as uow:
            attempts = [(delivery, results[delivery.id]) for delivery in claimed]
            await handlers.record_attempts(
                uow,
                attempts,
                max_attempts=self._max_attempts,
                now=now,
                time_scale=self._time_scale,
                renderer=self._renderer,
                rules=self._rules,
            )
