"""The acknowledgment's resources through the real broker, database, catalog and mail catcher: two notify replicas
on one database, inquiry.submitted published twice (a redelivery), the catalog answering notify's lookup over Kafka.

Without a catalog the acknowledgment still goes after the wait, without resources. With the catalog, a Spanish-speaking
parent's acknowledgment lists two or three resources filed under the inquiry's category, by their Spanish names, and
an English-speaking parent's by their English names; each parent gets one email, a second copy of the reply changes
nothing. An acknowledgment whose category the catalog answered lately names its resources at once and asks nothing,
even with the catalog stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaProducer
from auth import staff_headers
from kafka_events import first_event

from devstack.mailcatcher import serve_mailcatcher
from devstack.processes import free_port
from devstack.stack import SMS_ACCOUNT_SID
from services.catalog.app import create_app as create_catalog
from services.catalog.settings import DISTRICT_RESOURCES, CatalogSettings
from services.notify.app import create_app as create_notify
from services.notify.settings import NotifySettings
from shared.clock import FixedClock
from shared.contracts.envelope import kafka_headers, to_bytes
from shared.contracts.inquiries import InquirySubmitted
from shared.contracts.topics import CATALOG_LOOKUPS, INQUIRY_EVENTS, NOTIFY_CATALOG_REPLIES
from shared.kafka.connection import create_producer
from shared.settings import PlatformSettings

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

# Wednesday 25 Nov 2026, 10:00 in Chicago. The service clock stands still: the wait is on the wall.
NOON = datetime(2026, 11, 25, 16, 0, tzinfo=UTC)
WAIT_SECONDS = 4.0
STAFF = staff_headers(staff_id="ps-1", role="central_staff", network_id="central")
T = TypeVar("T")


def seeded(category: str) -> tuple[set[str], set[str]]:
    """The English and the Spanish names of the seed's services filed under ``category``."""
    services = json.loads(DISTRICT_RESOURCES.read_text())["services"]
    filed = [s for s in services if category in s["categories"]]
    return {s["name"] for s in filed}, {s["translations"]["es"]["name"] for s in filed if "es" in s["translations"]}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(module_platform: PlatformSettings, topics: tuple[str, ...]) -> AsyncIterator[dict[str, Any]]:
    ports = {"smtp": free_port(), "mail": free_port()}
    mail_ready = asyncio.Event()
    catcher = asyncio.create_task(
        serve_mailcatcher(host="127.0.0.1", smtp_port=ports["smtp"], http_port=ports["mail"], ready=mail_ready)
    )
    await asyncio.wait_for(mail_ready.wait(), 10)
    settings = NotifySettings(
        platform=module_platform,
        smtp_port=ports["smtp"],
        sms_account_sid=SMS_ACCOUNT_SID,
        status_page_base_url="https://parents.district.example",
        resources_wait_seconds=WAIT_SECONDS,
    )
    producer = create_producer(module_platform, client_id="test-notify-resources")
    await producer.start()
    async with contextlib.AsyncExitStack() as exits:
        apps = [create_notify(settings, clock=FixedClock(NOON)) for _ in range(2)]  # two replicas, one database
        for n, app in enumerate(apps):
            if n:
                # The replicas leave their groups one after the other with a pause: Tansu can lose two members of one
                # group leaving at the same moment, and the next module's start would hang (docs/architecture.md).
                exits.push_async_callback(asyncio.sleep, 3)
            await exits.enter_async_context(app.router.lifespan_context(app))
        notify = await exits.enter_async_context(
            httpx.AsyncClient(transport=httpx.ASGITransport(app=apps[0]), base_url="http://notify", headers=STAFF)
        )
        mail_api = f"http://127.0.0.1:{ports['mail']}"
        http = await exits.enter_async_context(httpx.AsyncClient(timeout=10))
        yield {"platform": module_platform, "producer": producer, "notify": notify, "http": http, "mail": mail_api}
    await producer.stop()
    catcher.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await catcher


@pytest_asyncio.fixture(loop_scope="session")
async def catalog(stack: dict[str, Any]) -> AsyncIterator[None]:
    app = create_catalog(CatalogSettings(platform=stack["platform"]))
    async with app.router.lifespan_context(app):
        yield


async def eventually(check: Callable[[], Awaitable[T | None]], timeout: float = 60.0) -> T:
    async with asyncio.timeout(timeout):
        while not (found := await check()):
            await asyncio.sleep(0.1)
        return found


def submission(*, email: str, language: str, category: str) -> InquirySubmitted:
    return InquirySubmitted.model_validate(
        {
            "inquiry_id": uuid.uuid4(),
            "occurred_at": NOON,
            "correlation_id": f"req-{uuid.uuid4().hex[:8]}",
            "reference": "PSC-26-000077",
            "category": category,
            "channel": "walk_in",
            "urgency": "normal",
            "status_token": "AbCdEfGhIjKlMnOpQrStUv",
            "parent": {"name": "Ana Lopez", "email": email, "preferred_language": language, "sms_consent": False},
            "student": {"school_id": 609794, "grade": "K"},
        }
    )


async def submit_twice(stack: dict[str, Any], event: InquirySubmitted) -> None:
    producer: AIOKafkaProducer = stack["producer"]
    for _ in range(2):  # intake's event, and its redelivery
        await producer.send_and_wait(
            INQUIRY_EVENTS, value=to_bytes(event), key=event.partition_key().encode(), headers=kafka_headers(event)
        )


async def mail_to(stack: dict[str, Any], address: str) -> list[dict[str, Any]]:
    listing = (await stack["http"].get(f"{stack['mail']}/api/v1/messages?limit=10000")).json()
    found = [m for m in listing["messages"] if any(t["Address"] == address for t in m["To"])]
    return [(await stack["http"].get(f"{stack['mail']}/api/v1/message/{m['ID']}")).json() for m in found]


async def acknowledgment(stack: dict[str, Any], event: InquirySubmitted) -> dict[str, Any]:
    """The acknowledgment's email once the delivery log says it was sent; it arrived exactly once."""
    address = str(event.parent.email)

    async def sent() -> list[dict[str, Any]] | None:
        log = (await stack["notify"].get(f"/v1/inquiries/{event.inquiry_id}/deliveries")).json()
        return log if [d["status"] for d in log] == ["sent"] else None

    log = await eventually(sent)
    assert (log[0]["template"], log[0]["channel"], log[0]["reason"]) == ("inquiry_received", "email", None)
    await asyncio.sleep(1)  # room for a second email, if any replica were to send one
    (mail,) = await mail_to(stack, address)
    return mail


def listed(text: str) -> list[str]:
    """The resources an email lists: the names on its '- name: how to reach it' lines."""
    return [line[2:].split(": ")[0] for line in text.splitlines() if line.startswith("- ")]


async def test_without_a_catalog_the_acknowledgment_goes_after_the_wait_without_resources(
    stack: dict[str, Any],
) -> None:
    event = submission(email=f"no-catalog-{uuid.uuid4().hex[:6]}@example.org", language="es", category="attendance")
    started = time.monotonic()
    await submit_twice(stack, event)
    mail = await acknowledgment(stack, event)
    assert time.monotonic() - started >= WAIT_SECONDS, "it waited for the catalog first"
    assert mail["Subject"] == "Recibimos su inquietud (PSC-26-000077)"
    assert "PSC-26-000077" in mail["Text"] and listed(mail["Text"]) == []
    assert "Oficinas y programas" not in mail["Text"] and "<ul>" not in mail["HTML"]


async def test_the_acknowledgment_carries_resources_of_its_category_in_the_parents_language(
    stack: dict[str, Any], catalog: None
) -> None:
    english, spanish = seeded("special_education")
    assert len(spanish) >= 3, "the seed files enough services with Spanish names under special education"
    es = submission(email=f"es-{uuid.uuid4().hex[:6]}@example.org", language="es", category="special_education")
    en = submission(email=f"en-{uuid.uuid4().hex[:6]}@example.org", language="en", category="special_education")
    await submit_twice(stack, es)
    await submit_twice(stack, en)

    mail = await acknowledgment(stack, es)
    names = listed(mail["Text"])
    assert 2 <= len(names) <= 3, mail["Text"]
    assert set(names) <= spanish, f"{names} are not Spanish names of special-education services"
    assert "Oficinas y programas que pueden ayudarle mientras tanto:" in mail["Text"]
    assert mail["HTML"].count("<li>") == len(names) and 'lang="es"' in mail["HTML"]
    assert all(line.count(": ") >= 1 for line in mail["Text"].splitlines() if line.startswith("- ")), "how to reach"

    english_mail = await acknowledgment(stack, en)
    english_names = listed(english_mail["Text"])
    assert 2 <= len(english_names) <= 3 and set(english_names) <= english
    assert "Offices and programs that may help in the meantime:" in english_mail["Text"]

    # A second copy of the catalog's answer (a redelivery) changes nothing and sends nothing more.
    reply = await first_event(
        stack["platform"], NOTIFY_CATALOG_REPLIES, lambda e: e["correlation_id"] == es.correlation_id
    )
    assert reply["event_type"] == "catalog.lookup_replied"
    reply["event_id"] = str(uuid.uuid4())  # another copy, not the same message again (the inbox drops those)
    await stack["producer"].send_and_wait(
        NOTIFY_CATALOG_REPLIES,
        value=json.dumps(reply).encode(),
        key=es.correlation_id.encode(),
        headers=[("event_type", b"catalog.lookup_replied"), ("event_id", str(uuid.uuid4()).encode())],
    )
    await asyncio.sleep(2)
    (again,) = await mail_to(stack, str(es.parent.email))
    assert again["ID"] == mail["ID"]
    log = (await stack["notify"].get(f"/v1/inquiries/{es.inquiry_id}/deliveries")).json()
    assert [(d["status"], d["attempts"]) for d in log] == [("sent", 1)]


async def test_a_fresh_answer_names_the_resources_of_the_next_acknowledgment_at_once_without_asking(
    stack: dict[str, Any],
) -> None:
    english, spanish = seeded("enrollment")
    first = submission(email=f"first-{uuid.uuid4().hex[:6]}@example.org", language="en", category="enrollment")
    app = create_catalog(CatalogSettings(platform=stack["platform"]))
    async with app.router.lifespan_context(app):  # the catalog answers the first acknowledgment's lookup, then stops
        await submit_twice(stack, first)
        assert listed((await acknowledgment(stack, first))["Text"])

    later = submission(email=f"later-{uuid.uuid4().hex[:6]}@example.org", language="es", category="enrollment")
    await submit_twice(stack, later)
    mail = await acknowledgment(stack, later)  # with no catalog running and no lookup (below): the kept answer
    names = listed(mail["Text"])
    assert names and set(names) <= spanish | english, mail["Text"]
    assert "Oficinas y programas que pueden ayudarle mientras tanto:" in mail["Text"]
    lookup = await first_event(
        stack["platform"], CATALOG_LOOKUPS, lambda e: e["correlation_id"] == first.correlation_id
    )
    assert lookup["category"] == "enrollment", "the first one asked"
    with pytest.raises(TimeoutError):  # the later one did not
        await first_event(
            stack["platform"], CATALOG_LOOKUPS, lambda e: e["correlation_id"] == later.correlation_id, timeout=3
        )
