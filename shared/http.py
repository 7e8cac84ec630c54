"""What every service's HTTP app has: one access hook, correlation ids, field-naming 422s, health and metrics.

``authorize`` is the single dependency every route goes through (it is attached to the app, not to routes), so access
control is added there and nowhere else. Today it admits every caller and records who they say they are.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import TypeVar

from fastapi import Depends, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field
from structlog.contextvars import bind_contextvars, unbind_contextvars

from shared.admission import AdmissionControl
from shared.contracts.envelope import FieldError, field_errors_of
from shared.settings import ServiceSettings

CORRELATION_HEADER = "X-Correlation-ID"
# A 422 names ``parent.email`` for a body field and ``limit`` for a query parameter; headers keep ``header.``.
_REQUEST_PARTS = frozenset({"body", "query", "path"})
CALLER_HEADER = "X-PSC-Caller"


class ValidationProblem(BaseModel):
    """The body of every 422: which fields were refused and why (never the values sent)."""

    detail: str = Field("request validation failed")
    errors: list[FieldError]


class Problem(BaseModel):
    detail: str


async def authorize(request: Request) -> None:
    """The one place access is decided for every route. Admits all callers until access control lands."""
    request.state.caller = request.headers.get(CALLER_HEADER, "anonymous")


def correlation_id_of(request: Request) -> str:
    return str(getattr(request.state, "correlation_id", "")) or str(uuid.uuid4())


ReadinessCheck = Callable[[], Awaitable[dict[str, bool]]]

C = TypeVar("C")


def context_of(request: Request, kind: type[C]) -> C:
    """The service's context (``app.state.context``, set by its composition root once started), typed.

    Each ``api.py`` wraps this in a FastAPI dependency, so routes receive their service's context the same way.
    """
    context = getattr(request.app.state, "context", None)
    if not isinstance(context, kind):
        raise RuntimeError(f"{kind.__name__} is not set: the service has not started")
    return context


def create_http_app(
    *,
    service: str,
    title: str,
    description: str,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]],
    settings: ServiceSettings,
) -> FastAPI:
    """The service's FastAPI app; past ``settings.http_max_in_flight`` requests at once, 503 with ``Retry-After``
    (see ``shared.admission``)."""
    app = FastAPI(
        title=title,
        description=description,
        version="0.1.0",
        lifespan=lifespan,
        dependencies=[Depends(authorize)],
        responses={
            422: {"model": ValidationProblem, "description": "The fields refused and why"},
            503: {"model": Problem, "description": "Too many requests in flight: retry after Retry-After seconds"},
        },
    )

    @app.middleware("http")
    async def bind_correlation_id(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        correlation_id = request.headers.get(CORRELATION_HEADER) or str(uuid.uuid4())
        request.state.correlation_id = correlation_id
        bind_contextvars(correlation_id=correlation_id)
        try:
            response = await call_next(request)
        finally:
            unbind_contextvars("correlation_id")
        response.headers[CORRELATION_HEADER] = correlation_id
        return response

    @app.exception_handler(RequestValidationError)
    async def refuse_with_field_errors(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = field_errors_of(exc.errors(), where=_REQUEST_PARTS, whole="(body)")
        return JSONResponse(status_code=422, content=ValidationProblem(errors=errors).model_dump())

    @app.get("/health", tags=["operations"], summary="Liveness: the process answers")
    async def health() -> dict[str, str]:
        return {"status": "ok", "service": service}

    @app.get("/ready", tags=["operations"], summary="Readiness: database, broker and relay are up")
    async def ready(request: Request) -> JSONResponse:
        check: ReadinessCheck | None = getattr(request.app.state, "readiness", None)
        checks = await check() if check else {"started": False}
        status = 200 if all(checks.values()) else 503
        return JSONResponse(status_code=status, content={"ready": status == 200, "checks": checks})

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    # Added last, so it is the outermost of the app's middleware: a shed request costs no routing, validation or
    # correlation-id work.
    app.add_middleware(
        AdmissionControl,
        service=service,
        max_in_flight=settings.http_max_in_flight,
        retry_after_seconds=settings.http_retry_after_seconds,
    )
    return app
