"""One transaction around a change and the events it causes (the outbox rows go in at commit, in one statement).

Each service subclasses ``UnitOfWork`` in its own ``unit_of_work.py`` to put its repositories on the transaction's
connection (``uow.inquiries``), and declares a Protocol of what its use cases need, so the use cases run unchanged
against an in-memory fake in unit tests (see docs/architecture.md, "Use cases and their seams").
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from types import TracebackType
from typing import Protocol, Self, TypeVar
from uuid import UUID

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from shared.contracts.envelope import Event, kafka_headers


class Outbox(Protocol):
    """What a use case needs to announce what happened: queue an event, published only if the change commits."""

    def emit(self, topic: str, event: Event) -> None: ...


class UnitOfWork:
    """``async with UnitOfWork(pool) as uow``: commits on a clean exit, rolls back on an exception.

    ``uow.conn`` is the transaction's connection; a service's subclass builds its repositories on it in
    ``_bind``. ``uow.emit`` queues an event for the outbox. ``on_commit`` is called after every commit: the local
    relay (and e.g. notify's dispatcher, which has work to do even when no event was emitted) wakes at once instead
    of at its next poll.
    """

    def __init__(self, pool: asyncpg.Pool, *, on_commit: Callable[[], None] | None = None) -> None:
        self._pool = pool
        self._on_commit = on_commit
        self._pending: list[tuple[str, Event]] = []
        self._conn: PoolConnectionProxy | None = None
        self._tx: asyncpg.transaction.Transaction | None = None

    @property
    def conn(self) -> PoolConnectionProxy:
        if self._conn is None:
            raise RuntimeError("UnitOfWork used outside its 'async with' block")
        return self._conn

    def emit(self, topic: str, event: Event) -> None:
        self._pending.append((topic, event))

    def _bind(self, conn: PoolConnectionProxy) -> None:
        """Put the service's repositories on the transaction's connection (subclasses)."""

    async def claim_inbox(self, *, subscriber: str, event_ids: list[UUID]) -> set[UUID]:
        """Record these events as applied by ``subscriber``; return the ones not applied before (in one statement)."""
        if not event_ids:
            return set()
        rows = await self.conn.fetch(
            "INSERT INTO inbox (subscriber, event_id) SELECT $1, unnest($2::uuid[]) ON CONFLICT DO NOTHING"
            " RETURNING event_id",
            subscriber,
            event_ids,
        )
        return {row["event_id"] for row in rows}

    async def __aenter__(self) -> Self:
        conn = await self._pool.acquire()
        try:
            self._tx = conn.transaction()
            await self._tx.start()
            self._bind(conn)
        except BaseException:
            # Cancelled (a worker stopping) or failed between the acquire and the ``async with`` body: __aexit__ will
            # not run, so give the connection back here, or the pool's close waits for it for ever.
            await self._pool.release(conn)
            raise
        self._conn = conn
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._conn is not None and self._tx is not None
        try:
            if exc_type is None:
                await self._write_outbox()
                await self._tx.commit()
            else:
                await self._tx.rollback()
        except BaseException:
            with contextlib.suppress(Exception):  # the commit itself failed: make sure nothing is left open
                await self._tx.rollback()
            raise
        finally:
            self._pending.clear()
            await self._pool.release(self._conn)
            self._conn = None
        if exc_type is None and self._on_commit is not None:
            self._on_commit()

    async def _write_outbox(self) -> None:
        if not self._pending:
            return
        rows = [
            (
                event.event_id,
                topic,
                event.partition_key(),
                event.event_type,
                event.model_dump_json(),
                json.dumps([[name, value.decode()] for name, value in kafka_headers(event)]),
            )
            for topic, event in self._pending
        ]
        await self.conn.execute(
            "INSERT INTO outbox (event_id, topic, key, event_type, payload, headers)"
            " SELECT e, t, k, y, p::jsonb, h::jsonb FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[],"
            " $5::text[], $6::text[]) WITH ORDINALITY AS u(e, t, k, y, p, h, n) ORDER BY n",
            *[[row[i] for row in rows] for i in range(6)],
        )


U = TypeVar("U", bound=UnitOfWork)
U_co = TypeVar("U_co", bound=UnitOfWork, covariant=True)


class UnitOfWorkFactory(Protocol[U_co]):
    """A service's unit-of-work class, or anything called like it."""

    def __call__(self, pool: asyncpg.Pool, *, on_commit: Callable[[], None] | None = None) -> U_co: ...
