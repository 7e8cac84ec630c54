"""The whole stack on one machine: broker, database, mail catcher, SMS sink and the four services as processes.

Used by ``psc run`` (``make run``), the end-to-end tests and the benchmark. Everything it keeps lives under the var
directory: the database files, each process's log, and ``stack.json`` with every URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx
import psutil

from devstack.postgres import ensure_database, start_postgres
from devstack.processes import Child, free_port, port_is_free, spawn, wait_for_port
from devstack.tansu import start_tansu
from shared.contracts.topics import ALL_TOPICS
from shared.kafka.connection import ensure_topics
from shared.settings import PlatformSettings

HOST = "127.0.0.1"
SERVICES = ("intake", "routing", "notify", "catalog")
DATABASE = "psc"
# The development Twilio account: the stack gives it to notify (PSC_NOTIFY_SMS_ACCOUNT_SID), which has no default.
SMS_ACCOUNT_SID = "ACpscdevelopment0000000000000000"


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
class StackInfo:
    var_dir: str
    kafka_bootstrap: str
    database_url: str
    urls: dict[str, str]
    logs: str
    pids: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)


def stop_leftovers(stack_json: Path) -> list[str]:
    """Stop processes a previous run left behind (its runner was killed hard, so it could not stop them).

    Only a process whose command line still looks like ours is stopped: a pid may have been reused since.
    """
    try:
        pids: dict[str, int] = json.loads(stack_json.read_text()).get("pids", {})
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


def _urls(ports: StackPorts) -> dict[str, str]:
    base = {name: f"http://{HOST}:{getattr(ports, name)}" for name in SERVICES}
    return {
        "intake_api": f"{base['intake']}/v1/inquiries",
        "intake_docs": f"{base['intake']}/docs",
        "intake_openapi": f"{base['intake']}/openapi.json",
        "catalog_api": f"{base['catalog']}/v1/resources",
        "catalog_docs": f"{base['catalog']}/docs",
        **{f"{name}_health": f"{base[name]}/health" for name in SERVICES},
        **{f"{name}_ready": f"{base[name]}/ready" for name in SERVICES},
        "mail_catcher": f"http://{HOST}:{ports.mail_http}/",
        "mail_catcher_api": f"http://{HOST}:{ports.mail_http}/api/v1/messages",
        "mail_smtp": f"smtp://{HOST}:{ports.smtp}",
        "sms_sink_api": f"http://{HOST}:{ports.sms}/api/messages",
        "sms_sink_twilio": f"http://{HOST}:{ports.sms}/2010-04-01/Accounts/{SMS_ACCOUNT_SID}/Messages.json",
    }


class Stack:
    def __init__(
        self,
        var_dir: Path,
        ports: StackPorts | None = None,
        *,
        services: tuple[str, ...] = SERVICES,
        service_env: dict[str, str] | None = None,
    ):
        self.var_dir = var_dir.resolve()
        self.services = services
        self.ports = ports or StackPorts()
        self.log_dir = self.var_dir / "log"
        self.children: list[Child] = []
        self.info: StackInfo | None = None
        self._service_env = service_env or {}
        self._pids_file = self.var_dir / "pids.json"
        self._runner_file = self.var_dir / "runner.pid"

    def _claim_var_dir(self) -> None:
        """One running stack per var dir: refuse when its runner is alive, else take the dir over."""
        other = _live_runner(self._runner_file)
        if other is not None and other != os.getpid():
            raise RuntimeError(f"another stack (runner pid {other}) is running on {self.var_dir}")
        self._runner_file.write_text(str(os.getpid()))

    def _record(self, child: Child) -> None:
        """Children are written down as they start, so a later run can stop them if this runner dies hard."""
        self.children.append(child)
        self._pids_file.write_text(json.dumps({"pids": {c.name: c.process.pid for c in self.children}}))

    async def start(self, *, echo: bool = False) -> StackInfo:
        say = print if echo else (lambda *_: None)
        self.var_dir.mkdir(parents=True, exist_ok=True)
        self._claim_var_dir()
        stop_leftovers(self._pids_file)
        (self.var_dir / "stack.json").unlink(missing_ok=True)
        busy = self.ports.busy()
        if busy:
            raise RuntimeError(f"ports already in use: {', '.join(busy)} (is another stack running?)")
        try:
            say("starting the broker (Tansu) and PostgreSQL ...")
            self._record(start_tansu(port=self.ports.kafka, log_dir=self.log_dir, host=HOST))
            self._record(
                start_postgres(
                    data_dir=self.var_dir / "pgdata", port=self.ports.postgres, log_dir=self.log_dir, host=HOST
                )
            )
            database_url = await ensure_database(host=HOST, port=self.ports.postgres, name=DATABASE)
            kafka = f"{HOST}:{self.ports.kafka}"
            created = await ensure_topics(PlatformSettings(kafka_bootstrap=kafka), list(ALL_TOPICS))
            say(f"topics ready ({len(created)} created)")
            self._start_sinks()
            env = self._env(kafka, database_url)
            for name in self.services:
                self._record(spawn(name, [sys.executable, "-m", f"services.{name}"], log_dir=self.log_dir, env=env))
            say("waiting for the services to be ready (migrations run at their start) ...")
            await self._wait_ready()
        except BaseException:
            self.stop()
            raise
        self.info = StackInfo(
            var_dir=str(self.var_dir),
            kafka_bootstrap=kafka,
            database_url=database_url,
            urls=_urls(self.ports),
            logs=str(self.log_dir),
            pids={child.name: child.process.pid for child in self.children},
        )
        (self.var_dir / "stack.json").write_text(self.info.to_json())
        return self.info

    def _start_sinks(self) -> None:
        mail = spawn(
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
        self._record(mail)
        sms = spawn(
            "smssink",
            [sys.executable, "-m", "devstack.smssink", "--host", HOST, "--port", str(self.ports.sms)],
            log_dir=self.log_dir,
        )
        self._record(sms)
        wait_for_port(self.ports.smtp, child=mail)
        wait_for_port(self.ports.mail_http, child=mail)
        wait_for_port(self.ports.sms, child=sms)

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
        }
        for name in SERVICES:
            env[f"PSC_{name.upper()}_HTTP_HOST"] = HOST
            env[f"PSC_{name.upper()}_HTTP_PORT"] = str(getattr(self.ports, name))
        return {**env, **self._service_env}

    async def _wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        pending = {name: f"http://{HOST}:{getattr(self.ports, name)}/ready" for name in self.services}
        async with httpx.AsyncClient(timeout=2.0) as client:
            while pending:
                self.raise_if_any_died()
                for name, url in list(pending.items()):
                    try:
                        if (await client.get(url)).status_code == 200:
                            del pending[name]
                    except httpx.HTTPError:
                        pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"not ready after {timeout}s: {', '.join(pending)} (see {self.log_dir})")
                await asyncio.sleep(0.2)

    def raise_if_any_died(self) -> None:
        for child in self.children:
            if not child.alive:
                raise RuntimeError(
                    f"{child.name} exited with code {child.process.returncode}; last lines of {child.log_path}:\n"
                    f"{child.log_tail()}"
                )

    def stop(self) -> None:
        """Stop in reverse order of start: services first, then sinks, database and broker."""
        for child in reversed(self.children):
            child.stop()
        self.children.clear()
        self._pids_file.unlink(missing_ok=True)
        self._runner_file.unlink(missing_ok=True)
