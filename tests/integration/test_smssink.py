"""The SMS sink as the notify service sees it: Twilio's Messages API over real HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import re
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import parse_qs

import httpx
import pytest
import pytest_asyncio

from devstack.smssink import count_segments, serve_smssink
from devstack.stack import SMS_ACCOUNT_SID as ACCOUNT

HOST = "127.0.0.1"
TOKEN = "development"
SENDER = "+15555550100"
PARENT = "+15555550123"
MESSAGES = f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@pytest_asyncio.fixture(scope="module")
async def sink() -> AsyncIterator[httpx.AsyncClient]:
    port = free_port()
    ready = asyncio.Event()
    server = asyncio.create_task(serve_smssink(host=HOST, port=port, ready=ready))
    waiting = asyncio.create_task(ready.wait())
    await asyncio.wait([server, waiting], timeout=10, return_when=asyncio.FIRST_COMPLETED)
    if not ready.is_set():
        waiting.cancel()
        server.cancel()
        raise RuntimeError(f"SMS sink did not start: {server.exception() if server.done() else 'timeout'}")
    async with httpx.AsyncClient(base_url=f"http://{HOST}:{port}", timeout=10) as client:
        yield client
    server.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await server


@pytest_asyncio.fixture(autouse=True)
async def empty_sink(sink: httpx.AsyncClient) -> None:
    (await sink.delete("/api/messages")).raise_for_status()


async def send(sink: httpx.AsyncClient, *, auth: tuple[str, str] = (ACCOUNT, TOKEN), **fields: str) -> httpx.Response:
    return await sink.post(MESSAGES, data={"To": PARENT, "From": SENDER, **fields}, auth=auth)


class CallbackReceiver:
    """A tiny HTTP/1.1 server that records each POSTed form and answers 204."""

    def __init__(self) -> None:
        self.received: asyncio.Queue[tuple[str, dict[str, str], dict[str, str]]] = asyncio.Queue()
        self.server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        port = self.server.sockets[0].getsockname()[1]
        return f"http://{HOST}:{port}/twilio/status?source=sink"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request_line = (await reader.readline()).decode()
        headers: dict[str, str] = {}
        while (line := (await reader.readline()).decode().strip()) != "":
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        body = (await reader.readexactly(int(headers.get("content-length", "0")))).decode()
        form = {name: values[0] for name, values in parse_qs(body).items()}
        await self.received.put((request_line.split(" ")[1], headers, form))
        writer.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()


@pytest_asyncio.fixture
async def receiver() -> AsyncIterator[CallbackReceiver]:
    receiver = CallbackReceiver()
    receiver.server = await asyncio.start_server(receiver.handle, HOST, 0)
    yield receiver
    receiver.server.close()
    await receiver.server.wait_closed()


async def test_health(sink: httpx.AsyncClient) -> None:
    response = await sink.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_a_valid_send_is_accepted_like_twilio_and_kept(sink: httpx.AsyncClient) -> None:
    body = "PSC: recibimos su consulta PSC-26-000001. Responderemos pronto."
    before = datetime.now(UTC)

    response = await send(sink, Body=body)

    assert response.status_code == 201
    message = response.json()
    assert re.fullmatch(r"SM[0-9a-f]{32}", message["sid"])
    assert message["account_sid"] == ACCOUNT
    assert (message["to"], message["from"], message["body"]) == (PARENT, SENDER, body)
    assert message["status"] == "queued"
    assert message["num_segments"] == "1"
    assert message["direction"] == "outbound-api"
    assert message["api_version"] == "2010-04-01"
    assert message["uri"] == f"/2010-04-01/Accounts/{ACCOUNT}/Messages/{message['sid']}.json"
    assert (message["price"], message["error_code"], message["error_message"]) == (None, None, None)
    created = parsedate_to_datetime(message["date_created"])
    assert message["date_created"].endswith(" +0000")
    assert before - timedelta(seconds=1) <= created <= datetime.now(UTC)

    kept = (await sink.get("/api/messages")).json()
    assert [(text["sid"], text["to"], text["from"], text["body"]) for text in kept] == [
        (message["sid"], PARENT, SENDER, body)
    ]
    assert kept[0]["status"] in {"queued", "delivered"}
    assert before <= datetime.fromisoformat(kept[0]["created"]) <= datetime.now(UTC)
    assert re.search(r"\.\d{6}\+00:00$", kept[0]["created"])  # microseconds, UTC

    twilio_list = (await sink.get(MESSAGES, auth=(ACCOUNT, TOKEN))).json()
    assert [text["sid"] for text in twilio_list["messages"]] == [message["sid"]]
    fetched = await sink.get(message["uri"], auth=(ACCOUNT, TOKEN))
    assert fetched.status_code == 200
    assert fetched.json()["body"] == body


async def test_lists_are_newest_first_and_filter_by_number(sink: httpx.AsyncClient) -> None:
    other = "+525512345678"
    sids = [
        (await send(sink, Body=f"Aviso {number}", To=to)).json()["sid"]
        for number, to in enumerate([PARENT, other, PARENT])
    ]

    everything = (await sink.get("/api/messages")).json()
    assert [text["sid"] for text in everything] == list(reversed(sids))
    only_parent = (await sink.get("/api/messages", params={"to": PARENT})).json()
    assert [text["body"] for text in only_parent] == ["Aviso 2", "Aviso 0"]

    cleared = await sink.delete("/api/messages")
    assert cleared.json() == {"deleted": 3}
    assert (await sink.get("/api/messages")).json() == []


@pytest.mark.parametrize("bad_to", ["5555550123", "+05555550123", "+1555", "+1 555 555 0123", "+15555550123456789", ""])
async def test_a_bad_to_is_refused_without_echoing_the_number(sink: httpx.AsyncClient, bad_to: str) -> None:
    response = await send(sink, Body="Hola", To=bad_to)

    assert response.status_code == 400
    error = response.json()
    assert (error["code"], error["status"]) == (21211, 400)
    assert error["message"] == "The 'To' number is not a valid phone number."
    assert error["more_info"].endswith("/21211")
    digits = re.sub(r"\D", "", bad_to)
    if digits:
        assert digits not in response.text
    assert (await sink.get("/api/messages")).json() == []


async def test_body_is_required_and_limited(sink: httpx.AsyncClient) -> None:
    missing = await sink.post(MESSAGES, data={"To": PARENT, "From": SENDER}, auth=(ACCOUNT, TOKEN))
    assert missing.status_code == 400
    assert missing.json()["code"] == 21602
    assert missing.json()["message"] == "Message body is required."

    assert (await send(sink, Body="x" * 1600)).status_code == 201
    too_long = await send(sink, Body="x" * 1601)
    assert too_long.status_code == 400
    assert too_long.json()["code"] == 21617


async def test_a_messaging_service_may_stand_in_for_from(sink: httpx.AsyncClient) -> None:
    response = await sink.post(
        MESSAGES, data={"To": PARENT, "MessagingServiceSid": "MG" + "0" * 32, "Body": "Hola"}, auth=(ACCOUNT, TOKEN)
    )
    assert response.status_code == 201
    assert response.json()["messaging_service_sid"] == "MG" + "0" * 32

    neither = await sink.post(MESSAGES, data={"To": PARENT, "Body": "Hola"}, auth=(ACCOUNT, TOKEN))
    assert neither.status_code == 400
    assert neither.json()["code"] == 21603


@pytest.mark.parametrize("auth", [("ACsomeoneelse000000000000000000", TOKEN), None])
async def test_the_basic_auth_user_must_be_the_account(sink: httpx.AsyncClient, auth: tuple[str, str] | None) -> None:
    response = await sink.post(MESSAGES, data={"To": PARENT, "From": SENDER, "Body": "Hola"}, auth=auth)

    assert response.status_code == 401
    assert response.json() == {
        "code": 20003,
        "message": "Authenticate",
        "more_info": "https://www.twilio.com/docs/errors/20003",
        "status": 401,
    }
    assert response.headers["www-authenticate"].startswith("Basic")
    assert (await sink.get(MESSAGES, auth=auth)).status_code == 401
    assert (await sink.get("/api/messages")).json() == []


async def test_status_callback_reports_delivered(sink: httpx.AsyncClient, receiver: CallbackReceiver) -> None:
    response = await send(sink, Body="Su caso fue asignado.", StatusCallback=receiver.url)
    assert response.status_code == 201
    sid = response.json()["sid"]

    path, headers, form = await asyncio.wait_for(receiver.received.get(), timeout=5)

    assert path == "/twilio/status?source=sink"
    assert form["MessageStatus"] == "delivered"
    assert form["MessageSid"] == sid
    assert form["AccountSid"] == ACCOUNT
    assert (form["To"], form["From"]) == (PARENT, SENDER)
    # Signed as Twilio signs: HMAC-SHA1 keyed with the auth token over the URL and the sorted fields.
    payload = receiver.url + "".join(f"{name}{form[name]}" for name in sorted(form))
    expected = base64.b64encode(hmac.new(TOKEN.encode(), payload.encode(), hashlib.sha1).digest()).decode()
    assert headers["x-twilio-signature"] == expected
    [kept] = (await sink.get("/api/messages")).json()
    assert kept["status"] == "delivered"


async def test_an_unreachable_callback_does_not_fail_the_send(sink: httpx.AsyncClient) -> None:
    response = await send(sink, Body="Hola", StatusCallback=f"http://{HOST}:{free_port()}/gone")
    assert response.status_code == 201
    assert (await sink.get("/health")).status_code == 200


@pytest.mark.parametrize(
    ("body", "segments"),
    [
        ("Hola, su cita es mañana a las 10.", "1"),
        ("a" * 160, "1"),
        ("a" * 161, "2"),
        ("{" * 80, "1"),  # extension characters take two septets each
        ("{" * 81, "2"),
        ("您" * 70, "1"),
        ("您" * 100, "2"),
        ("Su cita es el miércoles á", "1"),  # á is not GSM-7: the whole text goes UCS-2
    ],
)
async def test_num_segments(sink: httpx.AsyncClient, body: str, segments: str) -> None:
    response = await send(sink, Body=body)
    assert response.status_code == 201
    assert response.json()["num_segments"] == segments


def test_segment_counting_edges() -> None:
    assert count_segments("a" * 306) == 2
    assert count_segments("a" * 307) == 3
    assert count_segments("您" * 67 * 3) == 3
    assert count_segments("😀" * 35) == 1  # two UTF-16 units each
    assert count_segments("😀" * 36) == 2


async def test_a_parent_texting_in_is_posted_to_the_webhook_signed_like_twilio(
    sink: httpx.AsyncClient, receiver: CallbackReceiver
) -> None:
    answer = await sink.post("/api/inbound", json={"from": PARENT, "body": "STOP", "url": receiver.url})
    assert answer.status_code == 204  # what the webhook answered, passed through
    path, headers, form = await asyncio.wait_for(receiver.received.get(), timeout=5)
    assert path == "/twilio/status?source=sink"
    assert (form["From"], form["Body"]) == (PARENT, "STOP") and re.fullmatch(r"SM[0-9a-f]{32}", form["MessageSid"])
    payload = receiver.url + "".join(f"{name}{form[name]}" for name in sorted(form))
    expected = base64.b64encode(hmac.new(TOKEN.encode(), payload.encode(), hashlib.sha1).digest()).decode()
    assert headers["x-twilio-signature"] == expected


@pytest.mark.parametrize("payload", [{"from": "3125550123", "body": "STOP"}, {"from": PARENT}])
async def test_an_inbound_text_without_a_number_or_a_body_is_refused(
    sink: httpx.AsyncClient, payload: dict[str, str]
) -> None:
    answer = await sink.post("/api/inbound", json=payload)
    assert answer.status_code == 422 and PARENT not in answer.text


async def test_a_number_made_to_fail_at_the_send_is_refused_with_twilio_s_code(sink: httpx.AsyncClient) -> None:
    landline = "+15555550177"
    assert (
        await sink.put(f"/api/numbers/{landline}/failure", json={"error_code": 21614, "at": "send"})
    ).status_code == 204
    refused = await send(sink, To=landline, Body="Hola")
    assert (refused.status_code, refused.json()["code"]) == (400, 21614)
    assert (await sink.delete(f"/api/numbers/{landline}/failure")).status_code == 204
    assert (await send(sink, To=landline, Body="Hola")).status_code == 201


async def test_a_number_made_to_fail_at_delivery_reports_undelivered_with_the_code(
    sink: httpx.AsyncClient, receiver: CallbackReceiver
) -> None:
    gone = "+15555550178"
    await sink.put(f"/api/numbers/{gone}/failure", json={"error_code": 30006, "at": "delivery"})
    try:
        accepted = await send(sink, To=gone, Body="Hola", StatusCallback=receiver.url)
        assert accepted.status_code == 201
        _, _, form = await asyncio.wait_for(receiver.received.get(), timeout=5)
        assert (form["MessageStatus"], form["ErrorCode"]) == ("undelivered", "30006")
    finally:
        await sink.delete(f"/api/numbers/{gone}/failure")
