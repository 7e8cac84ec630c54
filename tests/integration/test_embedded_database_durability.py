"""The local stack's embedded PostgreSQL keeps every commit it acknowledged through a crash of its server.

The stack's supervision promises that a database that exits "starts again on its data", and everything the services
promise rests on it: an HTTP 201 is a committed inquiry; the outbox relay publishes only committed rows and then
marks them; the inbox, notify's delivery log and routing's SLA clocks record what was done. A commit acknowledged and
then forgotten by a crash loses an inquiry that was answered 201, and sends a parent a second message. The fault run
(``make chaos``) found exactly that while the embedded server ran with ``synchronous_commit=off``.
"""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import asyncpg
import pytest

from devstack.postgres import ensure_database, spawn_postgres, start_postgres
from devstack.processes import Child, free_port, wait_for_port

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]
HOST = "127.0.0.1"


async def _start_again(data_dir: Path, port: int, log_dir: Path) -> Child:
    """As the supervisor does: its old backends may hold the data directory a moment after the postmaster died."""
    for _ in range(20):
        try:
            child = spawn_postgres(data_dir=data_dir, port=port, log_dir=log_dir, host=HOST)
        except RuntimeError:
            await asyncio.sleep(0.5)
            continue
        try:
            await asyncio.to_thread(wait_for_port, port, host=HOST, child=child, timeout=60)
            return child
        except (RuntimeError, TimeoutError):
            child.stop()
            await asyncio.sleep(0.5)
    raise AssertionError("the embedded PostgreSQL did not start again")


async def test_every_acknowledged_commit_survives_kill_9_of_the_embedded_postgres(tmp_path: Path) -> None:
    data_dir, log_dir, port = tmp_path / "pgdata", tmp_path / "log", free_port()
    server = await asyncio.to_thread(start_postgres, data_dir=data_dir, port=port, log_dir=log_dir, host=HOST)
    try:
        url = await ensure_database(host=HOST, port=port, name="durability")
        connection = await asyncpg.connect(url)
        await connection.execute("CREATE TABLE acknowledged (n integer PRIMARY KEY, pad text NOT NULL)")
        committed = 0
        for n in range(3000):  # one transaction each, as the services' units of work commit
            await connection.execute("INSERT INTO acknowledged VALUES ($1, repeat('x', 500))", n)
            committed += 1
        os.kill(server.process.pid, signal.SIGKILL)  # right after the last acknowledged commit
        await asyncio.to_thread(server.process.wait, 30)
        connection.terminate()

        server = await _start_again(data_dir, port, log_dir)
        url = await ensure_database(host=HOST, port=port, name="durability")
        connection = await asyncpg.connect(url)
        try:
            assert await connection.fetchval("SELECT count(*) FROM acknowledged") == committed
        finally:
            await connection.close()
    finally:
        server.stop()
