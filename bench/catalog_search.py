"""Catalog search over HTTP at a steady rate with a realistic query mix, against the bare SQL floor, in one run.

1. Starts an embedded PostgreSQL and Tansu in a temporary directory, creates the platform's topics, and runs the
   catalog as its own process (``python -m services.catalog``) with the district seed, the school list and the
   synonyms file, as a deployment would.
2. HTTP: ``GET /v1/resources`` requests paced at a fixed rate (500/s by default, open loop: a slow answer does not
   slow the sending) for a number of seconds; the query mix is parents' words in English and Spanish, misspellings,
   phrases, and filters (category, language, network, open now, distance from a school). Latency per request from
   sending to the whole answer read; p50 and p99, and how many answers were not 200.
3. The floor: the same mix as the bare SQL statement the catalog runs for each query's first round (the full-text
   search with its filters), one connection at a time, straight through asyncpg: p50 and p99.
Prints the figures and the ratio HTTP p99 / SQL p99. The machine is shared: compare ratios across runs. The mix
repeats, so with the catalog's search cache (PSC_CATALOG_SEARCH_CACHE_SECONDS, 10 s by default) most requests are
answered from it; ``--cache-seconds 0`` sends every search to the database.

    python -m bench.catalog_search [--rate 500] [--seconds 20] [--cache-seconds 0]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import asyncpg
import httpx

from devstack.postgres import ensure_database, start_postgres
from devstack.processes import Child, free_port, spawn
from devstack.tansu import start_tansu
from services.catalog.domain import FullText, SearchFilters, search_plan
from services.catalog.places import GRADE_NUMBERS
from services.catalog.querying import parse_synonyms
from services.catalog.repository import _SEARCHES
from services.catalog.settings import SYNONYMS
from shared.contracts.catalog import ResourceCategory
from shared.contracts.topics import ALL_TOPICS
from shared.kafka.connection import ensure_topics
from shared.settings import PlatformSettings

# (query string parameters), weighted by repetition: most searches are a word or two, some a sentence, some filtered.
QUERY_MIX: list[dict[str, str]] = [
    {"q": "IEP"},
    {"q": "IEP meeting"},
    {"q": "homeless"},
    {"q": "uniforms"},
    {"q": "bus"},
    {"q": "bus", "language": "es"},
    {"q": "truancy"},
    {"q": "attendance", "category": "attendance"},
    {"q": "school transitions"},
    {"q": "school model exploration"},
    {"q": "educación especial"},
    {"q": "educacion especial"},
    {"q": "sin hogar"},
    {"q": "acoso escolar"},
    {"q": "inscripción GoCPS"},
    {"q": "help with the school bus"},
    {"q": "my son is absent a lot"},
    {"q": '"parent mentors"'},
    {"q": "workshop", "language": "es"},
    {"q": "atendance"},
    {"q": "transportaton"},
    {"q": "counselor", "grade": "10"},
    {"q": "network office", "network": "network-4"},
    {"category": "special_education"},
    {"q": "health", "open_now": "true"},
    {"q": "safe passage", "school_id": "609794", "radius_km": "20"},
]


class Connections:
    """Keep-alive HTTP/1.1 connections, as light as a client can be (httpx's own cost per request would take the
    CPU the server needs on a small machine): write a GET, read the status line, headers and Content-Length body."""

    def __init__(self, host: str, port: int) -> None:
        self._host, self._port = host, port
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def get(self, target: str) -> int:
        reader, writer = self._idle.pop() if self._idle else await asyncio.open_connection(self._host, self._port)
        writer.write(f"GET {target} HTTP/1.1\r\nHost: {self._host}\r\n\r\n".encode())
        status = int((await reader.readline()).split()[1])
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
        await reader.readexactly(length)
        self._idle.append((reader, writer))
        return status

    def close(self) -> None:
        for _, writer in self._idle:
            writer.close()


async def pace(client: Connections, rate: int, seconds: float) -> tuple[list[float], int]:
    """Send the mix round and round at ``rate`` per second; return each latency (s) and the count of non-200s."""
    latencies: list[float] = []
    failures = 0
    targets = ["/v1/resources?" + urlencode(params) for params in QUERY_MIX]

    async def one(target: str) -> None:
        nonlocal failures
        began = time.perf_counter()
        status = await client.get(target)
        latencies.append(time.perf_counter() - began)
        if status != 200:
            failures += 1

    tasks: list[asyncio.Task[None]] = []
    total = int(rate * seconds)
    start = time.perf_counter()
    for i in range(total):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(targets[i % len(targets)])))
    await asyncio.gather(*tasks)
    return latencies, failures


async def sql_floor(url: str, repeats: int) -> list[float]:
    """The first round of each query of the mix as the bare SQL statement, one after the other."""
    synonyms = parse_synonyms(SYNONYMS.read_text())
    conn = await asyncpg.connect(url, server_settings={"search_path": "catalog"})
    latencies: list[float] = []
    try:
        for _ in range(repeats):
            for params in QUERY_MIX:
                plan = search_plan(params.get("q"), synonyms)
                match = plan[0]
                filters = SearchFilters(
                    category=ResourceCategory(params["category"]) if "category" in params else None,
                    language=params.get("language"),
                    network=params.get("network"),
                    grade=GRADE_NUMBERS[params["grade"]] if "grade" in params else None,
                )
                tsquery = match.tsquery if isinstance(match, FullText) else None
                text = match.text if isinstance(match, FullText) else None
                args = (
                    filters.category.value if filters.category else None, filters.language, 20, 0, tsquery,
                    filters.network, filters.grade, None, None, None, None, text,
                )  # fmt: skip
                began = time.perf_counter()
                await conn.fetchrow(_SEARCHES[type(match)], *args)
                latencies.append(time.perf_counter() - began)
    finally:
        await conn.close()
    return latencies


def quantiles(values: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50_ms": cuts[49] * 1000, "p99_ms": cuts[98] * 1000, "count": float(len(values))}


async def wait_ready(base: str, child: Child, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(base_url=base) as client:
        while time.monotonic() < deadline:
            if not child.alive:
                raise RuntimeError(f"the catalog stopped while starting:\n{child.log_tail()}")
            try:
                if (await client.get("/ready")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.25)
    raise RuntimeError("the catalog was not ready in time")


async def main(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="psc-catalog-bench-") as tmp:
        root = Path(tmp)
        pg_port, kafka_port, http_port = free_port(), free_port(), free_port()
        database = start_postgres(data_dir=root / "pgdata", port=pg_port, log_dir=root / "log")
        broker = start_tansu(port=kafka_port, log_dir=root / "log")
        child: Child | None = None
        try:
            url = await ensure_database(host="127.0.0.1", port=pg_port, name="catalog_bench")
            platform = PlatformSettings(kafka_bootstrap=f"127.0.0.1:{kafka_port}", database_url=url)
            await ensure_topics(platform, ALL_TOPICS)
            env = {
                "PSC_KAFKA_BOOTSTRAP": platform.kafka_bootstrap,
                "PSC_DATABASE_URL": url,
                "PSC_CATALOG_HTTP_PORT": str(http_port),
                "PSC_LOG_LEVEL": "WARNING",
                **(
                    {"PSC_CATALOG_SEARCH_CACHE_SECONDS": str(args.cache_seconds)}
                    if args.cache_seconds is not None
                    else {}
                ),
            }
            child = spawn("catalog", [sys.executable, "-m", "services.catalog"], log_dir=root / "log", env=env)
            base = f"http://127.0.0.1:{http_port}"
            print("starting the catalog (seed, 660 schools) ...", flush=True)
            await wait_ready(base, child)
            client = Connections("127.0.0.1", http_port)
            try:
                print("warming up ...", flush=True)
                await pace(client, min(args.rate, 100), 2)
                print(f"HTTP: {args.rate}/s for {args.seconds:.0f} s ...", flush=True)
                latencies, failures = await pace(client, args.rate, args.seconds)
            finally:
                client.close()
            print("floor: the bare SQL statements ...", flush=True)
            floor = await sql_floor(url, repeats=max(1, len(latencies) // len(QUERY_MIX) // 10))
        finally:
            if child is not None:
                child.stop(timeout=30)
            broker.stop()
            database.stop()
    return {
        "cache_seconds": args.cache_seconds,
        "rate": args.rate,
        "seconds": args.seconds,
        "http": {**quantiles(latencies), "failures": float(failures)},
        "sql": quantiles(floor),
    }


def report(results: dict[str, Any]) -> None:
    http, sql = results["http"], results["sql"]
    cache = "default" if results["cache_seconds"] is None else f"{results['cache_seconds']:g} s"
    print(
        f"\n== Parent Support Center: catalog search ({results['rate']}/s over HTTP, {len(QUERY_MIX)} queries,"
        f" search cache {cache}) =="
    )
    print(
        f"HTTP GET /v1/resources   p50 {http['p50_ms']:6.2f} ms   p99 {http['p99_ms']:6.2f} ms"
        f"   ({http['count']:.0f} requests, {http['failures']:.0f} not 200)"
    )
    print(f"bare SQL floor           p50 {sql['p50_ms']:6.2f} ms   p99 {sql['p99_ms']:6.2f} ms   ({sql['count']:.0f})")
    print(f"ratio HTTP / SQL p99     {http['p99_ms'] / sql['p99_ms']:.2f}")
    print(f"target                   p99 < 10 ms over HTTP: {'met' if http['p99_ms'] < 10 else 'NOT met'}")


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=int, default=500, help="requests per second")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long to send")
    parser.add_argument(
        "--cache-seconds",
        type=float,
        help="PSC_CATALOG_SEARCH_CACHE_SECONDS for the catalog (default: its own, 10 s; 0: no cache)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    results = asyncio.run(main(args))
    report(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    cli()
