"""Connection pools: one per service, pinned to the service's own schema."""

from __future__ import annotations

import json
import re

import asyncpg

from shared.settings import PlatformSettings

_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def checked_schema(schema: str) -> str:
    """Schema names go into SQL text (they cannot be parameters), so only plain identifiers pass."""
    if not _SCHEMA_NAME.match(schema):
        raise ValueError(f"schema name {schema!r} is not a plain lower-case identifier")
    return schema


async def _init_connection(conn: asyncpg.Connection) -> None:
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(type_name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def create_pool(settings: PlatformSettings, *, schema: str, application_name: str) -> asyncpg.Pool:
    """A pool whose connections see the service's schema first (``search_path``), so SQL names tables plainly."""
    pool = await asyncpg.create_pool(
        dsn=settings.database_url.get_secret_value(),
        min_size=settings.database_pool_min,
        max_size=settings.database_pool_max,
        init=_init_connection,
        server_settings={"search_path": checked_schema(schema), "application_name": application_name},
    )
    assert pool is not None
    return pool


async def connect(settings: PlatformSettings, *, schema: str | None = None) -> asyncpg.Connection:
    """A single connection, for the migrations runner and listeners (LISTEN needs a connection of its own)."""
    server_settings = {"search_path": checked_schema(schema)} if schema else {}
    conn: asyncpg.Connection = await asyncpg.connect(
        dsn=settings.database_url.get_secret_value(), server_settings=server_settings
    )
    await _init_connection(conn)
    return conn
