"""The catalog's HTTP API: search the directory, read one resource, add or change one (staff who may act).
The HSDS-shaped routes, events and referrals are in ``directory_api.py``.

Every route passes ``shared.http.authorize`` (set on the app).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from services.catalog import handlers
from services.catalog.domain import ResourcePage
from services.catalog.querying import NO_SYNONYMS, Synonyms
from services.catalog.searching import SearchCache, SearchParameters, search, search_parameters
from services.catalog.unit_of_work import PostgresCatalogReader, PostgresCatalogUnitOfWork
from shared.auth import PUBLIC, Actor
from shared.background import RoundWorker
from shared.business_calendar import DistrictCalendar
from shared.clock import Clock
from shared.contracts.catalog import ResourceId, ResourceUpsert, ResourceView
from shared.http import Problem, ValidationProblem, context_of, correlation_id_of
from shared.service import ServiceRuntime

router = APIRouter(prefix="/v1", tags=["resources"])


@dataclass
class CatalogContext:
    """What the catalog's routes need, set on ``app.state.context`` by the composition root once the runtime is up."""

    runtime: ServiceRuntime
    clock: Clock
    calendar: DistrictCalendar
    """The district calendar without emergency closures (the handlers add those on file in each transaction)."""
    synonyms: Synonyms = NO_SYNONYMS
    referral_reply_business_days: int = 3
    search_cache: SearchCache = field(default_factory=lambda: SearchCache(ttl=0))
    referral_clock: RoundWorker | None = None

    def unit_of_work(self) -> PostgresCatalogUnitOfWork:
        return self.runtime.unit_of_work(PostgresCatalogUnitOfWork)

    def reader(self) -> PostgresCatalogReader:
        """For reads: a pooled connection without a transaction, and no wake-up of the outbox relay."""
        return PostgresCatalogReader(self.runtime.pool)


async def _context(request: Request) -> CatalogContext:
    # async: FastAPI runs a plain def dependency in a worker thread, a hop per request for nothing.
    return context_of(request, CatalogContext)


Context = Annotated[CatalogContext, Depends(_context)]


class ResourceResults(BaseModel):
    total: int = Field(description="How many services match in all")
    results: list[ResourceView] = Field(description="This page of them, best match first")


ServiceIdPath = Annotated[
    ResourceId, Path(description="Directory id of the service, e.g. 'parent-educator-partnership'")
]


@router.get(
    "/resources",
    response_model=ResourceResults,
    responses={422: {"model": ValidationProblem}},
    summary="Search the directory of district resources",
    dependencies=[PUBLIC],
)
async def search_resources(
    ctx: Context,
    filters: Annotated[SearchParameters, Depends(search_parameters)],
    limit: Annotated[int, Query(ge=1, le=100, description="Most results to return")] = 20,
    offset: Annotated[int, Query(ge=0, le=10_000, description="Results to skip")] = 0,
) -> Response:
    found = await search(ctx, filters, filters.q, limit=limit, offset=offset)
    # The body as bytes (kept with a cached page): FastAPI would validate and serialise the page again each time.
    return Response(found.body("resources", _resource_results), media_type="application/json")


def _resource_results(page: ResourcePage) -> bytes:
    return ResourceResults(total=page.total, results=page.results).model_dump_json().encode()


@router.get(
    "/resources/{service_id}",
    response_model=ResourceView,
    responses={404: {"model": Problem}},
    summary="Read one resource",
    dependencies=[PUBLIC],
)
async def get_resource(service_id: ServiceIdPath, ctx: Context) -> ResourceView:
    async with ctx.reader() as uow:
        found = await handlers.find_resource(uow, service_id)
    if found is None:
        raise HTTPException(404, "no such resource")
    return found


@router.put(
    "/resources/{service_id}",
    response_model=ResourceView,
    status_code=200,
    responses={
        201: {"model": ResourceView, "description": "The resource was added"},
        422: {"model": ValidationProblem, "description": "The fields refused and why; nothing was stored"},
    },
    summary="Add or change a resource (with its organization, locations, phones, languages and categories)",
)
async def put_resource(
    service_id: ServiceIdPath,
    body: ResourceUpsert,
    ctx: Context,
    request: Request,
    response: Response,
    _staff: Actor,
) -> ResourceView | JSONResponse:
    async with ctx.unit_of_work() as uow:
        outcome = await handlers.apply_upsert(
            uow, service_id, body, now=ctx.clock.now(), correlation_id=correlation_id_of(request)
        )
    if not isinstance(outcome, handlers.Applied):
        return JSONResponse(status_code=422, content=ValidationProblem(errors=outcome.errors).model_dump())
    if outcome.changed:
        ctx.search_cache.clear()
    if outcome.created:
        response.status_code = 201
        response.headers["Location"] = f"/v1/resources/{service_id}"
    return outcome.view
