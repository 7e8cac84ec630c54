"""What every service's HTTP app has: one access hook, correlation ids, the input rules, health and metrics.

``authorize`` is the single dependency every route goes through (it is attached to the app, not to routes), so access
is decided there and nowhere else (``shared.auth.access.admit``): it reads the credentials, and each route declares
what it needs: ``dependencies=[PUBLIC]`` for an endpoint open to anyone, a requirement (``require_actor``,
``require_scope(...)`` ...) otherwise; a route that declares nothing is for signed-in staff.

The input rules hold for every route of every service, and the OpenAPI documents say them:

- a body is JSON in UTF-8 (``application/json``, no charset or ``utf-8``): declared as anything else, 415; a route
  that declares a form body (``Form``) takes ``application/x-www-form-urlencoded`` in UTF-8 instead;
- a body larger than the service's ``http_max_body_bytes`` is 413 before anything reads it: a ``Content-Length`` over
  the bound is refused at once, a streamed body as soon as its bytes pass it;
- a body that cannot be parsed (not JSON, not UTF-8) is 400; JSON that breaks a rule is 422 naming each field, never
  echoing a value (the models' own rules, shared/contracts/text.py for text included);
- a 405 lists in ``Allow`` every method of the path, not only those of the first route that matched it.
"""

from __future__ import annotations

import email.message
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar

from fastapi import Depends, FastAPI, Request, Response, params
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from structlog.contextvars import bind_contextvars, unbind_contextvars

from shared.admission import AdmissionControl
from shared.auth.access import PUBLIC, admit, install
from shared.contracts.envelope import FieldError, field_errors_of
from shared.contracts.text import is_storable
from shared.settings import ServiceSettings

CORRELATION_HEADER = "X-Correlation-ID"
# A 422 names ``parent.email`` for a body field and ``limit`` for a query parameter; headers keep ``header.``.
_REQUEST_PARTS = frozenset({"body", "query", "path"})
MAX_CORRELATION_ID = 200
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")
_NOT_JSON = "the body is not JSON"
_ONLY_JSON = "send the body as application/json in UTF-8 (no charset, or charset=utf-8)"
_ONLY_FORM = "send the body as application/x-www-form-urlencoded in UTF-8 (no charset, or charset=utf-8)"
_FORM_TYPE = "application/x-www-form-urlencoded"
_TOO_LARGE = "the body is larger than this service takes"


class ValidationProblem(BaseModel):
    """The body of every 422: which fields were refused and why (never the values sent)."""

    detail: str = Field("request validation failed")
    errors: list[FieldError]


class Problem(BaseModel):
    detail: str


async def authorize(request: Request) -> None:
    """The one place access is decided for every route: 401 without a credential it can trust, 403 without the role
    or scope the route declares; the caller is ``request.state.principal`` (None on a public route)."""
    await admit(request)


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

    install(app.state, settings.platform.auth)

    # Innermost of the middleware: the 413 and 415 carry the correlation id like every other answer.
    app.add_middleware(JsonBodies)
    app.add_middleware(BodyLimit, max_bytes=settings.http_max_body_bytes)
    app.add_middleware(CorrelationIds)

    @app.exception_handler(RequestValidationError)
    async def refuse_with_field_errors(_: Request, exc: RequestValidationError) -> JSONResponse:
        if any(error.get("type") == "json_invalid" for error in exc.errors()):
            # Not a JSON document at all: a 400, as when the bytes are not UTF-8 (FastAPI's own 400).
            return JSONResponse(status_code=400, content=Problem(detail=_NOT_JSON).model_dump())
        errors = field_errors_of(exc.errors(), where=_REQUEST_PARTS, whole="(body)")
        return JSONResponse(status_code=422, content=ValidationProblem(errors=errors).model_dump())

    @app.exception_handler(StarletteHTTPException)
    async def answer_http_exception(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 405:
            # Starlette answers from the first route whose path matched, so a path with GET and PUT on two routes
            # would say Allow: GET. Every route of the path counts.
            allowed = ", ".join(_allowed_methods(request.app, request.scope))
            exc = StarletteHTTPException(405, exc.detail, headers={**(exc.headers or {}), "Allow": allowed})
        return await http_exception_handler(request, exc)

    @app.get("/health", tags=["operations"], dependencies=[PUBLIC], summary="Liveness: the process answers")
    async def health() -> dict[str, str]:
        return {"status": "ok", "service": service}

    @app.get(
        "/ready", tags=["operations"], dependencies=[PUBLIC], summary="Readiness: database, broker and relay are up"
    )
    async def ready(request: Request) -> JSONResponse:
        check: ReadinessCheck | None = getattr(request.app.state, "readiness", None)
        checks = await check() if check else {"started": False}
        status = 200 if all(checks.values()) else 503
        return JSONResponse(status_code=status, content={"ready": status == 200, "checks": checks})

    @app.get(
        "/metrics", tags=["operations"], dependencies=[PUBLIC], summary="Prometheus metrics", include_in_schema=False
    )
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

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _document_body_refusals(FastAPI.openapi(app))
        return app.openapi_schema  # type: ignore[return-value]  # set by FastAPI.openapi

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def _routes(app: Any, scope: Scope, method: str) -> list[BaseRoute]:
    """The routes of ``app`` that take ``method`` on the request's path (asked of the router, as it would route it)."""
    probe = {
        "type": "http",
        "path": scope["path"],
        "root_path": scope.get("root_path", ""),
        "method": method,
        "headers": scope.get("headers", []),
    }
    return _matching(app.router.routes, probe)


def _matching(routes: list[BaseRoute], probe: Scope) -> list[BaseRoute]:
    """The routes that fully match, looking inside included routers (FastAPI keeps an included router whole, as
    one entry of the app's routes, so its own routes say what they take)."""
    found: list[BaseRoute] = []
    for route in routes:
        if route.matches(probe)[0] is not Match.FULL:
            continue
        included = getattr(route, "original_router", None)
        if included is None:
            found.append(route)
            continue
        prefix: str = getattr(getattr(route, "include_context", None), "prefix", "") or ""
        inner = {**probe, "path": probe["path"][len(prefix) :]} if probe["path"].startswith(prefix) else probe
        found.extend(_matching(included.routes, inner) or [route])
    return found


def _routed(app: Any, scope: Scope, method: str) -> bool:
    return bool(_routes(app, scope, method))


def takes_form(route: BaseRoute) -> bool:
    """Whether the route declares its body as a form (``Form`` parameters or a ``Form`` model), not JSON."""
    body = getattr(route, "body_field", None)
    return body is not None and isinstance(body.field_info, params.Form)


def _allowed_methods(app: Any, scope: Scope) -> list[str]:
    return [method for method in _METHODS if _routed(app, scope, method)]


def acceptable_body_type(content_type: str | None, *, has_body: bool, form: bool = False) -> bool:
    """JSON in UTF-8: ``application/json`` or ``application/*+json``, with no charset or ``utf-8``; for a route that
    takes a form (``form``), ``application/x-www-form-urlencoded`` in UTF-8 instead.

    RFC 8259 has JSON between systems in UTF-8 only, and its media type defines no charset parameter. A body declared
    in another charset is refused rather than guessed at: read as UTF-8, latin-1 text is silently wrong (or a 400 for
    bytes that are not UTF-8); decoding it would be an encoding nobody tests. A body with no type is refused too.
    """
    if content_type is None:
        return not has_body
    declared = email.message.Message()
    declared["content-type"] = content_type
    media_type = declared.get_content_type()
    if form:
        if media_type != _FORM_TYPE:
            return False
    elif not (
        media_type == "application/json" or (media_type.startswith("application/") and media_type.endswith("+json"))
    ):
        return False
    charset = declared.get_param("charset")
    return charset is None or (isinstance(charset, str) and charset.strip().lower() in {"utf-8", "utf8"})


class CorrelationIds:
    """Pure ASGI middleware (no per-request task or body buffering, unlike ``@app.middleware``): the caller's
    ``X-Correlation-ID`` (or a new one) is bound to the request's log lines and returned on the answer.

    A correlation id is stored with what the request causes, so one that could not be stored is refused like any
    field, and a fresh one names the refusal.
    """

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        sent = Headers(scope=scope).get(CORRELATION_HEADER)
        correlation_id = sent or str(uuid.uuid4())
        if len(correlation_id) > MAX_CORRELATION_ID or not is_storable(correlation_id):
            error = FieldError(field=f"header.{CORRELATION_HEADER}", reason="must be 1 to 200 characters of text")
            refused = JSONResponse(status_code=422, content=ValidationProblem(errors=[error]).model_dump())
            refused.headers[CORRELATION_HEADER] = str(uuid.uuid4())
            await refused(scope, receive, send)
            return
        scope.setdefault("state", {})["correlation_id"] = correlation_id
        header = (CORRELATION_HEADER.lower().encode(), correlation_id.encode())

        async def send_with_correlation_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        bind_contextvars(correlation_id=correlation_id)
        try:
            await self._app(scope, receive, send_with_correlation_id)
        finally:
            unbind_contextvars("correlation_id")


class JsonBodies:
    """Pure ASGI middleware: a POST, PUT or PATCH to a route that takes it, with a body declared as anything but JSON
    in UTF-8 (a form in UTF-8, for a route that takes a form), is answered 415 before FastAPI reads it (a request no
    route takes is left to its 404 or 405)."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in _BODY_METHODS:
            headers = Headers(scope=scope)
            has_body = headers.get("content-length", "0") != "0" or "transfer-encoding" in headers
            routes = _routes(scope["app"], scope, scope["method"])
            form = any(takes_form(route) for route in routes)
            if routes and not acceptable_body_type(headers.get("content-type"), has_body=has_body, form=form):
                detail = _ONLY_FORM if form else _ONLY_JSON
                await JSONResponse(status_code=415, content=Problem(detail=detail).model_dump())(scope, receive, send)
                return
        await self._app(scope, receive, send)


class BodyTooLarge(StarletteHTTPException):
    """Raised from ``receive`` when a streamed body passes the bound: FastAPI lets an ``HTTPException`` from reading
    the body through (to the app's handler: a 413), and ``BodyLimit`` answers it if nothing else did."""

    def __init__(self) -> None:
        super().__init__(413, _TOO_LARGE)


class BodyLimit:
    """Pure ASGI middleware: a request body larger than ``max_bytes`` is answered 413 before anything parses it. A
    declared ``Content-Length`` over the bound is refused at once, without reading a byte; a body without one
    (chunked) is counted as it is received, and refused as soon as it passes the bound."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self._app = app
        self._max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.strip().isdigit() and int(declared) > self._max_bytes:
            await _too_large(scope, receive, send)
            return
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self._max_bytes:
                    raise BodyTooLarge
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self._app(scope, counted_receive, watched_send)
        except BodyTooLarge:
            if started:
                raise
            await _too_large(scope, receive, send)


async def _too_large(scope: Scope, receive: Receive, send: Send) -> None:
    response = JSONResponse(status_code=413, content=Problem(detail=_TOO_LARGE).model_dump())
    response.headers["Connection"] = "close"  # the rest of the body is never read
    await response(scope, receive, send)


def _document_body_refusals(document: dict[str, Any]) -> None:
    """Every operation that takes a body documents its 400 and 413, and every POST, PUT or PATCH its 415 (all are
    answered before the route runs, so FastAPI does not know them)."""
    problem = {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for operations in document.get("paths", {}).values():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            content = operation.get("requestBody", {}).get("content", {})
            form = _FORM_TYPE in content
            if content:
                what = "a form" if form else "JSON"
                responses.setdefault(
                    "400", {"description": f"The body is not {what}, or not UTF-8", "content": problem}
                )
                responses.setdefault(
                    "413", {"description": "The body is larger than the service takes", "content": problem}
                )
            if "security" in operation:
                responses.setdefault("401", {"description": "No credential, or one that cannot be trusted"})
                responses.setdefault("403", {"description": "The caller's role or scopes do not allow this"})
            if method.upper() in _BODY_METHODS:
                declared = _FORM_TYPE if form else "application/json"
                responses.setdefault(
                    "415", {"description": f"The body is not declared {declared} in UTF-8", "content": problem}
                )
