"""The two ways a message leaves: SMTP for email (aiosmtplib) and a Twilio-shaped REST API for texts (aiohttp).

Both keep connections open and send many messages concurrently, at most so many at once: SMTP sessions taken from a
queue of idle ones (PSC_NOTIFY_SMTP_CONNECTIONS) and HTTP/1.1 keep-alive connections for texts
(PSC_NOTIFY_SMS_CONNECTIONS), so a round of hundreds has at most that many in flight. Each returns a SendResult per
delivery; neither raises for a refused message.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import email
import email.policy
import hashlib
import json
import re
import time
import urllib.request
import uuid
from collections.abc import Awaitable, Callable
from email.message import EmailMessage
from email.utils import formataddr, formatdate, parseaddr
from typing import Any
from urllib.parse import urlencode, urlsplit
from uuid import UUID

import aiohttp
import aiosmtplib
from aiosmtplib.email import quote_address
from aiosmtplib.typing import SMTPStatus

from services.notify.domain import SendResult, classify_smtp, classify_twilio
from shared.logging import get_logger

log = get_logger(__name__)
# Header lines up to RFC 5322's 998 characters: a List-Unsubscribe URL longer than 78 must stay one plain token (the
# default policy would turn it into RFC 2047 encoded words, which no mail client reads as a link).
_MAIL_POLICY = email.policy.SMTP.clone(max_line_length=998)


class RateLimit:
    """At most ``per_second`` sends a second from this process (a token bucket holding one second's worth); 0: no
    limit. Per replica: N replicas send up to N times the rate (PSC_NOTIFY_*_RATE_PER_SECOND says so)."""

    def __init__(
        self,
        per_second: float,
        *,
        now: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._rate = per_second
        self._tokens = per_second
        self._now, self._sleep = now, sleep  # tests pass a virtual clock
        self._updated = now()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        if self._rate <= 0:
            return
        async with self._lock:
            while True:
                now = self._now()
                self._tokens = min(self._rate, self._tokens + (now - self._updated) * self._rate)
                self._updated = now
                if self._tokens >= 1 - 1e-9:  # float sums of small refills fall a hair short of a whole token
                    self._tokens = max(0.0, self._tokens - 1)
                    return
                await self._sleep((1 - self._tokens) / self._rate)


class EmailOut:
    """A message to send; ``message_id`` comes from the dedup key so a resend carries the same Message-ID.
    ``unsubscribe_url``: the one-click unsubscribe link of optional mail (List-Unsubscribe, RFC 8058)."""

    __slots__ = ("body", "delivery_id", "html", "message_id", "recipient", "subject", "unsubscribe_url")

    def __init__(
        self,
        *,
        delivery_id: UUID,
        recipient: str,
        subject: str,
        body: str,
        message_id: str,
        html: str | None = None,
        unsubscribe_url: str | None = None,
    ) -> None:
        self.delivery_id = delivery_id
        self.recipient = recipient
        self.subject = subject
        self.body = body
        self.message_id = message_id
        self.html = html
        self.unsubscribe_url = unsubscribe_url


class SmtpSender:
    def __init__(
        self,
        *,
        host: str,
        port: int,
        sender: str,
        username: str = "",
        password: str = "",
        starttls: bool = False,
        connections: int = 4,
        timeout: float = 15.0,
        rate_per_second: float = 0,
    ) -> None:
        self._rate = RateLimit(rate_per_second)
        self._host, self._port, self._sender = host, port, sender
        self._envelope_from = parseaddr(sender)[1] or sender
        self._mail_from = b"FROM:" + _envelope_address(self._envelope_from)
        name, address = parseaddr(sender)
        self._from_header = formataddr((name, address), charset="utf-8") if address else _header_value(sender)
        self._username, self._password, self._starttls = username, password, starttls
        self._timeout = timeout
        self._idle: asyncio.Queue[aiosmtplib.SMTP | None] = asyncio.Queue()
        for _ in range(connections):
            self._idle.put_nowait(None)  # connections open lazily, on first use
        self._all: list[aiosmtplib.SMTP] = []

    async def send_all(self, messages: list[EmailOut]) -> list[SendResult]:
        return list(await asyncio.gather(*(self._send(m) for m in messages)))

    async def _send(self, out: EmailOut) -> SendResult:
        await self._rate.acquire()
        client = await self._idle.get()
        try:
            client = await self._connected(client)
            raw = self._raw(out)
            try:
                await self._transmit(client, raw, out.recipient)
            except aiosmtplib.SMTPServerDisconnected:
                client = await self._connected(None)  # the server closed an idle session: one fresh try
                await self._transmit(client, raw, out.recipient)
            return SendResult(delivery_id=out.delivery_id, ok=True, provider_message_id=out.message_id)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [error.code for error in exc.recipients]
            code = codes[0] if codes else 550
            kind = classify_smtp(code)
            return SendResult(
                out.delivery_id, ok=False, error=f"SMTP {code} recipient refused", kind=kind, error_code=str(code)
            )
        except aiosmtplib.SMTPResponseException as exc:
            kind = classify_smtp(exc.code)
            return SendResult(out.delivery_id, ok=False, error=f"SMTP {exc.code}", kind=kind, error_code=str(exc.code))
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            client = None
            return _failed(out.delivery_id, f"mail server unreachable: {type(exc).__name__}")
        finally:
            self._idle.put_nowait(client)

    async def _transmit(self, client: aiosmtplib.SMTP, raw: bytes, recipient: str) -> None:
        """MAIL, RCPT and DATA as aiosmtplib's sendmail sends them (SIZE when offered; RSET after a refusal), without
        its four parses of the two addresses, a fifth of a send's CPU: the sender's line is made once, a plain
        recipient goes on the line as it is."""
        try:
            options = [b"SIZE=%d" % len(raw)] if client.supports_extension("size") else []
            response = await client.execute_command(b"MAIL", self._mail_from, *options)
            if response.code != SMTPStatus.completed:
                raise aiosmtplib.SMTPSenderRefused(response.code, response.message, self._envelope_from)
            response = await client.execute_command(b"RCPT", b"TO:" + _envelope_address(recipient))
            if response.code not in (SMTPStatus.completed, SMTPStatus.will_forward):
                refused = aiosmtplib.SMTPRecipientRefused(response.code, response.message, recipient)
                raise aiosmtplib.SMTPRecipientsRefused([refused])
            await client.data(raw)
        except (aiosmtplib.SMTPResponseException, aiosmtplib.SMTPRecipientsRefused):
            with contextlib.suppress(ConnectionError, aiosmtplib.SMTPException):
                await client.rset()  # a clean envelope for the session's next message
            raise

    async def _connected(self, client: aiosmtplib.SMTP | None) -> aiosmtplib.SMTP:
        if client is not None and client.is_connected:
            return client
        client = aiosmtplib.SMTP(
            hostname=self._host, port=self._port, timeout=self._timeout, start_tls=self._starttls or None
        )
        await client.connect()
        if client.is_ehlo_or_helo_needed:  # sendmail greeted on its first message; _transmit sends bare commands
            try:
                await client.ehlo()
            except aiosmtplib.SMTPHeloError:
                await client.helo()
        if self._username:
            await client.login(self._username, self._password)
        self._all.append(client)
        return client

    def _message(self, out: EmailOut) -> EmailMessage:
        """The message as sent, read back (for a look at its headers and parts)."""
        return email.message_from_bytes(self._raw(out), _class=EmailMessage, policy=_MAIL_POLICY)

    def _raw(self, out: EmailOut) -> bytes:
        """The message as it goes on the wire: headers (RFC 2047 where not ASCII; List-Unsubscribe one plain line)
        and a text part, with an HTML alternative when there is one.

        Written out directly rather than through email.message.EmailMessage: its header registry and generator cost
        about a millisecond a message, more than the SMTP exchange itself, and this is the hot path of every send."""
        lines = [
            f"From: {self._from_header}",
            f"To: {_header_value(out.recipient)}",
            f"Subject: {_encoded_words(out.subject)}",
            f"Date: {formatdate(localtime=False, usegmt=True)}",
            f"Message-ID: {_header_value(out.message_id)}",
        ]
        if out.unsubscribe_url:
            lines.append(f"List-Unsubscribe: <{_header_value(out.unsubscribe_url)}>")
            lines.append("List-Unsubscribe-Post: List-Unsubscribe=One-Click")
        lines.append("MIME-Version: 1.0")
        if out.html is None:
            head = "\r\n".join(lines) + "\r\n"
            return head.encode() + _text_part("plain", out.body)
        boundary = f"=_psc_{uuid.uuid4().hex}"
        lines.append(f'Content-Type: multipart/alternative; boundary="{boundary}"')
        head = "\r\n".join(lines) + f"\r\n\r\n--{boundary}\r\n"
        middle, end = f"\r\n--{boundary}\r\n".encode(), f"\r\n--{boundary}--\r\n".encode()
        return head.encode() + _text_part("plain", out.body) + middle + _text_part("html", out.html) + end

    async def close(self) -> None:
        for client in self._all:
            with contextlib.suppress(Exception):
                if client.is_connected:
                    await client.quit()


def _header_value(value: str) -> str:
    """One header line's value: a line break in it would start a header of its own, so none gets through."""
    return " ".join(value.splitlines())


# An address aiosmtplib's parsing would leave as it is: an addr-spec of atoms, no space, quote, bracket or line break.
_PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@[A-Za-z0-9.-]+")


def _envelope_address(address: str) -> bytes:
    """``<address>`` for MAIL FROM and RCPT TO: a plain address as it is; any other through aiosmtplib's
    quote_address, which parses it and refuses what could smuggle a parameter or a command onto the line."""
    if _PLAIN_ADDRESS.fullmatch(address):
        return f"<{address}>".encode("ascii")
    return quote_address(address).encode("ascii")


# UTF-8 bytes in one RFC 2047 encoded word: 52 base64 characters, a 64-character word, so even the first line with
# "Subject: " before it stays within RFC 5322's 78.
_WORD_BYTES = 39


def _encoded_words(value: str) -> str:
    """ASCII as is; otherwise RFC 2047 encoded words, base64 of UTF-8, one folded line each (as Subject lines are).

    Written out here rather than through email.header.Header: it weighs quoted-printable against base64 and searches
    for each line's split, about 17 us a subject against 2.5 here. A word never splits a
    character: each holds whole characters up to _WORD_BYTES bytes."""
    value = _header_value(value)
    if value.isascii():
        return value
    words: list[str] = []
    chunk: list[str] = []
    size = 0
    for char in value:
        width = len(char.encode())
        if size + width > _WORD_BYTES:
            words.append("".join(chunk))
            chunk, size = [], 0
        chunk.append(char)
        size += width
    words.append("".join(chunk))
    return "\r\n ".join(f"=?utf-8?b?{base64.b64encode(word.encode()).decode('ascii')}?=" for word in words)


def _text_part(subtype: str, content: str) -> bytes:
    """A text/plain or text/html part in UTF-8: 7bit when it is ASCII in short lines, base64 otherwise."""
    lines = content.splitlines()
    if content.isascii() and all(len(line) <= 998 for line in lines):
        body = "\r\n".join(lines) + "\r\n"
        return (
            f'Content-Type: text/{subtype}; charset="utf-8"\r\nContent-Transfer-Encoding: 7bit\r\n\r\n{body}'
        ).encode()
    encoded = base64.encodebytes(content.encode()).replace(b"\n", b"\r\n")
    headers = f'Content-Type: text/{subtype}; charset="utf-8"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
    return headers.encode() + encoded


def message_id_for(dedup_key: str, domain: str = "psc.local") -> str:
    """The same Message-ID for every resend of one delivery; a hash, because the dedup key holds the address and the
    Message-ID travels on (mail logs, replies' headers, the ``notification.sent`` event)."""
    return f"<{hashlib.sha256(dedup_key.encode()).hexdigest()[:32]}@{domain}>"


class SmsSender:
    """Twilio's REST shape: POST /2010-04-01/Accounts/{sid}/Messages.json with To, From, Body; basic auth.

    On aiohttp, not httpx: a text costs the client about 180 us of CPU there against 650 us through httpx (its
    request and URL models, auth and redirect layers and anyio streams on every request), and texts are half of what
    notify sends. ``connections`` keep-alive connections: a semaphore lets that many texts in flight, so a round of
    hundreds waits here and the request timeout counts from the moment a text has its connection, not in the pool."""

    def __init__(
        self,
        *,
        api_url: str,
        account_sid: str,
        auth_token: str,
        sender: str,
        timeout: float = 15.0,
        status_callback: str | None = None,
        rate_per_second: float = 0,
        connections: int = 16,
    ) -> None:
        self._url = f"{api_url.rstrip('/')}/2010-04-01/Accounts/{account_sid}/Messages.json"
        self._sender = sender
        self._status_callback = status_callback
        self._rate = RateLimit(rate_per_second)
        credentials = base64.b64encode(f"{account_sid}:{auth_token}".encode()).decode("ascii")
        self._headers = {
            "Authorization": f"Basic {credentials}",
            "Content-Type": "application/x-www-form-urlencoded",
        }
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._connections = connections
        self._in_flight = asyncio.Semaphore(connections)
        self._session: aiohttp.ClientSession | None = None  # made in the running loop, on the first text

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self._connections,
                # An idle connection is let go after 2 s, well before any provider closes it (the local sink after
                # 75 s, load balancers after 60): reusing one the server is closing at that moment loses the request.
                keepalive_timeout=2.0,
            )
            self._session = aiohttp.ClientSession(
                connector=connector, timeout=self._timeout, proxy=_environment_proxy(self._url)
            )
        return self._session

    async def send_all(self, texts: list[tuple[UUID, str, str]]) -> list[SendResult]:
        """``texts``: (delivery id, recipient, body) each."""
        return list(await asyncio.gather(*(self._send(*text) for text in texts)))

    async def _send(self, delivery_id: UUID, recipient: str, body: str) -> SendResult:
        await self._rate.acquire()
        form = {"To": recipient, "From": self._sender, "Body": body}
        if self._status_callback:
            form["StatusCallback"] = self._status_callback
        try:
            async with self._in_flight:
                session = self._client()
                async with session.post(self._url, data=urlencode(form).encode(), headers=self._headers) as response:
                    status, content = response.status, await response.read()
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            return _failed(delivery_id, f"SMS API unreachable: {type(exc).__name__}")
        answer = _json_object(content)
        if status in (200, 201):
            return SendResult(delivery_id=delivery_id, ok=True, provider_message_id=answer.get("sid"))
        code = None if answer.get("code") is None else str(answer["code"])
        # 5xx, 429 and 30003 may pass; 21610, 21614, 30006 refuse the number; any other 4xx: the request is wrong.
        kind = classify_twilio(status, code)
        error = f"SMS API {status} code {code}"
        return SendResult(delivery_id, ok=False, error=error, kind=kind, error_code=code)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _environment_proxy(url: str) -> str | None:
    """The proxy the environment names for ``url`` (HTTPS_PROXY and the like, unless NO_PROXY covers it), as httpx
    honoured them. Read once here: aiohttp's trust_env reads the environment again for every request, about 200 us."""
    host = urlsplit(url).hostname
    if not host or urllib.request.proxy_bypass(host):
        return None
    return urllib.request.getproxies().get(urlsplit(url).scheme)


def _json_object(content: bytes) -> dict[str, Any]:
    """The answer's JSON object; an empty one for a body that is not one (a proxy's HTML error page)."""
    with contextlib.suppress(ValueError):
        answer = json.loads(content)
        if isinstance(answer, dict):
            return answer
    return {}


def _failed(delivery_id: UUID, error: str, *, permanent: bool = False) -> SendResult:
    return SendResult(delivery_id=delivery_id, ok=False, error=error, permanent=permanent)
