"""Admission control for a service's HTTP app: a bound on requests in flight in this process.

Past the bound a request is answered at once with 503 and ``Retry-After``, instead of queueing behind the others
until the caller has long given up (a queue that only grows turns overload into timeouts for everyone). Operations
routes (health, readiness, metrics) are always admitted, so an overloaded process still reports itself.

uvicorn's ``--limit-concurrency`` is not used for this: it counts idle keep-alive connections as load and answers
without ``Retry-After``.
"""

from __future__ import annotations

import json

from prometheus_client import Counter
from starlette.types import ASGIApp, Receive, Scope, Send

ALWAYS_ADMITTED = frozenset({"/health", "/ready", "/metrics"})

SHED = Counter("psc_http_requests_shed_total", "Requests answered 503 because too many were in flight", ["service"])


class AdmissionControl:
    """Pure ASGI middleware (no per-request task or body buffering): count, admit or shed, count down."""

    def __init__(self, app: ASGIApp, *, service: str, max_in_flight: int, retry_after_seconds: int) -> None:
        self._app = app
        self._service = service
        self._max_in_flight = max_in_flight
        self._in_flight = 0
        self._busy_body = json.dumps(
            {"detail": f"too many requests in flight; retry after {retry_after_seconds} s"}
        ).encode()
        self._busy_headers = [
            (b"content-type", b"application/json"),
            (b"retry-after", str(retry_after_seconds).encode()),
            (b"content-length", str(len(self._busy_body)).encode()),
        ]

    @property
    def in_flight(self) -> int:
        return self._in_flight

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in ALWAYS_ADMITTED:
            await self._app(scope, receive, send)
            return
        if self._in_flight >= self._max_in_flight:
            SHED.labels(self._service).inc()
            await send({"type": "http.response.start", "status": 503, "headers": self._busy_headers})
            await send({"type": "http.response.body", "body": self._busy_body})
            return
        self._in_flight += 1
        try:
            await self._app(scope, receive, send)
        finally:
            self._in_flight -= 1
