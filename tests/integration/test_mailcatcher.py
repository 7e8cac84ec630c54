"""The mail catcher as the stack uses it: real SMTP in (aiosmtplib), the Mailpit-shaped HTTP API out, on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid

import aiosmtplib
import httpx
import pytest
import pytest_asyncio
from aiosmtpd.smtp import SMTP

from devstack.mailcatcher import MailStore, _TrackedSMTP, parse_message, serve_mailcatcher

HOST = "127.0.0.1"
SENDER = "Centro de Apoyo a Familias <psc@district.test>"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Catcher:
    smtp_port: int
    http: httpx.AsyncClient


@pytest_asyncio.fixture(scope="module")
async def catcher() -> AsyncIterator[Catcher]:
    smtp_port, http_port = free_port(), free_port()
    ready = asyncio.Event()
    server = asyncio.create_task(serve_mailcatcher(host=HOST, smtp_port=smtp_port, http_port=http_port, ready=ready))
    waiting = asyncio.create_task(ready.wait())
    await asyncio.wait([server, waiting], timeout=10, return_when=asyncio.FIRST_COMPLETED)
    if not ready.is_set():
        waiting.cancel()
        server.cancel()
        raise RuntimeError(f"mail catcher did not start: {server.exception() if server.done() else 'timeout'}")
    async with httpx.AsyncClient(base_url=f"http://{HOST}:{http_port}", timeout=10) as http:
        yield Catcher(smtp_port=smtp_port, http=http)
    server.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await server


@pytest_asyncio.fixture(autouse=True)
async def empty_mailbox(catcher: Catcher) -> None:
    response = await catcher.http.delete("/api/v1/messages")
    response.raise_for_status()


def notice(to: str, subject: str, text: str, *, html: str | None = None) -> EmailMessage:
    message = EmailMessage()
    message["From"] = SENDER
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="psc.district.test")
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message


async def list_messages(catcher: Catcher, **params: int) -> dict[str, object]:
    response = await catcher.http.get("/api/v1/messages", params=params)
    assert response.status_code == 200
    body: dict[str, object] = response.json()
    return body


async def test_health(catcher: Catcher) -> None:
    response = await catcher.http.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_a_spanish_notice_arrives_decoded(catcher: Catcher) -> None:
    subject = "Recibimos su consulta PSC-26-000001: información y próximos pasos"
    text = "Hola, señora Núñez:\n\nRecibimos su consulta PSC-26-000001. Le responderemos en dos días hábiles.\n"
    message = notice(
        "María Núñez <familia.nunez@example.org>",
        subject,
        text,
        html="<p>Recibimos su consulta <b>PSC-26-000001</b>.</p>",
    )
    before = datetime.now(UTC)

    await aiosmtplib.send(message, hostname=HOST, port=catcher.smtp_port)

    listing = await list_messages(catcher)
    assert (listing["total"], listing["count"], listing["start"]) == (1, 1, 0)
    [summary] = listing["messages"]  # type: ignore[misc]
    assert summary["Subject"] == subject
    assert summary["To"] == [{"Name": "María Núñez", "Address": "familia.nunez@example.org"}]
    assert summary["From"] == {"Name": "Centro de Apoyo a Familias", "Address": "psc@district.test"}
    assert summary["MessageID"] == message["Message-ID"].strip("<>")
    assert summary["Snippet"].startswith("Hola, señora Núñez: Recibimos su consulta PSC-26-000001.")
    created = datetime.fromisoformat(summary["Created"])
    assert before - timedelta(seconds=1) <= created <= datetime.now(UTC)
    assert "." in summary["Created"]  # microseconds

    detail = (await catcher.http.get(f"/api/v1/message/{summary['ID']}")).json()
    assert detail["Text"] == text
    assert detail["HTML"] == "<p>Recibimos su consulta <b>PSC-26-000001</b>.</p>\n"
    assert detail["Subject"] == subject
    assert detail["Date"] == summary["Created"]
    assert detail["MessageID"] == summary["MessageID"]
    assert detail["Size"] == summary["Size"] > len(text)


async def test_raw_utf8_headers_are_decoded(catcher: Catcher) -> None:
    """A client using SMTPUTF8 sends headers as raw UTF-8 instead of RFC 2047 words; both must read the same."""
    raw = (
        "From: psc@district.test\r\nTo: José Peña <jose@example.org>\r\nSubject: Cita confirmada: miércoles\r\n"
        "Message-ID: <raw-1@psc.district.test>\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\nSu cita es el miércoles.\r\n"
    ).encode()

    async with aiosmtplib.SMTP(hostname=HOST, port=catcher.smtp_port) as smtp:
        await smtp.sendmail("psc@district.test", ["jose@example.org"], raw, mail_options=["SMTPUTF8"])

    [summary] = (await list_messages(catcher))["messages"]  # type: ignore[misc]
    assert summary["Subject"] == "Cita confirmada: miércoles"
    assert summary["To"] == [{"Name": "José Peña", "Address": "jose@example.org"}]
    assert summary["MessageID"] == "raw-1@psc.district.test"
    detail = (await catcher.http.get(f"/api/v1/message/{summary['ID']}")).json()
    assert detail["Text"] == "Su cita es el miércoles.\n"


async def test_two_hundred_messages_over_one_connection_all_arrive_newest_first(catcher: Catcher) -> None:
    async with aiosmtplib.SMTP(hostname=HOST, port=catcher.smtp_port) as smtp:
        for number in range(200):
            await smtp.send_message(notice(f"parent{number}@example.org", f"Aviso {number:03d}", f"Mensaje {number}\n"))

    listing = await list_messages(catcher, limit=1000)
    assert (listing["total"], listing["count"]) == (200, 200)
    subjects = [summary["Subject"] for summary in listing["messages"]]  # type: ignore[attr-defined]
    assert subjects == [f"Aviso {number:03d}" for number in reversed(range(200))]
    assert len({summary["ID"] for summary in listing["messages"]}) == 200  # type: ignore[attr-defined]

    page = await list_messages(catcher, start=10, limit=5)
    assert (page["total"], page["count"], page["start"]) == (200, 5, 10)
    assert [summary["Subject"] for summary in page["messages"]] == [  # type: ignore[attr-defined]
        "Aviso 189",
        "Aviso 188",
        "Aviso 187",
        "Aviso 186",
        "Aviso 185",
    ]
    assert (await list_messages(catcher))["count"] == 50  # Mailpit's default page


async def test_delete_clears_everything(catcher: Catcher) -> None:
    async with aiosmtplib.SMTP(hostname=HOST, port=catcher.smtp_port) as smtp:
        for number in range(3):
            await smtp.send_message(notice("parent@example.org", f"Aviso {number}", "Texto\n"))
    [first, *_] = (await list_messages(catcher))["messages"]  # type: ignore[misc]

    response = await catcher.http.delete("/api/v1/messages")

    assert response.status_code == 200
    assert response.json() == {"deleted": 3}
    listing = await list_messages(catcher)
    assert (listing["total"], listing["count"], listing["messages"]) == (0, 0, [])
    gone = await catcher.http.get(f"/api/v1/message/{first['ID']}")
    assert gone.status_code == 404
    assert gone.headers["content-type"].startswith("application/json")


async def test_delete_by_ids_keeps_the_others(catcher: Catcher) -> None:
    async with aiosmtplib.SMTP(hostname=HOST, port=catcher.smtp_port) as smtp:
        for number in range(3):
            await smtp.send_message(notice("parent@example.org", f"Aviso {number}", "Texto\n"))
    newest, middle, oldest = (await list_messages(catcher))["messages"]  # type: ignore[misc]

    response = await catcher.http.request("DELETE", "/api/v1/messages", json={"IDs": [middle["ID"]]})

    assert response.json() == {"deleted": 1}
    remaining = [summary["ID"] for summary in (await list_messages(catcher))["messages"]]  # type: ignore[attr-defined]
    assert remaining == [newest["ID"], oldest["ID"]]


async def test_unknown_message_is_404(catcher: Catcher) -> None:
    response = await catcher.http.get("/api/v1/message/00000000-0000-4000-8000-000000000000")
    assert response.status_code == 404
    assert response.json() == {"detail": "message not found"}


async def test_html_page_escapes_what_it_shows(catcher: Catcher) -> None:
    subject = "<script>alert('x')</script> Aviso & más"
    await aiosmtplib.send(
        notice("parent@example.org", subject, "<img src=x onerror=alert(1)>\n"), hostname=HOST, port=catcher.smtp_port
    )
    [summary] = (await list_messages(catcher))["messages"]  # type: ignore[misc]

    index = await catcher.http.get("/")

    assert index.status_code == 200
    assert index.headers["content-type"].startswith("text/html")
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; Aviso &amp; más" in index.text
    assert "<script" not in index.text
    assert f'href="/view/{summary["ID"]}"' in index.text
    assert "parent@example.org" in index.text

    view = await catcher.http.get(f"/view/{summary['ID']}")
    assert view.status_code == 200
    assert "<pre>&lt;img src=x onerror=alert(1)&gt;\n</pre>" in view.text
    assert "<script" not in view.text and "<img" not in view.text
    assert (await catcher.http.get("/view/no-such-id")).status_code == 404


def test_store_keeps_only_the_newest() -> None:
    store = MailStore(capacity=3)
    received_at = datetime.now(UTC)
    for number in range(5):
        raw = f"Subject: {number}\r\n\r\nbody\r\n".encode()
        store.add(parse_message(raw, mail_from="a@example.org", rcpt_tos=["b@example.org"], received_at=received_at))

    assert len(store) == 3
    assert [message.subject for message in store.newest()] == ["4", "3", "2"]
    assert [message.subject for message in store.newest(start=1, limit=1)] == ["3"]
    # No From or To header: the envelope fills in.
    assert next(store.newest()).sender.address == "a@example.org"
    assert [mailbox.address for mailbox in next(store.newest()).recipients] == ["b@example.org"]


@pytest.mark.parametrize("limit", [0, 100_001])
async def test_limit_out_of_range_is_rejected(catcher: Catcher, limit: int) -> None:
    response = await catcher.http.get("/api/v1/messages", params={"limit": limit})
    assert response.status_code == 422


async def test_a_recipient_can_be_refused_on_purpose_and_headers_are_shown(catcher: Catcher) -> None:
    address = "bounce@example.org"
    added = await catcher.http.put(f"/api/faults/{address}", json={"code": 451, "times": 1})
    assert added.status_code == 204
    async with aiosmtplib.SMTP(hostname=HOST, port=catcher.smtp_port) as smtp:
        with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
            await smtp.send_message(notice(address, "Uno", "uno"))
        assert refused.value.recipients[0].code == 451
        await smtp.send_message(notice(address, "Dos", "dos"))  # refused once only
    messages = (await list_messages(catcher))["messages"]
    assert isinstance(messages, list) and len(messages) == 1
    headers = (await catcher.http.get(f"/api/v1/message/{messages[0]['ID']}/headers")).json()
    assert headers["Subject"] == ["Dos"] and headers["From"] == [SENDER]
    assert (await catcher.http.get("/api/v1/message/nope/headers")).status_code == 404
    assert (await catcher.http.put(f"/api/faults/{address}", json={"code": 250})).status_code == 422


@pytest.mark.parametrize(
    "arg",
    [
        "<ana@example.org>",
        "<ana.lopez+psc@example.org> SIZE=1234",
        "<o'neil@example.org>SIZE=1 BODY=8BITMIME",
        "<a..b@example.org>",
        "<Ana Lopez a@example.org>",
        "ana@example.org",
        "<josé@example.org> SMTPUTF8",
        "<a@[192.0.2.1]>",
        "<>",
        "<ana@example.org",
    ],
)
def test_the_catchers_quick_address_reading_answers_as_aiosmtpd_does(arg: str) -> None:
    """MAIL FROM / RCPT TO: the catcher reads a plain <local@domain> itself (a fifth of its CPU per message); the
    address and the parameters after it must be what aiosmtpd's own parser makes of the same line, for any line."""
    smtp = _TrackedSMTP.__new__(_TrackedSMTP)  # _getaddr reads only local_part_limit: no server needed
    smtp.local_part_limit = 0
    assert smtp._getaddr(arg) == SMTP._getaddr(smtp, arg)
    smtp.local_part_limit = 3
    assert smtp._getaddr(arg) == SMTP._getaddr(smtp, arg)


async def test_unusual_envelope_addresses_arrive_as_sent(catcher: Catcher) -> None:
    await catcher.http.delete("/api/v1/messages")
    recipients = ["o'neil+psc@example.org", '"ana lopez"@example.org']
    message = EmailMessage()
    message["From"], message["Subject"] = SENDER, "Unusual envelope"
    message.set_content("hello")
    async with aiosmtplib.SMTP(hostname=HOST, port=catcher.smtp_port) as smtp:
        for recipient in recipients:
            await smtp.sendmail("psc@district.test", [recipient], message.as_bytes())
    listed = (await catcher.http.get("/api/v1/messages")).json()["messages"]
    assert sorted(m["To"][0]["Address"] for m in listed) == sorted(recipients)
