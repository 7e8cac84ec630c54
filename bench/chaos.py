"""The fault run (``make chaos``): the stack under a steady load while processes die, the database and broker restart,
a consumer is paused past its session and malformed records arrive; then it counts what became of every inquiry.

1. Starts the stack in process (``devstack.stack.Stack``) on free ports with two routing and two notify processes,
   supervised, routing's clock sped up (``PSC_CLOCK_SPEED``) so SLA deadlines fall due during the run.
2. Submits inquiries at a fixed rate through both doors: ``POST /v1/inquiries`` with an ``Idempotency-Key`` (retried
   with the same key on a connection error or a 5xx, as a careful client does) and ``SubmitInquiry`` on
   ``psc.inquiries.submit`` (sent again with the same correlation id and idempotency key when its
   ``inquiry.submitted`` has not appeared after a timeout, as a real submitter does: a command the lost broker held
   unconsumed is gone, and only its sender can send it again). Each inquiry has its own email address, and one in
   four a mobile number with consent, so the mail catcher and the SMS sink can be matched per inquiry.
3. Meanwhile, at seeded random moments: ``kill -9`` of every service process (several times each; the supervisor
   restarts it), a PostgreSQL restart, a SIGSTOP past the consumer session timeout and SIGCONT (a rebalance),
   bursts of malformed records on every consumed topic (not JSON, wrong types, a header that is not UTF-8, an
   unknown event version), and once a broker restart with the outboxes' replay.
4. Stops the load, lets the system settle, and checks from the databases, the mail catcher, the SMS sink and the
   topics: every accepted inquiry exists once and is assigned; each expected notification went exactly once; every
   SLA warning, escalation and breach that fell due fired once; every consumer group committed to the end of its
   topics; the dead-letter topic holds only the malformed records sent, and each of them was parked or rejected.
5. Runs the same load with the same seed without faults, for the throughput and p99 ratios.

Prints a table (counts only: no address or name). Exits 1 if any check failed: anything lost or duplicated, a
notification missing, an escalation due and not fired, a group stuck, a good record parked or a bad one unhandled.

    python -m bench.chaos [--duration 180] [--rate 8] [--seed 7] [--no-baseline]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import random
import re
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from devstack.stack import Stack, StackInfo, StackPorts
from devstack.supervision import RestartPolicy
from services.notify.providers import message_id_for
from shared.contracts.topics import (
    CATALOG_EVENTS,
    CATALOG_LOOKUPS,
    CATALOG_REPLIES,
    CATALOG_UPSERTS,
    DEAD_LETTERS,
    INQUIRY_EVENTS,
    INQUIRY_REJECTIONS,
    INQUIRY_SUBMISSIONS,
    ROUTING_EVENTS,
)
from shared.kafka.connection import create_producer
from shared.settings import PlatformSettings

REPLICAS = {"routing": 2, "notify": 2}
# Each subscription's consumer group (docs/architecture.md, "Consumer groups") and the topic it reads.
GROUPS = {
    "psc.intake.inquiry-submissions": INQUIRY_SUBMISSIONS,
    "psc.intake.routing-events": ROUTING_EVENTS,
    "psc.routing.inquiry-submitted": INQUIRY_EVENTS,
    "psc.notify.inquiry-submitted": INQUIRY_EVENTS,
    "psc.catalog.catalog-lookups": CATALOG_LOOKUPS,
    "psc.catalog.catalog-upserts": CATALOG_UPSERTS,
}
# How many subscriptions read each consumed topic: a malformed event is parked once by each of them.
READERS = Counter(GROUPS.values())
COMMAND_TOPICS = (INQUIRY_SUBMISSIONS, CATALOG_LOOKUPS, CATALOG_UPSERTS)
MALFORMED_KINDS = ("not_json", "wrong_types", "header_not_utf8", "unknown_version")
SLA_EVENTS = ("inquiry.sla_warning", "inquiry.escalated", "inquiry.sla_breached")
# Fictional mobile numbers (555-0100 to 555-0199) in Chicago's area codes: 400 of them, each used once per run.
AREA_CODES = (312, 773, 872, 708)
SMS_NUMBERS = [f"+1{area}55501{n:02d}" for area in AREA_CODES for n in range(100)]
SCHOOLS = (609794, 610212, 609678, 999999)  # three schools with a network office, one unknown (central)
CATEGORIES = ("special_education", "attendance", "safety_and_bullying", "transportation", "enrollment")
LANGUAGES = ("en", "es", "zh", "pl")
RESEND_AFTER = 30.0  # a Kafka submitter's timeout before it sends the same command again
HTTP_GIVE_UP = 120.0  # a careful HTTP client retries that long before it gives up
PAUSE_SECONDS = 15.0  # past aiokafka's 10 s consumer session timeout
FAULT_GAP = 4.0  # seconds at least between the end of one fault and the next (a broker restart: three times more)
SETTLE_TIMEOUT = 300.0
RESTART_POLICY = RestartPolicy(crash_limit=8)


@dataclass(frozen=True)
class Config:
    duration: float = 180.0
    rate: float = 8.0  # inquiries per second, half through each door
    seed: int = 7
    faults: bool = True
    kills_each: int = 2
    bursts: int = 3
    burst_copies: int = 2  # records of each kind on each topic per burst
    # Routing's clock: a business day in ~1.6 s, so deadlines fall due even when the run starts in a closed week of
    # the district calendar (Thanksgiving, the winter break), which x2000 does not cross in a short run.
    clock_speed: float = 20000.0
    postgres_crash: bool = True  # kill -9 of PostgreSQL, else a fast restart (``Stack.restart_database``)


# -- the inquiries ----------------------------------------------------------------------------------------------------


@dataclass
class Inquiry:
    index: int
    door: str  # "http" or "kafka"
    email: str
    phone: str | None
    key: str  # the idempotency key; over Kafka also the correlation id
    body: dict[str, Any]
    first_sent: float = 0.0  # epoch seconds
    last_sent: float = 0.0
    sends: int = 0
    accepted: bool = False
    gave_up: str | None = None
    inquiry_id: str | None = None
    reference: str | None = None


def make_inquiries(cfg: Config, run: str) -> list[Inquiry]:
    rng = random.Random(cfg.seed)
    count = int(cfg.duration * cfg.rate)
    out: list[Inquiry] = []
    phones = iter(SMS_NUMBERS)
    for i in range(count):
        door = "http" if i % 2 == 0 else "kafka"
        email = f"chaos.{run}.{i}@chaos.example"
        phone = next(phones, None) if i % 4 == 1 else None
        parent: dict[str, Any] = {"name": f"Parent {i}", "email": email, "preferred_language": rng.choice(LANGUAGES)}
        if phone:
            parent |= {"mobile_phone": phone, "sms_consent": True}
        body: dict[str, Any] = {
            "parent": parent,
            "student": {"school_id": rng.choice(SCHOOLS), "grade": rng.choice(("K", "3", "8", "11"))},
            "category": rng.choice(CATEGORIES),
            "description": "Fault run inquiry: the concern as staff recorded it.",
            "channel": "district_system" if door == "kafka" else "phone",
        }
        key = f"chaos-{run}-{i}"
        if door == "kafka":
            body |= {"correlation_id": key, "idempotency_key": key}
        out.append(Inquiry(i, door, email, phone, key, body))
    return out


# -- what the topics say: one reader of every topic that matters, surviving broker restarts ---------------------------


@dataclass
class Seen:
    submitted: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # correlation id -> inquiry ids
    references: dict[str, tuple[str, str]] = field(default_factory=dict)  # correlation id -> (inquiry id, reference)
    sla: dict[tuple[str, ...], set[str]] = field(default_factory=lambda: defaultdict(set))  # what fired -> event ids
    parked: dict[str, list[tuple[str, str]]] = field(default_factory=lambda: defaultdict(list))  # key -> (sub, at)
    parked_unknown: int = 0  # dead letters whose key is none of the malformed records sent
    rejected: set[str] = field(default_factory=set)  # correlation ids of rejections
    _parked_ids: set[tuple[str, str, str]] = field(default_factory=set)


def _header(headers: Any, name: str) -> str | None:
    for key, value in headers or ():
        if key == name and value is not None:
            return bytes(value).decode(errors="replace")
    return None


def sla_key(event: dict[str, Any]) -> tuple[str, ...]:
    """What may fire once per inquiry: a warning per tier and clock, an escalation out of a tier, one breach."""
    kind = event["event_type"]
    if kind == "inquiry.sla_warning":
        return (event["inquiry_id"], kind, event["tier"], event["clock"])
    if kind == "inquiry.escalated":
        return (event["inquiry_id"], kind, event["from_tier"])
    return (event["inquiry_id"], kind)


class Collector:
    """Reads the topics from their start without a consumer group; starts over after a broker restart (the new
    broker's topics begin at 0 and hold the replayed events: what was seen before is seen again, and kept once)."""

    TOPICS = (INQUIRY_EVENTS, ROUTING_EVENTS, INQUIRY_REJECTIONS, DEAD_LETTERS, CATALOG_REPLIES, CATALOG_EVENTS)

    def __init__(self, bootstrap: str, bad_keys: set[str]) -> None:
        self.seen = Seen()
        self._bootstrap = bootstrap
        self._bad_keys = bad_keys
        self._rewind = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="collector")

    def rewind(self) -> None:
        self._rewind.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            consumer = AIOKafkaConsumer(
                *self.TOPICS,
                bootstrap_servers=self._bootstrap,
                group_id=None,
                auto_offset_reset="earliest",
                enable_auto_commit=False,
                fetch_max_wait_ms=200,
            )
            try:
                await consumer.start()
                self._rewind.clear()
                while not self._rewind.is_set():
                    batches = await consumer.getmany(timeout_ms=500, max_records=5000)
                    for records in batches.values():
                        for record in records:
                            self._take(record)
            except asyncio.CancelledError:
                raise
            except Exception:  # the broker went away: read everything again from the new one
                await asyncio.sleep(1.0)
            finally:
                with contextlib.suppress(Exception):
                    await consumer.stop()

    def _take(self, record: Any) -> None:
        seen = self.seen
        if record.topic == DEAD_LETTERS:
            key = bytes(record.key).decode(errors="replace") if record.key is not None else ""
            subscriber = _header(record.headers, "dlq.subscriber") or "?"
            origin = (
                f"{_header(record.headers, 'dlq.origin.topic')}/{_header(record.headers, 'dlq.origin.partition')}"
                f"/{_header(record.headers, 'dlq.origin.offset')}/{_header(record.headers, 'dlq.failed_at')}"
            )
            identity = (key, subscriber, origin)
            if identity in seen._parked_ids:
                return
            seen._parked_ids.add(identity)
            if key in self._bad_keys:
                seen.parked[key].append((subscriber, origin))
            else:
                seen.parked_unknown += 1
            return
        try:
            event = json.loads(record.value)
        except (TypeError, ValueError):
            return  # one of our malformed records, on a topic we also read
        if not isinstance(event, dict) or not isinstance(event.get("event_type"), str):
            return
        kind = event["event_type"]
        try:
            if record.topic == INQUIRY_EVENTS and kind == "inquiry.submitted" and event.get("version") == 1:
                if str(event.get("correlation_id", "")).startswith("chaos-bad-"):
                    return
                seen.submitted[event["correlation_id"]].add(event["inquiry_id"])
                seen.references[event["correlation_id"]] = (event["inquiry_id"], event["reference"])
            elif record.topic == ROUTING_EVENTS and kind in SLA_EVENTS and event.get("version") == 1:
                seen.sla[sla_key(event)].add(event["event_id"])
            elif kind.endswith("rejected"):
                seen.rejected.add(str(event.get("correlation_id")))
        except (KeyError, TypeError):
            return


# -- malformed records ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Malformed:
    key: str
    topic: str
    kind: str
    value: bytes
    headers: list[tuple[str, bytes]]


def _valid_event(topic: str, key: str) -> dict[str, Any]:
    """A well-formed event of the type the topic's readers handle (its version is what is wrong with it)."""
    envelope = {
        "event_id": str(uuid.uuid4()),
        "version": 99,
        "occurred_at": datetime.now(UTC).isoformat(),
        "correlation_id": key,
        "inquiry_id": str(uuid.uuid4()),
    }
    if topic == INQUIRY_EVENTS:
        return envelope | {
            "event_type": "inquiry.submitted",
            "reference": "PSC-26-999999",
            "category": "attendance",
            "channel": "district_system",
            "parent": {"name": "Version Test", "email": f"{key}@bad.chaos.example", "preferred_language": "en"},
            "student": {"school_id": 609794, "grade": "3"},
        }
    return envelope | {
        "event_type": "inquiry.assigned",
        "network_id": "N1",
        "network_name": "Network 1",
        "queue": "network",
        "tier": "network",
        "reason": "school_network",
        "school_id": 609794,
        "due_at": datetime.now(UTC).isoformat(),
    }


def _valid_command(topic: str, key: str) -> dict[str, Any]:
    if topic == INQUIRY_SUBMISSIONS:
        return {
            "parent": {"name": "Version Test", "email": f"{key}@bad.chaos.example"},
            "student": {"school_id": 609794, "grade": "3"},
            "category": "attendance",
            "description": "A command with a field nobody declared.",
            "channel": "district_system",
            "correlation_id": key,
        }
    if topic == CATALOG_LOOKUPS:
        return {"request_id": str(uuid.uuid4()), "correlation_id": key, "q": "attendance"}
    return {"service_id": "chaos-test", "correlation_id": key, "request_id": str(uuid.uuid4())}


def malformed(topic: str, kind: str, key: str) -> Malformed:
    """One bad record: every one carries its key as the record key and its correlation id (body or header), so its
    dead letter or its rejection can be found again."""
    event_type = {INQUIRY_EVENTS: b"inquiry.submitted", ROUTING_EVENTS: b"inquiry.assigned"}.get(topic)
    headers = [("correlation_id", key.encode())] + ([("event_type", event_type)] if event_type else [])
    if kind == "not_json":
        return Malformed(key, topic, kind, b"\xff{not json at all", headers)
    if kind == "wrong_types":
        body: dict[str, Any] = {"correlation_id": key}
        if event_type:
            body |= {"event_id": 5, "event_type": event_type.decode(), "version": "1", "inquiry_id": [1]}
        elif topic == INQUIRY_SUBMISSIONS:
            body |= {"parent": "nobody", "student": {"school_id": "609794", "grade": 3}, "category": 7}
        elif topic == CATALOG_LOOKUPS:
            body |= {"request_id": 12, "q": ["attendance"], "limit": "20"}
        else:
            body |= {"service_id": 5, "request_id": "not-a-uuid"}
        return Malformed(key, topic, kind, json.dumps(body).encode(), headers)
    if kind == "header_not_utf8":
        bad = [("correlation_id", key.encode()), ("event_type", b"\xff\xfe\x00"), ("x-trace", b"\xff\xfe")]
        body = _valid_event(topic, key) | {"version": 1} if event_type else {"correlation_id": key}
        return Malformed(key, topic, kind, json.dumps(body).encode(), bad)
    body = _valid_event(topic, key) if event_type else _valid_command(topic, key) | {"version": 99}
    return Malformed(key, topic, kind, json.dumps(body).encode(), headers)


CONSUMED_TOPICS = (INQUIRY_SUBMISSIONS, INQUIRY_EVENTS, ROUTING_EVENTS, CATALOG_LOOKUPS, CATALOG_UPSERTS)


def burst_records(run: str, burst: int, copies: int) -> list[Malformed]:
    return [
        malformed(topic, kind, f"chaos-bad-{run}-{burst}-{topic}-{kind}-{n}")
        for topic in CONSUMED_TOPICS
        for kind in MALFORMED_KINDS
        for n in range(copies)
    ]


# -- the load -----------------------------------------------------------------------------------------------------


class Load:
    def __init__(self, info: StackInfo, inquiries: list[Inquiry], seen: Seen) -> None:
        self._info = info
        self.inquiries = inquiries
        self._seen = seen
        self._producer: AIOKafkaProducer | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._resender: asyncio.Task[None] | None = None
        self.kafka_resends = 0
        self.http_retries = 0

    async def run(self, rate: float) -> None:
        """Each inquiry at its time (an open loop: a slow answer does not slow the offered load)."""
        self._producer = create_producer(
            PlatformSettings(kafka_bootstrap=self._info.kafka_bootstrap), client_id="chaos"
        )
        await self._producer.start()
        self._resender = asyncio.create_task(self._resend_forever())
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=32)
        async with httpx.AsyncClient(timeout=10.0, limits=limits) as http:
            began = time.monotonic()
            for item in self.inquiries:
                delay = began + item.index / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                send = self._post(http, item) if item.door == "http" else self._publish(item)
                task = asyncio.create_task(send, name=f"{item.door}-{item.index}")
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            await asyncio.gather(*(t for t in list(self._tasks) if t.get_name().startswith("http-")))

    async def finish(self, until: asyncio.Event, timeout: float) -> None:
        """Keep sending unconfirmed Kafka commands again until ``until`` is set or the timeout; then stop."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(until.wait(), timeout)
        for task in [*self._tasks, *([self._resender] if self._resender else [])]:
            task.cancel()
        if self._resender is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._resender
        if self._producer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._producer.stop(), 10)

    async def _post(self, http: httpx.AsyncClient, item: Inquiry) -> None:
        item.first_sent = time.time()
        pause, give_up = 0.5, time.monotonic() + HTTP_GIVE_UP
        while True:
            item.sends += 1
            try:
                answer = await http.post(
                    self._info.urls["intake_api"],
                    json=item.body,
                    headers={"Idempotency-Key": item.key, "X-API-Key": str(self._info.demo_api_keys[0]["key"])},
                )
            except httpx.HTTPError:
                answer = None
            if answer is not None and answer.status_code in (200, 201):
                created = answer.json()
                item.accepted, item.inquiry_id, item.reference = True, created["id"], created["reference"]
                return
            if answer is not None and answer.status_code < 500 and answer.status_code != 429:
                item.gave_up = f"HTTP {answer.status_code}"  # a refusal: the harness sent something wrong
                return
            if time.monotonic() > give_up:
                item.gave_up = "no answer"
                return
            self.http_retries += 1
            await asyncio.sleep(pause)
            pause = min(pause * 2, 4.0)

    async def _publish(self, item: Inquiry) -> None:
        assert self._producer is not None
        now = time.time()
        item.first_sent = item.first_sent or now
        item.last_sent, item.sends = now, item.sends + 1
        with contextlib.suppress(Exception):  # the broker is away: the resender sends it again later
            delivery = await asyncio.wait_for(
                self._producer.send(INQUIRY_SUBMISSIONS, json.dumps(item.body).encode(), key=item.key.encode()), 10
            )
            await asyncio.wait_for(delivery, 30)

    async def _resend_forever(self) -> None:
        while True:
            await asyncio.sleep(2.0)
            now = time.time()
            for item in self.inquiries:
                if item.door != "kafka" or not item.sends:
                    continue
                if item.key in self._seen.submitted:
                    if not item.accepted:
                        item.accepted = True
                        item.inquiry_id, item.reference = self._seen.references[item.key]
                    continue
                if now - item.last_sent > RESEND_AFTER:
                    self.kafka_resends += 1
                    task = asyncio.create_task(self._publish(item))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)


# -- the faults -----------------------------------------------------------------------------------------------------


@dataclass
class Fault:
    at: float  # seconds into the load
    kind: str  # kill, postgres, pause, malformed, broker
    target: str = ""
    started: float = 0.0  # epoch seconds
    recovered_after: float | None = None
    note: str = ""


def plan_faults(cfg: Config, stack: Stack) -> list[Fault]:
    rng = random.Random(cfg.seed * 7919 + 1)
    span = (0.08 * cfg.duration, 0.75 * cfg.duration)
    faults = [Fault(rng.uniform(0.35, 0.55) * cfg.duration, "broker")]
    processes = [name for service in stack.services for name in stack.replicas(service)]
    for name in processes:
        faults += [Fault(rng.uniform(*span), "kill", name) for _ in range(cfg.kills_each)]
    faults.append(Fault(rng.uniform(*span), "postgres", "postgres"))
    consumers = [name for service in ("routing", "notify") for name in stack.replicas(service)]
    faults.append(Fault(rng.uniform(*span), "pause", rng.choice(consumers)))
    faults += [Fault(rng.uniform(*span), "malformed", f"burst {n + 1}") for n in range(cfg.bursts)]
    faults.sort(key=lambda f: f.at)
    for n, burst in enumerate(f for f in faults if f.kind == "malformed"):
        burst.target = f"burst {n + 1}"
    return faults


class Faults:
    def __init__(
        self,
        cfg: Config,
        stack: Stack,
        info: StackInfo,
        collector: Collector,
        run: str,
        bad_keys: set[str],
        inquiries: list[Inquiry],
    ) -> None:
        self._inquiries = inquiries
        self._cfg = cfg
        self._stack = stack
        self._info = info
        self._collector = collector
        self._run = run
        self.plan = plan_faults(cfg, stack)
        self.sent_bad: list[Malformed] = []
        self.bad_keys = bad_keys
        self._bursts = 0
        self._watchers: list[asyncio.Task[None]] = []

    async def run(self, began: float) -> None:
        """Each fault at its moment, one after the other (a pause holds the line for its length)."""
        free_at = began
        for fault in self.plan:
            gap = FAULT_GAP * (3 if fault.kind == "broker" else 1)
            delay = max(began + fault.at, free_at + gap) - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            fault.at = time.monotonic() - began
            fault.started = time.time()
            await getattr(self, f"_{fault.kind}")(fault)
            free_at = time.monotonic() + (2 * FAULT_GAP if fault.kind == "broker" else 0)

    async def wait_recovered(self) -> None:
        for task in self._watchers:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _watch(
        self, fault: Fault, check: Callable[[], Awaitable[bool]], *, every: float = 0.5, timeout: float = 240.0
    ) -> None:
        since = time.time()
        counted_from = fault.started if fault.kind in ("kill", "broker", "malformed") else since

        async def watch() -> None:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                with contextlib.suppress(Exception):
                    if await check():
                        fault.recovered_after = time.time() - counted_from
                        return
                await asyncio.sleep(every)

        self._watchers.append(asyncio.create_task(watch()))

    def _watch_backlog(self, fault: Fault) -> None:
        """Recovered once every inquiry accepted before the fault ended has its acknowledgment email."""
        before = time.time()

        async def drained() -> bool:
            waiting = {i.email for i in self._inquiries if i.accepted and i.first_sent <= before}
            async with httpx.AsyncClient(timeout=10.0) as http:
                mail, _ = await _mail_by_address(http, self._info)
            return all(mail[email] for email in waiting)

        self._watch(fault, drained, every=2.0)

    async def _kill(self, fault: Fault) -> None:
        pid = self._stack.pid(fault.target)
        if pid is None:
            fault.note = "not running at that moment"
            return
        os.kill(pid, signal.SIGKILL)
        names = [fault.target]
        self._watch(fault, lambda: self._ready_again_in_log(names, fault.started))

    async def _postgres(self, fault: Fault) -> None:
        """A crash (kill -9 of the postmaster; the supervisor starts it again on its data) or a fast restart."""
        if self._cfg.postgres_crash:
            old = self._stack.pid("postgres")
            assert old is not None
            os.kill(old, signal.SIGKILL)
            while True:  # the supervisor notices within a quarter second and starts it again
                if self._stack.pid("postgres") not in (None, old):
                    break
                await asyncio.sleep(0.2)
            fault.note = f"kill -9; running again after {time.time() - fault.started:.1f} s"
        else:
            await self._stack.restart_database("is being restarted (fault run)")
            fault.note = "fast shutdown and start"
        self._watch_backlog(fault)

    async def _pause(self, fault: Fault) -> None:
        process = self._stack.children[fault.target].process
        process.send_signal(signal.SIGSTOP)
        try:
            await asyncio.sleep(PAUSE_SECONDS)
        finally:
            process.send_signal(signal.SIGCONT)
        fault.note = f"{PAUSE_SECONDS:.0f} s stopped; recovery counted from SIGCONT"
        self._watch_backlog(fault)

    async def _broker(self, fault: Fault) -> None:
        results = await self._stack.restart_broker("is being restarted (fault run)")
        self._collector.rewind()
        fault.note = f"{sum(r.republished for r in results.values())} events replayed"
        names = [name for service in self._stack.services for name in self._stack.replicas(service)]
        self._watch(fault, lambda: self._ready_again_in_log(names, fault.started))

    async def _malformed(self, fault: Fault) -> None:
        self._bursts += 1
        records = burst_records(self._run, self._bursts, self._cfg.burst_copies)
        self.bad_keys.update(r.key for r in records)
        producer = create_producer(PlatformSettings(kafka_bootstrap=self._info.kafka_bootstrap), client_id="chaos-bad")
        await producer.start()
        try:
            deliveries = [await producer.send(r.topic, r.value, key=r.key.encode(), headers=r.headers) for r in records]
            await asyncio.gather(*deliveries)
        finally:
            await producer.stop()
        self.sent_bad += records
        fault.note = f"{len(records)} records"
        seen = self._collector.seen

        async def all_handled() -> bool:
            return all(outcome_of(r, seen) is not None for r in records)

        self._watch(fault, all_handled)

    async def _ready_again_in_log(self, names: list[str], since: float) -> bool:
        """Whether the runner's log says every one of ``names`` is ready again since ``since``."""
        lines = (self._stack.log_dir / "runner.log").read_text().splitlines()
        ready = set()
        for line in lines:
            stamp, _, message = line.partition(" ")
            match = re.match(r"(\S+) is ready again \(", message)
            if match and datetime.fromisoformat(stamp).timestamp() >= since:
                ready.add(match.group(1))
        return set(names) <= ready


def outcome_of(record: Malformed, seen: Seen) -> str | None:
    """ "parked" once each subscription of its topic parked it, "rejected" when answered with a rejection, else None."""
    if record.key in seen.rejected:
        return "rejected"
    if len(seen.parked.get(record.key, ())) >= READERS[record.topic]:
        return "parked"
    return None


# -- the end: what became of everything -----------------------------------------------------------------------------


async def committed_to_end(bootstrap: str) -> dict[str, int]:
    """Records each consumer group has not committed yet, per group (0 everywhere: nobody is stuck).

    Read through a consumer of the group that never joins it (aiokafka's admin ``list_consumer_group_offsets``
    fails against Tansu): ``committed`` only fetches the group's offsets.
    """
    behind: dict[str, int] = {}
    for group, topic in GROUPS.items():
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
        await consumer.start()
        try:
            await consumer.topics()
            partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
            ends = await consumer.end_offsets(partitions)
            committed = {tp: await consumer.committed(tp) or 0 for tp in partitions}
            behind[group] = sum(max(0, end - committed[tp]) for tp, end in ends.items())
        finally:
            await consumer.stop()
    return behind


@dataclass
class Outcome:
    faults: bool
    offered: int = 0
    accepted: int = 0
    accepted_http: int = 0
    accepted_kafka: int = 0
    not_accepted: int = 0
    kafka_resent: int = 0  # Kafka commands sent again after the submitter's timeout
    kafka_needed_resend: int = 0  # of the accepted: how many only after a resend
    http_retries: int = 0
    lost: int = 0
    duplicated: int = 0
    unassigned: int = 0
    assignment_rows_wrong: int = 0
    notes_expected: int = 0
    notes_sent: int = 0
    notes_duplicated: int = 0
    notes_missing: int = 0
    deliveries_by_status: dict[str, int] = field(default_factory=dict)
    sla_fired: int = 0
    sla_duplicated: int = 0
    sla_overdue_unfired: int = 0
    sla_unannounced: int = 0
    sla_by_type: dict[str, int] = field(default_factory=dict)
    groups_behind: dict[str, int] = field(default_factory=dict)
    bad_sent: int = 0
    bad_parked: int = 0
    bad_rejected: int = 0
    bad_unhandled: int = 0
    good_parked: int = 0
    faults_done: list[Fault] = field(default_factory=list)
    throughput: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    settled_in: float = 0.0
    seconds: float = 0.0

    @property
    def failed(self) -> bool:
        """Any check that did not hold: something lost or duplicated, and also anything missing or stuck."""
        return bool(self.problems())

    def problems(self) -> list[str]:
        """Every check that did not hold, in words (empty: all held)."""
        checks = {
            "lost": self.lost,
            "duplicated": self.duplicated,
            "not accepted": self.not_accepted,
            "unassigned": self.unassigned,
            "assignment rows not one per inquiry": self.assignment_rows_wrong,
            "notifications duplicated": self.notes_duplicated,
            "notifications missing": self.notes_missing,
            "escalations duplicated": self.sla_duplicated,
            "escalations due and not fired": self.sla_overdue_unfired,
            "escalations not announced": self.sla_unannounced,
            "groups behind": sum(self.groups_behind.values()),
            "malformed records neither parked nor rejected": self.bad_unhandled,
            "dead letters for good records": self.good_parked,
        }
        return [f"{name}: {count}" for name, count in checks.items() if count]


async def _mail_by_address(http: httpx.AsyncClient, info: StackInfo) -> tuple[Counter[str], dict[str, float]]:
    listing = (await http.get(info.urls["mail_catcher_api"], params={"limit": 100000})).json()
    count: Counter[str] = Counter()
    first: dict[str, float] = {}
    for message in listing["messages"]:
        at = datetime.fromisoformat(message["Created"].replace("Z", "+00:00")).timestamp()
        for to in message["To"]:
            count[to["Address"]] += 1
            first[to["Address"]] = min(first.get(to["Address"], at), at)
    return count, first


async def _texts(http: httpx.AsyncClient, info: StackInfo) -> list[dict[str, Any]]:
    return list((await http.get(info.urls["sms_sink_api"])).json())


ACKNOWLEDGMENT = "inquiry_received"


@dataclass
class Told:
    """What reached the mail catcher and the SMS sink, held against notify's delivery log (one row per event, channel
    and recipient): each message of the log is to arrive once.

    An email is named by its Message-ID (a hash of its delivery's dedup key, the same on every resend), a text by its
    recipient and body. ``acks``: acknowledgments received per (recipient, channel); ``repeated``: per recipient, the
    messages received beyond one per message of the log, and those the log cannot name. So two escalations of one
    inquiry are two messages, while one escalation told twice, or one acknowledgment, is a duplicate."""

    acks: Counter[tuple[str, str]] = field(default_factory=Counter)
    repeated: Counter[str] = field(default_factory=Counter)


async def _told(http: httpx.AsyncClient, info: StackInfo, db: asyncpg.Pool) -> Told:
    rows = await db.fetch("SELECT dedup_key, channel, recipient, body, template FROM notify.deliveries")
    by_message_id = {message_id_for(r["dedup_key"]).strip("<>"): r["template"] for r in rows if r["channel"] == "email"}
    texts_logged: Counter[tuple[str, str]] = Counter()
    text_template: dict[tuple[str, str], str] = {}
    for r in rows:
        if r["channel"] == "sms":
            texts_logged[(r["recipient"], r["body"])] += 1
            text_template[(r["recipient"], r["body"])] = r["template"]
    listing = (await http.get(info.urls["mail_catcher_api"], params={"limit": 100000})).json()
    mails: Counter[tuple[str, str]] = Counter(
        (to["Address"], message["MessageID"]) for message in listing["messages"] for to in message["To"]
    )
    told = Told()
    for (address, message_id), received in mails.items():
        template = by_message_id.get(message_id)
        told.repeated[address] += received if template is None else received - 1
        if template == ACKNOWLEDGMENT:
            told.acks[(address, "email")] += received
    texts: Counter[tuple[str, str]] = Counter((text["to"], text["body"]) for text in await _texts(http, info))
    for (number, body), received in texts.items():
        told.repeated[number] += max(0, received - texts_logged[(number, body)])
        if text_template.get((number, body)) == ACKNOWLEDGMENT:
            told.acks[(number, "sms")] += received
    return told


async def _settled(
    info: StackInfo, http: httpx.AsyncClient, db: asyncpg.Pool, load: Load, faults: Faults | None, seen: Seen
) -> bool:
    accepted = [i for i in load.inquiries if i.accepted]
    if any(i.door == "kafka" and not i.accepted for i in load.inquiries):
        return False
    unassigned = await db.fetchval("SELECT count(*) FROM intake.inquiries WHERE assigned_at IS NULL")
    if unassigned:
        return False
    told = await _told(http, info, db)
    if any(told.acks[(i.email, "email")] == 0 for i in accepted):
        return False
    if any(i.phone and told.acks[(i.phone, "sms")] == 0 for i in accepted):
        return False
    if faults is not None and any(outcome_of(r, seen) is None for r in faults.sent_bad):
        return False
    return not any((await committed_to_end(info.kafka_bootstrap)).values())


async def check(
    info: StackInfo,
    http: httpx.AsyncClient,
    db: asyncpg.Pool,
    load: Load,
    faults: Faults | None,
    seen: Seen,
    cfg: Config,
    origin: float,
    out: Outcome,
) -> None:
    items = load.inquiries
    accepted = [i for i in items if i.accepted]
    out.offered = len(items)
    out.accepted = len(accepted)
    out.accepted_http = sum(1 for i in accepted if i.door == "http")
    out.accepted_kafka = sum(1 for i in accepted if i.door == "kafka")
    out.not_accepted = len(items) - len(accepted)
    out.kafka_resent = load.kafka_resends
    out.kafka_needed_resend = sum(1 for i in accepted if i.door == "kafka" and i.sends > 1)
    out.http_retries = load.http_retries

    rows = await db.fetch("SELECT id::text, parent->>'email' AS email, assigned_at FROM intake.inquiries")
    by_email: dict[str, list[asyncpg.Record]] = defaultdict(list)
    for row in rows:
        by_email[row["email"]].append(row)
    for item in accepted:
        found = by_email.get(item.email, [])
        if not found or (item.inquiry_id and item.inquiry_id not in {r["id"] for r in found}):
            out.lost += 1
        elif len(found) > 1:
            out.duplicated += 1
        elif found[0]["assigned_at"] is None:
            out.unassigned += 1
    # Also through the topic: one inquiry.submitted identity per Kafka submission, whatever was sent again.
    out.duplicated += sum(1 for i in accepted if i.door == "kafka" and len(seen.submitted.get(i.key, ())) > 1)
    ids = [i.inquiry_id for i in accepted if i.inquiry_id]
    assignments: dict[str, int] = {
        row["inquiry_id"]: row["count"]
        for row in await db.fetch(
            "SELECT inquiry_id::text, count(*) FROM routing.assignments WHERE inquiry_id = ANY($1::uuid[]) GROUP BY 1",
            ids,
        )
    }
    out.assignment_rows_wrong = sum(1 for i in ids if assignments.get(i, 0) != 1)

    mail, first_mail = await _mail_by_address(http, info)
    told = await _told(http, info, db)
    for item in accepted:
        # The acknowledgment exactly once by email, and by text too with a mobile and consent: expected.
        acks = [told.acks[(item.email, "email")]]
        acks += [told.acks[(item.phone, "sms")]] if item.phone else []
        out.notes_expected += len(acks)
        out.notes_sent += sum(1 for c in acks if c >= 1)
        out.notes_missing += sum(1 for c in acks if c == 0)
    # Every message to a parent of the run once: the acknowledgment and each later step (assigned, escalated, ...)
    # notify's log holds by now, one per event, channel and recipient.
    parents = {i.email for i in items} | {i.phone for i in items if i.phone}
    out.notes_duplicated += sum(n for to, n in told.repeated.items() if to in parents)
    # Nobody else was written to: a malformed event applied would have mailed its made-up parent.
    out.notes_duplicated += sum(1 for address in mail if address.endswith("@bad.chaos.example"))
    out.deliveries_by_status = {
        f"{r['channel']} {r['status']}": r["count"]
        for r in await db.fetch("SELECT channel, status, count(*) FROM notify.deliveries GROUP BY 1, 2 ORDER BY 1, 2")
    }

    await _check_sla(db, seen, cfg, origin, out)
    out.groups_behind = {g: n for g, n in (await committed_to_end(info.kafka_bootstrap)).items() if n}

    if faults is not None:
        out.bad_sent = len(faults.sent_bad)
        outcomes = Counter(outcome_of(r, seen) for r in faults.sent_bad)
        out.bad_parked, out.bad_rejected, out.bad_unhandled = outcomes["parked"], outcomes["rejected"], outcomes[None]
        out.faults_done = faults.plan
    out.good_parked = seen.parked_unknown

    latencies = sorted(first_mail[i.email] - i.first_sent for i in accepted if i.email in first_mail)
    if latencies:
        out.p50_ms = statistics.median(latencies) * 1000
        out.p99_ms = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
        span = max(first_mail[i.email] for i in accepted if i.email in first_mail) - min(i.first_sent for i in items)
        out.throughput = len(latencies) / span


async def _check_sla(db: asyncpg.Pool, seen: Seen, cfg: Config, origin: float, out: Outcome) -> None:
    """Each warning, escalation and breach at most once in routing's history and on psc.routing.events, each one in
    the history announced, and none overdue: nothing left whose next due time passed well before the end."""
    history = await db.fetch(
        "SELECT inquiry_id::text, event_type, tier, clock, to_tier FROM routing.sla_history"
        " WHERE event_type = ANY($1::text[])",
        list(SLA_EVENTS),
    )
    keys: Counter[tuple[str, ...]] = Counter()
    for row in history:
        event = dict(row) | {"from_tier": row["tier"]}
        keys[sla_key(event)] += 1
    out.sla_fired = len(keys)
    out.sla_by_type = dict(Counter(key[1] for key in keys))
    out.sla_duplicated = sum(n - 1 for n in keys.values() if n > 1)
    out.sla_duplicated += sum(len(ids) - 1 for ids in seen.sla.values() if len(ids) > 1)
    out.sla_unannounced = sum(1 for key in keys if key not in seen.sla)
    # The services' clock: the wall clock sped up from the origin they were given.
    now = datetime.fromtimestamp(origin + (time.time() - origin) * cfg.clock_speed, UTC)
    margin = timedelta(seconds=10 * cfg.clock_speed)  # ten real seconds: the worker fires within about one
    out.sla_overdue_unfired = await db.fetchval(
        "SELECT count(*) FROM routing.assignments WHERE next_due_at < $1", now - margin
    )


# -- one run --------------------------------------------------------------------------------------------------------


def say(message: str) -> None:
    print(f"[chaos {datetime.now().strftime('%H:%M:%S')}] {message}", flush=True)


async def run_once(cfg: Config, var_dir: Path) -> Outcome:
    run = uuid.uuid4().hex[:6]
    origin = time.time()
    stack = Stack(
        var_dir,
        StackPorts.free(),
        replicas=REPLICAS,
        policy=RESTART_POLICY,
        service_env={"PSC_CLOCK_SPEED": str(cfg.clock_speed), "PSC_CLOCK_ORIGIN": str(origin)},
    )
    say(f"starting the stack ({'with' if cfg.faults else 'without'} faults) in {var_dir} ...")
    info = await stack.start()
    supervisor = asyncio.create_task(stack.supervise())
    out = Outcome(faults=cfg.faults)
    bad_keys: set[str] = set()
    collector = Collector(info.kafka_bootstrap, bad_keys)
    collector.start()
    inquiries = make_inquiries(cfg, run)
    load = Load(info, inquiries, collector.seen)
    faults = Faults(cfg, stack, info, collector, run, bad_keys, inquiries) if cfg.faults else None
    db = await asyncpg.create_pool(info.database_url, min_size=0, max_size=2)
    try:
        began = time.monotonic()
        say(f"load: {len(inquiries)} inquiries at {cfg.rate:g}/s through both doors for {cfg.duration:g} s")
        if faults is not None:
            say(f"faults: {', '.join(f'{f.kind} {f.target}'.strip() + f' at {f.at:.0f} s' for f in faults.plan)}")
        tasks = [asyncio.create_task(load.run(cfg.rate))]
        if faults is not None:
            tasks.append(asyncio.create_task(faults.run(began)))
        await asyncio.gather(*tasks)
        say("load and faults done; settling ...")
        settle_began = time.monotonic()
        async with httpx.AsyncClient(timeout=30.0) as http:
            settled = asyncio.Event()

            async def poll() -> None:
                while True:
                    if await _settled_safely(info, http, db, load, faults, collector.seen):
                        settled.set()
                        return
                    await asyncio.sleep(3.0)

            poller = asyncio.create_task(poll())
            await load.finish(settled, SETTLE_TIMEOUT)
            poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await poller
            if faults is not None:
                await asyncio.wait_for(faults.wait_recovered(), 60)
            out.settled_in = time.monotonic() - settle_began
            await asyncio.sleep(5.0)  # a late second message would show now
            await check(info, http, db, load, faults, collector.seen, cfg, origin, out)
        out.seconds = time.monotonic() - began
        if supervisor.done():
            say(f"the supervisor stopped: {supervisor.result()} (see {stack.log_dir / 'runner.log'})")
    finally:
        await db.close()
        await collector.stop()
        supervisor.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await supervisor
        stack.stop()
    return out


async def _settled_safely(
    info: StackInfo, http: httpx.AsyncClient, db: asyncpg.Pool, load: Load, faults: Faults | None, seen: Seen
) -> bool:
    try:
        return await _settled(info, http, db, load, faults, seen)
    except Exception:
        return False


async def chaos(cfg: Config, *, baseline: bool = True, keep: Path | None = None) -> tuple[Outcome, Outcome | None]:
    """The fault run, then (``baseline``) the same load and seed without faults."""
    with tempfile.TemporaryDirectory(prefix="psc-chaos-") as tmp:
        root = keep or Path(tmp)
        faulted = await run_once(cfg, root / "faults")
        calm = None
        if baseline:
            calm = await run_once(Config(**{**cfg.__dict__, "faults": False}), root / "baseline")
    return faulted, calm


# -- the table ------------------------------------------------------------------------------------------------------


PREFIX = "inquiry."


def table(cfg: Config, faulted: Outcome, calm: Outcome | None) -> str:
    f = faulted
    lines = [
        f"== Fault run: {cfg.duration:g} s at {cfg.rate:g} inquiries/s, seed {cfg.seed}, routing x2, notify x2,"
        f" routing's clock x{cfg.clock_speed:g} ==",
        "",
        "| inquiries | count |",
        "|---|---|",
        f"| offered (HTTP / Kafka) | {f.offered} ({f.offered - f.offered // 2} / {f.offered // 2}) |",
        f"| accepted: HTTP 201/200, Kafka `inquiry.submitted` seen | {f.accepted}"
        f" ({f.accepted_http} / {f.accepted_kafka}) |",
        f"| never accepted (HTTP client gave up, Kafka never confirmed) | {f.not_accepted} |",
        f"| Kafka commands sent again after a {RESEND_AFTER:g} s timeout (same key) | {f.kafka_resent}"
        f" (accepted only after a resend: {f.kafka_needed_resend}) |",
        f"| HTTP retries with the same Idempotency-Key | {f.http_retries} |",
        f"| **lost** (accepted, not in intake) | **{f.lost}** |",
        f"| **duplicated** (more than one inquiry) | **{f.duplicated}** |",
        f"| unassigned / assignment rows not one per inquiry | {f.unassigned} / {f.assignment_rows_wrong} |",
        "",
        "| notifications | count |",
        "|---|---|",
        f"| expected (an email each; a text with mobile and consent) | {f.notes_expected} |",
        f"| sent | {f.notes_sent} |",
        f"| **duplicated** (a message of notify's log received twice, or one not in it) | **{f.notes_duplicated}** |",
        f"| **missing** | **{f.notes_missing}** |",
        f"| notify's delivery log | {', '.join(f'{k} {v}' for k, v in f.deliveries_by_status.items())} |",
        "",
        "| SLA (routing's deadlines, clock sped up) | count |",
        "|---|---|",
        f"| fired (warnings, escalations, breaches) | {f.sla_fired}"
        f" ({', '.join(f'{k.removeprefix(PREFIX)} {v}' for k, v in sorted(f.sla_by_type.items()))}) |",
        f"| fired more than once (history or topic) | {f.sla_duplicated} |",
        f"| due and not fired | {f.sla_overdue_unfired} |",
        f"| in the history, not on psc.routing.events | {f.sla_unannounced} |",
        "",
        "| consumers and dead letters | count |",
        "|---|---|",
        f"| consumer groups behind their topics' end | {sum(f.groups_behind.values())}"
        f"{' ' + str(f.groups_behind) if f.groups_behind else ''} |",
        f"| malformed records sent | {f.bad_sent} |",
        f"| ... parked by every reader / rejected to the sender | {f.bad_parked} / {f.bad_rejected} |",
        f"| ... neither | {f.bad_unhandled} |",
        f"| dead letters that were not malformed records | {f.good_parked} |",
        "",
        "| fault | target | at (s) | recovered after (s) | note |",
        "|---|---|---|---|---|",
    ]
    for fault in f.faults_done:
        recovered = f"{fault.recovered_after:.1f}" if fault.recovered_after is not None else "-"
        lines.append(f"| {fault.kind} | {fault.target} | {fault.at:.0f} | {recovered} | {fault.note} |")
    lines.append(
        "\nrecovered after: kill and broker, until the runner's log says each process restarted is ready again;"
        " postgres and pause, from the restart or SIGCONT until every inquiry accepted before it has its"
        " acknowledgment email; malformed, until each record was parked by every reader or rejected."
    )
    kinds: dict[str, list[float]] = defaultdict(list)
    for fault in f.faults_done:
        if fault.recovered_after is not None:
            kinds[fault.kind].append(fault.recovered_after)
    lines += ["", "| fault kind | count | recovered after, median / max (s) |", "|---|---|---|"]
    for kind, count in Counter(fault.kind for fault in f.faults_done).items():
        times = kinds.get(kind, [])
        shown = f"{statistics.median(times):.1f} / {max(times):.1f}" if times else "-"
        lines.append(f"| {kind} | {count} | {shown} |")
    lines += [
        "",
        "| performance (submission to acknowledgment email) | with faults | without | ratio |",
        "|---|---|---|---|",
    ]
    if calm is not None:
        lines += [
            f"| throughput (inquiries/s) | {f.throughput:.1f} | {calm.throughput:.1f}"
            f" | {f.throughput / calm.throughput if calm.throughput else 0:.2f} |",
            f"| p50 (ms) | {f.p50_ms:.0f} | {calm.p50_ms:.0f} | {f.p50_ms / calm.p50_ms if calm.p50_ms else 0:.1f} |",
            f"| p99 (ms) | {f.p99_ms:.0f} | {calm.p99_ms:.0f} | {f.p99_ms / calm.p99_ms if calm.p99_ms else 0:.1f} |",
        ]
        if calm.problems():
            lines.append(f"\nthe run without faults did not hold either: {'; '.join(calm.problems())}")
    else:
        lines.append(f"| throughput / p50 / p99 | {f.throughput:.1f}/s, {f.p50_ms:.0f} ms, {f.p99_ms:.0f} ms | - | - |")
    lines.append("")
    problems = f.problems()
    lines.append("every check held" if not problems else "checks that did not hold: " + "; ".join(problems))
    return "\n".join(lines)


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=180.0, help="seconds of load (and faults)")
    parser.add_argument("--rate", type=float, default=8.0, help="inquiries per second, half through each door")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--kills-each", type=int, default=2, help="kill -9 of each service process, this many times")
    parser.add_argument("--bursts", type=int, default=3, help="bursts of malformed records")
    parser.add_argument("--clock-speed", type=float, default=20000.0, help="routing's clock speed (PSC_CLOCK_SPEED)")
    parser.add_argument(
        "--postgres-restart", action="store_true", help="restart PostgreSQL cleanly instead of kill -9 of it"
    )
    parser.add_argument("--no-baseline", action="store_true", help="skip the run without faults")
    parser.add_argument("--keep", type=Path, help="keep the var dirs (logs, database) here")
    args = parser.parse_args()
    # The harness's own Kafka clients lose the broker on purpose: their reconnection messages are no news.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    cfg = Config(
        duration=args.duration,
        rate=args.rate,
        seed=args.seed,
        kills_each=args.kills_each,
        bursts=args.bursts,
        clock_speed=args.clock_speed,
        postgres_crash=not args.postgres_restart,
    )
    faulted, calm = asyncio.run(chaos(cfg, baseline=not args.no_baseline, keep=args.keep))
    print()
    print(table(cfg, faulted, calm))
    sys.exit(1 if faulted.failed or (calm is not None and calm.failed) else 0)


if __name__ == "__main__":
    cli()
