"""``psc users``: staff accounts, by the same settings the services use (``PSC_DATABASE_URL``).

Accounts are the staff of routing's directory (routing owns staff): adding a user puts the staff member in routing's
directory through routing's own use case, whose ``staff.updated`` event (outbox, relayed by routing) intake follows,
and keeps the credential (an argon2 hash) in intake's schema. Disabling a user disables the credential at once and
makes the staff member inactive in routing's directory (so routing gives them no more inquiries, and every service
that follows staff.updated drops them). The services must have run once, so both schemas exist.
"""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

from services.intake.access import set_password
from services.intake.access_repository import Account, PostgresAccessUnitOfWork
from services.routing import handlers as routing
from services.routing.staff import Staff
from services.routing.unit_of_work import PostgresRoutingUnitOfWork
from shared.auth.principal import Role, network_of
from shared.db.pool import create_pool
from shared.settings import PlatformSettings


class UserError(Exception):
    """Something the operator can fix; the message says what."""


@dataclass(frozen=True)
class User:
    username: str
    role: str | None
    network_id: str | None
    active: bool | None
    """None: routing's staff.updated has not reached intake yet."""
    disabled: bool

    @classmethod
    def of(cls, account: Account) -> User:
        staff = account.staff
        return cls(
            username=account.username,
            role=staff.role if staff else None,
            network_id=staff.network_id if staff else None,
            active=staff.active if staff else None,
            disabled=account.disabled_at is not None,
        )


@dataclass(frozen=True)
class NewUser:
    username: str
    role: Role
    network_id: str
    name: str
    password: str
    email: str | None = None


def generated_password() -> str:
    return secrets.token_urlsafe(15)


async def _pools(platform: PlatformSettings) -> tuple[asyncpg.Pool, asyncpg.Pool]:
    routing_pool = await create_pool(platform, schema="routing", application_name="psc-users")
    intake_pool = await create_pool(platform, schema="intake", application_name="psc-users")
    return routing_pool, intake_pool


async def _missing_schemas(pool: asyncpg.Pool) -> list[str]:
    found = await pool.fetch(
        "SELECT table_schema FROM information_schema.tables WHERE (table_schema, table_name) IN"
        " (('routing', 'staff'), ('intake', 'credentials'))"
    )
    return sorted({"routing", "intake"} - {row["table_schema"] for row in found})


async def add_users(platform: PlatformSettings, users: list[NewUser]) -> None:
    """Add (or change) users; all or none."""
    routing_pool, intake_pool = await _pools(platform)
    try:
        missing = await _missing_schemas(intake_pool)
        if missing:
            raise UserError(f"{' and '.join(missing)} have not run on this database yet: start the services once")
        now = datetime.now(UTC)
        members = [
            Staff(
                id=u.username,
                name=u.name,
                role=u.role.value,
                network_id=network_of(u.role, u.network_id),
                email=u.email,
            )
            for u in users
        ]
        async with PostgresRoutingUnitOfWork(routing_pool) as routing_uow:
            try:
                await routing.put_staff(routing_uow, members, now=now, only_new=False)
            except routing.Refused as refused:
                raise UserError(str(refused)) from None
            async with PostgresAccessUnitOfWork(intake_pool) as intake_uow:
                for user in users:
                    await set_password(intake_uow, username=user.username, password=user.password, now=now)
    finally:
        await routing_pool.close()
        await intake_pool.close()


async def disable_user(platform: PlatformSettings, username: str) -> None:
    routing_pool, intake_pool = await _pools(platform)
    try:
        now = datetime.now(UTC)
        async with PostgresRoutingUnitOfWork(routing_pool) as routing_uow:
            member = await routing_uow.staff.get(staff_id=username)
            async with PostgresAccessUnitOfWork(intake_pool) as intake_uow:
                had_credential = await intake_uow.access.disable_credential(username=username, now=now)
            if member is None and not had_credential:
                raise UserError(f"no such user: {username}")
            if member is not None and member.active:
                inactive = dataclasses.replace(member, active=False)
                await routing.put_staff(routing_uow, [inactive], now=now, only_new=False)
    finally:
        await routing_pool.close()
        await intake_pool.close()


async def list_users(platform: PlatformSettings) -> list[User]:
    pool = await create_pool(platform, schema="intake", application_name="psc-users")
    try:
        if await _missing_schemas(pool):
            raise UserError("intake has not run on this database yet: start the services once")
        async with PostgresAccessUnitOfWork(pool) as uow:
            return [User.of(account) for account in await uow.access.accounts()]
    finally:
        await pool.close()


@dataclass(frozen=True)
class DemoAccount:
    username: str
    password: str
    role: str
    network_id: str


_NETWORK_ROLES = (Role.NETWORK_STAFF, Role.PSA)
_CENTRAL_ROLES = (Role.CENTRAL_STAFF, Role.AUDITOR)


async def add_demo_accounts(platform: PlatformSettings, *, timeout: float = 30.0) -> list[DemoAccount]:
    """One account per role and network (network_staff and psa of every network; central_staff and auditor of
    central) with made-up passwords, for the local stack (``psc run``). A staff member of the directory with that
    role and network is used where there is one (the demo staff file's); others are added (``<network>-<role>``).
    Returns once intake knows them all, so they can sign in."""
    routing_pool, intake_pool = await _pools(platform)
    try:
        networks = await routing_pool.fetch("SELECT id, kind FROM networks ORDER BY kind DESC, id")
        staff = await routing_pool.fetch(
            "SELECT DISTINCT ON (network_id, role) id, name, role, network_id, email FROM staff WHERE active"
            " ORDER BY network_id, role, id"
        )
        existing = {(row["network_id"], row["role"]): row for row in staff}
        wanted: list[NewUser] = []
        for network in networks:
            roles = _CENTRAL_ROLES if network["kind"] == "central" else _NETWORK_ROLES
            for role in roles:
                row = existing.get((network["id"], role.value))
                if row is not None:  # a staff member of the file: as they are, email included
                    user = NewUser(row["id"], role, network["id"], row["name"], generated_password(), row["email"])
                else:
                    made_up = f"{network['id']}-{role.value.replace('_', '-')}"
                    user = NewUser(made_up, role, network["id"], f"Demo {role.value}", generated_password())
                wanted.append(user)
    finally:
        await routing_pool.close()
        await intake_pool.close()
    await add_users(platform, wanted)
    pool = await create_pool(platform, schema="intake", application_name="psc-users")
    try:
        async with asyncio.timeout(timeout):
            names = [user.username for user in wanted]
            while True:  # polling the database: intake applies routing's staff.updated in its own process
                known = await pool.fetchval("SELECT count(*) FROM staff WHERE staff_id = ANY($1::text[])", names)
                if known == len(names):
                    break
                await asyncio.sleep(0.2)
    finally:
        await pool.close()
    return [DemoAccount(u.username, u.password, u.role.value, network_of(u.role, u.network_id)) for u in wanted]
