"""The whole stack on one machine: broker, database, mail catcher, SMS sink and the four services as processes.

Used by ``psc run`` (``make run``), the end-to-end tests and the benchmark. Everything it keeps lives under the var
directory: the database files, each process's log (and the runner's own, ``log/runner.log``), and ``stack.json`` with
every URL and every process's current pid.

With a ``RestartPolicy`` (``psc run`` gives one) the stack supervises itself (``supervise``): a service or sink that
exits is restarted after a growing pause and a crash loop stops only that process; a broker that exits is started
again empty, its topics created and every service's outbox replayed (``restart_broker``); a database that exits is
started again on its data (``restart_database``). Without one (the benchmark), a process that exits during the start
fails it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psutil

from devstack.postgres import ensure_database, spawn_postgres, start_postgres
from devstack.processes import Child, free_port, port_is_free, spawn, wait_for_port
from devstack.supervision import CrashHistory, GiveUp, RestartPolicy, describe_exit
from devstack.tansu import spawn_tansu, start_tansu
from psc.users import add_demo_accounts
from services.routing.files import DEMO_STAFF
from shared.auth import ALL_SCOPES, ApiKeyEntry, AuthSettings, api_key_hash
from shared.contracts.topics import ALL_TOPICS
from shared.kafka.connection import ensure_topics
from shared.kafka.outbox_replay import ReplayResult, UnknownService, replay
from shared.settings import PlatformSettings

HOST = "127.0.0.1"
SERVICES = ("intake", "routing", "notify", "catalog")
DATABASE = "psc"
# The development Twilio account: the stack gives it to notify (PSC_NOTIFY_SMS_ACCOUNT_SID), which has no default.
SMS_ACCOUNT_SID = "ACpscdevelopment0000000000000000"
BROKER, POSTGRES = "tansu", "postgres"
# Rows published a moment before the lost broker's recorded start are replayed too: a replay twice is harmless.
REPLAY_MARGIN = timedelta(seconds=5)


@dataclass
class StackPorts:
    kafka: int = 19092
    postgres: int = 15432
    smtp: int = 1025
    mail_http: int = 8025
    sms: int = 8030
    intake: int = 8001
    routing: int = 8002
    notify: int = 8003
    catalog: int = 8004

    @classmethod
    def free(cls) -> StackPorts:
        """Ports nobody uses now: for tests and benchmarks that run beside a developer's stack."""
        return cls(**{name: free_port(HOST) for name in asdict(cls())})

    def busy(self) -> list[str]:
        return [f"{name}={port}" for name, port in asdict(self).items() if not port_is_free(port, HOST)]


@dataclass
class Replica:
    """One process of a service: ``routing``, then ``routing-2``, ``routing-3`` ..., each on its own HTTP port."""

    name: str
    url: str
    pid: int | None  # None while it waits for a restart or after a crash loop stopped it


@dataclass
class StackInfo:
    var_dir: str
    kafka_bootstrap: str
    database_url: str
    urls: dict[str, str]
    logs: str
    # Every running process by name (tansu, postgres, mailcatcher, smssink, intake, routing, routing-2, ...).
    pids: dict[str, int] = field(default_factory=dict)
    replicas: dict[str, list[Replica]] = field(default_factory=dict)
    # Processes the runner gave up on (a crash loop), with the reason.
    stopped: dict[str, str] = field(default_factory=dict)
    # When the running broker started: what it holds was published since (``psc replay --since`` after a loss).
    broker_started_at: str = ""
    # Made up for this stack only: one account per role and network ({username, password, role, network_id}) and one
    # API key with both scopes ({key, scopes}). A deployment has none.
    demo_accounts: list[dict[str, str]] = field(default_factory=list)
    demo_api_keys: list[dict[str, object]] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)


class StackFailure(RuntimeError):
    """The broker or the database is gone and could not be brought back: the stack stops."""


def stop_leftovers(pids_json: Path) -> list[str]:
    """Stop processes a previous run left behind (its runner was killed hard, so it could not stop them).

    Only a process whose command line still looks like ours is stopped: a pid may have been reused since.
    """
    try:
        pids: dict[str, int] = json.loads(pids_json.read_text()).get("pids", {})
    except (OSError, ValueError):
        return []
    stopped = []
    for name, pid in pids.items():
        try:
            process = psutil.Process(pid)
            ours = any(mark in " ".join(process.cmdline()) for mark in _OUR_MARKS)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        if ours:
            process.terminate()
            with contextlib.suppress(psutil.TimeoutExpired):
                process.wait(15)
            if process.is_running():
                process.kill()
            stopped.append(name)
    return stopped


_OUR_MARKS = ("tansu", "postgres", "services.", "devstack")


def _live_runner(runner_file: Path) -> int | None:
    """The pid in ``runner_file`` if that process still runs Python (the runner is always a Python process)."""
    try:
        process = psutil.Process(int(runner_file.read_text()))
        return process.pid if "python" in process.name().lower() or "psc" in process.name() else None
    except (OSError, ValueError, psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def _urls(ports: StackPorts, extra_replicas: dict[str, int]) -> dict[str, str]:
    base = {name: f"http://{HOST}:{getattr(ports, name)}" for name in SERVICES}
    replicas = {name: f"http://{HOST}:{port}" for name, port in extra_replicas.items()}
    return {
        "intake_api": f"{base['intake']}/v1/inquiries",
        "intake_docs": f"{base['intake']}/docs",
        "intake_openapi": f"{base['intake']}/openapi.json",
        "console": f"{base['intake']}/console/",
        "status_page": f"{base['intake']}/status/",
        "catalog_api": f"{base['catalog']}/v1/resources",
        "catalog_docs": f"{base['catalog']}/docs",
        **{f"{name}_health": f"{url}/health" for name, url in (base | replicas).items()},
        **{f"{name}_ready": f"{url}/ready" for name, url in (base | replicas).items()},
        "mail_catcher": f"http://{HOST}:{ports.mail_http}/",
        "mail_catcher_api": f"http://{HOST}:{ports.mail_http}/api/v1/messages",
        "mail_smtp": f"smtp://{HOST}:{ports.smtp}",
        "sms_sink_api": f"http://{HOST}:{ports.sms}/api/messages",
        "sms_sink_twilio": f"http://{HOST}:{ports.sms}/2010-04-01/Accounts/{SMS_ACCOUNT_SID}/Messages.json",
    }


def replica_names(service: str, count: int) -> list[str]:
    return [service if n == 1 else f"{service}-{n}" for n in range(1, count + 1)]


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


class Stack:
    def __init__(
        self,
        var_dir: Path,
        ports: StackPorts | None = None,
        *,
        services: tuple[str, ...] = SERVICES,
        service_env: dict[str, str] | None = None,
        replicas: dict[str, int] | None = None,
        policy: RestartPolicy | None = None,
    ):
        self.var_dir = var_dir.resolve()
        self.services = services
        self.ports = ports or StackPorts()
        self.log_dir = self.var_dir / "log"
        self.policy = policy
        # Every process by name, in the order of start (stopped in reverse); a restart keeps its place.
        self.children: dict[str, Child] = {}
        self.info: StackInfo | None = None
        self.broker_started_at: datetime | None = None
        self.stopped: dict[str, str] = {}
        self._service_env = service_env or {}
        # One origin for every service's clock, so a sped-up stack (PSC_CLOCK_SPEED) agrees on the time.
        self._clock_origin = os.environ.get("PSC_CLOCK_ORIGIN") or f"{time.time():.6f}"
        self._pids_file = self.var_dir / "pids.json"
        self._runner_file = self.var_dir / "runner.pid"
        self._echo = False
        self._replica_of: dict[str, str] = {}
        self._http_ports: dict[str, int] = {}
        for service in services:
            for n, name in enumerate(replica_names(service, (replicas or {}).get(service, 1))):
                self._replica_of[name] = service
                self._http_ports[name] = getattr(self.ports, service) if n == 0 else free_port(HOST)
        self._starters: dict[str, Callable[[], Child]] = {}
        self._histories: dict[str, CrashHistory] = {}
        self._restart_due: dict[str, float] = {}  # name -> monotonic time of its restart
        self._watchers: set[asyncio.Task[None]] = set()
        self._lock = asyncio.Lock()
        self._kafka = f"{HOST}:{self.ports.kafka}"
        self._database_url = ""
        # Access for this stack only: a signing key every service checks tokens with, one demo API key (both scopes)
        # and the demo accounts made once the services are up.
        self._signing_key = os.environ.get("PSC_AUTH_SIGNING_KEY") or secrets.token_urlsafe(48)
        self._demo_api_key = f"psc-demo-{secrets.token_urlsafe(32)}"
        self._demo_accounts: list[dict[str, str]] = []

    # -- what runs ------------------------------------------------------------------------------------------------

    def replicas(self, service: str) -> list[str]:
        """The process names of ``service``: ``["routing", "routing-2"]``."""
        return [name for name, of in self._replica_of.items() if of == service]

    def pid(self, name: str) -> int | None:
        """The current pid of process ``name`` (tansu, postgres, mailcatcher, smssink, routing-2, ...), if running."""
        child = self.children.get(name)
        return child.process.pid if child is not None and child.alive else None

    def say(self, message: str) -> None:
        """Tell the operator (on screen when started with echo) and the runner's log. Never personal data."""
        if self._echo:
            print(message, flush=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with (self.log_dir / "runner.log").open("a") as log:
            for line in message.strip("\n").splitlines():
                log.write(f"{datetime.now(UTC).isoformat(timespec='milliseconds')} {line}\n")

    # -- start and stop -------------------------------------------------------------------------------------------

    def _claim_var_dir(self) -> None:
        """One running stack per var dir: refuse when its runner is alive, else take the dir over."""
        other = _live_runner(self._runner_file)
        if other is not None and other != os.getpid():
            raise RuntimeError(f"another stack (runner pid {other}) is running on {self.var_dir}")
        self._runner_file.write_text(str(os.getpid()))

    def _record(self, child: Child) -> None:
        """Children are written down as they start, so a later run can stop them if this runner dies hard."""
        self.children[child.name] = child
        self._pids_file.write_text(json.dumps({"pids": self._pids()}))

    def _pids(self) -> dict[str, int]:
        return {name: child.process.pid for name, child in self.children.items() if child.alive}

    async def start(self, *, echo: bool = False) -> StackInfo:
        self._echo = echo
        self.var_dir.mkdir(parents=True, exist_ok=True)
        self._claim_var_dir()
        stop_leftovers(self._pids_file)
        (self.var_dir / "stack.json").unlink(missing_ok=True)
        busy = self.ports.busy()
        if busy:
            raise RuntimeError(f"ports already in use: {', '.join(busy)} (is another stack running?)")
        try:
            self.say("starting the broker (Tansu) and PostgreSQL ...")
            self._record(start_tansu(port=self.ports.kafka, log_dir=self.log_dir, host=HOST))
            self.broker_started_at = _now()
            self._record(
                start_postgres(
                    data_dir=self.var_dir / "pgdata", port=self.ports.postgres, log_dir=self.log_dir, host=HOST
                )
            )
            self._database_url = await ensure_database(host=HOST, port=self.ports.postgres, name=DATABASE)
            created = await ensure_topics(self._platform(), list(ALL_TOPICS))
            self.say(f"topics ready ({len(created)} created)")
            self._start_sinks()
            self._warn_about_idle_replicas()
            for name in self._replica_of:
                self._starters[name] = self._service_starter(name)
                self._record(self._starters[name]())
            self.say("waiting for the services to be ready (migrations run at their start) ...")
            await self._wait_ready()
            if "routing" in self.services and "intake" in self.services:
                self.say("making the demo accounts ...")
                accounts = await add_demo_accounts(self._platform())
                self._demo_accounts = [
                    {"username": a.username, "password": a.password, "role": a.role, "network_id": a.network_id}
                    for a in accounts
                ]
        except BaseException:
            self.stop()
            raise
        return self._write_info()

    def _auth(self) -> AuthSettings:
        return AuthSettings(
            signing_key=self._signing_key,
            api_keys=[ApiKeyEntry(id="demo-system", sha256=api_key_hash(self._demo_api_key), scopes=ALL_SCOPES)],
        )

    def _platform(self) -> PlatformSettings:
        if self._database_url:
            return PlatformSettings(kafka_bootstrap=self._kafka, database_url=self._database_url, auth=self._auth())
        return PlatformSettings(kafka_bootstrap=self._kafka, auth=self._auth())

    def _start_sinks(self) -> None:
        self._starters["mailcatcher"] = lambda: spawn(
            "mailcatcher",
            [
                sys.executable,
                "-m",
                "devstack.mailcatcher",
                "--host",
                HOST,
                "--smtp-port",
                str(self.ports.smtp),
                "--http-port",
                str(self.ports.mail_http),
            ],
            log_dir=self.log_dir,
        )
        self._starters["smssink"] = lambda: spawn(
            "smssink",
            [sys.executable, "-m", "devstack.smssink", "--host", HOST, "--port", str(self.ports.sms)],
            log_dir=self.log_dir,
        )
        mail, sms = self._starters["mailcatcher"](), self._starters["smssink"]()
        self._record(mail)
        self._record(sms)
        wait_for_port(self.ports.smtp, child=mail)
        wait_for_port(self.ports.mail_http, child=mail)
        wait_for_port(self.ports.sms, child=sms)

    def _service_starter(self, name: str) -> Callable[[], Child]:
        service = self._replica_of[name]
        env = {
            **self._env(self._kafka, self._database_url),
            f"PSC_{service.upper()}_HTTP_PORT": str(self._http_ports[name]),
        }
        return lambda: spawn(name, [sys.executable, "-m", f"services.{service}"], log_dir=self.log_dir, env=env)

    def _warn_about_idle_replicas(self) -> None:
        partitions = self._platform().topic_partitions
        for service in self.services:
            count = len(self.replicas(service))
            if count > partitions:
                self.say(
                    f"{service}={count}: topics have {partitions} partitions (PSC_TOPIC_PARTITIONS), so"
                    f" {count - partitions} of its processes get none to consume (they still answer HTTP)"
                )

    def _env(self, kafka: str, database_url: str) -> dict[str, str]:
        env = {
            "PSC_KAFKA_BOOTSTRAP": kafka,
            "PSC_DATABASE_URL": database_url,
            "PSC_NOTIFY_SMTP_HOST": HOST,
            "PSC_NOTIFY_SMTP_PORT": str(self.ports.smtp),
            "PSC_NOTIFY_SMS_API_URL": f"http://{HOST}:{self.ports.sms}",
            "PSC_NOTIFY_SMS_ACCOUNT_SID": SMS_ACCOUNT_SID,
            "PSC_NOTIFY_SMS_AUTH_TOKEN": "development",
            "PYTHONUNBUFFERED": "1",
            "PSC_CLOCK_ORIGIN": self._clock_origin,
            # Tansu holds a group's first join for half the session timeout: 2 s instead of 5 per start and restart.
            "PSC_KAFKA_SESSION_TIMEOUT_MS": os.environ.get("PSC_KAFKA_SESSION_TIMEOUT_MS", "4000"),
            # The demo staff (a PSA and two staff per network): a deployment has none unless it names a file.
            "PSC_ROUTING_STAFF_FILE": os.environ.get("PSC_ROUTING_STAFF_FILE", str(DEMO_STAFF)),
            "PSC_AUTH_SIGNING_KEY": self._signing_key,
            "PSC_AUTH_API_KEYS": json.dumps([entry.model_dump(mode="json") for entry in self._auth().api_keys]),
        }
        for name in SERVICES:
            env[f"PSC_{name.upper()}_HTTP_HOST"] = HOST
            env[f"PSC_{name.upper()}_HTTP_PORT"] = str(getattr(self.ports, name))
        # The console reads routing, notify and catalog; notify links parents to intake's status page.
        for name in ("routing", "notify", "catalog"):
            env[f"PSC_INTAKE_{name.upper()}_URL"] = f"http://{HOST}:{getattr(self.ports, name)}"
        env["PSC_NOTIFY_STATUS_PAGE_BASE_URL"] = f"http://{HOST}:{self.ports.intake}"
        return {**env, **self._service_env}

    def _ready_url(self, name: str) -> str:
        return f"http://{HOST}:{self._http_ports[name]}/ready"

    async def _wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        pending = {name: self._ready_url(name) for name in self._replica_of}
        async with httpx.AsyncClient(timeout=2.0) as client:
            while pending:
                if self.policy is None:
                    self.raise_if_any_died()
                else:
                    async with self._lock:
                        await self._supervise_once(announce=False)
                for name in list(pending):
                    if name in self.stopped or await _answers(client, pending[name]):
                        del pending[name]
                if time.monotonic() > deadline:
                    raise TimeoutError(f"not ready after {timeout}s: {', '.join(pending)} (see {self.log_dir})")
                await asyncio.sleep(0.2)

    def raise_if_any_died(self) -> None:
        for child in self.children.values():
            if not child.alive:
                raise RuntimeError(
                    f"{child.name} exited with code {child.process.returncode}; last lines of {child.log_path}:\n"
                    f"{child.log_tail()}"
                )

    def _write_info(self) -> StackInfo:
        """``stack.json`` as things are now (rewritten after every restart), replaced in one step."""
        pids = self._pids()
        extra = {name: port for name, port in self._http_ports.items() if name not in self.services}
        self.info = StackInfo(
            var_dir=str(self.var_dir),
            kafka_bootstrap=self._kafka,
            database_url=self._database_url,
            urls=_urls(self.ports, extra),
            logs=str(self.log_dir),
            pids=pids,
            replicas={
                service: [
                    Replica(name, f"http://{HOST}:{self._http_ports[name]}", pids.get(name))
                    for name in self.replicas(service)
                ]
                for service in self.services
            },
            stopped=dict(self.stopped),
            broker_started_at=self.broker_started_at.isoformat() if self.broker_started_at else "",
            demo_accounts=self._demo_accounts,
            demo_api_keys=[{"key": self._demo_api_key, "scopes": sorted(ALL_SCOPES)}],
        )
        target = self.var_dir / "stack.json"
        partial = target.with_suffix(".json.partial")
        partial.write_text(self.info.to_json())
        partial.replace(target)
        self._pids_file.write_text(json.dumps({"pids": pids}))
        return self.info

    def stop(self) -> None:
        """Stop in reverse order of start: services first, then sinks, database and broker."""
        for watcher in self._watchers:
            watcher.cancel()
        for child in reversed(self.children.values()):
            child.stop()
        self.children.clear()
        self._pids_file.unlink(missing_ok=True)
        self._runner_file.unlink(missing_ok=True)

    # -- supervision ----------------------------------------------------------------------------------------------

    async def supervise(self, *, every: float = 0.25) -> int:
        """Watch every process until cancelled, restarting what exits; 1 when the broker or database cannot return."""
        if self.policy is None:
            raise RuntimeError("supervise needs a RestartPolicy (Stack(..., policy=RestartPolicy()))")
        try:
            while True:
                async with self._lock:
                    await self._supervise_once(announce=True)
                await asyncio.sleep(every)
        except StackFailure as exc:
            self.say(f"\n{exc}\nstopping the stack.")
            return 1

    async def _supervise_once(self, *, announce: bool) -> None:
        """One look at every process: bring back the database and broker, schedule and run restarts, give up."""
        changed = False
        database = self.children.get(POSTGRES)
        if database is not None and not database.alive:
            await self._recover_database(f"exited ({describe_exit(database.process.returncode)})")
            changed = True
        broker = self.children.get(BROKER)
        if broker is not None and not broker.alive:
            await self._recover_broker(f"exited ({describe_exit(broker.process.returncode)})", announce=announce)
            changed = True
        now = time.monotonic()
        for name, child in list(self.children.items()):
            if child.alive or name in (BROKER, POSTGRES) or name in self._restart_due:
                continue
            changed = True
            history = self._histories.setdefault(name, CrashHistory(self.policy or RestartPolicy()))
            decision = history.crashed(now)
            how = describe_exit(child.process.returncode)
            if isinstance(decision, GiveUp):
                self._give_up(name, f"crash loop: {decision.crashes} crashes within {decision.window:.0f} s ({how})")
                continue
            self._restart_due[name] = now + decision.delay
            self.say(
                f"{name} (pid {child.process.pid}) exited ({how}); restarting it in {decision.delay:.1f} s"
                f" (crash {decision.crashes} within {history.policy.window:.0f} s;"
                f" {history.policy.crash_limit} make a crash loop)"
            )
        for name, due in list(self._restart_due.items()):
            if due <= now:
                del self._restart_due[name]
                self._respawn(name, announce=announce)
                changed = True
        if changed and self.info is not None:
            self._write_info()

    def _respawn(self, name: str, *, announce: bool) -> None:
        child = self._starters[name]()
        self._record(child)
        self.say(f"{name} restarted (pid {child.process.pid})")
        if announce and name in self._replica_of:
            self._watch_ready(name, child)

    def _watch_ready(self, name: str, child: Child) -> None:
        """Say when a restarted service answers /ready again (a consumer rejoining its groups can take ~20 s)."""

        async def watch() -> None:
            began = time.monotonic()
            async with httpx.AsyncClient(timeout=2.0) as client:
                while child.alive and time.monotonic() - began < 180:
                    if await _answers(client, self._ready_url(name)):
                        self.say(f"{name} is ready again ({time.monotonic() - began:.1f} s after its restart)")
                        return
                    await asyncio.sleep(0.5)

        task = asyncio.create_task(watch(), name=f"ready-{name}")
        self._watchers.add(task)
        task.add_done_callback(self._watchers.discard)

    def _give_up(self, name: str, reason: str) -> None:
        child = self.children.pop(name)
        self._restart_due.pop(name, None)
        self.stopped[name] = reason
        self.say(
            f"{name} stays stopped: {reason}. The rest of the stack keeps running. Its log: {child.log_path}"
            + (f"\nlast lines of its log:\n{child.log_tail(15)}" if self._echo else "")
        )

    async def _stop_at_once(self, names: list[str], *, timeout: float = 15.0) -> None:
        """SIGTERM to every one of ``names`` together, SIGKILL to what still runs after ``timeout``."""
        children = [self.children[name] for name in names if name in self.children]
        for child in children:
            if child.alive:
                child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for child in children:
            with contextlib.suppress(subprocess.TimeoutExpired):
                await asyncio.to_thread(child.process.wait, max(0.0, deadline - time.monotonic()))
        for child in children:
            if child.alive:
                child.process.kill()
                await asyncio.to_thread(child.process.wait, 5)

    async def _start_again(self, name: str, spawn_one: Callable[[], Child], port: int, *, attempts: int = 6) -> Child:
        """Start the broker or database again, retrying with growing pauses; ``StackFailure`` if it never comes."""
        pause, last = 0.5, ""
        for _ in range(attempts):
            try:
                child = spawn_one()
            except RuntimeError as exc:  # e.g. PostgreSQL's old backends still hold its data directory
                last = str(exc)
            else:
                self._record(child)
                try:
                    await asyncio.to_thread(wait_for_port, port, host=HOST, child=child, timeout=60)
                    return child
                except (RuntimeError, TimeoutError) as exc:
                    last = str(exc)
                    child.stop()
            await asyncio.sleep(pause)
            pause *= 2
        raise StackFailure(f"{name} could not be started again after {attempts} attempts: {last}")

    async def restart_database(self, why: str = "is being restarted (asked)") -> None:
        """Restart PostgreSQL on its data (a fast shutdown first if it runs); the services reconnect by themselves."""
        async with self._lock:
            await self._recover_database(why)

    async def _recover_database(self, why: str) -> None:
        self.say(
            f"PostgreSQL {why}. Its data is on disk ({self.var_dir / 'pgdata'}): starting it again;"
            " the services reconnect by themselves."
        )
        old = self.children.get(POSTGRES)
        if old is not None and old.alive:
            await asyncio.to_thread(old.stop, sig=signal.SIGINT)  # a fast shutdown: it does not wait for clients
        data_dir = self.var_dir / "pgdata"
        child = await self._start_again(
            "PostgreSQL",
            lambda: spawn_postgres(data_dir=data_dir, port=self.ports.postgres, log_dir=self.log_dir, host=HOST),
            self.ports.postgres,
        )
        for history in self._histories.values():
            history.forget()  # what crashed while the database was away was not at fault
        self.say(f"PostgreSQL is back (pid {child.process.pid})")
        if self.info is not None:
            self._write_info()

    async def restart_broker(self, why: str = "is being restarted (asked)") -> dict[str, ReplayResult]:
        """Replace the broker by an empty one and bring every service back on it (see ``_recover_broker``)."""
        async with self._lock:
            return await self._recover_broker(why, announce=True)

    async def _recover_broker(self, why: str, *, announce: bool) -> dict[str, ReplayResult]:
        """The embedded broker keeps everything in memory: a new one is empty. So: stop the services, start the
        broker, create the topics, replay every service's outbox since the lost broker started (consumers skip what
        they already applied), start the services again. Their consumer groups start over at the earliest offset."""
        lost_since = (self.broker_started_at or _now()) - REPLAY_MARGIN
        self.say(
            f"the broker (Tansu) {why}. It keeps everything in memory, so its topics, messages and consumer offsets"
            f" are gone. Starting it again, then replaying what the services published since"
            f" {lost_since.isoformat()}; the services stop meanwhile."
        )
        # The services stop first: no client of theirs may reach the new broker before the topics exist (Tansu
        # creates a topic any client asks about, with its own partition count), nor read or publish meanwhile.
        services = [name for name in self.children if name in self._replica_of]
        await self._stop_at_once(services)
        old = self.children.get(BROKER)
        if old is not None and old.alive:
            await asyncio.to_thread(old.stop)
        child = await self._start_again(
            "the broker (Tansu)",
            lambda: spawn_tansu(port=self.ports.kafka, log_dir=self.log_dir, host=HOST),
            self.ports.kafka,
        )
        self.broker_started_at = _now()
        created = await ensure_topics(self._platform(), list(ALL_TOPICS))
        results = await self._replay_all(lost_since)
        replayed = ", ".join(f"{name} {result.republished}" for name, result in results.items())
        self.say(
            f"the broker is back (pid {child.process.pid}); {len(created)} topics created; events replayed:"
            f" {replayed or 'none'}. Starting the services again."
        )
        for name in services:
            self._histories.pop(name, None)
            self._restart_due.pop(name, None)
            self._respawn(name, announce=announce)
        if self.info is not None:
            self._write_info()
        return results

    async def _replay_all(self, since: datetime) -> dict[str, ReplayResult]:
        results: dict[str, ReplayResult] = {}
        for service in self.services:
            try:
                results[service] = await replay(self._platform(), service=service, since=since)
            except UnknownService:
                continue  # it never ran far enough to have an outbox (a crash loop at its first start)
            except Exception as exc:
                raise StackFailure(
                    f"the replay of {service}'s outbox failed ({type(exc).__name__}: {exc}); once the broker runs,"
                    f" `psc replay --service {service} --since {since.isoformat()}` publishes it again"
                ) from exc
            for topic, count in results[service].skipped.items():
                self.say(f"{service}: {count} events for {topic} not replayed: the broker has no such topic")
        return results


async def _answers(client: httpx.AsyncClient, url: str) -> bool:
    try:
        return (await client.get(url)).status_code == 200
    except httpx.HTTPError:
        return False
