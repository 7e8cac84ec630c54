"""A local SMS sink for the embedded development stack, speaking the part of Twilio's REST API the platform uses.

The notify service sends texts with ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` exactly as it would to
Twilio; the sink checks the request the way Twilio does (Basic auth, an E.164 ``To``, a body of 1..1600 characters),
answers with a Twilio-shaped message resource, keeps the text in memory and, when asked to, posts a ``delivered``
status callback signed like Twilio's. Tests and developers read what was "sent" at ``GET /api/messages``.

Playing the parent and the carrier: ``POST /api/inbound`` (``{"from": "+1312...", "body": "STOP"}``) posts an inbound
text to the webhook (``--inbound-url``, notify's ``/v1/sms/inbound``) signed with ``--auth-token`` and returns its
answer; ``PUT /api/numbers/{number}/failure`` (``{"error_code": 30006, "at": "delivery"}``) makes texts to a number fail
the way Twilio does, at the send (HTTP 400 with the code) or at delivery (an ``undelivered`` callback with ErrorCode);
``DELETE`` it to stop.

Run it as a process::

    python -m devstack.smssink --port 8030

or in-process with :func:`serve_smssink`, or mount :func:`create_app` in a test.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import contextlib
import hashlib
import hmac
import itertools
import logging
import math
import re
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qs

import httpx
from fastapi import Body, FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from devstack.bounded_store import DEFAULT_CAPACITY, BoundedStore
from devstack.serving import run_as_process, serve_until_cancelled, start_http, stop_http

log = logging.getLogger(__name__)

API_VERSION = "2010-04-01"
MAX_BODY_CHARS = 1600
CALLBACK_TIMEOUT_SECONDS = 2.0
TWILIO_LIST_PAGE_SIZE = 50

# E.164: a plus, a country code that does not start with 0, at most 15 digits. [0-9], not \d: \d matches any script.
E164 = re.compile(r"\+[1-9][0-9]{7,14}")

# GSM 03.38: the basic character set (one septet each) and the extension table (an escape plus one septet each).
GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION = frozenset("\f^{}\\[~]|€")


# --- segments -------------------------------------------------------------------------------------------------------


def count_segments(body: str) -> int:
    """How many SMS segments Twilio would bill: GSM-7 holds 160 septets (153 when split), UCS-2 70 units (67)."""
    if all(char in GSM_BASIC or char in GSM_EXTENSION for char in body):
        units = sum(2 if char in GSM_EXTENSION else 1 for char in body)
        single, per_part = 160, 153
    else:
        # UCS-2 as phones really send it: UTF-16, so a character outside the BMP (most emoji) takes two units.
        units = len(body.encode("utf-16-le")) // 2
        single, per_part = 70, 67
    return 1 if units <= single else math.ceil(units / per_part)


# --- the store ------------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class SentText:
    """One text as the sink received it. ``status`` moves from queued to delivered; nothing else changes."""

    sid: str
    account_sid: str
    to: str
    sender: str | None
    messaging_service_sid: str | None
    body: str
    num_segments: int
    created: datetime
    status: str = "queued"

    def twilio_json(self) -> dict[str, Any]:
        """The message resource, shaped like Twilio's (the fields clients read, and their types)."""
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{self.sid}.json"
        created = format_datetime(self.created)
        return {
            "sid": self.sid,
            "account_sid": self.account_sid,
            "messaging_service_sid": self.messaging_service_sid,
            "to": self.to,
            "from": self.sender,
            "body": self.body,
            "status": self.status,
            "num_segments": str(self.num_segments),
            "num_media": "0",
            "direction": "outbound-api",
            "date_created": created,
            "date_updated": created,
            "date_sent": None,
            "uri": uri,
            "subresource_uris": {"media": uri.replace(".json", "/Media.json")},
            "api_version": API_VERSION,
            "price": None,
            "price_unit": "USD",
            "error_code": None,
            "error_message": None,
        }

    def sink_json(self) -> dict[str, Any]:
        """The sink's own, simpler shape for tests and developers."""
        return {
            "sid": self.sid,
            "to": self.to,
            "from": self.sender,
            "body": self.body,
            "status": self.status,
            "num_segments": self.num_segments,
            "created": self.created.isoformat(timespec="microseconds"),
        }


class TextStore(BoundedStore[SentText]):
    """The newest texts by sid; see :mod:`devstack.bounded_store`."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        super().__init__(lambda text: text.sid, capacity)

    def matching(self, *, to: str | None = None, account_sid: str | None = None) -> Iterator[SentText]:
        """Newest first, those sent to ``to`` from ``account_sid`` (either left out: any)."""
        for text in self.newest():
            if (to is None or text.to == to) and (account_sid is None or text.account_sid == account_sid):
                yield text


# --- Twilio's rules -------------------------------------------------------------------------------------------------


def twilio_error(status: int, code: int, message: str) -> JSONResponse:
    body = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    headers = {"WWW-Authenticate": 'Basic realm="Twilio API"'} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers)


@dataclass(frozen=True, slots=True)
class Credentials:
    username: str
    password: str


def basic_credentials(request: Request) -> Credentials | None:
    return _basic(request.headers.get("authorization", ""))


def _basic(authorization: str) -> Credentials | None:
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, colon, password = decoded.partition(":")
    return Credentials(username, password) if colon else None


def authenticate(request: Request, account_sid: str) -> Credentials | JSONResponse:
    """Any password will do, but the user must be the account in the path, as on Twilio."""
    return _authenticate(basic_credentials(request), account_sid)


def _authenticate(credentials: Credentials | None, account_sid: str) -> Credentials | JSONResponse:
    if credentials is None or not hmac.compare_digest(credentials.username.encode(), account_sid.encode()):
        return twilio_error(401, 20003, "Authenticate")
    return credentials


async def form_fields(request: Request) -> dict[str, str]:
    """The form body, first value of each field. Parsed here: FastAPI's Form() would need python-multipart."""
    return _form(await request.body())


def _form(body: bytes) -> dict[str, str]:
    raw = body.decode("utf-8", "replace")
    return {name: values[0] for name, values in parse_qs(raw, keep_blank_values=True).items()}


@dataclass(frozen=True, slots=True)
class Rejection:
    code: int
    message: str


def validate_send(fields: dict[str, str]) -> Rejection | None:
    """Twilio's checks, in Twilio's order. Messages never repeat the number: it is personal data."""
    if not E164.fullmatch(fields.get("To", "")):
        return Rejection(21211, "The 'To' number is not a valid phone number.")
    if not fields.get("From") and not fields.get("MessagingServiceSid"):
        return Rejection(21603, "A 'From' phone number is required.")
    body = fields.get("Body", "")
    if not body:
        return Rejection(21602, "Message body is required.")
    if len(body) > MAX_BODY_CHARS:
        return Rejection(21617, "The concatenated message body exceeds the 1600 character limit.")
    return None


def twilio_signature(auth_token: str, url: str, params: dict[str, str]) -> str:
    """Twilio's X-Twilio-Signature: HMAC-SHA1 with the auth token over the URL and the sorted, concatenated params."""
    payload = url + "".join(f"{name}{params[name]}" for name in sorted(params))
    digest = hmac.new(auth_token.encode("utf-8"), payload.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


# --- delivery -------------------------------------------------------------------------------------------------------


class Deliverer:
    """Marks texts delivered and posts status callbacks, with one shared HTTP client (cheap per callback)."""

    def __init__(self, *, send_callbacks: bool) -> None:
        self.send_callbacks = send_callbacks
        self._client: httpx.AsyncClient | None = None

    async def deliver(
        self, text: SentText, callback_url: str | None, auth_token: str, error_code: int | None = None
    ) -> None:
        text.status = "delivered" if error_code is None else "undelivered"
        if callback_url and self.send_callbacks:
            await self._post_callback(text, callback_url, auth_token, error_code)

    async def post_form(self, url: str, params: dict[str, str], auth_token: str) -> httpx.Response:
        """POST a form signed like Twilio's webhooks."""
        headers = {"X-Twilio-Signature": twilio_signature(auth_token, url, params)}
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=CALLBACK_TIMEOUT_SECONDS)
        return await self._client.post(url, data=params, headers=headers)

    async def _post_callback(self, text: SentText, url: str, auth_token: str, error_code: int | None) -> None:
        params = {
            "MessageSid": text.sid,
            "SmsSid": text.sid,
            "MessageStatus": text.status,
            "SmsStatus": text.status,
            "AccountSid": text.account_sid,
            "To": text.to,
            "From": text.sender or "",
            "ApiVersion": API_VERSION,
        }
        if error_code is not None:
            params["ErrorCode"] = str(error_code)
        try:
            response = await self.post_form(url, params, auth_token)
        except httpx.HTTPError as exc:
            # Fire and forget, as on Twilio: a receiver that is down loses the callback. No URL in the log.
            log.warning("status callback failed sid=%s error=%s", text.sid, type(exc).__name__)
            return
        if response.is_error:
            log.warning("status callback refused sid=%s status=%d", text.sid, response.status_code)
        else:
            log.debug("status callback sent sid=%s", text.sid)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


# --- HTTP -----------------------------------------------------------------------------------------------------------


def _new_sid() -> str:
    return "SM" + secrets.token_hex(16)


async def _nothing() -> None:
    return None


SendHandler = Callable[[str, str, bytes], Awaitable[tuple[Response, Callable[[], Awaitable[None]]]]]
_SEND_PATH = re.compile(rf"/{API_VERSION}/Accounts/([^/]+)/Messages\.json")
MAX_SEND_BYTES = 64 * 1024


class _SendFastPath:
    """``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` straight on ASGI, every other request to FastAPI.

    The send is the one request that comes in thousands a second: FastAPI's routing, dependency resolution and
    background tasks cost more than the send itself, and would make the sink, not the platform, the limit of a
    benchmark. Same checks, same answers, the callback after the answer, as before."""

    def __init__(self, app: ASGIApp, send: SendHandler) -> None:
        self._app = app
        self._send = send

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = _SEND_PATH.fullmatch(scope["path"]) if scope["type"] == "http" and scope["method"] == "POST" else None
        if match is None:
            await self._app(scope, receive, send)
            return
        authorization = next((v for k, v in scope["headers"] if k == b"authorization"), b"").decode("latin-1")
        chunks: list[bytes] = []
        size, more = 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_SEND_BYTES:
                await twilio_error(413, 21617, "The request is too large.")(scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        answer, after = await self._send(match.group(1), authorization, b"".join(chunks))
        await answer(scope, receive, send)
        await after()


DEFAULT_INBOUND_URL = "http://127.0.0.1:8003/v1/sms/inbound"
DEFAULT_AUTH_TOKEN = "development"  # noqa: S105 - the development stack's token, as notify's default


def create_app(
    *,
    capacity: int = DEFAULT_CAPACITY,
    status_callbacks: bool = True,
    inbound_url: str = DEFAULT_INBOUND_URL,
    auth_token: str = DEFAULT_AUTH_TOKEN,
) -> FastAPI:
    """The sink as an ASGI app; ``status_callbacks=False`` turns the outgoing callbacks off. ``inbound_url`` and
    ``auth_token``: where ``POST /api/inbound`` posts a parent's text, signed with that token.

    Handlers are ``async def`` so the store is only ever touched from the event loop's thread.
    """
    store = TextStore(capacity)
    deliverer = Deliverer(send_callbacks=status_callbacks)
    failures: dict[str, tuple[int, str]] = {}  # number -> (Twilio error code, "send" or "delivery")

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await deliverer.close()

    app = FastAPI(title="PSC SMS sink", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    messages_path = f"/{API_VERSION}/Accounts/{{account_sid}}/Messages"

    async def send(account_sid: str, authorization: str, body: bytes) -> tuple[Response, Callable[[], Awaitable[None]]]:
        """``POST .../Messages.json``: the answer, and what to do once it is sent (deliver, maybe call back)."""
        credentials = _authenticate(_basic(authorization), account_sid)
        if isinstance(credentials, JSONResponse):
            return credentials, _nothing
        fields = _form(body)
        rejection = validate_send(fields)
        if rejection is not None:
            log.info("rejected a text: error code %d", rejection.code)
            return twilio_error(400, rejection.code, rejection.message), _nothing
        failure = failures.get(fields["To"])
        if failure is not None and failure[1] == "send":
            log.info("refused a text as asked: error code %d", failure[0])
            refused = twilio_error(400, failure[0], "Refused by the sink as asked (PUT /api/numbers/.../failure)")
            return refused, _nothing
        text = SentText(
            sid=_new_sid(),
            account_sid=account_sid,
            to=fields["To"],
            sender=fields.get("From") or None,
            messaging_service_sid=fields.get("MessagingServiceSid") or None,
            body=fields["Body"],
            num_segments=count_segments(fields["Body"]),
            created=datetime.now(UTC),
        )
        store.add(text)
        log.debug("accepted text sid=%s segments=%d stored=%d", text.sid, text.num_segments, len(store))
        # After the reply, as Twilio does: the callback must not arrive before the sender has the sid.
        error_code = failure[0] if failure is not None else None
        callback_url, password = fields.get("StatusCallback"), credentials.password

        async def deliver() -> None:
            await deliverer.deliver(text, callback_url, password, error_code)

        return JSONResponse(text.twilio_json(), status_code=201), deliver

    app.add_middleware(_SendFastPath, send=send)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(f"{messages_path}.json")
    async def list_twilio(
        account_sid: str,
        request: Request,
        to: str | None = Query(None, alias="To"),
        page_size: int = Query(TWILIO_LIST_PAGE_SIZE, alias="PageSize", ge=1, le=1000),
    ) -> JSONResponse:
        credentials = authenticate(request, account_sid)
        if isinstance(credentials, JSONResponse):
            return credentials
        newest = store.matching(to=to, account_sid=account_sid)
        texts = [text.twilio_json() for text in itertools.islice(newest, page_size)]
        uri = f"/{API_VERSION}/Accounts/{account_sid}/Messages.json"
        return JSONResponse(
            {
                "messages": texts,
                "page": 0,
                "page_size": page_size,
                "uri": uri,
                "first_page_uri": uri,
                "next_page_uri": None,
                "previous_page_uri": None,
            }
        )

    @app.get(f"{messages_path}/{{sid}}.json")
    async def fetch_twilio(account_sid: str, sid: str, request: Request) -> JSONResponse:
        credentials = authenticate(request, account_sid)
        if isinstance(credentials, JSONResponse):
            return credentials
        text = store.get(sid)
        if text is None or text.account_sid != account_sid:
            return twilio_error(404, 20404, "The requested resource was not found")
        return JSONResponse(text.twilio_json())

    @app.get("/api/messages")
    async def list_sink(to: str | None = None) -> JSONResponse:
        return JSONResponse([text.sink_json() for text in store.matching(to=to)])

    @app.delete("/api/messages")
    async def clear_sink() -> dict[str, int]:
        deleted = store.clear()
        log.info("deleted %d text(s)", deleted)
        return {"deleted": deleted}

    @app.post("/api/inbound")
    async def inbound(payload: dict[str, Any] = Body(...)) -> Response:
        """Play a parent texting in: ``{"from": "+13125550147", "body": "STOP"}`` (``"url"`` overrides the webhook).
        Posted as Twilio posts an incoming message, signed; answers with the webhook's status and body (TwiML)."""
        sender, body = payload.get("from"), payload.get("body")
        if not isinstance(sender, str) or not E164.fullmatch(sender):
            return JSONResponse({"detail": "from: an E.164 number, e.g. +13125550147"}, status_code=422)
        if not isinstance(body, str) or len(body) > MAX_BODY_CHARS:
            return JSONResponse({"detail": "body: the text, at most 1600 characters"}, status_code=422)
        url = payload.get("url") if isinstance(payload.get("url"), str) else inbound_url
        sid = _new_sid()
        params = {
            "MessageSid": sid,
            "SmsSid": sid,
            "From": sender,
            "Body": body,
            "NumMedia": "0",
            "ApiVersion": API_VERSION,
        }
        try:
            answer = await deliverer.post_form(str(url), params, auth_token)
        except httpx.HTTPError as exc:
            return JSONResponse({"detail": f"the webhook could not be reached: {type(exc).__name__}"}, status_code=502)
        return Response(
            answer.content, status_code=answer.status_code, media_type=answer.headers.get("content-type", "text/xml")
        )

    @app.put("/api/numbers/{number}/failure", status_code=204)
    async def fail_number(number: str, payload: dict[str, Any] = Body(...)) -> Response:
        """Texts to ``number`` fail from now on: ``{"error_code": 21614, "at": "send"}`` (HTTP 400 with the code) or
        ``{"error_code": 30006, "at": "delivery"}`` (accepted, then an 'undelivered' status callback)."""
        code, at = payload.get("error_code"), payload.get("at", "delivery")
        if not isinstance(code, int) or at not in ("send", "delivery"):
            return JSONResponse({"detail": "error_code: an integer; at: 'send' or 'delivery'"}, status_code=422)
        failures[number] = (code, at)
        return Response(status_code=204)

    @app.delete("/api/numbers/{number}/failure", status_code=204)
    async def clear_failure(number: str) -> Response:
        failures.pop(number, None)
        return Response(status_code=204)

    return app


# --- serving --------------------------------------------------------------------------------------------------------


async def serve_smssink(
    *,
    host: str,
    port: int,
    ready: asyncio.Event | None = None,
    status_callbacks: bool = True,
    inbound_url: str = DEFAULT_INBOUND_URL,
    auth_token: str = DEFAULT_AUTH_TOKEN,
) -> None:
    """Serve the sink in the current loop until cancelled; set ``ready`` once it listens."""
    # lifespan "on": the app's lifespan closes the status-callback client.
    app = create_app(status_callbacks=status_callbacks, inbound_url=inbound_url, auth_token=auth_token)
    server, task = await start_http(app, host=host, port=port, name="smssink-http", lifespan="on")
    try:
        log.info("SMS sink listening on %s:%d", host, port)
        await serve_until_cancelled(task, ready)
    finally:
        await stop_http(server, task)
        log.info("SMS sink stopped")


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Local SMS sink speaking Twilio's Messages API.")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind to (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8030, help="HTTP port (default 8030)")
    parser.add_argument(
        "--no-status-callbacks", action="store_true", help="never post StatusCallback requests (they are on by default)"
    )
    parser.add_argument(
        "--inbound-url", default=DEFAULT_INBOUND_URL, help=f"webhook POST /api/inbound posts to ({DEFAULT_INBOUND_URL})"
    )
    parser.add_argument(
        "--auth-token", default=DEFAULT_AUTH_TOKEN, help="token inbound texts are signed with (notify's sms_auth_token)"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = _parse_args(argv)
    run_as_process(
        "SMS sink",
        serve_smssink(
            host=args.host,
            port=args.port,
            status_callbacks=not args.no_status_callbacks,
            inbound_url=args.inbound_url,
            auth_token=args.auth_token,
        ),
    )


if __name__ == "__main__":
    main()
