"""Notify's throughput: messages per second through the real SMTP catcher and SMS sink, with the duplicate count.

1. Starts an embedded PostgreSQL in a temporary directory (notify's migrations), and the mail catcher and the SMS sink
   as processes of their own, as ``make run`` does (the sink without status callbacks: nothing listens for them).
2. Plans: ``--inquiries`` inquiry.submitted events (a parent with an email and a phone who agreed to texts, in the
   seven languages in turn) go through notify's use case in batches of 500, as its subscriber applies them: contacts,
   suppressions, rendering, the delivery log. Two messages each (the acknowledgment by email and by text).
3. Sends: ``--replicas`` delivery dispatchers (each with its own SMTP connections and HTTP pool, as notify replicas
   would have) claim, send and record every delivery; messages/s = deliveries / (last record - first claim).
4. CPU: what the notify process (the dispatchers), the mail catcher, the SMS sink and PostgreSQL each spent per
   message in the sending phase and in the floor, user + system time (psutil): where the time goes, which a shared,
   loaded machine's messages/s hide.
5. Duplicates: what the catcher and the sink received, minus the distinct recipients (each message has its own).
6. The floor, in the same run: the same number of emails and texts sent straight to the catcher and the sink with the
   same senders and connections, no database, no templates, no rounds (every connection busy throughout): what the
   two local providers take at most.
Prints the figures and the ratio notify / floor.

    python -m bench.notify_throughput [--inquiries 5000] [--replicas 2] [--smtp-connections 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil
import uvloop

from devstack.postgres import ensure_database, start_postgres
from devstack.processes import free_port
from devstack.stack import SMS_ACCOUNT_SID
from services.notify import handlers
from services.notify.app import MIGRATIONS
from services.notify.dispatcher import DeliveryDispatcher
from services.notify.providers import EmailOut, SmsSender, SmtpSender
from services.notify.templates import TemplateRenderer
from services.notify.unit_of_work import PostgresNotifyUnitOfWork
from shared.contracts.inquiries import InquirySubmitted, Language
from shared.db.migrations import MigrationSource, apply_migrations, plumbing_source
from shared.db.pool import connect, create_pool
from shared.settings import PlatformSettings

SCHEMA = "notify"
TARGET = 2000.0
LANGUAGES = [language.value for language in Language]
# 10:00 in Chicago on a Wednesday: no text is held for quiet hours.
NOON = datetime(2026, 11, 25, 16, 0, tzinfo=UTC)


class NoonClock:
    """The wall clock's pace from a weekday morning in Chicago (texts are not held for quiet hours)."""

    def __init__(self) -> None:
        self._start = time.time()

    def now(self) -> datetime:
        return datetime.fromtimestamp(NOON.timestamp() + time.time() - self._start, UTC)


class CpuMeter:
    """CPU seconds (user + system) that each role spent since the last ``lap``: this process alone for notify (the
    sinks and PostgreSQL are its children), each other role's process with its children (PostgreSQL's backends)."""

    def __init__(self, pids: dict[str, int]) -> None:
        self._processes = {role: psutil.Process(pid) for role, pid in pids.items()}
        self._last = self._read()

    def _read(self) -> dict[str, float]:
        spent: dict[str, float] = {}
        for role, process in self._processes.items():
            family = [process] if process.pid == os.getpid() else [process, *process.children(recursive=True)]
            total = 0.0
            for each in family:
                try:
                    times = each.cpu_times()
                    total += times.user + times.system
                except psutil.NoSuchProcess:
                    pass
            spent[role] = total
        return spent

    def lap(self) -> dict[str, float]:
        now = self._read()
        spent = {role: now[role] - self._last.get(role, 0.0) for role in now}
        self._last = now
        return spent


def submitted(n: int, run: str) -> InquirySubmitted:
    return InquirySubmitted.model_validate(
        {
            "inquiry_id": uuid.uuid4(),
            "occurred_at": NOON,
            "correlation_id": f"bench-{run}-{n}",
            "reference": f"PSC-26-{n:06d}",
            "category": "attendance",
            "channel": "web",
            "status_token": uuid.uuid4().hex[:22],
            "parent": {
                "name": "Ana Lopez",
                "email": f"parent{n}.{run}@example.org",
                "mobile_phone": f"+1312{200 + n // 10000:03d}{n % 10000:04d}",
                "preferred_language": LANGUAGES[n % len(LANGUAGES)],
                "sms_consent": True,
            },
            "student": {"school_id": 609794, "grade": "3"},
        }
    )


async def wait_http(url: str, seconds: float = 20) -> None:
    async with httpx.AsyncClient(timeout=2) as client:
        deadline = time.time() + seconds
        while time.time() < deadline:
            try:
                if (await client.get(url)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


def start_sinks(ports: dict[str, int]) -> list[subprocess.Popen[bytes]]:
    mail = [sys.executable, "-m", "devstack.mailcatcher"]
    mail += ["--smtp-port", str(ports["smtp"]), "--http-port", str(ports["mail"])]
    sms = [sys.executable, "-m", "devstack.smssink", "--port", str(ports["sms"]), "--no-status-callbacks"]
    return [subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for command in (mail, sms)]


async def received(ports: dict[str, int]) -> tuple[int, int, int, int]:
    """(emails, distinct email recipients, texts, distinct text recipients) the sinks hold."""
    async with httpx.AsyncClient(timeout=60) as client:
        mail = (await client.get(f"http://127.0.0.1:{ports['mail']}/api/v1/messages?limit=100000")).json()
        texts = (await client.get(f"http://127.0.0.1:{ports['sms']}/api/messages")).json()
    mail_to = [m["To"][0]["Address"] for m in mail["messages"]]
    text_to = [t["to"] for t in texts]
    return len(mail_to), len(set(mail_to)), len(text_to), len(set(text_to))


async def clear(ports: dict[str, int]) -> None:
    async with httpx.AsyncClient(timeout=60) as client:
        await client.delete(f"http://127.0.0.1:{ports['mail']}/api/v1/messages")
        await client.delete(f"http://127.0.0.1:{ports['sms']}/api/messages")


def providers(ports: dict[str, int], connections: int) -> tuple[SmtpSender, SmsSender]:
    email = SmtpSender(
        host="127.0.0.1", port=ports["smtp"], sender="PSC <psc@district.example>", connections=connections
    )
    sms = SmsSender(
        api_url=f"http://127.0.0.1:{ports['sms']}",
        account_sid=SMS_ACCOUNT_SID,
        auth_token="development",  # noqa: S106 - the development sink's
        sender="+13125550100",
        status_callback="",
    )
    return email, sms


async def plan(pool: asyncpg.Pool, inquiries: int, run: str) -> float:
    renderer, rules = TemplateRenderer(), handlers.Rules(status_base_url="https://parents.district.example")
    events = [submitted(n, run) for n in range(inquiries)]
    began = time.perf_counter()
    for start in range(0, len(events), 500):
        async with PostgresNotifyUnitOfWork(pool) as uow:
            await handlers.apply_case_events(uow, events[start : start + 500], renderer=renderer, now=NOON, rules=rules)
    return time.perf_counter() - began


async def dispatch(pool: asyncpg.Pool, ports: dict[str, int], *, replicas: int, connections: int, total: int) -> float:
    clock = NoonClock()
    senders = [providers(ports, connections) for _ in range(replicas)]
    dispatchers = [
        DeliveryDispatcher(
            pool,
            email=email,
            sms=sms,
            clock=clock,
            batch_size=200,
            max_attempts=6,
            lease_seconds=300,
            renderer=TemplateRenderer(),
            rules=handlers.Rules(),
        )
        for email, sms in senders
    ]
    began = time.perf_counter()

    async def drain(dispatcher: DeliveryDispatcher) -> None:
        while await dispatcher.dispatch_due():
            pass

    await asyncio.gather(*(drain(d) for d in dispatchers))
    elapsed = time.perf_counter() - began
    for email, sms in senders:
        await email.close()
        await sms.close()
    left = await pool.fetchval("SELECT count(*) FROM deliveries WHERE status <> 'sent'")
    if left:
        raise RuntimeError(f"{left} deliveries not sent")
    return elapsed


async def floor(ports: dict[str, int], *, replicas: int, connections: int, total: int) -> float:
    """The same messages straight to the catcher and the sink: the same senders and connections, nothing else.

    No rounds either: each replica hands all its messages to its senders at once, so every SMTP session and HTTP
    connection stays busy from the first message to the last: the most the two local providers take this way."""
    senders = [providers(ports, connections) for _ in range(replicas)]
    per_replica = total // 2 // replicas
    body = "Dear Ana Lopez,\n\nWe received your concern PSC-26-000001.\n" * 4

    async def replica(index: int, email: SmtpSender, sms: SmsSender) -> None:
        mails = [
            EmailOut(
                delivery_id=uuid.uuid4(),
                recipient=f"floor{index}.{n}@example.org",
                subject="We received your concern (PSC-26-000001)",
                body=body,
                message_id=f"<{uuid.uuid4().hex}@psc.local>",
                html=f"<p>{body}</p>",
            )
            for n in range(per_replica)
        ]
        texts = [(uuid.uuid4(), f"+1773{index}{n:06d}", body[:150]) for n in range(per_replica)]
        sent_mail, sent_texts = await asyncio.gather(email.send_all(mails), sms.send_all(texts))
        failed = sum(1 for result in [*sent_mail, *sent_texts] if not result.ok)
        if failed:
            raise RuntimeError(f"the floor: {failed} sends failed")

    began = time.perf_counter()
    await asyncio.gather(*(replica(i, email, sms) for i, (email, sms) in enumerate(senders)))
    elapsed = time.perf_counter() - began
    for email, sms in senders:
        await email.close()
        await sms.close()
    return elapsed


async def main(args: argparse.Namespace) -> dict[str, Any]:
    ports = {"smtp": free_port(), "mail": free_port(), "sms": free_port()}
    sinks = start_sinks(ports)
    try:
        await wait_http(f"http://127.0.0.1:{ports['mail']}/health")
        await wait_http(f"http://127.0.0.1:{ports['sms']}/health")
        with tempfile.TemporaryDirectory(prefix="psc-notify-bench-") as tmp:
            port = free_port()
            database = start_postgres(data_dir=Path(tmp) / "pgdata", port=port, log_dir=Path(tmp) / "log")
            try:
                url = await ensure_database(host="127.0.0.1", port=port, name="notify_bench")
                platform = PlatformSettings(database_url=url, database_pool_max=10)
                conn = await connect(platform)
                try:
                    await apply_migrations(
                        conn, schema=SCHEMA, sources=[plumbing_source(), MigrationSource(SCHEMA, MIGRATIONS)]
                    )
                finally:
                    await conn.close()
                pool = await create_pool(platform, schema=SCHEMA, application_name="bench-notify")
                total = args.inquiries * 2
                try:
                    print(f"planning {args.inquiries:,} acknowledgments ({total:,} messages) ...", flush=True)
                    planned_s = await plan(pool, args.inquiries, uuid.uuid4().hex[:6])
                    print(f"sending them: {args.replicas} dispatchers ...", flush=True)
                    meter = CpuMeter(
                        {
                            "notify": os.getpid(),
                            "mail catcher": sinks[0].pid,
                            "SMS sink": sinks[1].pid,
                            "PostgreSQL": database.process.pid,
                        }
                    )
                    sent_s = await dispatch(
                        pool, ports, replicas=args.replicas, connections=args.smtp_connections, total=total
                    )
                    send_cpu = meter.lap()
                    counts = await received(ports)
                finally:
                    await pool.close()
            finally:
                database.stop()
        await clear(ports)
        print("floor: the same count straight to the catcher and the sink ...", flush=True)
        meter = CpuMeter({"notify": os.getpid(), "mail catcher": sinks[0].pid, "SMS sink": sinks[1].pid})
        floor_s = await floor(ports, replicas=args.replicas, connections=args.smtp_connections, total=total)
        floor_cpu = meter.lap()
    finally:
        for process in sinks:
            process.terminate()
        for process in sinks:
            process.wait(timeout=10)
    emails, email_recipients, texts, text_recipients = counts
    return {
        "inquiries": args.inquiries,
        "messages": total,
        "replicas": args.replicas,
        "smtp_connections": args.smtp_connections,
        "plan_s": planned_s,
        "plan_per_s": total / planned_s,
        "send_s": sent_s,
        "send_per_s": total / sent_s,
        "emails": emails,
        "texts": texts,
        "duplicates": (emails - email_recipients) + (texts - text_recipients),
        "missing": total - email_recipients - text_recipients,
        "floor_s": floor_s,
        "floor_per_s": (total // 2 // args.replicas * args.replicas * 2) / floor_s,
        "send_cpu_us_per_message": {role: spent / total * 1e6 for role, spent in send_cpu.items()},
        "send_cores_busy": sum(send_cpu.values()) / sent_s,
        "floor_cpu_us_per_message": {role: spent / total * 1e6 for role, spent in floor_cpu.items()},
        "floor_cores_busy": sum(floor_cpu.values()) / floor_s,
    }


def report(r: dict[str, Any]) -> None:
    print(f"\n== Parent Support Center: notify throughput ({r['messages']:,} messages, {r['replicas']} dispatchers) ==")
    print(f"planning (events -> delivery log)  {r['plan_per_s']:>8.0f} messages/s  ({r['plan_s']:.2f} s)")
    print(
        f"sending (claim, send, record)      {r['send_per_s']:>8.0f} messages/s  ({r['send_s']:.2f} s;"
        f" {r['emails']:,} emails, {r['texts']:,} texts received)"
    )
    print(f"duplicates                          {r['duplicates']:>8}   missing {r['missing']}")
    print(f"floor (straight to catcher + sink) {r['floor_per_s']:>8.0f} messages/s  ({r['floor_s']:.2f} s)")
    print(f"ratio notify / floor                {r['send_per_s'] / r['floor_per_s']:.3f}")
    for phase in ("send", "floor"):
        spent = ", ".join(f"{role} {us:.0f}" for role, us in r[f"{phase}_cpu_us_per_message"].items())
        print(f"CPU per message, {phase:<5} (us)      {spent}; {r[f'{phase}_cores_busy']:.2f} cores busy")
    met = r["send_per_s"] >= TARGET and r["duplicates"] == 0 and r["missing"] == 0
    print(f"target >= {TARGET:,.0f} messages/s and 0 duplicates: {'met' if met else 'NOT met'}")


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--inquiries", type=int, default=5000, help="acknowledgments: two messages each")
    parser.add_argument("--replicas", type=int, default=2, help="delivery dispatchers, as notify replicas")
    parser.add_argument("--smtp-connections", type=int, default=8, help="SMTP connections per dispatcher")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    # On uvloop, as notify's process runs (uvicorn's loop="auto" picks it): the dispatchers here are notify's.
    results = uvloop.run(main(args))
    report(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    cli()
