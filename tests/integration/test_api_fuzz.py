"""Schemathesis over every operation of every service's committed OpenAPI document (docs/openapi/), against the real
service: each one served by uvicorn on 127.0.0.1 with its real database and broker, one service at a time.

Every case must get an answer its document promises: no 5xx, a status the operation documents, a body and headers of
the documented schema; data that breaks the schema refused with a 4xx, a method the path lacks answered 405 with an
``Allow`` that lists the path's methods. Schemathesis' ``positive_data_acceptance`` check is off: some rules cannot be
said in JSON Schema (a phone number that can be dialled, two locations with one id, a location of another
organization), so a body the schema allows may still be refused with 422.

Derandomized with a fixed seed, so a CI run is reproducible; the last test checks that every documented operation
was called, so the fuzz cannot pass by fuzzing nothing.
"""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import schemathesis
import uvicorn
from auth import staff_headers
from fastapi import FastAPI
from hypothesis import HealthCheck, settings

from devstack.stack import SMS_ACCOUNT_SID
from services.catalog.app import create_app as create_catalog
from services.catalog.settings import CatalogSettings
from services.intake.app import create_app as create_intake
from services.intake.settings import IntakeSettings
from services.notify.app import create_app as create_notify
from services.notify.settings import NotifySettings
from services.routing.app import create_app as create_routing
from services.routing.settings import RoutingSettings
from shared.settings import PlatformSettings

pytestmark = [
    pytest.mark.integration,
    # Schemathesis' own strategies use `random` (seeded by Hypothesis all the same): its warning, not ours.
    pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning"),
]

ROOT = Path(__file__).resolve().parents[2]
MAX_EXAMPLES = 50
"""Generated cases per operation and phase, on top of the examples and coverage cases; a few hundred per service."""

CONFIG = schemathesis.Config.from_dict(
    {
        "seed": 20261125,
        "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
        "checks": {"positive_data_acceptance": {"enabled": False}},
    }
)

BUILD: dict[str, Callable[[PlatformSettings], FastAPI]] = {
    # Notify first: with nothing else running it has little to send; intake last, so the inquiries it records wait
    # for no consumer while the others are fuzzed.
    "notify": lambda platform: create_notify(NotifySettings(platform=platform, sms_account_sid=SMS_ACCOUNT_SID)),
    "routing": lambda platform: create_routing(RoutingSettings(platform=platform)),
    "catalog": lambda platform: create_catalog(CatalogSettings(platform=platform)),
    "intake": lambda platform: create_intake(IntakeSettings(platform=platform)),
}
# A central staff member's token (sees and acts on everything), so the cases reach the handlers; a case that
# carries its own Authorization or X-API-Key (schemathesis tries the security schemes) sends that instead.
CREDENTIALS = staff_headers(staff_id="fuzz-central", role="central_staff", network_id="central")
SCHEMAS = {
    service: schemathesis.openapi.from_path(ROOT / "docs" / "openapi" / f"{service}.json", config=CONFIG)
    for service in BUILD
}


class Served:
    """One service at a time under uvicorn, in a thread of its own (its own event loop, pool and broker clients), on a
    socket bound before it starts."""

    def __init__(self, platform: PlatformSettings) -> None:
        self._platform = platform
        self._current: tuple[str, uvicorn.Server, threading.Thread, str] | None = None
        self._since = 0.0
        self.cases: Counter[str] = Counter()
        self.seconds: Counter[str] = Counter()
        self.operations: dict[str, set[str]] = {service: set() for service in BUILD}

    def url(self, service: str) -> str:
        if self._current is None or self._current[0] != service:
            self.stop()
            self._since = time.monotonic()
            self._current = (service, *self._start(service))
        return self._current[3]

    def _start(self, service: str) -> tuple[uvicorn.Server, threading.Thread, str]:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        config = uvicorn.Config(BUILD[service](self._platform), log_level="warning", lifespan="on")
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=f"fuzz-{service}", daemon=True)
        thread.start()
        deadline = time.monotonic() + 120
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"{service} did not start under uvicorn")
            time.sleep(0.05)
        return server, thread, f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        if self._current is not None:
            service, server, thread, _ = self._current
            server.should_exit = True
            thread.join(60)
            self.seconds[service] += time.monotonic() - self._since
            self._current = None


@pytest.fixture(scope="module")
def served(module_platform: PlatformSettings, topics: tuple[str, ...]) -> Iterator[Served]:
    running = Served(module_platform)
    try:
        yield running
    finally:
        running.stop()
        for service in BUILD:  # shown with -s; the service's start and stop are in its time
            print(f"fuzz {service}: {running.cases[service]} cases in {running.seconds[service]:.1f} s")


def service_of(case: schemathesis.Case) -> str:
    title = str(case.operation.schema.raw_schema["info"]["title"])  # "Parent Support Center: intake"
    return title.rsplit(": ", 1)[1]


@schemathesis.pytest.parametrize(**SCHEMAS)
@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
def test_every_answer_is_one_the_document_promises(case: schemathesis.Case, served: Served) -> None:
    service = service_of(case)
    case.call_and_validate(base_url=served.url(service), headers={**CREDENTIALS, **(case.headers or {})})
    served.cases[service] += 1
    served.operations[service].add(case.operation.label)


def test_every_operation_of_every_service_was_fuzzed(served: Served) -> None:
    """Runs after the fuzz (pytest keeps the module's order): a fuzz that skipped or lost an operation fails here."""
    for service, schema in SCHEMAS.items():
        paths = schema.raw_schema["paths"]
        documented = {f"{method.upper()} {path}" for path, methods in paths.items() for method in methods}
        assert documented, f"{service}: its document has no operation"
        assert served.operations[service] == documented, service
