"""End-to-end throughput and latency of the inquiry path, against the raw Kafka floor, measured in one run.

1. Starts the whole stack (embedded broker and database, sinks, four services) on free ports in a temporary dir.
2. Raw floor: plain aiokafka produces the same submission payloads to a fresh topic (acks=all) and consumes them.
3. Throughput: N submissions published to ``psc.inquiries.submit`` as fast as possible; done when the mail
   catcher has accepted every acknowledgment email. Inquiries/s = N / (last email accepted - first submission).
4. Latency: once the burst's other messages (assigned and staff emails) have drained, submissions paced at a fixed
   rate (100/s by default); per inquiry, submission to acknowledgment email accepted by the mail catcher (its own
   receive timestamp); p50 and p99.
Prints the figures and the ratio end-to-end / raw. The machine is shared and noisy: compare ratios across runs.

    python -m bench.throughput [--inquiries 3000] [--paced-rate 100] [--paced-seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from devstack.stack import Stack, StackPorts
from shared.contracts.topics import INQUIRY_SUBMISSIONS


def submission(run: str, index: int) -> tuple[str, bytes]:
    email = f"bench.{run}.{index}@bench.example"
    body = {
        "parent": {"name": f"Parent {index}", "email": email, "preferred_language": ("en", "es", "zh")[index % 3]},
        "student": {"school_id": 609794, "grade": "5"},
        "category": "attendance",
        "description": "Benchmark inquiry: absences recorded on days the student attended.",
        "channel": "district_system",
        "correlation_id": f"bench-{run}-{index}",
    }
    return email, json.dumps(body).encode()


async def raw_floor(bootstrap: str, payloads: list[bytes]) -> dict[str, float]:
    topic = f"bench.raw.{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, 6, 1)])
    await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=False, linger_ms=2)
    await producer.start()
    started = time.perf_counter()
    futures = [await producer.send(topic, value=p, key=str(i).encode()) for i, p in enumerate(payloads)]
    await asyncio.gather(*futures)
    produced = time.perf_counter() - started
    await producer.stop()
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None)
    await consumer.start()
    started, count = time.perf_counter(), 0
    while count < len(payloads):
        for records in (await consumer.getmany(timeout_ms=500, max_records=5000)).values():
            count += len(records)
    consumed = time.perf_counter() - started
    await consumer.stop()
    n = len(payloads)
    return {"produce_per_s": n / produced, "consume_per_s": n / consumed, "round_trip_per_s": n / (produced + consumed)}


async def accepted_mail(http: httpx.AsyncClient, api: str, recipients: set[str]) -> dict[str, float]:
    """Recipient -> when the mail catcher accepted the message (epoch seconds)."""
    listing = (await http.get(api, params={"limit": 100000})).json()
    out: dict[str, float] = {}
    for message in listing["messages"]:
        for to in message["To"]:
            if to["Address"] in recipients:
                out[to["Address"]] = datetime.fromisoformat(message["Created"].replace("Z", "+00:00")).timestamp()
    return out


async def wait_for_mail(http: httpx.AsyncClient, api: str, recipients: set[str], timeout: float) -> dict[str, float]:
    """When each recipient's first email was accepted. The whole listing is read only once the catcher's count has
    reached the recipients and stood still for a moment: serialising thousands of messages keeps the catcher's loop
    busy, and polled while mail still arrives it delayed the very messages being timed."""
    deadline = time.monotonic() + timeout
    while True:
        await settled_count(http, api, at_least=len(recipients), quiet_for=0.5, deadline=deadline)
        seen = await accepted_mail(http, api, recipients)
        if len(seen) == len(recipients) or time.monotonic() > deadline:
            return seen
        await asyncio.sleep(0.5)


async def settled_count(http: httpx.AsyncClient, api: str, *, at_least: int, quiet_for: float, deadline: float) -> None:
    """Wait (reading only the catcher's message count) until it holds ``at_least`` messages and has not changed for
    ``quiet_for`` seconds, or the deadline passes."""
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        total = (await http.get(api, params={"limit": 1})).json()["total"]
        if total != last:
            last, since = total, time.monotonic()
        elif total >= at_least and time.monotonic() - since >= quiet_for:
            return
        await asyncio.sleep(0.1)


async def end_to_end(producer: AIOKafkaProducer, http: httpx.AsyncClient, api: str, n: int) -> dict[str, float]:
    run = uuid.uuid4().hex[:6]
    items = [submission(run, i) for i in range(n)]
    started = time.time()
    futures = [await producer.send(INQUIRY_SUBMISSIONS, value=p, key=e.encode()) for e, p in items]
    await asyncio.gather(*futures)
    published = time.time() - started
    seen = await wait_for_mail(http, api, {e for e, _ in items}, timeout=max(120.0, n / 20))
    if len(seen) < n:
        raise SystemExit(f"only {len(seen)} of {n} acknowledgment emails arrived")
    elapsed = max(seen.values()) - started
    return {"inquiries": n, "publish_s": published, "elapsed_s": elapsed, "per_s": n / elapsed}


async def drained(http: httpx.AsyncClient, api: str, quiet_for: float = 3.0, timeout: float = 300.0) -> None:
    """Wait until the mail catcher has received nothing new for ``quiet_for`` seconds: the burst's other messages
    (each inquiry also brings its 'assigned' email and the staff's) are out, so the paced run measures a steady state
    and not the tail of the burst's backlog."""
    await settled_count(http, api, at_least=0, quiet_for=quiet_for, deadline=time.monotonic() + timeout)


async def paced(
    producer: AIOKafkaProducer, http: httpx.AsyncClient, api: str, rate: float, seconds: float
) -> dict[str, float]:
    run = uuid.uuid4().hex[:6]
    n = int(rate * seconds)
    sent_at: dict[str, float] = {}
    start = time.monotonic()
    for i in range(n):
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        email, payload = submission(run, i)
        sent_at[email] = time.time()
        await producer.send(INQUIRY_SUBMISSIONS, value=payload, key=email.encode())
    await producer.flush()
    seen = await wait_for_mail(http, api, set(sent_at), timeout=120)
    if len(seen) < n:
        raise SystemExit(f"paced run: only {len(seen)} of {n} acknowledgment emails arrived")
    latencies = sorted(seen[e] - sent_at[e] for e in sent_at)
    return {
        "inquiries": n,
        "rate": rate,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        "max_ms": latencies[-1] * 1000,
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="psc-bench-") as tmp:
        stack = Stack(Path(tmp), StackPorts.free())
        print("starting the stack ...", flush=True)
        info = await stack.start()
        try:
            api = info.urls["mail_catcher_api"]
            payloads = [submission("raw", i)[1] for i in range(args.inquiries)]
            print(f"raw floor: {args.inquiries} payloads through plain aiokafka ...", flush=True)
            raw = await raw_floor(info.kafka_bootstrap, payloads)
            producer = AIOKafkaProducer(bootstrap_servers=info.kafka_bootstrap, acks="all", enable_idempotence=False)
            await producer.start()
            async with httpx.AsyncClient(timeout=30) as http:
                print("warm-up ...", flush=True)
                await end_to_end(producer, http, api, 200)
                print(f"end to end: {args.inquiries} inquiries as fast as they come ...", flush=True)
                e2e = await end_to_end(producer, http, api, args.inquiries)
                print("letting the burst's other messages drain ...", flush=True)
                await drained(http, api)
                print(f"latency: {args.paced_rate}/s for {args.paced_seconds} s ...", flush=True)
                lat = await paced(producer, http, api, args.paced_rate, args.paced_seconds)
            await producer.stop()
        finally:
            stack.stop()
    return {"raw": raw, "end_to_end": e2e, "latency": lat}


def report(results: dict[str, Any]) -> None:
    raw, e2e, lat = results["raw"], results["end_to_end"], results["latency"]
    print("\n== Parent Support Center: inquiry path benchmark (one run, same machine) ==")
    print(
        f"raw aiokafka floor      produce {raw['produce_per_s']:>9.0f}/s   consume {raw['consume_per_s']:>9.0f}/s"
        f"   produce+consume {raw['round_trip_per_s']:>8.0f}/s"
    )
    print(
        f"end to end              {e2e['per_s']:>9.1f} inquiries/s  ({e2e['inquiries']} in {e2e['elapsed_s']:.2f} s;"
        " submission -> routed, acknowledged, email accepted)"
    )
    print(
        f"ratio end-to-end / raw  {e2e['per_s'] / raw['round_trip_per_s']:.4f}"
        f"  (1 : {raw['round_trip_per_s'] / e2e['per_s']:.0f})"
    )
    print(
        f"latency at {lat['rate']:.0f}/s        p50 {lat['p50_ms']:.0f} ms   p99 {lat['p99_ms']:.0f} ms"
        f"   max {lat['max_ms']:.0f} ms   ({lat['inquiries']} inquiries)"
    )
    print(
        f"targets                 >= 300 inquiries/s end to end: {'met' if e2e['per_s'] >= 300 else 'NOT met'};"
        f"  p99 < 1000 ms at 100/s: {'met' if lat['p99_ms'] < 1000 else 'NOT met'}"
    )


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--inquiries", type=int, default=3000)
    parser.add_argument("--paced-rate", type=float, default=100.0)
    parser.add_argument("--paced-seconds", type=float, default=10.0)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    results = asyncio.run(main(args))
    report(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    cli()
