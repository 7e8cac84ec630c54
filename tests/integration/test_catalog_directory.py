"""The one-stop shop through a real PostgreSQL and Kafka (issue 11): the issue's queries and the search-quality table,
filters, schools near a point, the HSDS routes, events and the iCalendar feed, referrals with their events, and a
lookup by inquiry category over Kafka.
"""

from __future__ import annotations

import csv
import io
import json
import time
import uuid
import zipfile
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from typing import Any

import httpx
import icalendar
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from auth import staff_headers

from services.catalog.app import create_app
from services.catalog.settings import CatalogSettings
from shared.clock import FixedClock
from shared.contracts.inquiries import InquiryCategory
from shared.contracts.topics import CATALOG_EVENTS, CATALOG_LOOKUPS, CATALOG_REPLIES
from shared.settings import PlatformSettings

pytestmark = pytest.mark.integration

# A Tuesday, 10:30 in Chicago: offices are open.
NOW = datetime(2026, 10, 13, 15, 30, tzinfo=UTC)
STAFF = staff_headers(staff_id="staff-n4-1", role="network_staff", network_id="network-4")
AUDITOR = staff_headers(staff_id="auditor-1", role="auditor", network_id="central")


@pytest.fixture(scope="module")
def clock() -> FixedClock:
    """The module's one catalog runs on this clock; the referral test moves it and puts it back."""
    return FixedClock(NOW)


@pytest.fixture(scope="module")
async def client(
    module_platform: PlatformSettings, topics: tuple[str, ...], clock: FixedClock
) -> AsyncIterator[httpx.AsyncClient]:
    # One catalog for the module (its referral sweep looks every 0.1 s): a second replica joining and leaving the
    # same consumer groups mid-module could leave Tansu a lost LeaveGroup, and the next module's catalog start hung.
    app = create_app(CatalogSettings(platform=module_platform, referral_sweep_seconds=0.1), clock=clock)
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(app.router.lifespan_context(app))
        yield await stack.enter_async_context(
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://catalog")
        )


async def top(client: httpx.AsyncClient, q: str, n: int = 3, **params: str) -> list[str]:
    response = await client.get("/v1/resources", params={"q": q, **params})
    assert response.status_code == 200, response.text
    return [result["id"] for result in response.json()["results"][:n]]


# --- The examples ---------------------------------------------------------------------------------------------


async def test_homeless_and_uniforms_find_stls(client: httpx.AsyncClient) -> None:
    assert (await top(client, "homeless", 1)) == ["students-in-temporary-living-situations"]
    assert (await top(client, "uniforms", 1)) == ["students-in-temporary-living-situations"]


async def test_school_transitions_finds_the_community_partnerships_office_first(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/resources", params={"q": "school transitions"})
    first = response.json()["results"][0]
    assert first["organization"]["id"] == "cps-community-partnerships"
    assert first["id"] == "school-transitions-support"


async def test_school_model_exploration_finds_the_toolkit(client: httpx.AsyncClient) -> None:
    assert (await top(client, "school model exploration", 1)) == ["school-model-exploration-toolkit"]


# query → a service expected in the top three. Spanish with and without accents, misspellings, synonyms, a phrase,
# each inquiry category's words.
QUALITY = [
    ("homeless", "students-in-temporary-living-situations"),
    ("sin hogar", "students-in-temporary-living-situations"),
    ("uniformes escolares", "students-in-temporary-living-situations"),
    ("IEP", "special-education-services"),
    ("IEP meeting", "pep-parent-mentors"),
    ("educación especial", "special-education-services"),
    ("educacion especial", "special-education-services"),
    ("bus", "student-transportation"),
    ("autobús escolar", "student-transportation"),
    ("truancy", "attendance-and-truancy-supports"),
    ("ausencias", "attendance-and-truancy-supports"),
    ("atendance", "attendance-and-truancy-supports"),
    ("homless", "students-in-temporary-living-situations"),
    ("transportaton", "student-transportation"),
    ('"parent mentors"', "pep-parent-mentors"),
    ("bullying", "school-safety-and-bullying"),
    ("acoso escolar", "school-safety-and-bullying"),
    ("enroll gocps", "gocps-enrollment-help"),
    ("inscripción", "gocps-enrollment-help"),
    ("vaccines", "student-health-and-wellness"),
    ("interpreter", "interpretation-and-translation"),
    ("safe passage", "safe-passage"),
    ("lecciones aprendidas", "school-model-exploration-lessons-learned"),
    ("taller IEP", "parent-educator-partnership"),
    ("college counselor", "school-counseling-postsecondary-advising"),
    ("chromebook", "family-technology-help"),
    ("subpoena", "law-department"),
    ("community partners", "community-partners"),
]


async def test_the_search_quality_table_holds(client: httpx.AsyncClient) -> None:
    missed = []
    for q, expected in QUALITY:
        found = await top(client, q)
        if expected not in found:
            missed.append((q, expected, found))
    assert missed == [], f"{len(QUALITY) - len(missed)} of {len(QUALITY)} hold; missed: {missed}"


async def test_every_inquiry_category_finds_what_is_filed_under_it(client: httpx.AsyncClient) -> None:
    for category in InquiryCategory:
        response = await client.get("/v1/resources", params={"category": category.value, "limit": 3})
        results = response.json()["results"]
        assert results, category
        assert all(category.value in result["categories"] for result in results)


# --- Filters ------------------------------------------------------------------------------------------------------


async def test_filters_by_category_language_network_grade_and_open_now(client: httpx.AsyncClient) -> None:
    by_network = await client.get("/v1/resources", params={"network": "network-4"})
    assert [r["id"] for r in by_network.json()["results"]] == ["network-4-office"]
    assert by_network.json()["results"][0]["contacts"][0]["title"] == "Parent Support Administrator (PSA)"
    high_school = await client.get("/v1/resources", params={"q": "counselor", "grade": "10"})
    assert "school-counseling-postsecondary-advising" in [r["id"] for r in high_school.json()["results"]]
    kindergarten = await client.get("/v1/resources", params={"q": "counselor", "grade": "K"})
    assert "school-counseling-postsecondary-advising" not in [r["id"] for r in kindergarten.json()["results"]]
    open_now = await client.get("/v1/resources", params={"open_now": "true", "category": "transportation"})
    assert "student-transportation" in [r["id"] for r in open_now.json()["results"]]
    chinese = await client.get("/v1/resources", params={"language": "zh", "limit": 100})
    assert {r["id"] for r in chinese.json()["results"]} >= {"parent-support-center", "interpretation-and-translation"}
    assert all("zh" in r["languages"] for r in chinese.json()["results"])


async def test_distance_from_a_point_and_from_a_school(client: httpx.AsyncClient) -> None:
    downtown = await client.get("/v1/resources", params={"lat": 41.8819, "lon": -87.6278, "radius_km": 2})
    results = downtown.json()["results"]
    assert results and all(r["distance_km"] <= 2 for r in results)
    from_school = await client.get("/v1/resources", params={"school_id": "609794", "radius_km": 1})
    assert from_school.json()["total"] == 0  # Edison is 11 km from the central offices


async def test_bilingual_schools_near_a_point_nearest_first(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/v1/locations",
        params={"kind": "school", "bilingual_services": "true", "lat": 41.85, "lon": -87.66, "per_page": 5},
    )
    body = response.json()
    distances = [location["distance_km"] for location in body["contents"]]
    assert len(distances) == 5 and distances == sorted(distances) and distances[-1] <= 5
    assert all(location["bilingual_services"] for location in body["contents"])
    spanish_k = await client.get("/v1/locations", params={"kind": "school", "language": "es", "grade": "K"})
    first = spanish_k.json()["contents"][0]
    assert "es" in first["language_codes"] and first["phones"][0]["number"].startswith("(773)")


async def test_bad_filters_are_refused_naming_the_parameter(client: httpx.AsyncClient) -> None:
    cases: list[tuple[dict[str, str | float], str]] = [
        ({"network": "network-99"}, "network"),
        ({"lat": 41.8, "lon": -87.6, "radius_km": 500}, "radius_km"),
        ({"lat": 41.8}, "lon"),
        ({"school_id": "999999"}, "school_id"),
        ({"q": "!!!"}, "q"),
        ({"grade": "13"}, "grade"),
        ({"radius_km": 3}, "radius_km"),
    ]
    for params, field in cases:
        response = await client.get("/v1/resources", params=params)
        assert response.status_code == 422, params
        assert [error["field"] for error in response.json()["errors"]] == [field]


# --- HSDS ---------------------------------------------------------------------------------------------------------


async def test_hsds_routes(client: httpx.AsyncClient) -> None:
    services = (await client.get("/v1/services", params={"search": "homeless", "per_page": 2})).json()
    assert services["contents"][0]["id"] == "students-in-temporary-living-situations"
    assert services["page_number"] == 1 and services["size"] <= 2 and services["total_items"] >= 1
    pep = (await client.get("/v1/services/parent-educator-partnership")).json()
    assert {phone["number"] for phone in pep["phones"]} == {"(773) 553-1800", "(773) 553-1801"}
    assert pep["service_at_locations"][0]["location"]["address_1"] == "125 South Clark Street, 8th Floor"
    assert pep["translations"]["es"]["name"] == "Asociación de Padres y Educadores (PEP)"
    assert any(s["kind"] == "event" and s["rrule"] for s in pep["schedules"])
    assert pep["attributes"][0]["taxonomy_term"]["id"] == "psc-category:special_education"
    organizations = (await client.get("/v1/organizations", params={"per_page": 100})).json()
    assert "cps-community-partnerships" in [o["id"] for o in organizations["contents"]]
    odlss = (await client.get("/v1/organizations/cps-odlss")).json()
    assert {"id": "pep-parent-mentors"} in odlss["services"]
    school = (await client.get("/v1/locations/school-609794")).json()
    assert school["network"] == "network-1" and school["grades_offered"] == "K-8"
    terms = (await client.get("/v1/taxonomy_terms")).json()
    assert "psc-category:attendance" in [term["id"] for term in terms["contents"]]
    by_term = (await client.get("/v1/services", params={"taxonomy_term_id": "psc-category:transportation"})).json()
    assert "student-transportation" in [s["id"] for s in by_term["contents"]]
    assert (await client.get("/v1/services/no-such-service")).status_code == 404


# --- Events and the iCalendar feed ----------------------------------------------------------------------------------


async def test_events_between_two_days_in_a_language(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/events", params={"from": "2026-11-01", "to": "2026-11-30", "language": "es"})
    events = response.json()["results"]
    assert {event["schedule_id"] for event in events} == {"pep-taller-iep-es", "pep-grupo-apoyo-es"}
    taller = next(event for event in events if event["schedule_id"] == "pep-taller-iep-es")
    # The second Thursday of November 2026, 18:00 in Chicago (after daylight saving ended: UTC-6).
    assert taller["start"] == "2026-11-12T18:00:00-06:00"
    assert taller["location"]["address_1"] == "125 South Clark Street, 8th Floor"
    everything = await client.get("/v1/events", params={"from": "2026-10-01", "to": "2026-10-31"})
    starts = [event["start"] for event in everything.json()["results"]]
    assert starts == sorted(starts) and len(starts) >= 5
    backwards = await client.get("/v1/events", params={"from": "2026-10-31", "to": "2026-10-01"})
    assert backwards.status_code == 422 and backwards.json()["errors"][0]["field"] == "to"


async def test_a_programs_ical_feed_parses_back_with_tzid_and_rrule(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/programs/parent-educator-partnership/events.ics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/calendar")
    calendar = icalendar.Calendar.from_ical(response.content)
    events = {str(event["uid"]): event for event in calendar.walk("VEVENT")}
    assert len(events) == 5
    workshop = events["pep-workshop-iep-basics-en@catalog.psc"]
    assert workshop["dtstart"].params["TZID"] == "America/Chicago"
    rule = workshop["rrule"]
    assert isinstance(rule, icalendar.vRecur)
    assert rule["FREQ"] == ["MONTHLY"] and rule["BYDAY"] == ["2TU"]
    assert [str(tz["tzid"]) for tz in calendar.walk("VTIMEZONE")] == ["America/Chicago"]
    assert (await client.get("/v1/programs/no-such-program/events.ics")).status_code == 404


# --- Referrals ----------------------------------------------------------------------------------------------------


async def read_topic(platform: PlatformSettings, topic: str, wanted: Any, count: int) -> list[dict[str, Any]]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=platform.kafka_bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    found: list[dict[str, Any]] = []
    try:
        deadline = time.monotonic() + 60
        while len(found) < count and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                found += [m for m in (json.loads(r.value) for r in records) if wanted(m)]
    finally:
        await consumer.stop()
    return found


async def test_a_referral_to_a_department_and_its_answer_are_announced(
    client: httpx.AsyncClient, module_platform: PlatformSettings
) -> None:
    inquiry = str(uuid.uuid4())
    body = {"service_id": "students-in-temporary-living-situations", "reason": "Family asks about a fare card."}
    assert (await client.post(f"/v1/inquiries/{inquiry}/referrals", json=body)).status_code == 401
    assert (await client.post(f"/v1/inquiries/{inquiry}/referrals", json=body, headers=AUDITOR)).status_code == 403
    created = await client.post(f"/v1/inquiries/{inquiry}/referrals", json=body, headers=STAFF)
    assert created.status_code == 201, created.text
    referral = created.json()
    assert referral["status"] == "open" and referral["network_id"] == "network-4"
    # Tuesday 10:30 plus three business days: Friday 10:30 in Chicago.
    assert referral["reply_due_at"] == "2026-10-16T15:30:00Z"
    unknown = await client.post(
        f"/v1/inquiries/{inquiry}/referrals", json={**body, "service_id": "no-such-office"}, headers=STAFF
    )
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "service_id"
    url = f"/v1/inquiries/{inquiry}/referrals/{referral['id']}/reply"
    answered = await client.post(url, json={"answer": "Card mailed to the school."}, headers=STAFF)
    assert answered.status_code == 200 and answered.json()["status"] == "answered"
    assert (await client.post(url, json={"answer": "again"}, headers=STAFF)).status_code == 409
    listed = await client.get(f"/v1/inquiries/{inquiry}/referrals", headers=AUDITOR)
    assert [r["id"] for r in listed.json()] == [referral["id"]]
    events = await read_topic(module_platform, CATALOG_EVENTS, lambda m: m.get("inquiry_id") == inquiry, 2)
    assert [event["event_type"] for event in events] == ["inquiry.referred", "inquiry.referral_answered"]
    assert events[0]["reply_due_at"] == "2026-10-16T15:30:00Z" and events[1]["late"] is False


# --- A lookup by inquiry category over Kafka ------------------------------------------------------------------------


async def test_a_lookup_by_category_over_kafka_returns_what_fits_it(
    client: httpx.AsyncClient, module_platform: PlatformSettings
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=module_platform.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for category in ("attendance", "transportation", "special_education"):
            request = {
                "request_id": str(uuid.uuid4()),
                "correlation_id": f"dir-lookup-{category}",
                "category": category,
                "language": "es",
                "limit": 3,
            }
            await producer.send_and_wait(CATALOG_LOOKUPS, json.dumps(request).encode(), key=category.encode())
    finally:
        await producer.stop()
    replies = await read_topic(
        module_platform, CATALOG_REPLIES, lambda m: str(m.get("correlation_id", "")).startswith("dir-lookup-"), 3
    )
    by_category = {reply["correlation_id"].removeprefix("dir-lookup-"): reply for reply in replies}
    for category, reply in by_category.items():
        assert reply["event_type"] == "catalog.lookup_replied" and reply["results"]
        assert all(category in result["categories"] for result in reply["results"])
        assert all(result["translations"]["es"]["name"] for result in reply["results"])


# --- Export and import ----------------------------------------------------------------------------------------------


async def test_the_export_imports_back_unchanged_and_the_csv_tables_are_hsds(client: httpx.AsyncClient) -> None:
    package = (await client.get("/v1/export")).json()
    assert len(package["services"]) >= 48
    assert "students-in-temporary-living-situations" in [s["id"] for s in package["services"]]
    again = await client.post("/v1/import", json=package, headers=STAFF)
    assert again.status_code == 200, again.text
    assert again.json() == {"services": len(package["services"]), "changed": 0}
    archive = zipfile.ZipFile(io.BytesIO((await client.get("/v1/export.zip")).content))
    assert {"organizations.csv", "services.csv", "locations.csv", "phones.csv", "datapackage.json"} <= set(
        archive.namelist()
    )
    services = list(csv.DictReader(io.StringIO(archive.read("services.csv").decode())))
    pep = next(row for row in services if row["id"] == "parent-educator-partnership")
    assert pep["organization_id"] == "cps-odlss" and pep["name_es"] == "Asociación de Padres y Educadores (PEP)"
    phones = list(csv.DictReader(io.StringIO(archive.read("phones.csv").decode())))
    assert {"(773) 553-1800", "(773) 553-1801"} <= {row["number"] for row in phones if row["service_id"] == pep["id"]}


async def test_another_directorys_package_is_loaded_whole_or_not_at_all(client: httpx.AsyncClient) -> None:
    organization = {"id": "partner-org", "name": "Neighborhood Partner", "locations": []}
    service = {
        "id": "partner-homework-club",
        "organization_id": "partner-org",
        "name": "Homework Club",
        "description": "After-school homework help in English and Spanish.",
        "translations": {"es": {"name": "Club de tareas", "description": "Ayuda con las tareas después de clases."}},
        "url": "https://example.org/homework",
        "languages": ["en", "es"],
        "categories": ["community_partners"],
    }
    bad = {
        **service,
        "id": "partner-bad",
        "url": "not a url",
        "phones": [{"number": "12"}],
    }
    refused = await client.post(
        "/v1/import", json={"organizations": [organization], "services": [service, bad]}, headers=STAFF
    )
    assert refused.status_code == 422
    assert {error["field"] for error in refused.json()["errors"]} == {"services.1.url", "services.1.phones.0.number"}
    assert (await client.get("/v1/services/partner-homework-club")).status_code == 404  # nothing stored
    loaded = await client.post(
        "/v1/import", json={"organizations": [organization], "services": [service]}, headers=STAFF
    )
    assert loaded.json() == {"services": 1, "changed": 1}
    assert (await top(client, "club de tareas", 1)) == ["partner-homework-club"]
    no_org = await client.post("/v1/import", json={"organizations": [], "services": [service]}, headers=STAFF)
    assert no_org.status_code == 422 and no_org.json()["errors"][0]["field"] == "services.0.organization_id"


async def test_an_unanswered_referrals_clock_warns_then_escalates_on_the_broker(
    module_platform: PlatformSettings, client: httpx.AsyncClient, clock: FixedClock
) -> None:
    # The module's catalog, on its clock moved by this test and put back after; its sweep looks every 0.1 s.
    own = client
    try:
        inquiry = str(uuid.uuid4())
        body = {"service_id": "law-department", "reason": "Records request for court."}
        referral = (await own.post(f"/v1/inquiries/{inquiry}/referrals", json=body, headers=STAFF)).json()
        assert referral["reply_due_at"] == "2026-10-16T15:30:00Z"
        clock.set(datetime(2026, 10, 15, 23, 0, tzinfo=UTC))  # past 75% of the three business days
        (warning,) = await read_topic(
            module_platform,
            CATALOG_EVENTS,
            lambda m: m.get("inquiry_id") == inquiry and "warning" in m["event_type"],
            1,
        )
        assert warning["event_type"] == "inquiry.referral_warning" and warning["network_id"] == "network-4"
        clock.set(datetime(2026, 10, 16, 15, 31, tzinfo=UTC))  # past the deadline
        (escalated,) = await read_topic(
            module_platform,
            CATALOG_EVENTS,
            lambda m: m.get("inquiry_id") == inquiry and "escalated" in m["event_type"],
            1,
        )
        assert escalated["event_type"] == "inquiry.referral_escalated" and escalated["escalated_to"] == "psa"
        late = await own.post(
            f"/v1/inquiries/{inquiry}/referrals/{referral['id']}/reply", json={"answer": "Sent."}, headers=STAFF
        )
        assert late.status_code == 200
    finally:
        clock.set(NOW)
    events = await read_topic(module_platform, CATALOG_EVENTS, lambda m: m.get("inquiry_id") == inquiry, 4)
    assert [event["event_type"] for event in events] == [
        "inquiry.referred",
        "inquiry.referral_warning",
        "inquiry.referral_escalated",
        "inquiry.referral_answered",
    ]
    assert events[-1]["late"] is True


async def test_hsds_csv_tables_load_back_and_a_bad_row_is_named_by_file_and_line(client: httpx.AsyncClient) -> None:
    archive = zipfile.ZipFile(io.BytesIO((await client.get("/v1/export.zip")).content))
    files = {name: archive.read(name).decode() for name in archive.namelist() if name.endswith(".csv")}
    again = await client.post("/v1/import/csv", json={"files": files}, headers=STAFF)
    assert again.status_code == 200, again.text
    assert again.json()["changed"] == 0
    theirs = {
        "organizations.csv": "id,name\ntheir-org,Their Organization\n",
        "services.csv": "id,organization_id,name,description,url\n"
        "their-reading,their-org,Reading Buddies,Volunteers read with children.,https://example.org/read\n"
        "their-bad,their-org,Bad,Row,not-a-url\n",
        "phones.csv": "id,service_id,number\np1,their-reading,(773) 553-1000\n",
        "languages.csv": "id,service_id,code\nl1,their-reading,en\nl2,their-bad,en\n",
        "attributes.csv": "id,link_id,link_type,taxonomy_term_id\n"
        "a1,their-reading,service,psc-category:academics\na2,their-bad,service,psc-category:academics\n",
    }
    refused = await client.post("/v1/import/csv", json={"files": theirs}, headers=STAFF)
    assert refused.status_code == 422
    assert [error["field"] for error in refused.json()["errors"]] == ["services.csv:3.url"]
    theirs["services.csv"] = theirs["services.csv"].split("their-bad")[0]
    loaded = await client.post("/v1/import/csv", json={"files": theirs}, headers=STAFF)
    assert loaded.json() == {"services": 1, "changed": 1}
    reading = (await client.get("/v1/services/their-reading")).json()
    assert (
        reading["phones"][0]["number"] == "(773) 553-1000"
        and reading["attributes"][0]["taxonomy_term"]["code"] == "academics"
    )
