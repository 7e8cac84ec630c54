"""Intake's side of access control: the accounts (routing's staff, followed by ``staff.updated``, with the credentials
intake keeps), sign-in with its rate limit, and the audit log of reads of parents' personal data.

Use cases take an ``AccessUnitOfWork`` (Protocol); ``StaffSubscriber`` is their Kafka transport, and
``IntakeStaffDirectory`` is what ``shared.auth`` asks of every staff token (a staff member made inactive, or whose
credential is disabled, loses access at once, not when the token expires).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol
from uuid import UUID

from fastapi import FastAPI

from services.intake.access_repository import (
    AccessRepository,
    Account,
    AuditEntry,
    AuditQuery,
    PostgresAccessUnitOfWork,
)
from shared.auth import AuthSettings, Principal, StaffRecord, issue_token
from shared.auth.passwords import hash_password, password_matches
from shared.contracts.routing import StaffUpdated
from shared.contracts.topics import STAFF_EVENTS
from shared.db.unit_of_work import Outbox
from shared.kafka.batch_consumer import Incoming
from shared.kafka.event_subscriber import EventSubscriber
from shared.service import ServiceRuntime


class Access(Protocol):
    async def follow_staff(self, *, events: Sequence[StaffUpdated]) -> None: ...

    async def staff_member(self, staff_id: str) -> StaffRecord | None: ...

    async def account(self, username: str) -> Account | None: ...

    async def accounts(self) -> list[Account]: ...

    async def put_credential(self, *, username: str, password_hash: str, now: datetime) -> None: ...

    async def disable_credential(self, *, username: str, now: datetime) -> bool: ...

    async def lock_sign_in(self, *, username: str) -> None: ...

    async def failures_since(self, *, subjects: Sequence[str], since: datetime) -> dict[str, tuple[int, datetime]]: ...

    async def add_failures(self, *, subjects: Sequence[str], at: datetime, forget_before: datetime) -> None: ...

    async def clear_failures(self, *, subject: str) -> None: ...

    async def record_reads(self, *, entries: Sequence[AuditEntry]) -> None: ...

    async def audit(self, query: AuditQuery) -> list[AuditEntry]: ...


class AccessUnitOfWork(Outbox, Protocol):
    @property
    def access(self) -> Access: ...


async def follow_staff(uow: AccessUnitOfWork, events: Sequence[StaffUpdated]) -> None:
    """Apply routing's staff.updated events (the latest of each staff member's, by when routing made the change)."""
    await uow.access.follow_staff(events=events)


@dataclass(frozen=True)
class SignedIn:
    token: str
    expires_in: int


@dataclass(frozen=True)
class SignInRefused:
    """Wrong username or password, a disabled credential or an inactive staff member: all answered alike."""


@dataclass(frozen=True)
class SignInLimited:
    retry_after: int


async def sign_in(
    uow: AccessUnitOfWork, *, username: str, password: str, client: str, settings: AuthSettings, now: datetime
) -> SignedIn | SignInRefused | SignInLimited:
    """Check a username and password. Failed sign-ins are counted per username and per client over a window, in
    PostgreSQL (so every replica counts the same); past a limit, no password is checked until the window moves on.
    A username's sign-ins are serialized, so its limit holds exactly."""
    user, client_subject = f"user:{username}", f"client:{client}"
    limits = {user: settings.sign_in_max_failures_per_user, client_subject: settings.sign_in_max_failures_per_client}
    window = timedelta(seconds=settings.sign_in_window_seconds)
    await uow.access.lock_sign_in(username=username)
    failures = await uow.access.failures_since(subjects=list(limits), since=now - window)
    waits = [
        math.ceil((oldest + window - now).total_seconds())
        for subject, (count, oldest) in failures.items()
        if count >= limits[subject]
    ]
    if waits:
        return SignInLimited(retry_after=max(1, *waits))
    account = await uow.access.account(username)
    matches = await asyncio.to_thread(password_matches, account.password_hash if account else None, password)
    staff = account.staff if account else None
    if not (matches and account and account.disabled_at is None and staff and staff.active):
        await uow.access.add_failures(subjects=list(limits), at=now, forget_before=now - window)
        return SignInRefused()
    await uow.access.clear_failures(subject=user)
    token, expires_in = issue_token(settings, staff_id=staff.staff_id, role=staff.role, network_id=staff.network_id)
    return SignedIn(token, expires_in)


async def set_password(uow: AccessUnitOfWork, *, username: str, password: str, now: datetime) -> None:
    await uow.access.put_credential(username=username, password_hash=hash_password(password), now=now)


async def record_read(
    uow: AccessUnitOfWork,
    principal: Principal,
    inquiry_ids: Sequence[UUID],
    *,
    action: str,
    at: datetime,
    correlation_id: str,
) -> None:
    """Write who read which inquiries' personal data, when, and what they read."""
    await uow.access.record_reads(
        entries=[
            AuditEntry(
                id=0,
                at=at,
                actor_id=principal.id,
                actor_kind=principal.kind,
                actor_role=principal.role.value if principal.role else None,
                inquiry_id=inquiry_id,
                action=action,
                correlation_id=correlation_id,
            )
            for inquiry_id in inquiry_ids
        ]
    )


class StaffSubscriber(EventSubscriber[StaffUpdated, PostgresAccessUnitOfWork]):
    """``psc.routing.staff``: routing's directory, the staff who may have accounts here."""

    name = "staff-accounts"
    handles = (StaffUpdated,)

    async def handle(self, uow: PostgresAccessUnitOfWork, batch: list[Incoming[StaffUpdated]]) -> None:
        await follow_staff(uow, [item.message for item in batch])


class IntakeStaffDirectory:
    """``shared.auth.StaffDirectory`` over intake's copy of the staff directory."""

    def __init__(self, runtime: ServiceRuntime) -> None:
        self._runtime = runtime

    async def staff_member(self, staff_id: str) -> StaffRecord | None:
        async with self._runtime.pool.acquire() as conn:
            return await AccessRepository(conn).staff_member(staff_id)

    async def record_read(
        self, principal: Principal, inquiry_ids: Sequence[UUID], *, action: str, at: datetime, correlation_id: str
    ) -> None:
        """Record a read (its own transaction, committed before the data is answered)."""
        if not inquiry_ids:
            return
        async with self._runtime.unit_of_work(PostgresAccessUnitOfWork) as uow:
            await record_read(uow, principal, inquiry_ids, action=action, at=at, correlation_id=correlation_id)


def serve_access(app: FastAPI, runtime: ServiceRuntime) -> None:
    """Follow routing's staff directory and check every staff token against it (before ``runtime.start()``)."""
    runtime.subscribe(StaffSubscriber(), topic=STAFF_EVENTS, unit_of_work=PostgresAccessUnitOfWork)
    app.state.staff_directory = IntakeStaffDirectory(runtime)
