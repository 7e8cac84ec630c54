"""The runtime every service opens in its lifespan: pool, migrations, broker, producer, outbox relay, dead letters.

A service's ``app.py`` (its composition root) opens a ``ServiceRuntime``, registers its subscribers with
``runtime.subscribe``, declares what it publishes with ``runtime.publishes``, then calls ``start()``; ``close()`` undoes
it all in reverse order. ``asyncapi()`` is the service's AsyncAPI document (committed under docs/asyncapi/).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import uvicorn
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI

from shared.contracts.envelope import Event
from shared.db.migrations import MigrationSource, apply_migrations, plumbing_source
from shared.db.pool import connect, create_pool
from shared.db.unit_of_work import UnitOfWork, UnitOfWorkFactory
from shared.kafka.batch_consumer import BatchConsumer, Subscriber, one_of, subscribe_batch
from shared.kafka.connection import create_broker, create_producer
from shared.kafka.dead_letters import DeadLetters
from shared.kafka.outbox_relay import OutboxRelay
from shared.logging import configure_logging, get_logger
from shared.settings import ServiceSettings

log = get_logger(__name__)

U = TypeVar("U", bound=UnitOfWork)


@dataclass
class ServiceRuntime:
    name: str
    settings: ServiceSettings
    pool: asyncpg.Pool
    broker: KafkaBroker
    producer: AIOKafkaProducer
    relay: OutboxRelay
    dead_letters: DeadLetters
    consumers_in_background: bool = False
    """In a process of its own (``run_service``) the consumers join their groups after ``start()`` returns: the HTTP
    door needs only the database and the outbox, and opens at once instead of after every group join (about 20 s
    per subscription after a restart on Tansu). Embedded in a test or a benchmark, ``start()`` returns once they
    have joined, so callers need not wait for readiness."""
    _started: bool = field(default=False, init=False)
    _consumers: asyncio.Task[None] | None = field(default=None, init=False)

    @classmethod
    async def open(cls, *, name: str, settings: ServiceSettings, migrations: Path) -> ServiceRuntime:
        platform = settings.platform
        conn = await connect(platform)
        try:
            applied = await apply_migrations(
                conn, schema=name, sources=[plumbing_source(), MigrationSource(name, migrations)]
            )
        finally:
            await conn.close()
        if applied:
            log.info("migrations applied", schema=name, applied=applied)
        pool = await create_pool(platform, schema=name, application_name=f"psc-{name}")
        producer = create_producer(platform, client_id=f"psc-{name}")
        relay = OutboxRelay(
            pool,
            producer,
            schema=name,
            batch_size=settings.outbox_batch_size,
            retention_days=platform.outbox_retention_days,
        )
        return cls(
            name=name,
            settings=settings,
            pool=pool,
            broker=create_broker(platform, client_id=f"psc-{name}"),
            producer=producer,
            relay=relay,
            dead_letters=DeadLetters(producer, service=name),
        )

    def unit_of_work(self, factory: UnitOfWorkFactory[U]) -> U:
        """A unit of work of the service's kind on this runtime's pool; the outbox relay wakes after its commit."""
        return factory(self.pool, on_commit=self.relay.wake)

    def subscribe(
        self,
        subscriber: Subscriber[Any, U],
        *,
        topic: str,
        unit_of_work: UnitOfWorkFactory[U],
        also_on_commit: Callable[[], None] | None = None,
    ) -> BatchConsumer[Any, U]:
        """Consume ``topic`` with the batch/inbox/dead-letter rules, in the group ``psc.<service>.<subscriber>``.

        One consumer group per subscription, not per service: each scales to its topic's partitions on its own, a
        start does not rebalance a sibling, and two consumers of one group never leave it at the same moment (Tansu
        can lose one of two simultaneous LeaveGroup requests; the next start then waits out max_poll_interval_ms).
        After each committed batch the outbox relay wakes (and ``also_on_commit``, e.g. notify's dispatcher).
        """
        wake = self.relay.wake
        if also_on_commit is not None:
            extra = also_on_commit

            def wake() -> None:
                self.relay.wake()
                extra()

        consumer: BatchConsumer[Any, U] = BatchConsumer(
            subscriber, unit_of_work=lambda: unit_of_work(self.pool, on_commit=wake), dead_letters=self.dead_letters
        )
        subscribe_batch(
            self.broker,
            consumer,
            topic=topic,
            group_id=f"psc.{self.name}.{subscriber.name}",
            max_records=self.settings.consumer_max_records,
            session_timeout_ms=self.settings.platform.kafka_session_timeout_ms,
        )
        return consumer

    def publishes(self, topic: str, *events: type[Event], description: str) -> None:
        """Declare, for the AsyncAPI document only, that the service publishes ``events`` on ``topic``.

        The outbox relay does the publishing; this FastStream publisher is never called. It costs nothing at start:
        a Kafka publisher's ``start`` does nothing and it opens no connection of its own.
        """
        self.broker.publisher(topic, schema=one_of(*events), description=description)

    def asyncapi(self, *, title: str, version: str, description: str | None = None) -> dict[str, Any]:
        """The AsyncAPI 3.0 document of the topics this service reads and publishes, with their message schemas.

        No ``servers``: which Kafka cluster is the deployment's business (``PSC_KAFKA_BOOTSTRAP``), not the contract's.
        """
        specification = AsyncAPI(
            self.broker, title=title, version=version, description=description, schema_version="3.0.0"
        ).to_specification()
        document: dict[str, Any] = specification.to_jsonable()
        document.pop("servers", None)
        for channel in document.get("channels", {}).values():
            channel.pop("servers", None)
        return document

    async def start(self) -> None:
        await self.producer.start()
        listener = await connect(self.settings.platform, schema=self.name)
        await self.relay.start(listener)
        if self.consumers_in_background:
            self._consumers = asyncio.create_task(self._start_consumers(), name=f"{self.name}-consumers")
        else:
            await self.broker.start()
            self._consumers_started()

    async def _start_consumers(self) -> None:
        try:
            await self.broker.start()
        except Exception as exc:
            # What a failed start did before the consumers started in the background: the process ends, and its
            # supervisor (psc run, Kubernetes) starts it again.
            log.error("consumers could not start: stopping the process", service=self.name, error=type(exc).__name__)
            signal.raise_signal(signal.SIGTERM)
            return
        self._consumers_started()

    def _consumers_started(self) -> None:
        self._started = True
        log.info("service started", service=self.name)

    async def readiness(self) -> dict[str, bool]:
        database = False
        with contextlib.suppress(Exception):
            async with asyncio.timeout(2):
                database = await self.pool.fetchval("SELECT true") is True
        return {"database": database, "broker": self._started, "outbox_relay": self.relay.running}

    async def close(self) -> None:
        if self._consumers is not None and not self._consumers.done():
            self._consumers.cancel()
            with contextlib.suppress(BaseException):
                await self._consumers
        # One subscriber at a time: each leaves its group cleanly before the next (see ``subscribe``).
        for subscription in self.broker.subscribers:
            with contextlib.suppress(Exception):
                await subscription.stop()
        with contextlib.suppress(Exception):
            await self.broker.stop()
        await self.relay.stop()
        with contextlib.suppress(Exception):
            await self.producer.stop()
        await self.pool.close()


@asynccontextmanager
async def running_service(
    app: FastAPI, *, name: str, settings: ServiceSettings, migrations: Path
) -> AsyncIterator[ServiceRuntime]:
    """For a service's lifespan: the opened runtime (subscribe, then ``start()``), answering ``/ready``; closed after.

    ``app.state.readiness`` may be replaced by the service when it has more to report (notify's dispatcher);
    ``app.state.runtime`` is there for what reads the service from outside its routes (its contract documents).
    """
    runtime = await ServiceRuntime.open(name=name, settings=settings, migrations=migrations)
    runtime.consumers_in_background = getattr(app.state, "own_process", False)
    try:
        app.state.runtime = runtime
        app.state.readiness = runtime.readiness
        yield runtime
    finally:
        await runtime.close()


def run_service(*, name: str, settings: ServiceSettings, app: FastAPI) -> None:
    """``python -m services.<name>``: JSON logs, then the HTTP app (and with it the subscribers) until stopped."""
    configure_logging(service=name, level=settings.platform.log_level, fmt=settings.platform.log_format)
    app.state.own_process = True  # see ServiceRuntime.consumers_in_background
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        timeout_keep_alive=settings.http_keep_alive_seconds,
    )
