"""Plain SQL files applied in order at start, once each, under an advisory lock so scaled replicas do not race.

A service's migrations are the shared plumbing (outbox, inbox) followed by its own ``migrations/`` folder; both land in
the service's schema. Applied names are recorded in ``<schema>.schema_migrations``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import asyncpg

from shared.db.pool import checked_schema

PLUMBING_MIGRATIONS = Path(__file__).parent / "migrations"


@dataclass(frozen=True)
class MigrationSource:
    label: str
    directory: Path

    def files(self) -> list[Path]:
        return sorted(self.directory.glob("*.sql"))


def plumbing_source() -> MigrationSource:
    return MigrationSource("shared", PLUMBING_MIGRATIONS)


async def apply_migrations(conn: asyncpg.Connection, *, schema: str, sources: list[MigrationSource]) -> list[str]:
    """Apply what has not been applied yet; return the names applied now. Safe to call from every replica."""
    schema = checked_schema(schema)
    applied_now: list[str] = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"psc.migrations.{schema}")
        await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        await conn.execute(f'SET LOCAL search_path TO "{schema}"')
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {row["name"] for row in await conn.fetch("SELECT name FROM schema_migrations")}
        for source in sources:
            for path in source.files():
                name = f"{source.label}/{path.name}"
                if name in done:
                    continue
                await conn.execute(path.read_text())
                await conn.execute("INSERT INTO schema_migrations (name) VALUES ($1)", name)
                applied_now.append(name)
    return applied_now
