"""The catalog service through a real PostgreSQL and a real Kafka broker (the embedded ones): HTTP search, reads and
upserts; lookups and upserts over Kafka; the seed loaded once however often the service starts.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from auth import staff_headers

from services.catalog.app import create_app
from services.catalog.settings import DISTRICT_RESOURCES, CatalogSettings
from shared.contracts.topics import CATALOG_EVENTS, CATALOG_LOOKUPS, CATALOG_REPLIES, CATALOG_UPSERTS
from shared.kafka.connection import ensure_topics
from shared.settings import PlatformSettings

pytestmark = pytest.mark.integration

STAFF = staff_headers(staff_id="catalog-editor-1", role="central_staff", network_id="central")

# =====================================================================================================================
# Infrastructure: the embedded PostgreSQL and Tansu for this module. Kept apart so it can move to a shared conftest.
# =====================================================================================================================


@pytest.fixture(scope="module")
async def platform(module_platform: PlatformSettings, topics: tuple[str, ...]) -> PlatformSettings:
    """The suite's backend (tests/conftest.py) with a database of this module's own; the platform's topics exist."""
    return module_platform


# =====================================================================================================================
# The catalog under test, run in-process; tests restart it as a deployment would.
# =====================================================================================================================


class RunningCatalog:
    def __init__(self, platform: PlatformSettings) -> None:
        self.platform = platform
        self._stack: AsyncExitStack | None = None
        self.client: httpx.AsyncClient

    async def start(self, *, seed_path: Path = DISTRICT_RESOURCES) -> None:
        app = create_app(CatalogSettings(platform=self.platform, seed_path=seed_path))
        stack = AsyncExitStack()
        await stack.enter_async_context(app.router.lifespan_context(app))
        self.client = await stack.enter_async_context(
            # Writes need staff who may act; reads are public and take the token as well.
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://catalog", headers=STAFF)
        )
        self._stack = stack

    async def stop(self) -> None:
        if self._stack is not None:
            await self._stack.aclose()
            self._stack = None

    async def restart(self, *, seed_path: Path = DISTRICT_RESOURCES) -> None:
        await self.stop()
        await self.start(seed_path=seed_path)


@pytest.fixture(scope="module")
async def catalog(platform: PlatformSettings) -> AsyncIterator[RunningCatalog]:
    running = RunningCatalog(platform)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


@pytest.fixture(scope="module")
async def producer(platform: PlatformSettings) -> AsyncIterator[AIOKafkaProducer]:
    kafka = AIOKafkaProducer(bootstrap_servers=platform.kafka_bootstrap, acks="all", enable_idempotence=False)
    await kafka.start()
    try:
        yield kafka
    finally:
        await kafka.stop()


async def send(producer: AIOKafkaProducer, topic: str, message: dict[str, Any], *, key: str) -> None:
    await producer.send_and_wait(topic, json.dumps(message).encode(), key=key.encode())


async def wait_for_messages(
    platform: PlatformSettings,
    topic: str,
    wanted: Callable[[dict[str, Any]], bool],
    *,
    count: int = 1,
    timeout: float = 60.0,
) -> list[dict[str, Any]]:
    """Read ``topic`` from the beginning until ``count`` JSON messages satisfy ``wanted``; fail after ``timeout``."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=platform.kafka_bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    found: list[dict[str, Any]] = []
    try:
        deadline = time.monotonic() + timeout
        while len(found) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(found)} of {count} awaited messages on {topic} after {timeout}s")
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    message = json.loads(record.value)
                    if wanted(message):
                        found.append(message)
    finally:
        await consumer.stop()
    return found


async def search(catalog: RunningCatalog, **params: str | int) -> dict[str, Any]:
    response = await catalog.client.get("/v1/resources", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def ids(body: dict[str, Any]) -> list[str]:
    return [result["id"] for result in body["results"]]


def tutoring_upsert(**service_changes: object) -> dict[str, Any]:
    return {
        "service": {
            "name": "Neighborhood Tutoring Test Program",
            "description": "After-school tutoring in reading and math, run with a community partner.",
            **service_changes,
        },
        "organization": {"id": "test-community-org", "name": "Test Community Organization"},
        "locations": [
            {
                "id": "test-community-org-hall",
                "name": "Community hall",
                "address_1": "42 W Madison St",
                "city": "Chicago",
                "state_province": "il",
                "postal_code": "60602",
            }
        ],
        "phones": [{"number": "773-553-1000", "description": "CPS main line"}],
        "languages": ["en", "es"],
        "categories": ["academics", "community_partners"],
    }


# =====================================================================================================================
# Searching over HTTP
# =====================================================================================================================


async def test_searching_for_an_iep_workshop_finds_pep_with_its_phone_and_address(catalog: RunningCatalog) -> None:
    body = await search(catalog, q="IEP workshop")
    pep = body["results"][0]
    assert pep["id"] == "parent-educator-partnership"
    assert pep["organization"]["name"] == "Office of Diverse Learner Supports and Services (ODLSS)"
    assert pep["phones"][0]["number"] == "(773) 553-1800"
    assert pep["locations"][0] == {
        "id": "odlss-125-s-clark",
        "latitude": 41.87967,
        "longitude": -87.63124,
        "name": "ODLSS offices",
        "address_1": "125 South Clark Street, 8th Floor",
        "city": "Chicago",
        "state_province": "IL",
        "postal_code": "60603",
    }
    assert "special_education" in pep["categories"]


async def test_special_education_finds_pep_and_the_odlss_office(catalog: RunningCatalog) -> None:
    found = ids(await search(catalog, q="special education"))
    assert {"parent-educator-partnership", "special-education-services"} <= set(found)


async def test_attendance_finds_the_supports_of_every_department_that_cooperates_on_it(catalog: RunningCatalog) -> None:
    body = await search(catalog, q="attendance", limit=100)
    assert {
        "attendance-and-truancy-supports",
        "social-emotional-behavioral-health",
        "students-in-temporary-living-situations",
        "safe-passage",
        "cta-student-fares",
        "school-counseling-postsecondary-advising",
        "network-4-office",
    } <= set(ids(body))
    assert body["results"][0]["id"] == "attendance-and-truancy-supports"  # the name match ranks first
    assert body["total"] == len(body["results"])


async def test_a_partial_word_still_finds_attendance_services(catalog: RunningCatalog) -> None:
    assert "attendance-and-truancy-supports" in ids(await search(catalog, q="attend"))


@pytest.mark.parametrize("q", ["enrollment", "GoCPS", "gocps application"])
async def test_enrollment_questions_find_gocps_help(catalog: RunningCatalog, q: str) -> None:
    body = await search(catalog, q=q)
    assert body["results"][0]["id"] == "gocps-enrollment-help"
    assert body["results"][0]["url"] == "https://go.cps.edu/"


async def test_a_typo_still_finds_the_attendance_office(catalog: RunningCatalog) -> None:
    # Corrected to the directory's nearest word ('attendance'), then searched like it.
    assert ids(await search(catalog, q="atendance"))[0] == "attendance-and-truancy-supports"


async def test_a_parents_sentence_finds_the_office_for_its_telling_word(catalog: RunningCatalog) -> None:
    assert ids(await search(catalog, q="help with the school bus"))[0] == "student-transportation"


async def test_a_spanish_name_is_searchable(catalog: RunningCatalog) -> None:
    assert "students-in-temporary-living-situations" in ids(await search(catalog, q="vivienda temporal"))


async def test_a_category_filter_keeps_only_services_of_that_category(catalog: RunningCatalog) -> None:
    body = await search(catalog, category="transportation")
    assert {"student-transportation", "students-in-temporary-living-situations"} <= set(ids(body))
    assert all("transportation" in result["categories"] for result in body["results"])


async def test_a_category_filter_narrows_a_search(catalog: RunningCatalog) -> None:
    body = await search(catalog, q="students", category="safety_and_bullying")
    assert set(ids(body)) == {"school-safety-and-bullying", "student-protections-title-ix", "safe-passage"}


async def test_a_language_filter_keeps_services_offered_in_that_language(catalog: RunningCatalog) -> None:
    body = await search(catalog, language="UR")
    assert "interpretation-and-translation" in ids(body)
    assert all("ur" in result["languages"] for result in body["results"])


async def test_no_words_lists_every_active_service_alphabetically(catalog: RunningCatalog) -> None:
    body = await search(catalog, limit=100)
    names = [result["name"] for result in body["results"]]
    assert names == sorted(names)
    assert body["total"] == len(names) >= 15


async def test_pages_follow_one_another(catalog: RunningCatalog) -> None:
    everything = ids(await search(catalog, limit=100))
    second_page = await search(catalog, limit=3, offset=3)
    assert ids(second_page) == everything[3:6]
    assert second_page["total"] == len(everything)


async def test_a_limit_of_zero_is_refused_naming_the_limit(catalog: RunningCatalog) -> None:
    response = await catalog.client.get("/v1/resources", params={"limit": 0})
    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == ["limit"]


async def test_an_unknown_category_and_a_long_query_are_refused_naming_each(catalog: RunningCatalog) -> None:
    response = await catalog.client.get("/v1/resources", params={"category": "parking", "q": "x" * 201})
    assert response.status_code == 422
    assert sorted(error["field"] for error in response.json()["errors"]) == ["category", "q"]


async def test_one_resource_is_read_by_its_id(catalog: RunningCatalog) -> None:
    response = await catalog.client.get("/v1/resources/students-in-temporary-living-situations")
    assert response.status_code == 200
    assert response.json()["categories"] == ["attendance", "enrollment", "transportation"]


async def test_an_unknown_resource_is_not_found(catalog: RunningCatalog) -> None:
    response = await catalog.client.get("/v1/resources/no-such-program")
    assert response.status_code == 404
    assert response.json() == {"detail": "no such resource"}


# =====================================================================================================================
# Upserts over HTTP
# =====================================================================================================================


async def test_a_new_resource_is_added_changed_and_announced(catalog: RunningCatalog) -> None:
    created = await catalog.client.put(
        "/v1/resources/test-tutoring", json=tutoring_upsert(), headers={"X-Correlation-ID": "put-1"}
    )
    assert created.status_code == 201, created.text
    assert created.headers["Location"] == "/v1/resources/test-tutoring"
    assert created.json()["locations"][0]["state_province"] == "IL"

    changed = await catalog.client.put(
        "/v1/resources/test-tutoring",
        json=tutoring_upsert(description="After-school tutoring in reading, math and science."),
        headers={"X-Correlation-ID": "put-2"},
    )
    assert changed.status_code == 200
    read = (await catalog.client.get("/v1/resources/test-tutoring")).json()
    assert read["description"] == "After-school tutoring in reading, math and science."
    assert "test-tutoring" in ids(await search(catalog, q="tutoring science"))

    events = await wait_for_messages(
        catalog.platform,
        CATALOG_EVENTS,
        lambda m: m.get("event_type") == "catalog.resource_updated" and m["service_id"] == "test-tutoring",
        count=2,
    )
    assert [(e["created"], e["correlation_id"]) for e in events] == [(True, "put-1"), (False, "put-2")]
    assert events[1]["resource"]["description"] == "After-school tutoring in reading, math and science."


async def test_the_same_put_twice_changes_nothing_the_second_time(catalog: RunningCatalog) -> None:
    body = tutoring_upsert(name="Weekend Tutoring Test Program")
    first = await catalog.client.put("/v1/resources/test-weekend-tutoring", json=body)
    second = await catalog.client.put("/v1/resources/test-weekend-tutoring", json=body)
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json()["updated_at"] == first.json()["updated_at"]


async def test_renaming_an_organization_updates_every_service_it_offers(catalog: RunningCatalog) -> None:
    for service_id in ("test-org-service-a", "test-org-service-b"):
        body = tutoring_upsert(name=f"Program {service_id}")
        body["organization"] = {"id": "test-renamed-org", "name": "Riverside Alliance"}
        body["locations"] = []
        response = await catalog.client.put(f"/v1/resources/{service_id}", json=body)
        assert response.status_code == 201, response.text
    body["organization"] = {"id": "test-renamed-org", "name": "Lakeside Alliance"}
    response = await catalog.client.put("/v1/resources/test-org-service-b", json=body)
    assert response.status_code == 200

    other = (await catalog.client.get("/v1/resources/test-org-service-a")).json()
    assert other["organization"]["name"] == "Lakeside Alliance"
    assert "test-org-service-a" in ids(await search(catalog, q="lakeside"))
    await wait_for_messages(
        catalog.platform,
        CATALOG_EVENTS,
        lambda m: (
            m.get("service_id") == "test-org-service-a" and m["resource"]["organization"]["name"] == "Lakeside Alliance"
        ),
    )


async def test_a_put_breaking_the_rules_is_refused_naming_each_field_and_stores_nothing(
    catalog: RunningCatalog,
) -> None:
    body = tutoring_upsert()
    body["phones"] = [{"number": "12"}]
    body["categories"] = ["tutoring"]
    response = await catalog.client.put("/v1/resources/test-refused", json=body)
    assert response.status_code == 422
    assert sorted(e["field"] for e in response.json()["errors"]) == ["categories.0", "phones.0.number"]

    body = tutoring_upsert()
    body["phones"], body["locations"] = [], []
    response = await catalog.client.put("/v1/resources/test-refused", json=body)
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["service"]
    assert (await catalog.client.get("/v1/resources/test-refused")).status_code == 404


async def test_a_put_cannot_take_over_another_organizations_location(catalog: RunningCatalog) -> None:
    body = tutoring_upsert()
    body["locations"][0]["id"] = "odlss-125-s-clark"
    response = await catalog.client.put("/v1/resources/test-location-thief", json=body)
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["locations.0.id"]
    pep = (await catalog.client.get("/v1/resources/parent-educator-partnership")).json()
    assert pep["locations"][0]["address_1"] == "125 South Clark Street, 8th Floor"


# =====================================================================================================================
# Kafka: lookups and upserts
# =====================================================================================================================


def lookup(correlation_id: str, **fields: object) -> dict[str, Any]:
    return {"request_id": str(uuid.uuid4()), "correlation_id": correlation_id, **fields}


async def test_a_lookup_over_kafka_is_answered_on_the_reply_topic_with_its_correlation_id(
    catalog: RunningCatalog, producer: AIOKafkaProducer
) -> None:
    reply_topic = "psc.test.catalog-replies"
    await ensure_topics(catalog.platform, [reply_topic])
    request = lookup("lookup-pep-1", q="special education parent workshops", reply_to=reply_topic)
    await send(producer, CATALOG_LOOKUPS, request, key="lookup-pep-1")

    (reply,) = await wait_for_messages(catalog.platform, reply_topic, lambda m: m["correlation_id"] == "lookup-pep-1")
    assert reply["event_type"] == "catalog.lookup_replied"
    assert reply["request_id"] == request["request_id"]
    pep = next(result for result in reply["results"] if result["id"] == "parent-educator-partnership")
    assert pep["phones"][0]["number"] == "(773) 553-1800"


async def test_a_lookup_without_a_reply_topic_is_answered_on_the_catalog_replies(
    catalog: RunningCatalog, producer: AIOKafkaProducer
) -> None:
    await send(producer, CATALOG_LOOKUPS, lookup("lookup-default-1", category="enrollment"), key="lookup-default-1")
    (reply,) = await wait_for_messages(
        catalog.platform, CATALOG_REPLIES, lambda m: m["correlation_id"] == "lookup-default-1"
    )
    assert "gocps-enrollment-help" in [result["id"] for result in reply["results"]]


async def test_an_invalid_lookup_is_rejected_naming_the_field(
    catalog: RunningCatalog, producer: AIOKafkaProducer
) -> None:
    await send(producer, CATALOG_LOOKUPS, lookup("lookup-bad-1", q="bus", limit=0), key="lookup-bad-1")
    (rejection,) = await wait_for_messages(
        catalog.platform, CATALOG_REPLIES, lambda m: m["correlation_id"] == "lookup-bad-1"
    )
    assert rejection["event_type"] == "catalog.lookup_rejected"
    assert [error["field"] for error in rejection["errors"]] == ["limit"]
    assert rejection["origin_topic"] == CATALOG_LOOKUPS


async def test_a_lookup_cannot_make_the_catalog_write_outside_the_platform_or_create_topics(
    catalog: RunningCatalog, producer: AIOKafkaProducer
) -> None:
    await send(producer, CATALOG_LOOKUPS, lookup("lookup-foreign-1", reply_to="payments.ledger"), key="k1")
    await send(producer, CATALOG_LOOKUPS, lookup("lookup-missing-1", reply_to="psc.no-such-topic"), key="k2")
    rejections = await wait_for_messages(
        catalog.platform,
        CATALOG_REPLIES,
        lambda m: m["correlation_id"] in ("lookup-foreign-1", "lookup-missing-1"),
        count=2,
    )
    assert {r["event_type"] for r in rejections} == {"catalog.lookup_rejected"}
    assert {e["field"] for r in rejections for e in r["errors"]} == {"reply_to"}


async def test_a_lookup_delivered_twice_is_answered_once(catalog: RunningCatalog, producer: AIOKafkaProducer) -> None:
    request = lookup("lookup-twice-1", q="transportation")
    barrier = lookup("lookup-twice-1", q="health")  # same key, same partition: answered after both copies
    for message in (request, request, barrier):
        await send(producer, CATALOG_LOOKUPS, message, key="lookup-twice-1")
    # Replies are published in the order they were decided: a second answer to the copy would come before the
    # barrier's, so the first two replies are the request's and the barrier's only if the copy was not answered.
    replies = await wait_for_messages(
        catalog.platform, CATALOG_REPLIES, lambda m: m["correlation_id"] == "lookup-twice-1", count=2
    )
    assert sorted(r["request_id"] for r in replies) == sorted([request["request_id"], barrier["request_id"]])


async def test_an_upsert_over_kafka_is_applied_and_announced(
    catalog: RunningCatalog, producer: AIOKafkaProducer
) -> None:
    command = {
        **tutoring_upsert(name="Kafka Tutoring Test Program"),
        "service_id": "test-kafka-tutoring",
        "correlation_id": "upsert-kafka-1",
        "request_id": str(uuid.uuid4()),
    }
    await send(producer, CATALOG_UPSERTS, command, key="test-kafka-tutoring")
    (event,) = await wait_for_messages(
        catalog.platform, CATALOG_EVENTS, lambda m: m["correlation_id"] == "upsert-kafka-1"
    )
    assert (event["event_type"], event["service_id"], event["created"]) == (
        "catalog.resource_updated",
        "test-kafka-tutoring",
        True,
    )
    read = await catalog.client.get("/v1/resources/test-kafka-tutoring")
    assert read.json()["name"] == "Kafka Tutoring Test Program"


async def test_an_invalid_upsert_over_kafka_is_rejected_naming_the_field(
    catalog: RunningCatalog, producer: AIOKafkaProducer
) -> None:
    command = {**tutoring_upsert(), "service_id": "test-kafka-refused", "correlation_id": "upsert-bad-1"}
    command["languages"] = ["english"]
    await send(producer, CATALOG_UPSERTS, command, key="test-kafka-refused")
    (rejection,) = await wait_for_messages(
        catalog.platform, CATALOG_EVENTS, lambda m: m["correlation_id"] == "upsert-bad-1"
    )
    assert rejection["event_type"] == "catalog.resource_upsert_rejected"
    assert [e["field"] for e in rejection["errors"]] == ["languages.0"]
    assert rejection["service_id"] == "test-kafka-refused"
    assert (await catalog.client.get("/v1/resources/test-kafka-refused")).status_code == 404


# =====================================================================================================================
# Starting again
# =====================================================================================================================

DIRECTORY_TABLES = (
    "organization",
    "service",
    "location",
    "service_at_location",
    "phone",
    "language",
    "taxonomy_term",
    "service_taxonomy",
)


async def directory_snapshot(platform: PlatformSettings) -> dict[str, Any]:
    conn = await asyncpg.connect(platform.database_url.get_secret_value(), server_settings={"search_path": "catalog"})
    try:
        counts = {table: await conn.fetchval(f"SELECT count(*) FROM {table}") for table in DIRECTORY_TABLES}  # noqa: S608
        stamps = {row["id"]: row["updated_at"] for row in await conn.fetch("SELECT id, updated_at FROM service")}
        outbox = await conn.fetchval("SELECT count(*) FROM outbox")
    finally:
        await conn.close()
    return {"counts": counts, "updated_at": stamps, "outbox": outbox}


async def test_starting_again_changes_nothing_in_the_directory(catalog: RunningCatalog) -> None:
    before = await directory_snapshot(catalog.platform)
    await catalog.restart()
    after = await directory_snapshot(catalog.platform)
    assert after == before
    assert (await search(catalog, q="IEP workshop"))["results"][0]["id"] == "parent-educator-partnership"


async def test_an_edited_seed_file_updates_what_it_changed(catalog: RunningCatalog, tmp_path: Path) -> None:
    # Last of the module: the catalog keeps the edited seed from here on.
    seed = json.loads(DISTRICT_RESOURCES.read_text())
    gocps = next(service for service in seed["services"] if service["id"] == "gocps-enrollment-help")
    gocps["description"] += " Help is also offered at family enrollment events."
    edited = tmp_path / "district_resources.json"
    edited.write_text(json.dumps(seed))
    before = await directory_snapshot(catalog.platform)

    await catalog.restart(seed_path=edited)
    after = await directory_snapshot(catalog.platform)
    assert after["counts"] == before["counts"]
    changed = {sid for sid, stamp in after["updated_at"].items() if stamp != before["updated_at"][sid]}
    assert changed == {"gocps-enrollment-help"}
    read = (await catalog.client.get("/v1/resources/gocps-enrollment-help")).json()
    assert read["description"].endswith("family enrollment events.")
    await wait_for_messages(
        catalog.platform,
        CATALOG_EVENTS,
        lambda m: m.get("service_id") == "gocps-enrollment-help" and m["resource"]["description"].endswith("events."),
    )
