"""A local SMTP mail catcher for the embedded development stack, standing in for a real mail provider.

It accepts every message on an SMTP port, keeps the newest ones in memory and serves them over HTTP. The HTTP API is
a subset of Mailpit's (``/api/v1/messages``, ``/api/v1/message/{ID}``), so the client code that reads mail in the
end-to-end tests works unchanged against Mailpit in docker-compose. A bare HTML page lists the messages for a
developer's browser.

Both servers run in one asyncio loop, in one process::

    python -m devstack.mailcatcher --smtp-port 1025 --http-port 8025

or in-process, from tests or the stack runner, with :func:`serve_mailcatcher`.

To play a mail server that refuses: ``PUT /api/faults/{address}`` with ``{"code": 451, "times": 1}`` answers the next
RCPT TO of that address with that SMTP code (a 4xx: try again later; a 5xx: a hard bounce), ``times`` times (0: until
``DELETE /api/faults/{address}``).
"""

from __future__ import annotations

import argparse
import asyncio
import email
import email.policy
import html
import logging
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import Address, BaseHeader
from email.message import Message
from typing import Any
from urllib.parse import quote

from aiosmtpd.smtp import SMTP, Envelope, Session
from fastapi import Body, FastAPI, HTTPException, Query
from fastapi.responses import HTMLResponse, JSONResponse

from devstack.bounded_store import DEFAULT_CAPACITY, BoundedStore
from devstack.serving import run_as_process, serve_until_cancelled, start_http, stop_http

log = logging.getLogger(__name__)

PAGE_ROWS = 200
SNIPPET_CHARS = 250
SMTP_HOSTNAME = "mailcatcher.localhost"
_HEADER_FACTORY = email.policy.default.header_factory


# --- the store ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Mailbox:
    """One address as Mailpit shows it: a display name (maybe empty) and the bare address."""

    name: str
    address: str

    def as_json(self) -> dict[str, str]:
        return {"Name": self.name, "Address": self.address}


@dataclass(frozen=True, slots=True)
class Decoded:
    """What the API shows of a message: its headers and parts decoded."""

    message_id: str
    sender: Mailbox
    recipients: tuple[Mailbox, ...]
    subject: str
    text: str
    html: str
    snippet: str
    headers: tuple[tuple[str, str], ...] = ()
    """Every header as received (name, unfolded value), for Mailpit's /headers answer."""


class CaughtMessage:
    """A message as received: the raw bytes and the envelope, decoded the first time someone looks, then kept.

    Receiving does no MIME work (as a relay, which passes messages on without reading them): decoding costs a
    millisecond or more a message and would cap the SMTP side below the rate the platform sends at. Only the event
    loop's thread touches a message, so the cache needs no lock."""

    __slots__ = ("_decoded", "created", "id", "mail_from", "raw", "rcpt_tos", "size")

    def __init__(self, raw: bytes, *, mail_from: str, rcpt_tos: Sequence[str], received_at: datetime) -> None:
        self.id = str(uuid.uuid4())
        self.raw = raw
        self.mail_from = mail_from
        self.rcpt_tos = tuple(rcpt_tos)
        self.created = received_at.isoformat(timespec="microseconds")
        self.size = len(raw)
        self._decoded: Decoded | None = None

    @property
    def decoded(self) -> Decoded:
        if self._decoded is None:
            try:
                self._decoded = _decode(self.raw, mail_from=self.mail_from, rcpt_tos=self.rcpt_tos)
            except Exception as exc:  # a catcher catches everything; a message it cannot parse is shown raw
                log.warning("could not parse a message (%s); showing it raw, size=%d", type(exc).__name__, self.size)
                self._decoded = _undecoded(self.raw, mail_from=self.mail_from, rcpt_tos=self.rcpt_tos)
        return self._decoded

    @property
    def subject(self) -> str:
        return self.decoded.subject

    @property
    def sender(self) -> Mailbox:
        return self.decoded.sender

    @property
    def recipients(self) -> tuple[Mailbox, ...]:
        return self.decoded.recipients

    def _headers_json(self) -> dict[str, Any]:
        decoded = self.decoded
        return {
            "ID": self.id,
            "MessageID": decoded.message_id,
            "From": decoded.sender.as_json(),
            "To": [mailbox.as_json() for mailbox in decoded.recipients],
            "Subject": decoded.subject,
        }

    def summary_json(self) -> dict[str, Any]:
        """The shape of one entry of Mailpit's message list."""
        return {**self._headers_json(), "Created": self.created, "Size": self.size, "Snippet": self.decoded.snippet}

    def detail_json(self) -> dict[str, Any]:
        """The shape of Mailpit's single-message answer (the fields we have)."""
        decoded = self.decoded
        return {
            **self._headers_json(),
            "Date": self.created,
            "Text": decoded.text,
            "HTML": decoded.html,
            "Size": self.size,
        }


class MailStore(BoundedStore[CaughtMessage]):
    """The newest caught messages by their ``ID``. Only the loop's thread touches it: see devstack.bounded_store."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        super().__init__(lambda message: message.id, capacity)


# --- decoding a received message ------------------------------------------------------------------------------------


def _unescape(value: str) -> str:
    """Undo the parser's surrogate escapes: raw UTF-8 headers (SMTPUTF8) arrive as bytes it could not decode."""
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _raw_headers(message: Message) -> dict[str, str]:
    """The first of each header, undecoded but unfolded, keyed by lower-case name."""
    headers: dict[str, str] = {}
    for name, value in message.raw_items():
        headers.setdefault(name.lower(), _unescape("".join(str(value).splitlines())))
    return headers


def _decoded(headers: dict[str, str], name: str) -> BaseHeader | None:
    """One header decoded by policy.default's header classes (RFC 2047 words, address lists)."""
    value = headers.get(name.lower())
    if value is None:
        return None
    try:
        header: BaseHeader = _HEADER_FACTORY(name, value)
    except Exception:  # a malformed header must not lose the message; the catcher keeps what it can
        return None
    return header


def _header_text(headers: dict[str, str], name: str) -> str:
    header = _decoded(headers, name)
    return "" if header is None else str(header)


def _mailboxes(headers: dict[str, str], name: str) -> list[Mailbox]:
    addresses: tuple[Address, ...] = getattr(_decoded(headers, name), "addresses", ())
    return [Mailbox(name=a.display_name, address=a.addr_spec) for a in addresses]


def _part_text(message: Message, subtype: str) -> str:
    """The decoded body of the first inline ``text/<subtype>`` part, line endings normalised; empty if none."""
    wanted = f"text/{subtype}"
    part = next(
        (p for p in message.walk() if p.get_content_type() == wanted and p.get_content_disposition() != "attachment"),
        None,
    )
    if part is None:
        return ""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = part.get_content_charset() or "utf-8"
    try:
        content = payload.decode(charset, "replace")
    except LookupError:  # an unknown charset: show the bytes as UTF-8 rather than nothing
        content = payload.decode("utf-8", "replace")
    return content.replace("\r\n", "\n")


def _snippet(text: str, html_body: str) -> str:
    source = text or html_body
    return " ".join(source.split())[:SNIPPET_CHARS]


def parse_message(raw: bytes, *, mail_from: str, rcpt_tos: Sequence[str], received_at: datetime) -> CaughtMessage:
    """A received message; decoded (envelope addresses standing in for missing headers) when first looked at."""
    return CaughtMessage(raw, mail_from=mail_from, rcpt_tos=rcpt_tos, received_at=received_at)


def _decode(raw: bytes, *, mail_from: str, rcpt_tos: Sequence[str]) -> Decoded:
    """Decode a raw message into what the API shows; envelope addresses stand in for missing headers.

    The MIME structure is read with the compat32 parser and only the four headers we show are decoded with
    policy.default's header classes: parsing whole messages with policy.default costs about 2 ms each (it re-parses
    Content-Type on every look).
    """
    message = email.message_from_bytes(raw, policy=email.policy.compat32)
    headers = _raw_headers(message)
    senders = _mailboxes(headers, "From")
    recipients = _mailboxes(headers, "To") or [Mailbox(name="", address=rcpt) for rcpt in rcpt_tos]
    text = _part_text(message, "plain")
    html_body = _part_text(message, "html")
    return Decoded(
        # Mailpit shows the Message-ID without its angle brackets; so do we, for the same client code.
        message_id=_header_text(headers, "Message-ID").strip().strip("<>"),
        sender=senders[0] if senders else Mailbox(name="", address=mail_from),
        recipients=tuple(recipients),
        subject=_header_text(headers, "Subject"),
        text=text,
        html=html_body,
        snippet=_snippet(text, html_body),
        headers=tuple((name, _unescape("".join(str(value).splitlines()))) for name, value in message.raw_items()),
    )


def _undecoded(raw: bytes, *, mail_from: str, rcpt_tos: Sequence[str]) -> Decoded:
    """What we show when parsing fails: the raw text, so a developer can still see what was sent."""
    text = raw.decode("utf-8", "replace")
    return Decoded(
        message_id="",
        sender=Mailbox(name="", address=mail_from),
        recipients=tuple(Mailbox(name="", address=rcpt) for rcpt in rcpt_tos),
        subject="",
        text=text,
        html="",
        snippet=_snippet(text, ""),
    )


# --- SMTP -----------------------------------------------------------------------------------------------------------


class Faults:
    """Recipients to refuse on purpose: address -> [SMTP code, times left (0: always)]."""

    def __init__(self) -> None:
        self.by_address: dict[str, list[int]] = {}

    def refusal(self, address: str) -> str | None:
        fault = self.by_address.get(address.lower())
        if fault is None:
            return None
        code, left = fault
        if left == 1:
            del self.by_address[address.lower()]
        elif left > 1:
            fault[1] = left - 1
        text = "4.2.0 Try again later" if code < 500 else "5.1.1 Mailbox unavailable"
        return f"{code} {text}"


class _CatchAllHandler:
    """aiosmtpd handler: accepts every recipient but those refused on purpose (Faults), and every message."""

    def __init__(self, store: MailStore, faults: Faults | None = None) -> None:
        self._store = store
        self._faults = faults or Faults()

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        refusal = self._faults.refusal(address)
        if refusal is not None:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        message = CaughtMessage(
            raw, mail_from=envelope.mail_from or "", rcpt_tos=envelope.rcpt_tos, received_at=datetime.now(UTC)
        )
        self._store.add(message)
        return "250 2.0.0 Message accepted"


_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_PLAIN_ANGLE_ADDRESS = re.compile(rf"<(?P<local>{_ATOM}(?:\.{_ATOM})*)@(?P<domain>[A-Za-z0-9.-]+)>[ \t]*(?P<rest>.*)")


class _TrackedSMTP(SMTP):
    """aiosmtpd's protocol, remembering its open connections so a stop can close them.

    A closed asyncio server (Python 3.11) leaves its connections open, and their session tasks pending.
    """

    def __init__(self, handler: _CatchAllHandler, connections: set[_TrackedSMTP], **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self._connections = connections

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._connections.add(self)
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        self._connections.discard(self)
        super().connection_lost(error)

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        """MAIL FROM's and RCPT TO's address and the parameters after it. A plain ``<local@domain>`` is read with one
        regular expression; aiosmtpd's parser (the email package's header tokenizer) took a fifth of the catcher's
        CPU per message for those. Anything else goes to that parser, which gives the same answer for plain ones."""
        plain = _PLAIN_ANGLE_ADDRESS.fullmatch(arg)
        if plain is None or (self.local_part_limit and len(plain["local"]) > self.local_part_limit):
            return super()._getaddr(arg)
        return f"{plain['local']}@{plain['domain']}", plain["rest"]


async def _start_smtp(
    store: MailStore, *, host: str, port: int, connections: set[_TrackedSMTP], faults: Faults | None = None
) -> asyncio.base_events.Server:
    loop = asyncio.get_running_loop()
    handler = _CatchAllHandler(store, faults)

    def protocol() -> _TrackedSMTP:
        # An explicit hostname: aiosmtpd would otherwise resolve the machine's FQDN for every connection.
        return _TrackedSMTP(
            handler, connections, hostname=SMTP_HOSTNAME, enable_SMTPUTF8=True, ident="PSC mail catcher", loop=loop
        )

    return await loop.create_server(protocol, host=host, port=port)


async def _stop_smtp(server: asyncio.base_events.Server, connections: set[_TrackedSMTP]) -> None:
    server.close()
    for connection in list(connections):
        if connection.transport is not None:
            connection.transport.close()
    await server.wait_closed()
    # Let connection_lost run and the session tasks it cancels finish, before the loop may close.
    for _ in range(3):
        await asyncio.sleep(0)


# --- HTTP -----------------------------------------------------------------------------------------------------------


def _page(title: str, body: str) -> str:
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse}"
        "td,th{padding:.25em .75em;border-bottom:1px solid #ddd;text-align:left}pre{white-space:pre-wrap}</style>"
        f"</head><body>{body}</body></html>"
    )


def _addresses(mailboxes: Sequence[Mailbox]) -> str:
    return ", ".join(mailbox.address for mailbox in mailboxes)


def _index_row(message: CaughtMessage) -> str:
    link = f"/view/{quote(message.id)}"
    subject = message.subject or "(no subject)"
    return (
        f"<tr><td>{html.escape(message.created[:19].replace('T', ' '))}</td>"
        f"<td>{html.escape(_addresses(message.recipients))}</td>"
        f'<td><a href="{html.escape(link)}">{html.escape(subject)}</a></td></tr>'
    )


def _index_page(store: MailStore) -> str:
    rows = "".join(_index_row(message) for message in store.newest(limit=PAGE_ROWS))
    body = (
        f"<h1>Mail catcher</h1><p>{len(store)} message(s); newest {PAGE_ROWS} shown, times in UTC. "
        "<a href='/'>Refresh</a></p>"
        f"<table><tr><th>Received</th><th>To</th><th>Subject</th></tr>{rows}</table>"
    )
    return _page("Mail catcher", body)


def _message_page(message: CaughtMessage) -> str:
    # The HTML body is shown as escaped source, never rendered: mail content is untrusted.
    content = message.decoded.text or message.decoded.html
    body = (
        "<p><a href='/'>&larr; all messages</a></p>"
        f"<h1>{html.escape(message.subject or '(no subject)')}</h1>"
        f"<p>From: {html.escape(message.sender.address)}<br>To: {html.escape(_addresses(message.recipients))}<br>"
        f"Received: {html.escape(message.created)}<br>Message-ID: {html.escape(message.decoded.message_id)}</p>"
        f"<pre>{html.escape(content)}</pre>"
    )
    return _page(message.subject or "Message", body)


def create_app(store: MailStore, faults: Faults | None = None) -> FastAPI:
    """The HTTP side: Mailpit's API subset, health, and the HTML pages. Handlers are async (see MailStore)."""
    app = FastAPI(title="PSC mail catcher", docs_url=None, redoc_url=None, openapi_url=None)
    faults = faults if faults is not None else Faults()

    @app.put("/api/faults/{address}", status_code=204)
    async def add_fault(address: str, payload: dict[str, Any] = Body(...)) -> None:
        code, times = payload.get("code"), payload.get("times", 1)
        if not isinstance(code, int) or not 400 <= code < 600 or not isinstance(times, int) or times < 0:
            raise HTTPException(status_code=422, detail="code: an SMTP code 400-599; times: 0 or more")
        faults.by_address[address.lower()] = [code, times]

    @app.delete("/api/faults/{address}", status_code=204)
    async def clear_fault(address: str) -> None:
        faults.by_address.pop(address.lower(), None)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/api/v1/messages")
    async def list_messages(limit: int = Query(50, ge=1, le=100_000), start: int = Query(0, ge=0)) -> JSONResponse:
        messages = [message.summary_json() for message in store.newest(start=start, limit=limit)]
        # A JSONResponse skips FastAPI's per-field encoding, which is slow for tens of thousands of messages.
        return JSONResponse(
            {
                "total": len(store),
                "messages_count": len(store),
                "count": len(messages),
                "start": start,
                "messages": messages,
            }
        )

    @app.get("/api/v1/message/{message_id}")
    async def get_message(message_id: str) -> JSONResponse:
        message = store.get(message_id)
        if message is None:
            raise HTTPException(status_code=404, detail="message not found")
        return JSONResponse(message.detail_json())

    @app.get("/api/v1/message/{message_id}/headers")
    async def get_headers(message_id: str) -> JSONResponse:
        """Like Mailpit: each header name with its values."""
        message = store.get(message_id)
        if message is None:
            raise HTTPException(status_code=404, detail="message not found")
        headers: dict[str, list[str]] = {}
        for name, value in message.decoded.headers:
            headers.setdefault(name, []).append(value)
        return JSONResponse(headers)

    @app.delete("/api/v1/messages")
    async def delete_messages(payload: dict[str, Any] | None = Body(None)) -> dict[str, int]:
        # Like Mailpit: a body {"IDs": [...]} deletes those messages, no body deletes them all.
        ids = payload.get("IDs") if payload else None
        if ids:
            if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
                raise HTTPException(status_code=400, detail="IDs must be a list of message IDs")
            deleted = store.delete(ids)
        else:
            deleted = store.clear()
        log.info("deleted %d message(s)", deleted)
        return {"deleted": deleted}

    @app.get("/", response_class=HTMLResponse)
    async def index() -> str:
        return _index_page(store)

    @app.get("/view/{message_id}", response_class=HTMLResponse)
    async def view(message_id: str) -> HTMLResponse:
        message = store.get(message_id)
        if message is None:
            return HTMLResponse(_page("Not found", "<p>No such message. <a href='/'>All messages</a></p>"), 404)
        return HTMLResponse(_message_page(message))

    return app


def _quiet_aiosmtpd() -> None:
    """aiosmtpd logs every sender and recipient address at INFO; addresses are personal data."""
    smtp_log = logging.getLogger("mail.log")
    if smtp_log.getEffectiveLevel() < logging.WARNING:
        smtp_log.setLevel(logging.WARNING)


async def serve_mailcatcher(*, host: str, smtp_port: int, http_port: int, ready: asyncio.Event | None = None) -> None:
    """Run the SMTP server and the HTTP API in the current loop until cancelled; set ``ready`` once both listen."""
    _quiet_aiosmtpd()
    store = MailStore()
    faults = Faults()
    connections: set[_TrackedSMTP] = set()
    smtp_server = await _start_smtp(store, host=host, port=smtp_port, connections=connections, faults=faults)
    try:
        app = create_app(store, faults)
        http_server, http_task = await start_http(app, host=host, port=http_port, name="mailcatcher-http")
        try:
            log.info("mail catcher listening: smtp %s:%d, http %s:%d", host, smtp_port, host, http_port)
            await serve_until_cancelled(http_task, ready)
        finally:
            await stop_http(http_server, http_task)
    finally:
        await _stop_smtp(smtp_server, connections)
        log.info("mail catcher stopped, %d message(s) discarded", len(store))


# --- running as a process -------------------------------------------------------------------------------------------


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Local SMTP mail catcher with a Mailpit-shaped HTTP API.")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind both servers to (default 127.0.0.1)")
    parser.add_argument("--smtp-port", type=int, default=1025, help="SMTP port (default 1025)")
    parser.add_argument("--http-port", type=int, default=8025, help="HTTP API and web page port (default 8025)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = _parse_args(argv)
    run_as_process(
        "mail catcher", serve_mailcatcher(host=args.host, smtp_port=args.smtp_port, http_port=args.http_port)
    )


if __name__ == "__main__":
    main()
