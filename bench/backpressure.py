"""Backpressure shown: intake driven past saturation over HTTP, then a burst through its Kafka door, in one run.

1. Starts the whole stack (embedded broker and database, sinks, four services) on free ports in a temporary dir,
   with the services' default settings (intake's bound: ``PSC_INTAKE_HTTP_MAX_IN_FLIGHT``, 64 requests in flight).
2. HTTP, open loop on loopback: ``POST /v1/inquiries`` sent at a fixed arrival rate whatever the answers do (a closed
   loop of N clients would slow down with the server and hide the overload), in steps from 50 to 1000 requests/s.
   Bounded: the steps' total count, a cap on open connections, a 30 s request timeout.
3. Kafka: after a pause, a burst of submissions published at once to ``psc.inquiries.submit``; the run waits until
   every lag below is back to zero (or a time limit), then a few seconds more.
4. Every second: requests offered (sent) and their outcome by the second they were sent: accepted (201), shed (503
   with Retry-After), errors (any other status, a dropped connection, a timeout); p50 and p99 latency of accepted
   and of shed requests; consumer lag (end offsets minus committed offsets) of intake's ``inquiry-submissions`` and
   of routing's and notify's ``inquiry-submitted``; intake's unpublished outbox rows; each service's RSS.
5. Prints a table per step (per second with ``--per-second``) and the run's figures, and draws the series to a PNG
   (``make backpressure``: docs/backpressure.png). The machine is shared and noisy: figures of one run belong
   together; compare shapes and ratios across runs, not absolute figures.

    python -m bench.backpressure [--steps 50,100,...] [--step-seconds 8] [--kafka-burst 20000] [--short]
                                 [--max-in-flight N] [--plot PATH] [--per-second] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import psutil
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from bench.throughput import submission
from devstack.stack import HOST, SERVICES, Stack, StackInfo, StackPorts
from services.intake.settings import IntakeSettings
from shared.contracts.topics import INQUIRY_EVENTS, INQUIRY_SUBMISSIONS

DEFAULT_STEPS = (50, 100, 150, 200, 300, 400, 600, 800, 1000)
# The subscriptions whose lag is followed (docs/architecture.md, "Consumer groups"): intake's Kafka door, and the two
# that read intake's events.
LAG_GROUPS = {
    "intake": (INQUIRY_SUBMISSIONS, "psc.intake.inquiry-submissions"),
    "routing": (INQUIRY_EVENTS, "psc.routing.inquiry-submitted"),
    "notify": (INQUIRY_EVENTS, "psc.notify.inquiry-submitted"),
}
REQUEST_TIMEOUT_S = 30.0
MAX_CONNECTIONS = 2000


def inquiry_body(run: str, index: int) -> bytes:
    body = {
        "parent": {"name": f"Parent {index}", "email": f"bp.{run}.{index}@bench.example"},
        "student": {"school_id": 609794, "grade": "5"},
        "category": "attendance",
        "description": "Backpressure run: absences recorded on days the student attended.",
        "channel": "district_system",
    }
    return json.dumps(body).encode()


class Dropped(Exception):
    """The connection closed or failed before a whole response came back."""


@dataclass
class Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    @property
    def usable(self) -> bool:
        return not self.writer.is_closing() and not self.reader.at_eof()

    def close(self) -> None:
        self.writer.close()


class RawHttpClient:
    """A small HTTP/1.1 client with a LIFO pool of keep-alive connections.

    httpx spends about a millisecond of CPU per request; at 1000 requests/s on a two-core machine that is load the
    services would feel. This one sends prebuilt bytes and reads a status line, headers and a body.
    """

    def __init__(self, host: str, port: int, *, max_connections: int, headers: dict[str, str] | None = None) -> None:
        self._host, self._port = host, port
        self._headers = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
        self._idle: list[Connection] = []
        self._open = 0
        self._max = max_connections

    @property
    def open_connections(self) -> int:
        return self._open

    async def _connection(self) -> Connection:
        while self._idle:
            conn = self._idle.pop()
            if conn.usable:
                return conn
            self._discard(conn)
        if self._open >= self._max:
            raise Dropped("client connection cap reached")
        self._open += 1
        try:
            reader, writer = await asyncio.open_connection(self._host, self._port)
        except OSError as exc:
            self._open -= 1
            raise Dropped(f"connect: {type(exc).__name__}") from exc
        return Connection(reader, writer)

    def _discard(self, conn: Connection) -> None:
        conn.close()
        self._open -= 1

    async def post(self, path: str, body: bytes) -> int:
        request = (
            f"POST {path} HTTP/1.1\r\nHost: {self._host}:{self._port}\r\nContent-Type: application/json\r\n"
            f"{self._headers}Content-Length: {len(body)}\r\n\r\n"
        ).encode() + body
        conn = await self._connection()
        try:
            conn.writer.write(request)
            await conn.writer.drain()
            status, keep = await _read_response(conn.reader)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            self._discard(conn)
            raise Dropped(type(exc).__name__) from exc
        except BaseException:  # a timeout or cancellation mid-response: the connection is in an unknown state
            self._discard(conn)
            raise
        if keep:
            self._idle.append(conn)
        else:
            self._discard(conn)
        return status

    def close(self) -> None:
        for conn in self._idle:
            conn.close()
        self._idle.clear()


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """The status, and whether the connection may be used again; the body is read and dropped."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip().lower()
    if "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding") == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    return status, headers.get("connection") != "close"


@dataclass
class Second:
    """What happened to the requests sent in one second of the run, and the system's state sampled in it."""

    t: int
    target: float = 0.0
    offered: int = 0
    accepted: int = 0
    shed: int = 0
    errors: int = 0
    accepted_ms: list[float] = field(default_factory=list)
    shed_ms: list[float] = field(default_factory=list)
    late_ms: float = 0.0
    published: int = 0
    lag: dict[str, int] = field(default_factory=dict)
    outbox: int | None = None
    rss_mib: dict[str, float] = field(default_factory=dict)


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


@dataclass
class Plan:
    steps: list[int]
    step_seconds: float
    pause_seconds: float
    kafka_burst: int
    kafka_seconds: float

    @property
    def http_seconds(self) -> float:
        return len(self.steps) * self.step_seconds

    @property
    def kafka_start(self) -> float:
        return self.http_seconds + self.pause_seconds

    @property
    def requests(self) -> int:
        return sum(int(rate * self.step_seconds) for rate in self.steps)


class Run:
    def __init__(self, info: StackInfo, ports: StackPorts, plan: Plan) -> None:
        self.info = info
        self.ports = ports
        self.plan = plan
        self.seconds: dict[int, Second] = defaultdict(lambda: Second(0))
        self.error_kinds: dict[str, int] = defaultdict(int)
        self.started = 0.0
        self.run_id = f"{time.time_ns():x}"[-8:]
        self.kafka_drained_after: float | None = None
        self.watch_drain = False  # set once the burst is published: the sampler then sets ``drained``
        self.drained = asyncio.Event()

    def second(self, at: float) -> Second:
        t = int(at - self.started)
        entry = self.seconds[t]
        entry.t = t
        return entry

    def target_at(self, t: float) -> float:
        index = int(t // self.plan.step_seconds)
        return float(self.plan.steps[index]) if 0 <= index < len(self.plan.steps) else 0.0

    async def one(self, client: RawHttpClient, index: int, intended: float) -> None:
        sent = time.monotonic()
        bucket = self.second(sent)
        bucket.offered += 1
        bucket.late_ms = max(bucket.late_ms, (sent - intended) * 1000)
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT_S):
                status = await client.post("/v1/inquiries", inquiry_body(self.run_id, index))
        except TimeoutError:
            bucket.errors += 1
            self.error_kinds["timeout"] += 1
            return
        except Dropped as exc:
            bucket.errors += 1
            self.error_kinds[f"dropped ({exc})"] += 1
            return
        elapsed_ms = (time.monotonic() - sent) * 1000
        if status == 201:
            bucket.accepted += 1
            bucket.accepted_ms.append(elapsed_ms)
        elif status == 503:
            bucket.shed += 1
            bucket.shed_ms.append(elapsed_ms)
        else:
            bucket.errors += 1
            self.error_kinds[f"HTTP {status}"] += 1

    async def http_load(self) -> None:
        """Open loop: the i-th request of a step leaves at step start + i / rate, late ones at once (catching up)."""
        client = RawHttpClient(
            HOST,
            self.ports.intake,
            max_connections=MAX_CONNECTIONS,
            headers={"X-API-Key": str(self.info.demo_api_keys[0]["key"])},  # the stack's demo key (submits)
        )
        tasks: set[asyncio.Task[None]] = set()
        index = 0
        try:
            for number, rate in enumerate(self.plan.steps):
                step_start = self.started + number * self.plan.step_seconds
                for i in range(int(rate * self.plan.step_seconds)):
                    intended = step_start + i / rate
                    delay = intended - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    task = asyncio.create_task(self.one(client, index, intended))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                    index += 1
            if tasks:
                await asyncio.gather(*tasks)
        finally:
            client.close()

    async def kafka_burst(self) -> None:
        """The other door: ``kafka_burst`` submissions published at once to intake's command topic."""
        producer = AIOKafkaProducer(
            bootstrap_servers=self.info.kafka_bootstrap, acks="all", enable_idempotence=False, linger_ms=5
        )
        await producer.start()
        try:
            pending = []
            for index in range(self.plan.kafka_burst):
                email, payload = submission(f"bp{self.run_id}", index)
                pending.append(await producer.send(INQUIRY_SUBMISSIONS, value=payload, key=email.encode()))
                self.second(time.monotonic()).published += 1
            await asyncio.gather(*pending)
        finally:
            await producer.stop()

    async def sample(self, stop: asyncio.Event) -> None:
        """Once a second: consumer lag, intake's unpublished outbox rows and every service's RSS."""
        bootstrap = self.info.kafka_bootstrap
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        offsets = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
        await admin.start()
        await offsets.start()
        database = await asyncpg.connect(self.info.database_url)
        processes = {name: psutil.Process(pid) for name, pid in self.info.pids.items() if name in SERVICES}
        try:
            await offsets.topics()
            partitions = {
                topic: [TopicPartition(topic, p) for p in sorted(offsets.partitions_for_topic(topic) or ())]
                for topic in {topic for topic, _ in LAG_GROUPS.values()}
            }
            while not stop.is_set():
                tick = time.monotonic()
                bucket = self.second(tick)
                with contextlib.suppress(Exception):
                    ends = await offsets.end_offsets([tp for tps in partitions.values() for tp in tps])
                    for service, (topic, group) in LAG_GROUPS.items():
                        committed = await admin.list_consumer_group_offsets(group, partitions=partitions[topic])
                        bucket.lag[service] = sum(
                            ends[tp] - min(ends[tp], max(0, committed[tp].offset if tp in committed else 0))
                            for tp in partitions[topic]
                        )
                with contextlib.suppress(Exception):
                    bucket.outbox = await database.fetchval(
                        "SELECT count(*) FROM intake.outbox WHERE published_at IS NULL"
                    )
                for name, process in processes.items():
                    with contextlib.suppress(psutil.Error):
                        bucket.rss_mib[name] = process.memory_info().rss / 2**20
                caught_up = len(bucket.lag) == len(LAG_GROUPS) and not any(bucket.lag.values()) and bucket.outbox == 0
                if self.watch_drain and caught_up:
                    self.drained.set()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), max(0.0, 1.0 - (time.monotonic() - tick)))
        finally:
            await database.close()
            await offsets.stop()
            await admin.close()

    async def execute(self) -> list[Second]:
        plan = self.plan
        stop = asyncio.Event()
        self.started = time.monotonic()
        sampler = asyncio.create_task(self.sample(stop))
        try:
            await self.http_load()
            await asyncio.sleep(max(0.0, self.started + plan.kafka_start - time.monotonic()))
            end = self.started + plan.kafka_start
            if plan.kafka_burst:
                await self.kafka_burst()
                deadline = self.started + plan.kafka_start + plan.kafka_seconds
                self.watch_drain = True
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.drained.wait(), max(0.0, deadline - time.monotonic()))
                    self.kafka_drained_after = time.monotonic() - self.started - plan.kafka_start
                await asyncio.sleep(3)  # a few flat seconds after the drain
                end = time.monotonic()
        finally:
            stop.set()
            await sampler
        out = []
        for t in range(int(end - self.started)):
            entry = self.seconds[t]
            entry.t = t
            entry.target = self.target_at(t)
            out.append(entry)
        return out


# ----------------------------------------------------------------------------------------------- figures and report


@dataclass
class Result:
    plan: Plan
    bound: int
    seconds: list[Second]
    error_kinds: dict[str, int]
    kafka_drained_after: float | None


@dataclass
class StepFigures:
    target: float
    offered_per_s: float
    accepted_per_s: float
    shed_per_s: float
    errors: int
    p50_ms: float
    p99_ms: float
    shed_p99_ms: float
    lag_end: dict[str, int]
    outbox_end: int | None
    rss_max_mib: dict[str, float]


def step_figures(result: Result) -> list[StepFigures]:
    out = []
    plan = result.plan
    for number, rate in enumerate(plan.steps):
        lo, hi = number * plan.step_seconds, (number + 1) * plan.step_seconds
        chunk = [s for s in result.seconds if lo <= s.t < hi]
        span = max(1, len(chunk))
        sampled = [s for s in chunk if s.lag]
        accepted_ms = [x for s in chunk for x in s.accepted_ms]
        out.append(
            StepFigures(
                target=float(rate),
                offered_per_s=sum(s.offered for s in chunk) / span,
                accepted_per_s=sum(s.accepted for s in chunk) / span,
                shed_per_s=sum(s.shed for s in chunk) / span,
                errors=sum(s.errors for s in chunk),
                p50_ms=percentile(accepted_ms, 0.50),
                p99_ms=percentile(accepted_ms, 0.99),
                shed_p99_ms=percentile([x for s in chunk for x in s.shed_ms], 0.99),
                lag_end=dict(sampled[-1].lag) if sampled else {},
                outbox_end=next((s.outbox for s in reversed(chunk) if s.outbox is not None), None),
                rss_max_mib={name: max((s.rss_mib.get(name, 0.0) for s in chunk), default=0.0) for name in SERVICES},
            )
        )
    return out


def _ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.0f}"


def _sheds(f: StepFigures) -> bool:
    return f.shed_per_s >= 0.01 * max(f.offered_per_s, 1.0)


def summary(result: Result) -> dict[str, Any]:
    """The run's point in figures: capacity, what was shed, p99 below and past the bound, lag against memory."""
    figures = step_figures(result)
    seconds = result.seconds
    below = [f for f in figures if not _sheds(f)]
    past = [f for f in figures if _sheds(f)]
    kafka = [s for s in seconds if s.t >= result.plan.kafka_start]

    def rss(span: Sequence[Second], name: str) -> tuple[float, float]:
        values = [s.rss_mib[name] for s in span if name in s.rss_mib]
        return (values[0], max(values)) if values else (math.nan, math.nan)

    return {
        "bound": result.bound,
        "requests": sum(s.offered for s in seconds),
        "accepted": sum(s.accepted for s in seconds),
        "shed": sum(s.shed for s in seconds),
        "errors": sum(s.errors for s in seconds),
        "error_kinds": dict(result.error_kinds),
        "capacity_per_s": max(f.accepted_per_s for f in figures),
        "first_shedding_step": past[0].target if past else None,
        "p99_below_bound_ms": max((f.p99_ms for f in below), default=math.nan),
        "p99_past_bound_ms": max((f.p99_ms for f in past), default=math.nan),
        "p50_past_bound_ms": max((f.p50_ms for f in past), default=math.nan),
        "shed_p99_ms": max((f.shed_p99_ms for f in past), default=math.nan),
        "top_step": asdict(figures[-1]),
        "http_lag_peak": {
            name: max((s.lag.get(name, 0) for s in seconds if s.t < result.plan.kafka_start), default=0)
            for name in LAG_GROUPS
        },
        "kafka_burst": result.plan.kafka_burst,
        "kafka_lag_peak": {name: max((s.lag.get(name, 0) for s in kafka), default=0) for name in LAG_GROUPS},
        "kafka_drained_after_s": result.kafka_drained_after,
        "rss_first_peak_mib": {name: rss(seconds, name) for name in SERVICES},
        "kafka_rss_first_peak_mib": {name: rss(kafka, name) for name in SERVICES},
    }


def report(result: Result, *, per_second: bool) -> dict[str, Any]:
    plan = result.plan
    print("\n== Parent Support Center: backpressure (one run, same machine; compare ratios, not absolutes) ==")
    if per_second:
        print(
            f"{'t s':>4} {'target':>6} {'sent':>5} {'201':>4} {'503':>4} {'err':>3} {'p99 ms':>6} {'kafka':>5}"
            f" {'lag in':>6} {'lag rt':>6} {'lag nt':>6} {'outbox':>6}  rss MiB (intake routing notify catalog)"
        )
        for s in result.seconds:
            rss = " ".join(f"{s.rss_mib.get(n, math.nan):5.0f}" for n in SERVICES)
            lag = " ".join(f"{s.lag.get(n, 0):>6}" for n in LAG_GROUPS)
            print(
                f"{s.t:>4} {s.target:>6.0f} {s.offered:>5} {s.accepted:>4} {s.shed:>4} {s.errors:>3}"
                f" {_ms(percentile(s.accepted_ms, 0.99)):>6} {s.published:>5} {lag}"
                f" {s.outbox if s.outbox is not None else '-':>6}  {rss}"
            )
        print()
    print(f"HTTP: open-loop POST /v1/inquiries, intake's bound {result.bound} requests in flight")
    print(
        f"{'target/s':>8} {'sent/s':>6} {'201/s':>6} {'503/s':>6} {'errors':>6} {'p50 ms':>6} {'p99 ms':>6}"
        f" {'503 p99 ms':>10} {'lag routing':>11} {'lag notify':>10} {'outbox':>6}  peak RSS MiB intake/routing/notify"
    )
    for f in step_figures(result):
        rss = "/".join(f"{f.rss_max_mib.get(n, 0):.0f}" for n in ("intake", "routing", "notify"))
        print(
            f"{f.target:>8.0f} {f.offered_per_s:>6.0f} {f.accepted_per_s:>6.0f} {f.shed_per_s:>6.0f} {f.errors:>6}"
            f" {_ms(f.p50_ms):>6} {_ms(f.p99_ms):>6} {_ms(f.shed_p99_ms):>10} {f.lag_end.get('routing', 0):>11}"
            f" {f.lag_end.get('notify', 0):>10} {f.outbox_end if f.outbox_end is not None else '-':>6}  {rss}"
        )
    figures = summary(result)
    top = figures["top_step"]
    print(
        f"requests {figures['requests']}: accepted {figures['accepted']}, shed {figures['shed']},"
        f" errors {figures['errors']} {figures['error_kinds'] or ''}"
    )
    first = figures["first_shedding_step"]
    print(
        f"capacity {figures['capacity_per_s']:.0f} accepted/s;"
        f" {'shedding from the ' + format(first, '.0f') + '/s step on' if first else 'nothing shed'};"
        f" at {top['offered_per_s']:.0f}/s sent {top['shed_per_s'] / max(top['offered_per_s'], 1e-9):.0%} shed"
    )
    print(
        f"p99 of accepted: {_ms(figures['p99_below_bound_ms'])} ms at most below saturation,"
        f" {_ms(figures['p99_past_bound_ms'])} ms at most past it (p50 {_ms(figures['p50_past_bound_ms'])} ms);"
        f" 503 answered in p99 {_ms(figures['shed_p99_ms'])} ms"
    )
    if plan.kafka_burst:
        lag = ", ".join(f"{name} {value}" for name, value in figures["kafka_lag_peak"].items())
        rss = ", ".join(f"{n} {a:.0f}->{b:.0f}" for n, (a, b) in figures["kafka_rss_first_peak_mib"].items())
        drained = figures["kafka_drained_after_s"]
        print(
            f"Kafka door: {plan.kafka_burst} submissions at once; peak lag {lag} records;"
            f" {'drained in ' + format(drained, '.0f') + ' s' if drained is not None else 'NOT drained in time'}"
        )
        print(f"RSS MiB over that phase, first -> peak: {rss}")
    return figures


# ------------------------------------------------------------------------------------------------------------ plot


def plot(result: Result, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plan, seconds = result.plan, result.seconds
    t = [s.t + 0.5 for s in seconds]
    fig, axes = plt.subplots(4, 1, figsize=(10, 12), sharex=True, constrained_layout=True)
    rate, latency, lag, memory = axes
    fig.suptitle(
        f"Backpressure: POST /v1/inquiries driven past saturation (open loop; intake's bound {result.bound} requests"
        f" in flight),\nthen {plan.kafka_burst:,} submissions at once through the Kafka door."
        " One run of the local stack on a shared 2-core machine.",
        fontsize=10.5,
    )

    def nan_if_none(values: Sequence[float | None]) -> list[float]:
        return [math.nan if v is None else v for v in values]

    rate.step(t, [s.target for s in seconds], where="mid", color="grey", linestyle="--", label="offered (target)")
    rate.plot(t, [s.offered for s in seconds], color="black", linewidth=1, label="offered (sent)")
    rate.plot(t, [s.accepted for s in seconds], color="tab:green", linewidth=2, label="accepted (201)")
    rate.plot(t, [s.shed for s in seconds], color="tab:orange", linewidth=2, label="shed (503 + Retry-After)")
    rate.plot(t, [s.errors for s in seconds], color="tab:red", linewidth=1.5, label="errors (other status, dropped)")
    rate.set_ylabel("HTTP requests per second\n(by the second sent)")
    rate.legend(loc="upper left", fontsize=8, ncol=2)
    rate.grid(alpha=0.3)

    http = [s for s in seconds if s.t < plan.http_seconds + 1]
    th = [s.t + 0.5 for s in http]
    latency.plot(
        th, [percentile(s.accepted_ms, 0.99) for s in http], color="tab:green", linewidth=2, label="accepted (201): p99"
    )
    latency.plot(
        th,
        [percentile(s.accepted_ms, 0.50) for s in http],
        color="tab:green",
        linestyle=":",
        label="accepted (201): p50",
    )
    latency.plot(
        th, [percentile(s.shed_ms, 0.99) for s in http], color="tab:orange", linewidth=1.5, label="shed (503): p99"
    )
    latency.set_yscale("log")
    latency.set_ylabel("HTTP latency (ms, log scale)")
    latency.legend(loc="upper left", fontsize=8, ncol=3)
    latency.grid(alpha=0.3, which="both")

    colours = {"intake": "tab:green", "routing": "tab:blue", "notify": "tab:purple", "catalog": "tab:grey"}
    for name, (topic, group) in LAG_GROUPS.items():
        lag.plot(
            t,
            nan_if_none([s.lag.get(name) for s in seconds]),
            color=colours[name],
            linewidth=2,
            label=f"{group} on {topic}",
        )
    lag.plot(
        t,
        nan_if_none([s.outbox for s in seconds]),
        color="tab:brown",
        linestyle="--",
        label="intake's outbox: rows not yet published",
    )
    lag.set_ylabel("consumer lag (records)")
    lag.legend(loc="upper left", fontsize=8)
    lag.grid(alpha=0.3)

    for name in SERVICES:
        memory.plot(
            t, nan_if_none([s.rss_mib.get(name) for s in seconds]), color=colours[name], linewidth=2, label=name
        )
    memory.set_ylabel("resident memory per\nservice process (MiB)")
    memory.set_ylim(bottom=0, top=max(150.0, max(max(s.rss_mib.values(), default=0) for s in seconds) * 1.3))
    memory.set_xlabel("time since the load started (s)")
    memory.legend(loc="lower right", fontsize=8, ncol=4)
    memory.grid(alpha=0.3)

    for number in range(len(plan.steps) + 1):
        for ax in axes:
            ax.axvline(number * plan.step_seconds, color="grey", alpha=0.15, linewidth=0.8)
    first_shed = next((s.t for s in seconds if s.shed >= max(1, 0.01 * s.offered)), None)
    if first_shed is not None:
        for ax in axes:
            ax.axvline(first_shed, color="tab:orange", alpha=0.7, linestyle="--", linewidth=1)
        rate.annotate(
            f"shedding from t={first_shed} s",
            (first_shed, max(plan.steps) * 0.55),
            fontsize=8,
            color="tab:orange",
            xytext=(4, 0),
            textcoords="offset points",
        )
    if plan.kafka_burst:
        for ax in axes:
            ax.axvspan(plan.kafka_start, t[-1] + 0.5, color="tab:blue", alpha=0.06)
        peak = max((max(s.lag.values(), default=0) for s in seconds), default=0)
        lag.annotate(
            f"Kafka door: {plan.kafka_burst:,} submissions\npublished at once, no HTTP load \u2192",
            (plan.kafka_start, peak * 0.75),
            fontsize=8,
            color="tab:blue",
            ha="right",
            xytext=(-6, 0),
            textcoords="offset points",
        )
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ------------------------------------------------------------------------------------------------------------- main


async def main(plan: Plan, max_in_flight: int | None) -> Result:
    with tempfile.TemporaryDirectory(prefix="psc-backpressure-") as tmp:
        ports = StackPorts.free()
        env = {} if max_in_flight is None else {"PSC_INTAKE_HTTP_MAX_IN_FLIGHT": str(max_in_flight)}
        stack = Stack(Path(tmp), ports, service_env=env)
        print("starting the stack ...", flush=True)
        info = await stack.start()
        try:
            print(
                f"HTTP, open loop: {' -> '.join(str(r) for r in plan.steps)} requests/s, {plan.step_seconds:g} s each"
                f" ({plan.requests} requests); then {plan.kafka_burst} submissions at once to"
                f" {INQUIRY_SUBMISSIONS} (until drained, {plan.kafka_seconds:g} s at most) ...",
                flush=True,
            )
            run = Run(info, ports, plan)
            seconds = await run.execute()
        finally:
            stack.stop()
    bound = max_in_flight if max_in_flight is not None else IntakeSettings().http_max_in_flight
    return Result(plan, bound, seconds, dict(run.error_kinds), run.kafka_drained_after)


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--steps",
        type=lambda v: [int(x) for x in v.split(",")],
        default=list(DEFAULT_STEPS),
        help="offered HTTP rates, requests/s (default: %(default)s)",
    )
    parser.add_argument("--step-seconds", type=float, default=8.0)
    parser.add_argument("--pause-seconds", type=float, default=5.0, help="no load between the HTTP and Kafka parts")
    parser.add_argument("--kafka-burst", type=int, default=20000, help="submissions published at once (0: none)")
    parser.add_argument("--kafka-seconds", type=float, default=90.0, help="longest wait for the burst to drain")
    parser.add_argument("--short", action="store_true", help="a quick version for make bench")
    parser.add_argument("--max-in-flight", type=int, help="intake's bound for this run (default: its setting)")
    parser.add_argument("--plot", type=Path, help="draw the series to this PNG")
    parser.add_argument("--per-second", action="store_true", help="print the per-second table too")
    parser.add_argument("--json", type=Path, help="also write the summary and the per-second series to this file")
    args = parser.parse_args()
    if args.short:
        plan = Plan([50, 200, 800], 5.0, 4.0, 3000, 45.0)
    else:
        plan = Plan(args.steps, args.step_seconds, args.pause_seconds, args.kafka_burst, args.kafka_seconds)
    if plan.requests > 60000 or plan.http_seconds > 300 or plan.kafka_burst > 50000 or plan.kafka_seconds > 300:
        parser.error("bounded: at most 60,000 requests over 300 s, and 50,000 submissions drained in 300 s")
    result = asyncio.run(main(plan, args.max_in_flight))
    figures = report(result, per_second=args.per_second)
    if args.json:
        args.json.write_text(json.dumps({"summary": figures, "seconds": [asdict(s) for s in result.seconds]}))
    if args.plot:
        plot(result, args.plot)
        print(f"plot: {args.plot}")


if __name__ == "__main__":
    cli()
