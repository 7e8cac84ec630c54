"""Which real Kafka and PostgreSQL the suite runs against. One suite, every backend:

- ``PSC_KAFKA_BOOTSTRAP`` and ``PSC_DATABASE_URL`` set: that external cluster and server;
- else, when a Docker engine answers (or ``PSC_TEST_BACKEND=testcontainers``): Kafka and PostgreSQL containers;
- else (``PSC_TEST_BACKEND=embedded``, the default and what CI runs here): Tansu and the embedded PostgreSQL.
Each test that needs a database gets a fresh one, so tests never see each other's rows. On the embedded backend each
test module also gets a broker of its own (Tansu starts in milliseconds): consumer groups, committed offsets and records
left by one module never reach the next, and a group that a module left in a bad state cannot stall the next one's join.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio
from auth import auth_settings_for_tests

from shared.contracts.topics import ALL_TOPICS
from shared.kafka.connection import ensure_topics
from shared.settings import PlatformSettings


@dataclass(frozen=True)
class Backend:
    kind: str
    kafka_bootstrap: str
    admin_database_url: str

    def platform(self, database_url: str | None = None, kafka_bootstrap: str | None = None) -> PlatformSettings:
        return PlatformSettings(
            kafka_bootstrap=kafka_bootstrap or self.kafka_bootstrap,
            database_url=database_url or self.admin_database_url,
            topic_partitions=3,
            # Tansu holds a group's first join for half of it; Apache Kafka refuses less than its
            # group.min.session.timeout.ms (6 s by default), so the containers and external clusters keep the default.
            kafka_session_timeout_ms=4_000 if self.kind == "embedded" else 10_000,
            auth=auth_settings_for_tests(),  # tests/auth.py: staff_headers(...) and api_key_headers(...) work
        )


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=2).ping()
        return True
    except Exception:
        return False


def _choose_backend() -> str:
    chosen = os.environ.get("PSC_TEST_BACKEND")
    if chosen:
        return chosen
    if os.environ.get("PSC_KAFKA_BOOTSTRAP") and os.environ.get("PSC_DATABASE_URL"):
        return "external"
    return "testcontainers" if _docker_answers() else "embedded"


@pytest.fixture(scope="session")
def backend() -> Iterator[Backend]:
    kind = _choose_backend()
    if kind == "external":
        yield Backend(kind, os.environ["PSC_KAFKA_BOOTSTRAP"], os.environ["PSC_DATABASE_URL"])
    elif kind == "testcontainers":
        yield from _containers()
    elif kind == "embedded":
        # Not under pytest's base temp: a second pytest session on the machine (a developer's, while CI or another
        # run goes on) deletes the oldest base temps, and the database's files with them, mid-run.
        with tempfile.TemporaryDirectory(prefix="psc-test-backend-") as root:
            yield from _embedded(Path(root))
    else:
        raise pytest.UsageError(f"PSC_TEST_BACKEND={kind!r}: use embedded, testcontainers or external")


def _embedded(root: Path) -> Iterator[Backend]:
    import asyncio

    from devstack.postgres import ensure_database, start_postgres
    from devstack.processes import free_port
    from devstack.tansu import start_tansu

    kafka_port, pg_port = free_port(), free_port()
    broker = start_tansu(port=kafka_port, log_dir=root / "log")
    database = start_postgres(data_dir=root / "pgdata", port=pg_port, log_dir=root / "log")
    try:
        url = asyncio.run(ensure_database(host="127.0.0.1", port=pg_port, name="postgres"))
        yield Backend("embedded", f"127.0.0.1:{kafka_port}", url)
    finally:
        database.stop()
        broker.stop()


def _containers() -> Iterator[Backend]:
    try:  # testcontainers >= 4.14 moved the modules under .community
        from testcontainers.community.kafka import KafkaContainer
        from testcontainers.community.postgres import PostgresContainer
    except ImportError:
        from testcontainers.kafka import KafkaContainer
        from testcontainers.postgres import PostgresContainer

    with KafkaContainer().with_kraft() as kafka, PostgresContainer("postgres:16-alpine", driver=None) as postgres:
        yield Backend("testcontainers", kafka.get_bootstrap_server(), postgres.get_connection_url())


@pytest.fixture(scope="module")
def kafka_bootstrap(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The broker this test module talks to: a fresh Tansu of its own on the embedded backend, else the backend's."""
    if backend.kind != "embedded":
        yield backend.kafka_bootstrap
        return
    from devstack.processes import free_port
    from devstack.tansu import start_tansu

    port = free_port()
    broker = start_tansu(port=port, log_dir=tmp_path_factory.mktemp("module-broker"))
    try:
        yield f"127.0.0.1:{port}"
    finally:
        broker.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def topics(backend: Backend, kafka_bootstrap: str) -> tuple[str, ...]:
    await ensure_topics(backend.platform(kafka_bootstrap=kafka_bootstrap), list(ALL_TOPICS))
    return ALL_TOPICS


@contextlib.asynccontextmanager
async def fresh_database(backend: Backend) -> AsyncIterator[str]:
    """A new, empty database; dropped afterwards."""
    name = f"psc_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(backend.admin_database_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base, _, _ = backend.admin_database_url.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        admin = await asyncpg.connect(backend.admin_database_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest_asyncio.fixture(loop_scope="session")
async def database_url(backend: Backend) -> AsyncIterator[str]:
    """A fresh database for one test."""
    async with fresh_database(backend) as url:
        yield url


@pytest.fixture
def platform(backend: Backend, database_url: str, kafka_bootstrap: str) -> PlatformSettings:
    return backend.platform(database_url, kafka_bootstrap)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def module_platform(backend: Backend, kafka_bootstrap: str) -> AsyncIterator[PlatformSettings]:
    """Settings with a fresh database shared by one test module (for modules that start services once)."""
    async with fresh_database(backend) as url:
        yield backend.platform(url, kafka_bootstrap)
