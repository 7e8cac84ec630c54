"""Open311 GeoReport v2 through the real broker and database: intake and routing in-process with fixed clocks. A
311 client's form becomes an inquiry (``inquiry.submitted`` on the broker, routed by its school), its status reads
back in JSON and XML, and every refusal is in the spec's error format, names the field and stores nothing."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import asyncpg
import httpx
import pytest
import pytest_asyncio
from auth import api_key_of, staff_headers
from kafka_events import first_event

from services.intake.app import create_app as create_intake
from services.intake.settings import IntakeSettings
from services.routing.app import create_app as create_routing
from services.routing.settings import RoutingSettings
from shared.auth import Scope
from shared.clock import FixedClock
from shared.contracts.topics import INQUIRY_EVENTS
from shared.settings import PlatformSettings

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

NOW = datetime(2026, 11, 25, 16, 0, tzinfo=UTC)
STAFF_FILE = Path(__file__).parents[2] / "services" / "routing" / "data" / "staff_demo.yaml"
STAFF = staff_headers(staff_id="central-staff-1", role="central_staff", network_id="central")
SUBMIT_KEY, READ_KEY, BOTH_KEY = api_key_of([Scope.SUBMIT]), api_key_of([Scope.READ]), api_key_of()
SECRET = "Ana's private words"
CATEGORIES = {
    "special_education",
    "attendance",
    "enrollment",
    "transportation",
    "safety_and_bullying",
    "academics",
    "health_and_wellness",
    "other",
}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def env(module_platform: PlatformSettings, topics: tuple[str, ...]) -> AsyncIterator[dict[str, Any]]:
    apps = {
        "intake": create_intake(IntakeSettings(platform=module_platform), clock=FixedClock(NOW)),
        "routing": create_routing(
            RoutingSettings(platform=module_platform, staff_file=STAFF_FILE), clock=FixedClock(NOW)
        ),
    }
    async with contextlib.AsyncExitStack() as stack:
        for app in apps.values():
            await stack.enter_async_context(app.router.lifespan_context(app))
        intake = await stack.enter_async_context(
            httpx.AsyncClient(transport=httpx.ASGITransport(app=apps["intake"]), base_url="http://intake")
        )

        async def staff_known() -> bool:  # intake follows routing's staff directory (staff.updated)
            return (await intake.get("/v1/inquiries", headers=STAFF)).status_code == 200

        await eventually(staff_known)
        yield {"intake": intake, "platform": module_platform}


def form(**changes: str | None) -> dict[str, str]:
    fields: dict[str, str | None] = {
        "api_key": SUBMIT_KEY,
        "service_code": "transportation",
        "first_name": "Ana",
        "last_name": "Lopez",
        "email": "ana.open311@example.org",
        "phone": "312-555-0148",
        "description": "The bus has not come for three days.",
        "attribute[school_id]": "609794",
        "attribute[grade]": "3",
        "lat": "41.8781",
        "long": "-87.6298",
        "address_string": "1 Main St",
    }
    fields |= changes
    return {key: value for key, value in fields.items() if value is not None}


async def eventually(check: Any, timeout: float = 30.0) -> Any:
    async with asyncio.timeout(timeout):
        while not (found := await check()):
            await asyncio.sleep(0.1)
        return found


async def stored_counts(platform: PlatformSettings) -> tuple[int, int]:
    conn = await asyncpg.connect(platform.database_url.get_secret_value(), server_settings={"search_path": "intake"})
    try:
        inquiries = await conn.fetchval("SELECT count(*) FROM inquiries")
        outbox = await conn.fetchval("SELECT count(*) FROM outbox")
    finally:
        await conn.close()
    return int(inquiries), int(outbox)


def xml_of(response: httpx.Response) -> ElementTree.Element:
    assert response.headers["content-type"].startswith("text/xml"), response.headers["content-type"]
    assert response.text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    return ElementTree.fromstring(response.content)  # noqa: S314 - the service under test, not untrusted input


async def test_the_services_are_the_categories_in_json_and_xml(env: dict[str, Any]) -> None:
    as_json = await env["intake"].get("/open311/v2/services.json")
    assert as_json.status_code == 200 and as_json.headers["content-type"].startswith("application/json")
    services = as_json.json()
    assert {s["service_code"] for s in services} == CATEGORIES
    assert all(s["type"] == "realtime" and s["metadata"] is True and s["service_name"] for s in services)
    root = xml_of(await env["intake"].get("/open311/v2/services.xml"))
    assert root.tag == "services"
    assert {s.findtext("service_code") for s in root.findall("service")} == CATEGORIES
    assert {s.findtext("metadata") for s in root.findall("service")} == {"true"}
    definition = (await env["intake"].get("/open311/v2/services/attendance.json")).json()
    required = {a["code"] for a in definition["attributes"] if a["required"]}
    assert (definition["service_code"], required) == ("attendance", {"school_id", "grade"})
    xml_definition = xml_of(await env["intake"].get("/open311/v2/services/attendance.xml"))
    assert [a.findtext("code") for a in xml_definition.iter("attribute")][:2] == ["school_id", "grade"]
    unknown = await env["intake"].get("/open311/v2/services/parking.json")
    assert (unknown.status_code, unknown.json()) == (
        404,
        [{"code": 404, "description": "service_code: no such service"}],
    )


async def test_a_service_request_becomes_an_inquiry_routed_by_its_school(env: dict[str, Any]) -> None:
    intake = env["intake"]
    created = await intake.post("/open311/v2/requests.json", data=form())
    assert created.status_code == 200, created.text
    (answer,) = created.json()
    reference = answer["service_request_id"]
    assert set(answer) == {"service_request_id", "service_notice", "account_id"}
    assert answer["account_id"] is None and reference in answer["service_notice"]
    # By id: the broker outlives each test module's database, so a reference number may come round again on it.
    inquiry_id = (await intake.get(f"/v1/inquiries/{reference}", headers=STAFF)).json()["id"]
    event = await first_event(
        env["platform"],
        INQUIRY_EVENTS,
        lambda e: e["inquiry_id"] == inquiry_id and e["event_type"] == "inquiry.submitted",
    )
    assert event["category"] == "transportation"
    assert event["parent"]["name"] == "Ana Lopez" and event["parent"]["mobile_phone"] == "+13125550148"
    assert event["student"] == {"school_id": 609794, "grade": "3"}
    assert event["channel"] == "district_system" and event["status_token"]
    assert event["submitted_by"].startswith("open311:")
    seen = (await intake.get(f"/v1/inquiries/{reference}", headers=STAFF)).json()
    assert seen["description"] == "The bus has not come for three days."

    async def routed() -> dict[str, Any] | None:
        status = await intake.get(f"/open311/v2/requests/{reference}.json", params={"api_key": READ_KEY})
        assert status.status_code == 200, status.text
        (request,) = status.json()
        return dict(request) if request["agency_responsible"] else None

    request = await eventually(routed)
    assert request["service_request_id"] == reference
    assert (request["status"], request["service_code"], request["service_name"]) == (
        "open",
        "transportation",
        "Transportation",
    )
    assert request["agency_responsible"] == "Network 1"
    assignment = (await intake.get(f"/v1/inquiries/{reference}", headers=STAFF)).json()["assignment"]
    assert request["expected_datetime"] == assignment["due_at"]  # the tier's deadline, as routing set it
    assert request["requested_datetime"] == "2026-11-25T16:00:00Z" and request["updated_datetime"]
    assert request["status_notes"]
    assert request["description"] is None and request["address"] is None and request["lat"] is None
    for private in ("Ana", "Lopez", "0148", "bus has not come", "609794"):
        assert private not in json.dumps(request)

    as_xml = await intake.get(f"/open311/v2/requests/{reference}.xml", params={"api_key": READ_KEY})
    root = xml_of(as_xml)
    assert root.tag == "service_requests"
    (item,) = root.findall("request")
    assert item.findtext("service_request_id") == reference and item.findtext("status") == "open"
    assert item.findtext("agency_responsible") == "Network 1"
    expected = datetime.fromisoformat(assignment["due_at"])
    assert datetime.fromisoformat(item.findtext("expected_datetime") or "") == expected
    # The key that submitted it reads it back; so does X-API-Key instead of api_key.
    own = await intake.get(f"/open311/v2/requests/{reference}.json", params={"api_key": SUBMIT_KEY})
    assert own.status_code == 200
    by_header = await intake.get(f"/open311/v2/requests/{reference}.json", headers={"X-API-Key": BOTH_KEY})
    assert by_header.status_code == 200


async def test_a_request_submitted_in_xml_answers_in_xml(env: dict[str, Any]) -> None:
    created = await env["intake"].post("/open311/v2/requests.xml", data=form(service_code="attendance"))
    assert created.status_code == 200, created.text
    root = xml_of(created)
    assert root.tag == "service_requests"
    (item,) = root.findall("request")
    reference = item.findtext("service_request_id")
    assert reference and reference.startswith("PSC-26-")
    assert item.find("account_id") is not None and item.findtext("account_id") == ""
    status = await env["intake"].get(f"/open311/v2/requests/{reference}.xml", params={"api_key": BOTH_KEY})
    assert xml_of(status).findtext("request/service_code") == "attendance"


async def test_a_resolved_inquiry_is_closed_with_its_summary_as_status_notes(env: dict[str, Any]) -> None:
    intake = env["intake"]
    created = await intake.post("/open311/v2/requests.json", data=form())
    reference = created.json()[0]["service_request_id"]

    async def assigned() -> bool:
        return bool((await intake.get(f"/v1/inquiries/{reference}", headers=STAFF)).json()["status"] == "assigned")

    await eventually(assigned)
    for action, body in [("acknowledge", {}), ("resolve", {"summary": "The bus route was fixed."})]:
        done = await intake.post(f"/v1/inquiries/{reference}/{action}", json=body, headers=STAFF)
        assert done.status_code == 200, done.text
    (request,) = (await intake.get(f"/open311/v2/requests/{reference}.json", params={"api_key": READ_KEY})).json()
    assert (request["status"], request["expected_datetime"]) == ("closed", None)
    assert request["status_notes"] == "The bus route was fixed."


async def test_a_bad_key_is_a_403_and_an_unknown_or_foreign_request_a_404_in_the_specs_format(
    env: dict[str, Any],
) -> None:
    intake = env["intake"]
    before = await stored_counts(env["platform"])
    for key in ("not-a-key", READ_KEY, api_key_of([])):
        refused = await intake.post("/open311/v2/requests.json", data=form(api_key=key))
        assert refused.status_code == 403, key
        ((error),) = refused.json()
        assert error["code"] == 403 and error["description"].startswith("api_key:")
        assert key not in refused.text
    as_xml = await intake.post("/open311/v2/requests.xml", data=form(api_key="not-a-key"))
    assert as_xml.status_code == 403 and xml_of(as_xml).findtext("error/code") == "403"
    assert await stored_counts(env["platform"]) == before

    created = await intake.post("/open311/v2/requests.json", data=form(api_key=BOTH_KEY))
    reference = created.json()[0]["service_request_id"]
    unknown = await intake.get("/open311/v2/requests/PSC-26-999999.json", params={"api_key": READ_KEY})
    foreign = await intake.get(f"/open311/v2/requests/{reference}.json", params={"api_key": SUBMIT_KEY})
    for answer in (unknown, foreign):
        assert (answer.status_code, answer.json()) == (
            404,
            [{"code": 404, "description": "service_request_id: no such service request"}],
        )
    nobody = await intake.get(f"/open311/v2/requests/{reference}.json")
    assert nobody.status_code == 403
    bad_key = await intake.get(f"/open311/v2/requests/{reference}.xml", params={"api_key": "nope"})
    assert bad_key.status_code == 403 and xml_of(bad_key).findtext("error/code") == "403"


async def test_a_bad_field_is_a_400_naming_it_in_the_form_and_stores_nothing(env: dict[str, Any]) -> None:
    intake = env["intake"]
    before = await stored_counts(env["platform"])
    cases: list[tuple[dict[str, str | None], set[str]]] = [
        ({"service_code": "parking"}, {"service_code"}),
        ({"attribute[school_id]": f"{SECRET}"}, {"attribute[school_id]"}),
        ({"attribute[school_id]": "12"}, {"attribute[school_id]"}),
        ({"attribute[grade]": None}, {"attribute[grade]"}),
        ({"attribute[sms_consent]": SECRET}, {"attribute[sms_consent]"}),
        ({"attribute[language]": "xx"}, {"attribute[language]"}),
        ({"email": f"{SECRET}@", "phone": None}, {"email"}),
        ({"phone": f"{SECRET} 12"}, {"phone"}),
        ({"first_name": None, "last_name": None}, {"first_name"}),
        ({"description": None}, {"description"}),
        ({"description": f"{SECRET}\u0000"}, {"description"}),
        ({"lat": "north"}, {"lat"}),
        ({"api_key": None}, {"api_key"}),
        ({"attribute[school_id]": "12", "attribute[grade]": "13"}, {"attribute[school_id]", "attribute[grade]"}),
    ]
    for changes, fields in cases:
        refused = await intake.post("/open311/v2/requests.json", data=form(**changes))
        assert refused.status_code == 400, (changes, refused.text)
        named = {error["description"].split(":", 1)[0] for error in refused.json()}
        assert named == fields, (changes, refused.text)
        assert all(error["code"] == 400 for error in refused.json())
        assert SECRET not in refused.text
    as_xml = await intake.post("/open311/v2/requests.xml", data=form(service_code="parking"))
    assert as_xml.status_code == 400
    assert (xml_of(as_xml).findtext("error/description") or "").startswith("service_code:")
    assert await stored_counts(env["platform"]) == before


async def test_a_json_body_is_a_415_and_an_oversized_form_a_413(env: dict[str, Any]) -> None:
    intake = env["intake"]
    before = await stored_counts(env["platform"])
    as_json = await intake.post("/open311/v2/requests.json", json=form())
    assert as_json.status_code == 415
    huge = await intake.post("/open311/v2/requests.json", data=form(description="x" * 2_000_000))
    assert huge.status_code == 413
    assert await stored_counts(env["platform"]) == before
