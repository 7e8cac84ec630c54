"""A service's schema, migrated, on a test's fresh database: ``from service_databases import migrated_pool``, for
integration tests that drive a service's repositories and use cases on the real PostgreSQL without starting it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg

from shared.db.migrations import MigrationSource, apply_migrations, plumbing_source
from shared.db.pool import connect, create_pool
from shared.settings import PlatformSettings

SERVICES = Path(__file__).resolve().parents[1] / "services"


@contextlib.asynccontextmanager
async def migrated_pool(platform: PlatformSettings, service: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on ``service``'s schema, with the plumbing's and the service's migrations applied."""
    conn = await connect(platform)
    try:
        sources = [plumbing_source(), MigrationSource(service, SERVICES / service / "migrations")]
        await apply_migrations(conn, schema=service, sources=sources)
    finally:
        await conn.close()
    pool = await create_pool(platform, schema=service, application_name=f"test-{service}")
    try:
        yield pool
    finally:
        await pool.close()
