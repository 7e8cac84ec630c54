"""The deadline sweep: how fast routing's deadline worker fires escalations, how late, and the plain-SQL floor.

1. Starts an embedded PostgreSQL in a temporary directory, applies routing's migrations, loads the school list and
   the demo staff, and inserts 1,000,000 open inquiries with deadlines (both SLA clocks, an assignee each).
2. Backlog: 100,000 of them are due at once; routing's DeadlineWorker fires them all, run as routing replicas run
   it: 2 processes of one deadline worker each by default (services/routing/app.py starts one per replica; FOR UPDATE
   SKIP LOCKED, the state change, history and outbox events in one transaction). Two workers per process, or three
   processes, fired fewer on the 2-core machine (19,100-19,400/s against 20,200-20,600/s). The replicas start
   (imports, files, the calendar's table) before the deadlines are set.
   Escalations/s = 100,000 / (last commit - first claim).
3. On time: with the replicas running, another 100,000 fall due evenly over a window (20,000/s by default); lateness
   is each escalation's commit time minus its due time, p50 and p99.
4. The floor: another 100,000 due at once, fired by 4 workers x 1,000 rows in plain SQL with no service around it:
   the same claim (FOR UPDATE SKIP LOCKED), update and outbox insert, one statement per transaction.
After each phase it checks that exactly its 100,000 rows changed and the other 900,000 stayed untouched. Prints the
figures and the ratio service / floor. Publishing the outbox rows to Kafka is the relay's job, measured by
bench/throughput.py, not here.

    python -m bench.deadline_sweep [--inquiries 1000000] [--due 100000] [--replicas 2] [--workers 1] [--rate 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import functools
import json
import multiprocessing
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from devstack.postgres import ensure_database, start_postgres
from devstack.processes import free_port
from services.routing import handlers
from services.routing.app import MIGRATIONS, load_rules
from services.routing.deadlines import DeadlineWorker
from services.routing.files import DEMO_STAFF, read_staff
from services.routing.settings import RoutingSettings
from services.routing.unit_of_work import PostgresRoutingUnitOfWork
from shared.db.migrations import MigrationSource, apply_migrations, plumbing_source
from shared.db.pool import create_pool
from shared.settings import PlatformSettings

SCHEMA = "routing"
NETWORKS = 17  # 'network-1' .. 'network-17', each with a PSA and two staff in the demo file


class RecordingClock:
    """The wall clock, remembering the last time it told (the 'now' of the worker's latest round)."""

    def __init__(self) -> None:
        self.last = datetime.now(UTC)

    def now(self) -> datetime:
        self.last = datetime.now(UTC)
        return self.last


class MeasuredWorker(DeadlineWorker):
    """Routing's deadline worker, noting when each round's transaction committed (keyed by the round's 'now',
    which the round writes to every row it fired as ``updated_at``)."""

    def __init__(self, *args: Any, clock: RecordingClock, rounds: list[tuple[datetime, float]], **kwargs: Any) -> None:
        super().__init__(*args, clock=clock, **kwargs)
        self._recording = clock
        self._rounds = rounds

    async def fire_due(self) -> int:
        claimed = await super().fire_due()
        if claimed:
            self._rounds.append((self._recording.last, time.time()))
        return claimed


async def setup(platform: PlatformSettings, inquiries: int) -> asyncpg.Pool:
    admin = await asyncpg.connect(platform.database_url.get_secret_value())
    try:
        await apply_migrations(admin, schema=SCHEMA, sources=[plumbing_source(), MigrationSource(SCHEMA, MIGRATIONS)])
    finally:
        await admin.close()
    pool = await create_pool(platform, schema=SCHEMA, application_name="bench-deadline-sweep")
    settings = RoutingSettings(platform=platform)
    with settings.schools_csv.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    async with PostgresRoutingUnitOfWork(pool) as uow:
        await handlers.load_directory(uow, rows)
        await handlers.put_staff(uow, read_staff(DEMO_STAFF), now=datetime.now(UTC), only_new=True)
    far = datetime.now(UTC) + timedelta(days=30)
    started = datetime.now(UTC) - timedelta(hours=1)
    async with pool.acquire() as conn:
        await conn.execute("ALTER TABLE assignments SET (autovacuum_enabled = false)")
        # Each inquiry: network tier, first response due far ahead (elapsed = target: it runs out at fr_since),
        # resolution running since an hour ago. The phases set fr_since = next_due_at = their due times.
        await conn.execute(
            "INSERT INTO assignments (inquiry_id, category, school_id, network_id, queue, tier, reason, assigned_at,"
            " updated_at, urgency, assignee_id, status, tier_started_at, fr_target, fr_elapsed, fr_since, res_target,"
            " res_elapsed, res_since, due_at, next_due_at)"
            " SELECT gen_random_uuid(), 'other', 609794, 'network-' || (1 + i % $2), 'network', 'network',"
            " 'school_network', $3, $3, 'normal', 'network-' || (1 + i % $2) || '-staff-' || (1 + i % 2), 'open', $3,"
            " 32400, 32400, $4, 97200, 0, $3, $4, $4 FROM generate_series(1, $1) AS i",
            inquiries,
            NETWORKS,
            started,
            far,
        )
        await conn.execute(
            "UPDATE staff SET open_load = l.n FROM (SELECT assignee_id, count(*) AS n FROM assignments"
            " GROUP BY assignee_id) l WHERE staff.id = l.assignee_id"
        )
        await conn.execute("ALTER TABLE assignments SET (autovacuum_enabled = true)")
        await conn.execute("VACUUM ANALYZE assignments")
        await conn.execute("VACUUM ANALYZE staff")
    return pool


async def make_due(
    pool: asyncpg.Pool, count: int, first: datetime, spread: float, *, vacuum: bool = True
) -> tuple[list[Any], datetime]:
    """``count`` untouched inquiries now fall due from ``first`` over ``spread`` seconds; returns their ids and the
    moment of the change (rows touched later are the ones that fired). ``vacuum``: tidy the table afterwards (not
    while workers are already firing)."""
    marker = datetime.now(UTC)  # before the change: with the workers running, some may fire before it returns
    async with pool.acquire() as conn:
        ids = await conn.fetch(
            "SELECT inquiry_id FROM assignments WHERE tier = 'network' AND next_due_at > now() + interval '1 day'"
            " LIMIT $1",
            count,
        )
        chosen = [row["inquiry_id"] for row in ids]
        await conn.execute(
            "UPDATE assignments a SET fr_since = d.due, next_due_at = d.due, due_at = d.due FROM"
            " (SELECT id, $2::timestamptz + (o - 1) * $3 * interval '1 second' / $4 AS due"
            " FROM unnest($1::uuid[]) WITH ORDINALITY AS u(id, o)) d WHERE a.inquiry_id = d.id",
            chosen,
            first,
            spread,
            count,
        )
        if vacuum:
            await conn.execute("VACUUM ANALYZE assignments")
    return chosen, marker


async def vacuum(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await conn.execute("VACUUM ANALYZE assignments")


async def touched_since(pool: asyncpg.Pool, marker: datetime) -> int:
    count: int = await pool.fetchval("SELECT count(*) FROM assignments WHERE updated_at > $1", marker)
    return count


async def close(pool: asyncpg.Pool) -> None:
    """Close a pool; a connection a stopped worker left behind must not hold the benchmark up."""
    try:
        await asyncio.wait_for(pool.close(), timeout=5)
    except TimeoutError:
        pool.terminate()


async def _replica(
    url: str, workers: int, batch: int, since: datetime, count: int, ready: Any
) -> list[tuple[datetime, float]]:
    """One replica's deadline workers, started (and the calendar's table worked out) before the phase's deadlines are
    set, until the phase's escalations (those since ``since``) are all fired; the rounds it committed."""
    platform = PlatformSettings(database_url=url, database_pool_max=workers + 2)
    pool = await create_pool(platform, schema=SCHEMA, application_name="bench-replica")
    rules = load_rules(RoutingSettings(platform=platform))
    rules.calendar.add_business(datetime.now(UTC), 60)  # the table, worked out as a replica does at its first round
    rounds: list[tuple[datetime, float]] = []
    running = [
        MeasuredWorker(
            pool,
            rules=rules,
            clock=RecordingClock(),
            rounds=rounds,
            batch_size=batch,
            name=f"sweep-{i}",
            poll_interval=0.05,
        )
        for i in range(workers)
    ]
    try:
        for worker in running:
            worker.start()
        ready.set()
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            fired = await pool.fetchval(
                "SELECT count(*) FROM sla_history WHERE event_type = 'inquiry.escalated' AND occurred_at >= $1", since
            )
            if fired >= count:
                break
            # Not more often: the count scans the history, and the figures come from the rounds' commit times, not
            # from when this sees the last one (at 20 counts a second per replica the scans took a tenth of the
            # machine from the workers being measured).
            await asyncio.sleep(0.5)
    finally:
        for worker in running:
            await worker.stop()
        await close(pool)
    return rounds


def _replica_process(url: str, workers: int, batch: int, since: str, count: int, out: str, ready: Any) -> None:
    rounds = asyncio.run(_replica(url, workers, batch, datetime.fromisoformat(since), count, ready))
    Path(out).write_text(json.dumps([(now.isoformat(), committed) for now, committed in rounds]))


def _read_rounds(outs: list[str]) -> list[tuple[datetime, float]]:
    return [
        (datetime.fromisoformat(now), committed) for out in outs for now, committed in json.loads(Path(out).read_text())
    ]


async def run_service_phase(
    pool: asyncpg.Pool, url: str, *, replicas: int, workers: int, batch: int, count: int, lead: float, spread: float
) -> dict[str, float]:
    """``replicas`` processes (routing replicas would be processes), each with ``workers`` deadline workers, running
    before the phase's ``count`` deadlines are set to fall due from ``lead`` seconds on (negative: already due) over
    ``spread`` seconds: the replicas' start is not counted as lateness."""
    await vacuum(pool)  # the last phase's dead rows out of the way, as before each phase of the floor
    context = multiprocessing.get_context("spawn")
    since = datetime.now(UTC) - timedelta(seconds=1)
    with tempfile.TemporaryDirectory() as tmp:
        outs = [str(Path(tmp) / f"replica-{i}.json") for i in range(replicas)]
        ready = [context.Event() for _ in outs]
        processes = [
            context.Process(target=_replica_process, args=(url, workers, batch, since.isoformat(), count, out, up))
            for out, up in zip(outs, ready, strict=True)
        ]
        for process in processes:
            process.start()
        for up in ready:
            await asyncio.to_thread(up.wait, 120)
        first = datetime.now(UTC) + timedelta(seconds=lead)
        chosen, marker = await make_due(pool, count, first, spread, vacuum=False)
        for process in processes:
            await asyncio.to_thread(process.join)
        rounds = _read_rounds(outs)
    last_commit = max(committed for _, committed in rounds)
    # From the first claim (the replicas' start-up, imports and files, is not the sweep's work) to the last commit.
    started = min(now for now, _ in rounds).timestamp()
    async with pool.acquire() as conn:
        await conn.execute("CREATE TEMP TABLE IF NOT EXISTS rounds (now_at timestamptz PRIMARY KEY, committed float8)")
        await conn.execute("TRUNCATE rounds")
        await conn.executemany("INSERT INTO rounds VALUES ($1, $2) ON CONFLICT DO NOTHING", rounds)
        late = await conn.fetch(
            "SELECT r.committed - extract(epoch FROM h.occurred_at) AS late FROM sla_history h"
            " JOIN assignments a ON a.inquiry_id = h.inquiry_id JOIN rounds r ON r.now_at = a.updated_at"
            " WHERE h.event_type = 'inquiry.escalated' AND h.inquiry_id = ANY($1::uuid[])",
            chosen,
        )
        outbox = await conn.fetchval(
            "SELECT count(*) FROM outbox o WHERE o.event_type = 'inquiry.escalated' AND o.key = ANY($1::text[])",
            [str(i) for i in chosen],
        )
    lateness = sorted(float(row["late"]) for row in late)
    touched = await touched_since(pool, marker)
    return {
        "fired": float(len(lateness)),
        "outbox_escalations": float(outbox),
        "elapsed_s": last_commit - started,
        "per_s": len(lateness) / (last_commit - started),
        "late_p50_s": statistics.median(lateness),
        "late_p99_s": lateness[min(len(lateness) - 1, int(len(lateness) * 0.99))],
        "touched": float(touched),
    }


FLOOR_SQL = (
    "WITH claimed AS (SELECT inquiry_id, next_due_at FROM assignments WHERE next_due_at <= $1"
    " ORDER BY next_due_at LIMIT $2 FOR UPDATE SKIP LOCKED),"
    " updated AS (UPDATE assignments a SET tier = 'psa', assignee_id = a.network_id || '-psa', fr_elapsed = 0,"
    " fr_target = 14400, fr_since = c.next_due_at, next_due_at = c.next_due_at + interval '4 hours',"
    " due_at = c.next_due_at + interval '4 hours', updated_at = $1 FROM claimed c"
    " WHERE a.inquiry_id = c.inquiry_id RETURNING a.inquiry_id, a.network_id, c.next_due_at)"
    " INSERT INTO outbox (event_id, topic, key, event_type, payload, headers)"
    " SELECT gen_random_uuid(), 'psc.routing.events', u.inquiry_id::text, 'inquiry.escalated',"
    " jsonb_build_object('inquiry_id', u.inquiry_id, 'from_tier', 'network', 'to_tier', 'psa', 'network_id',"
    " u.network_id, 'due_at', u.next_due_at), '[]' FROM updated u"
)


async def run_floor(pool: asyncpg.Pool, *, workers: int, batch: int, count: int) -> dict[str, float]:
    first = datetime.now(UTC) - timedelta(seconds=1)
    _, marker = await make_due(pool, count, first, 1.0)
    now = datetime.now(UTC)

    async def worker() -> int:
        done = 0
        while True:
            async with pool.acquire() as conn, conn.transaction():
                status = await conn.execute(FLOOR_SQL, now, batch)
            fired = int(status.split()[-1])
            done += fired
            if fired == 0:
                return done

    started = time.time()
    fired = sum(await asyncio.gather(*[worker() for _ in range(workers)]))
    elapsed = time.time() - started
    return {
        "fired": float(fired),
        "elapsed_s": elapsed,
        "per_s": fired / elapsed,
        "touched": float(await touched_since(pool, marker)),
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="psc-sweep-") as tmp:
        port = free_port()
        database = start_postgres(data_dir=Path(tmp) / "pgdata", port=port, log_dir=Path(tmp) / "log")
        try:
            url = await ensure_database(host="127.0.0.1", port=port, name="sweep")
            platform = PlatformSettings(database_url=url, database_pool_max=max(10, args.workers + 2))
            print(f"setting up {args.inquiries:,} open inquiries with deadlines ...", flush=True)
            began = time.time()
            pool = await setup(platform, args.inquiries)
            print(f"  done in {time.time() - began:.0f} s", flush=True)
            try:
                who = f"{args.replicas} replicas x {args.workers} deadline workers"
                phase = functools.partial(
                    run_service_phase,
                    pool,
                    url,
                    replicas=args.replicas,
                    workers=args.workers,
                    batch=args.batch,
                    count=args.due,
                )
                print(f"backlog: {args.due:,} due at once, {who} ...", flush=True)
                backlog = await phase(lead=-1.0, spread=1.0)
                spread = args.due / args.rate
                print(f"on time: {args.due:,} falling due over {spread:.0f} s ({args.rate:,}/s) ...", flush=True)
                paced = await phase(lead=2.0, spread=spread)
                print(f"floor: {args.due:,} due at once, plain SQL, 4 workers x {args.batch} rows ...", flush=True)
                floor = await run_floor(pool, workers=4, batch=args.batch, count=args.due)
            finally:
                await close(pool)
        finally:
            database.stop()
    return {
        "inquiries": args.inquiries,
        "due": args.due,
        "workers": f"{args.replicas} replicas x {args.workers} workers",
        "rate": args.rate,
        "batch": args.batch,
        "backlog": backlog,
        "paced": paced,
        "floor": floor,
    }


def report(results: dict[str, Any]) -> None:
    backlog, paced, floor, due = results["backlog"], results["paced"], results["floor"], results["due"]
    print(
        f"\n== Parent Support Center: deadline sweep ({results['inquiries']:,} open inquiries, {due:,} due a phase) =="
    )
    print(
        f"service, backlog        {backlog['per_s']:>9.0f} escalations/s  ({backlog['fired']:.0f} in"
        f" {backlog['elapsed_s']:.2f} s, {results['workers']}; outbox rows {backlog['outbox_escalations']:.0f};"
        f" rows touched {backlog['touched']:.0f})"
    )
    print(
        f"service, on time        lateness p50 {paced['late_p50_s'] * 1000:.0f} ms"
        f"   p99 {paced['late_p99_s'] * 1000:.0f} ms   ({paced['fired']:.0f} fired as they fell due at"
        f" {results['rate']:,}/s; rows touched {paced['touched']:.0f})"
    )
    print(
        f"plain SQL floor         {floor['per_s']:>9.0f} rows/s  ({floor['fired']:.0f} in {floor['elapsed_s']:.2f} s,"
        f" 4 workers x {results['batch']} rows; rows touched {floor['touched']:.0f})"
    )
    print(f"ratio service / floor   {backlog['per_s'] / floor['per_s']:.3f}")
    untouched = all(phase["touched"] == due for phase in (backlog, paced, floor))
    print(
        f"targets                 >= 20,000 escalations/s: {'met' if backlog['per_s'] >= 20000 else 'NOT met'};"
        f"  p99 lateness < 1 s: {'met' if paced['late_p99_s'] < 1 else 'NOT met'};"
        f"  the other rows untouched: {'yes' if untouched else 'NO'}"
    )


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--inquiries", type=int, default=1_000_000)
    parser.add_argument("--due", type=int, default=100_000)
    parser.add_argument("--replicas", type=int, default=2, help="processes, as routing replicas")
    parser.add_argument("--workers", type=int, default=1, help="deadline workers per replica (a replica runs one)")
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument(
        "--rate", type=int, default=20_000, help="deadlines falling due per second in the on-time phase"
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    results = asyncio.run(main(args))
    report(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    cli()
