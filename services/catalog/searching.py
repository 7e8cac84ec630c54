"""The search's HTTP parameters, checked, and the search they make: shared by ``/v1/resources`` and ``/v1/services``.

A filter value the directory cannot know (an unknown network, a school not on the list, a radius out of range) is a
422 naming the parameter, never a silent empty page.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Annotated

from fastapi import Query
from fastapi.exceptions import RequestValidationError
from pydantic import StringConstraints

from services.catalog import handlers
from services.catalog.domain import Near, ResourcePage, ResourceQuery, normalise_query, query_key
from services.catalog.places import GRADE_NUMBERS, MAX_RADIUS_KM, NETWORK_IDS
from services.catalog.querying import words_of
from shared.contracts.catalog import GradeLevel, LanguageCode, ResourceCategory, SearchWords
from shared.contracts.text import STORABLE

if TYPE_CHECKING:
    from services.catalog.api import CatalogContext

DEFAULT_RADIUS_KM = 5.0
NetworkName = Annotated[str, StringConstraints(max_length=40), STORABLE]
"""A network as a query names it ('network-4', 'charter'); checked against the district's by ``checked_network``."""


@dataclass
class Found:
    """A page of results, and its JSON bodies once written (kept with the page in the cache, so a popular search is
    neither searched nor serialised again)."""

    page: ResourcePage
    bodies: dict[str, bytes] = field(default_factory=dict)

    def body(self, form: str, render: Callable[[ResourcePage], bytes]) -> bytes:
        if form not in self.bodies:
            self.bodies[form] = render(self.page)
        return self.bodies[form]


class SearchCache:
    """Pages already found, by the search's key, fresh for ``ttl`` seconds: the directory changes seldom and parents
    ask the same few things, so a popular search is answered without the database. Past ``ttl`` the first request
    searches again while the others still get the page it replaces (no burst of searches when many expire at once).
    A change through this replica (a PUT or an upsert from Kafka) empties it at once; another replica's change shows
    here within ``ttl``. Searches with 'open now' are kept by the minute they were asked in. ``ttl`` 0: no cache.
    """

    def __init__(self, *, ttl: float, max_entries: int = 2048, now: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._now = now  # seconds that only go forward; tests pass their own
        self._max = max_entries
        self._pages: dict[tuple[object, ...], tuple[float, Found]] = {}
        self._refreshing: set[tuple[object, ...]] = set()

    def get(self, key: tuple[object, ...]) -> Found | None:
        """The page to answer with, or None when this request is the one to search (and then ``put``)."""
        if self._ttl <= 0:
            return None
        found = self._pages.get(key)
        if found is None:
            return None
        if found[0] >= self._now() or key in self._refreshing:
            return found[1]
        self._refreshing.add(key)
        return None

    def put(self, key: tuple[object, ...], found: Found) -> None:
        self._refreshing.discard(key)
        if self._ttl <= 0:
            return
        if len(self._pages) >= self._max:
            self._pages.clear()
        self._pages[key] = (self._now() + self._ttl, found)

    def forget(self, key: tuple[object, ...]) -> None:
        """The search for ``key`` failed: the next request tries again."""
        self._refreshing.discard(key)

    def clear(self) -> None:
        self._pages.clear()
        self._refreshing.clear()


def refuse(field: str, reason: str) -> RequestValidationError:
    """A 422 naming the query parameter (the platform's field-naming answer), never the value."""
    return RequestValidationError([{"loc": ("query", field), "msg": reason, "type": "value_error"}])


@dataclass
class SearchParameters:
    """What a search may ask besides paging."""

    q: str | None = None
    category: ResourceCategory | None = None
    language: str | None = None
    network: str | None = None
    grade: GradeLevel | None = None
    open_now: bool = False
    lat: float | None = None
    lon: float | None = None
    school_id: str | None = None
    radius_km: float | None = None


async def search_parameters(
    q: Annotated[
        SearchWords | None,
        Query(
            description="Words to look for, in English or Spanish ('IEP workshop', 'educación especial'); "
            '"quoted words" are a phrase; none lists every service'
        ),
    ] = None,
    category: Annotated[ResourceCategory | None, Query(description="Only services under this category")] = None,
    language: Annotated[LanguageCode | None, Query(description="Only services offered in this language")] = None,
    network: Annotated[
        NetworkName | None, Query(description="Only services of this network ('network-4', 'charter')")
    ] = None,
    grade: Annotated[GradeLevel | None, Query(description="Only services for this grade (PE, PK, K, 1-12)")] = None,
    open_now: Annotated[bool, Query(description="Only services open now (their hours, America/Chicago)")] = False,
    lat: Annotated[float | None, Query(ge=-90, le=90, description="Latitude to measure distance from")] = None,
    lon: Annotated[float | None, Query(ge=-180, le=180, description="Longitude to measure distance from")] = None,
    school_id: Annotated[
        str | None, Query(pattern=r"^\d{6}$", description="Measure distance from this school (six digits)")
    ] = None,
    radius_km: Annotated[
        float | None,
        Query(gt=0, le=MAX_RADIUS_KM, description="Only within this distance (km) of the point; default 5"),
    ] = None,
) -> SearchParameters:
    """The search's query string parameters (an async dependency: no worker thread per request)."""
    return SearchParameters(q, category, language, network, grade, open_now, lat, lon, school_id, radius_km)


def checked_network(network: str | None) -> str | None:
    if network is None:
        return None
    if network.lower() not in NETWORK_IDS:
        raise refuse("network", "is not a network of the district ('network-1' to 'network-17', 'charter', ...)")
    return network.lower()


async def point_of(
    ctx: CatalogContext, lat: float | None, lon: float | None, school_id: str | None, radius_km: float | None
) -> Near | None:
    """The point to measure from (given, or a school's), with the radius; 422 for half a point or an unknown school."""
    if (lat is None) != (lon is None):
        raise refuse("lat" if lat is None else "lon", "give lat and lon together")
    if school_id is not None and lat is not None:
        raise refuse("school_id", "give a school or a point (lat, lon), not both")
    radius = radius_km if radius_km is not None else DEFAULT_RADIUS_KM
    if lat is not None and lon is not None:
        return Near(lat, lon, radius)
    if school_id is not None:
        async with ctx.reader() as uow:
            point = await handlers.point_of_school(uow, school_id)
        if point is None:
            raise refuse("school_id", "names no school of the district's list")
        return Near(point[0], point[1], radius)
    if radius_km is not None:
        raise refuse("radius_km", "needs a point: lat and lon, or school_id")
    return None


async def search(ctx: CatalogContext, params: SearchParameters, q: str | None, *, limit: int, offset: int) -> Found:
    text = normalise_query(q)
    if text is not None and not words_of(text):
        raise refuse("q", "has no word to search for")
    query = ResourceQuery(
        q=text,
        category=params.category,
        language=params.language,
        limit=limit,
        offset=offset,
        network=checked_network(params.network),
        grade=GRADE_NUMBERS[params.grade] if params.grade else None,
        open_at=ctx.clock.now() if params.open_now else None,
        near=await point_of(ctx, params.lat, params.lon, params.school_id, params.radius_km),
    )
    key = query_key(replace(query, open_at=query.open_at.replace(second=0, microsecond=0) if query.open_at else None))
    cached = ctx.search_cache.get(key)
    if cached is not None:
        return cached
    try:
        async with ctx.reader() as uow:
            found = Found(await handlers.find_resources(uow, query, ctx.synonyms))
    except BaseException:
        ctx.search_cache.forget(key)
        raise
    ctx.search_cache.put(key, found)
    return found
