"""Admission control: past the bound on requests in flight, 503 with Retry-After at once; operations routes always."""

from __future__ import annotations

import asyncio

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from shared.admission import AdmissionControl


def blocking_app(release: asyncio.Event, entered: asyncio.Queue[str]) -> AdmissionControl:
    async def slow(request: Request) -> PlainTextResponse:
        await entered.put(request.url.path)
        await release.wait()
        return PlainTextResponse("done")

    async def health(_: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    inner = Starlette(routes=[Route("/slow", slow), Route("/health", health)])
    return AdmissionControl(inner, service="test", max_in_flight=2, retry_after_seconds=3)


async def test_requests_past_the_bound_are_shed_at_once_with_retry_after_and_admitted_again_after() -> None:
    release, entered = asyncio.Event(), asyncio.Queue[str]()
    app = blocking_app(release, entered)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://psc") as client:
        held = [asyncio.create_task(client.get("/slow")) for _ in range(2)]
        for _ in held:
            await asyncio.wait_for(entered.get(), timeout=5)
        assert app.in_flight == 2

        shed = await asyncio.wait_for(client.get("/slow"), timeout=5)  # answered while the two are still held
        assert shed.status_code == 503
        assert shed.headers["retry-after"] == "3"
        assert "retry after 3 s" in shed.json()["detail"]
        assert (await client.get("/health")).status_code == 200  # operations routes are never shed

        release.set()
        assert [r.status_code for r in await asyncio.gather(*held)] == [200, 200]
        assert app.in_flight == 0
        assert (await client.get("/slow")).status_code == 200


async def test_a_failing_request_still_gives_its_place_back() -> None:
    async def boom(_: Request) -> PlainTextResponse:
        raise RuntimeError("handler failed")

    app = AdmissionControl(
        Starlette(routes=[Route("/boom", boom)]), service="t", max_in_flight=1, retry_after_seconds=1
    )
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://psc") as client:
        for _ in range(3):
            assert (await client.get("/boom")).status_code == 500
    assert app.in_flight == 0
