"""What the console reads and does, through the owners' own interfaces: intake's API in-process (with the signed-in
staff member's token, so access control, the audit log and validation apply unchanged), and routing's, notify's
and catalog's HTTP APIs (their base URLs from intake's settings). No rule of theirs is repeated here."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import structlog
from fastapi import FastAPI

from services.intake.settings import IntakeSettings

log = structlog.get_logger("intake.console")


@dataclass
class Answer:
    status_code: int
    body: Any

    @property
    def ok(self) -> bool:
        return 200 <= self.status_code < 300

    def detail(self) -> str:
        """The API's reason for a refusal (its field errors name the field and the reason, never the value)."""
        if isinstance(self.body, dict):
            errors = self.body.get("errors")
            if isinstance(errors, list) and errors:
                return "; ".join(f"{e.get('field')}: {e.get('reason')}" for e in errors if isinstance(e, dict))
            detail = self.body.get("detail")
            if isinstance(detail, str):
                return detail
        return f"refused ({self.status_code})"


@dataclass
class SchoolDirectory:
    """The district's schools (id, name, network) for the school picker, read once from the catalog's locations."""

    schools: list[dict[str, Any]] = field(default_factory=list)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def name_of(self, school_id: int) -> str | None:
        for school in self.schools:
            if school["id"] == school_id:
                return str(school["name"])
        return None


def directory_of(app: FastAPI) -> SchoolDirectory:
    found = getattr(app.state, "console_schools", None)
    if not isinstance(found, SchoolDirectory):
        found = SchoolDirectory()
        app.state.console_schools = found
    return found


async def _answer(response: httpx.Response) -> Answer:
    try:
        body = response.json()
    except ValueError:
        body = None
    return Answer(response.status_code, body)


class Backends:
    """One request's clients: intake in-process and the other services over HTTP, with the staff member's token."""

    def __init__(self, app: FastAPI, settings: IntakeSettings, token: str | None) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.app = app
        self.intake = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://intake.console", headers=headers, timeout=15.0
        )
        self.routing = httpx.AsyncClient(base_url=settings.routing_url, headers=headers, timeout=5.0)
        self.notify = httpx.AsyncClient(base_url=settings.notify_url, headers=headers, timeout=5.0)
        self.catalog = httpx.AsyncClient(base_url=settings.catalog_url, timeout=5.0)

    async def close(self) -> None:
        for client in (self.intake, self.routing, self.notify, self.catalog):
            await client.aclose()

    async def call(self, client: httpx.AsyncClient, method: str, path: str, **kwargs: Any) -> Answer:
        try:
            return await _answer(await client.request(method, path, **kwargs))
        except httpx.HTTPError as exc:
            log.warning("console_backend_unreachable", base_url=str(client.base_url), error=type(exc).__name__)
            return Answer(503, {"detail": "a service the console reads cannot be reached"})

    async def get(self, client: httpx.AsyncClient, path: str, **params: Any) -> Answer:
        return await self.call(client, "GET", path, params={k: v for k, v in params.items() if v is not None})

    # --- intake --------------------------------------------------------------------------------------------------

    async def inquiry(self, reference: str) -> Answer:
        return await self.get(self.intake, f"/v1/inquiries/{reference}")

    async def history(self, reference: str) -> Answer:
        return await self.get(self.intake, f"/v1/inquiries/{reference}/history")

    async def act(self, reference: str, action: str, body: dict[str, Any]) -> Answer:
        return await self.call(self.intake, "POST", f"/v1/inquiries/{reference}/{action}", json=body)

    async def submit(self, body: dict[str, Any], idempotency_key: str) -> Answer:
        return await self.call(
            self.intake, "POST", "/v1/inquiries", json=body, headers={"Idempotency-Key": idempotency_key}
        )

    # --- routing -------------------------------------------------------------------------------------------------

    async def networks(self) -> list[dict[str, Any]]:
        answer = await self.get(self.routing, "/v1/networks")
        return answer.body if answer.ok and isinstance(answer.body, list) else []

    async def network_queue(self, network_id: str) -> list[dict[str, Any]]:
        answer = await self.get(self.routing, f"/v1/networks/{network_id}/queue")
        return answer.body if answer.ok and isinstance(answer.body, list) else []

    async def routing_state(self, inquiry_id: str) -> Answer:
        return await self.get(self.routing, f"/v1/inquiries/{inquiry_id}/routing")

    async def staff(self, network_id: str | None) -> list[dict[str, Any]]:
        answer = await self.get(self.routing, "/v1/staff", network_id=network_id)
        return answer.body if answer.ok and isinstance(answer.body, list) else []

    async def business_intervals(self, first: date, last: date) -> list[tuple[datetime, datetime]]:
        """The district's open hours between two days, from routing's calendar (UTC intervals)."""
        intervals: list[tuple[datetime, datetime]] = []
        day = first
        while day <= last:
            days = min(400, (last - day).days + 1)
            answer = await self.get(self.routing, "/v1/calendar", days=days, **{"from": day.isoformat()})
            if not answer.ok or not isinstance(answer.body, dict):
                raise LookupError("routing's calendar cannot be read")
            zone = ZoneInfo(answer.body["timezone"])
            opens, closes = time.fromisoformat(answer.body["opens"]), time.fromisoformat(answer.body["closes"])
            for entry in answer.body["days"]:
                if entry["business_day"]:
                    d = date.fromisoformat(entry["date"])
                    intervals.append(
                        (
                            datetime.combine(d, opens, zone).astimezone(UTC),
                            datetime.combine(d, closes, zone).astimezone(UTC),
                        )
                    )
            day += timedelta(days=days)
        return intervals

    # --- notify --------------------------------------------------------------------------------------------------

    async def deliveries(self, inquiry_id: str) -> list[dict[str, Any]]:
        answer = await self.get(self.notify, f"/v1/inquiries/{inquiry_id}/deliveries")
        return answer.body if answer.ok and isinstance(answer.body, list) else []

    # --- catalog -------------------------------------------------------------------------------------------------

    async def resources_for(self, category: str, language: str | None) -> list[dict[str, Any]]:
        """Two or three of the catalog's resources that fit the inquiry's category."""
        # The catalog's taxonomy has the inquiry categories as its own codes.
        answer = await self.get(self.catalog, "/v1/resources", category=category, language=language, limit=3)
        if answer.ok and isinstance(answer.body, dict) and not answer.body.get("results") and language:
            answer = await self.get(self.catalog, "/v1/resources", category=category, limit=3)
        if not answer.ok or not isinstance(answer.body, dict):
            return []
        results = answer.body.get("results")
        return results[:3] if isinstance(results, list) else []

    async def schools(self) -> list[dict[str, Any]]:
        """Every school of the directory (cached for the process: the list changes a few times a year)."""
        directory = directory_of(self.app)
        async with directory.lock:
            if directory.schools:
                return directory.schools
            found: list[dict[str, Any]] = []
            page = 1
            while page < 50:
                answer = await self.get(self.catalog, "/v1/locations", kind="school", per_page=100, page=page)
                if not answer.ok or not isinstance(answer.body, dict):
                    return []
                contents = answer.body.get("contents") or []
                for item in contents:
                    if item.get("school_id"):
                        found.append(
                            {"id": int(item["school_id"]), "name": item["name"], "network": item.get("network")}
                        )
                if answer.body.get("last_page", True) or not contents:
                    break
                page += 1
            directory.schools = sorted(found, key=lambda s: str(s["name"]))
            return directory.schools


@asynccontextmanager
async def backends(app: FastAPI, settings: IntakeSettings, token: str | None) -> AsyncIterator[Backends]:
    opened = Backends(app, settings, token)
    try:
        yield opened
    finally:
        await opened.close()
