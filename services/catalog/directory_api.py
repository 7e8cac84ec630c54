"""The catalog's HSDS-shaped API (Open Referral HSDS 3.x: services, organizations, locations, taxonomy terms, with
its page/per_page paging), the events listing and each program's iCalendar feed, and referrals of inquiries to
departments. Reads are public; referring and answering need staff who may act.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any
from uuid import UUID
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.catalog import datapackage, handlers
from services.catalog.api import Context, ServiceIdPath
from services.catalog.calendar_feed import ics_of
from services.catalog.domain import VOCABULARY, InvalidSeed, LocationFilters, SeedCatalog
from services.catalog.hsds import hsds_location, hsds_organization, hsds_service, page_of
from services.catalog.places import GRADE_NUMBERS
from services.catalog.searching import (
    NetworkName,
    SearchParameters,
    checked_network,
    point_of,
    refuse,
    search,
    search_parameters,
)
from shared.auth import PUBLIC, Actor, Staff
from shared.contracts.catalog import (
    GradeLevel,
    LanguageCode,
    ReferInquiry,
    ReferralReply,
    ReferralView,
    ResourceCategory,
    ResourceId,
    SearchWords,
)
from shared.contracts.envelope import FieldError
from shared.contracts.text import STORABLE, IsoDate
from shared.http import Problem, ValidationProblem, correlation_id_of

router = APIRouter(prefix="/v1")
CHICAGO = ZoneInfo("America/Chicago")
MAX_EVENT_DAYS = 366

Page = Annotated[int, Query(ge=1, le=10_000, description="Page number, from 1 (HSDS)")]
PerPage = Annotated[int, Query(ge=1, le=100, description="Items per page (HSDS)")]


class HsdsPage(BaseModel):
    """An HSDS API page."""

    total_items: int
    total_pages: int
    page_number: int
    size: int
    first_page: bool
    last_page: bool
    empty: bool
    contents: list[dict[str, Any]]


# --- HSDS: services -----------------------------------------------------------------------------------------------


@router.get(
    "/services",
    response_model=HsdsPage,
    responses={422: {"model": ValidationProblem}},
    tags=["hsds"],
    summary="Search services (HSDS): full text in English and Spanish, filters, distance; best match first",
    dependencies=[PUBLIC],
)
async def list_services(
    ctx: Context,
    filters: Annotated[SearchParameters, Depends(search_parameters)],
    search_text: Annotated[
        SearchWords | None, Query(alias="search", description="HSDS's name for q (either one)")
    ] = None,
    taxonomy_term_id: Annotated[
        Annotated[str, StringConstraints(max_length=100), STORABLE] | None,
        Query(description="Only services under this term ('psc-category:attendance')"),
    ] = None,
    page: Page = 1,
    per_page: PerPage = 20,
) -> HsdsPage:
    if taxonomy_term_id is not None:
        code = taxonomy_term_id.removeprefix(f"{VOCABULARY}:")
        if code not in {category.value for category in ResourceCategory}:
            raise refuse("taxonomy_term_id", "names no taxonomy term of the directory")
        filters.category = ResourceCategory(code)
    found = await search(ctx, filters, filters.q or search_text, limit=per_page, offset=(page - 1) * per_page)
    results = found.page
    return HsdsPage(**page_of([hsds_service(view) for view in results.results], results.total, page, per_page))


@router.get(
    "/services/{service_id}",
    responses={404: {"model": Problem}},
    tags=["hsds"],
    summary="Read one service (HSDS) with its organization, locations, phones, contacts, schedules and languages",
    dependencies=[PUBLIC],
)
async def get_service(service_id: ServiceIdPath, ctx: Context) -> dict[str, Any]:
    async with ctx.reader() as uow:
        found = await handlers.find_resource(uow, service_id)
    if found is None:
        raise HTTPException(404, "no such service")
    return hsds_service(found)


# --- HSDS: organizations, locations, taxonomy -----------------------------------------------------------------------


@router.get("/organizations", response_model=HsdsPage, tags=["hsds"], dependencies=[PUBLIC])
async def list_organizations(ctx: Context, page: Page = 1, per_page: PerPage = 20) -> HsdsPage:
    """The offices and departments (HSDS organizations), with their services' ids."""
    async with ctx.reader() as uow:
        total, rows = await uow.directory.list_organizations(limit=per_page, offset=(page - 1) * per_page)
    return HsdsPage(**page_of([hsds_organization(row) for row in rows], total, page, per_page))


@router.get(
    "/organizations/{organization_id}",
    responses={404: {"model": Problem}},
    tags=["hsds"],
    dependencies=[PUBLIC],
    summary="Read one organization (HSDS)",
)
async def get_organization(
    organization_id: Annotated[ResourceId, Path(description="Directory id of the organization")], ctx: Context
) -> dict[str, Any]:
    async with ctx.reader() as uow:
        row = await uow.directory.get_organization(organization_id=organization_id)
    if row is None:
        raise HTTPException(404, "no such organization")
    return hsds_organization(row)


@router.get(
    "/locations",
    response_model=HsdsPage,
    responses={422: {"model": ValidationProblem}},
    tags=["hsds"],
    dependencies=[PUBLIC],
    summary="Offices and schools (HSDS locations), nearest first when a point or school is given",
)
async def list_locations(
    ctx: Context,
    kind: Annotated[str | None, Query(pattern="^(office|school)$", description="'office' or 'school'")] = None,
    network: Annotated[NetworkName | None, Query(description="Only this network ('network-4')")] = None,
    grade: Annotated[GradeLevel | None, Query(description="Only schools offering this grade")] = None,
    language: Annotated[LanguageCode | None, Query(description="Only schools teaching this language ('es')")] = None,
    bilingual_services: Annotated[bool | None, Query(description="Only schools with bilingual services")] = None,
    organization_id: Annotated[
        Annotated[str, StringConstraints(max_length=100), STORABLE] | None,
        Query(description="Only this organization's"),
    ] = None,
    lat: Annotated[float | None, Query(ge=-90, le=90, description="Latitude to measure from")] = None,
    lon: Annotated[float | None, Query(ge=-180, le=180, description="Longitude to measure from")] = None,
    school_id: Annotated[str | None, Query(pattern=r"^\d{6}$", description="Measure from this school")] = None,
    radius_km: Annotated[float | None, Query(gt=0, le=100, description="Within this distance (km); default 5")] = None,
    page: Page = 1,
    per_page: PerPage = 20,
) -> HsdsPage:
    filters = LocationFilters(
        kind=kind,
        network=checked_network(network),
        grade=GRADE_NUMBERS[grade] if grade else None,
        language=language,
        bilingual_services=bilingual_services,
        organization_id=organization_id,
        near=await point_of(ctx, lat, lon, school_id, radius_km),
    )
    async with ctx.reader() as uow:
        total, rows = await uow.directory.list_locations(filters=filters, limit=per_page, offset=(page - 1) * per_page)
    return HsdsPage(**page_of([hsds_location(row) for row in rows], total, page, per_page))


@router.get(
    "/locations/{location_id}",
    responses={404: {"model": Problem}},
    tags=["hsds"],
    dependencies=[PUBLIC],
    summary="Read one location (HSDS)",
)
async def get_location(
    location_id: Annotated[ResourceId, Path(description="Directory id of the location ('school-609794')")],
    ctx: Context,
) -> dict[str, Any]:
    async with ctx.reader() as uow:
        row = await uow.directory.get_location(location_id=location_id)
    if row is None:
        raise HTTPException(404, "no such location")
    return hsds_location(row)


@router.get("/taxonomy_terms", tags=["hsds"], dependencies=[PUBLIC], summary="The taxonomy terms (HSDS)")
async def list_taxonomy_terms(ctx: Context) -> dict[str, Any]:
    async with ctx.reader() as uow:
        terms = await uow.directory.list_taxonomy_terms()
    return page_of(terms, len(terms), 1, max(len(terms), 1))


# --- Events -------------------------------------------------------------------------------------------------------


class EventOccurrence(BaseModel):
    schedule_id: str = Field(description="The event's schedule")
    service_id: str = Field(description="The program holding it")
    service_name: str = Field(description="The program's name")
    name: str | None = Field(description="The event's title")
    translations: dict[str, Any] = Field(description="Title and text in other languages")
    description: str | None = Field(description="What happens at it")
    language: str | None = Field(description="ISO 639-1 code of the language it is held in")
    start: datetime = Field(description="Start, with the offset of America/Chicago on that day")
    end: datetime = Field(description="End")
    timezone: str = Field(description="The time zone of the schedule")
    rrule: str | None = Field(description="The recurrence rule it comes from, if any")
    location: dict[str, Any] | None = Field(description="Where it takes place")


class EventList(BaseModel):
    total: int
    results: list[EventOccurrence]


@router.get(
    "/events",
    response_model=EventList,
    responses={422: {"model": ValidationProblem}},
    tags=["events"],
    dependencies=[PUBLIC],
    summary="Workshops, conferences and support groups between two days (America/Chicago), soonest first",
)
async def list_events(
    ctx: Context,
    from_day: Annotated[IsoDate | None, Query(alias="from", description="First day (default: today)")] = None,
    to_day: Annotated[IsoDate | None, Query(alias="to", description="Last day, included (default: 30 days on)")] = None,
    language: Annotated[LanguageCode | None, Query(description="Only events held in this language")] = None,
    service_id: Annotated[ResourceId | None, Query(description="Only this program's events")] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="Most occurrences to return")] = 100,
) -> EventList:
    first = from_day or ctx.clock.now().astimezone(CHICAGO).date()
    last = to_day or first + timedelta(days=30)
    if last < first:
        raise refuse("to", "must not be before 'from'")
    if (last - first).days > MAX_EVENT_DAYS:
        raise refuse("to", f"at most {MAX_EVENT_DAYS} days after 'from'")
    async with ctx.reader() as uow:
        found = await handlers.list_events(
            uow, start=_midnight(first), end=_midnight(last + timedelta(days=1)), language=language,
            service_id=service_id,
        )  # fmt: skip
    results = [
        EventOccurrence(
            schedule_id=event.schedule.id,
            service_id=event.service_id,
            service_name=event.service_name,
            name=event.schedule.name,
            translations={code: t.model_dump(exclude_none=True) for code, t in event.schedule.translations.items()},
            description=event.schedule.description,
            language=event.schedule.language,
            start=occurrence.start,
            end=occurrence.end,
            timezone=event.schedule.timezone,
            rrule=event.schedule.rrule,
            location=None if event.location is None else event.location.model_dump(),
        )
        for event, occurrence in found[:limit]
    ]
    return EventList(total=len(found), results=results)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time()).replace(tzinfo=CHICAGO)


@router.get(
    "/programs/{service_id}/events.ics",
    response_class=Response,
    responses={200: {"content": {"text/calendar": {}}}, 404: {"model": Problem}},
    tags=["events"],
    dependencies=[PUBLIC],
    summary="A program's events as an iCalendar feed (RFC 5545: TZID America/Chicago, RRULE recurrence)",
)
async def program_calendar(service_id: ServiceIdPath, ctx: Context) -> Response:
    async with ctx.reader() as uow:
        program = await handlers.find_resource(uow, service_id)
        events = await uow.directory.event_schedules(service_id=service_id, language=None)
    if program is None:
        raise HTTPException(404, "no such program")
    body = ics_of(program.name, events, now=ctx.clock.now().astimezone(UTC))
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": f'inline; filename="{service_id}.ics"'},
    )


# --- Export and import (HSDS data packages) -------------------------------------------------------------------------


@router.get(
    "/export",
    response_model=SeedCatalog,
    tags=["hsds"],
    dependencies=[PUBLIC],
    summary="The directory as a JSON data package (the seed file's shape: importable here or elsewhere)",
)
async def export_json(ctx: Context) -> SeedCatalog:
    async with ctx.reader() as uow:
        return await handlers.export_directory(uow)


@router.get(
    "/export.zip",
    response_class=Response,
    responses={200: {"content": {"application/zip": {}}}},
    tags=["hsds"],
    dependencies=[PUBLIC],
    summary="The directory as HSDS 3.x CSV tables in a zip, with datapackage.json",
)
async def export_csv(ctx: Context) -> Response:
    async with ctx.reader() as uow:
        package = await handlers.export_directory(uow)
    body = datapackage.csv_zip(package, exported_at=ctx.clock.now())
    return Response(
        body,
        media_type="application/zip",
        headers={"Content-Disposition": 'attachment; filename="psc-catalog-hsds.zip"'},
    )


class ImportResult(BaseModel):
    services: int = Field(description="Services in the package")
    changed: int = Field(description="Services added or changed by it (the others were already as the package says)")


@router.post(
    "/import",
    response_model=ImportResult,
    responses={422: {"model": ValidationProblem, "description": "Each bad entry and why; nothing was stored"}},
    tags=["hsds"],
    summary="Load another directory's JSON data package (the export's shape): every service upserted, or none",
)
async def import_json(
    package: SeedCatalog, ctx: Context, request: Request, _staff: Actor
) -> ImportResult | JSONResponse:
    try:
        async with ctx.unit_of_work() as uow:
            imported = await handlers.import_directory(
                uow, package, now=ctx.clock.now(), correlation_id=correlation_id_of(request)
            )
    except InvalidSeed as refused:
        return JSONResponse(status_code=422, content=ValidationProblem(errors=refused.errors).model_dump())
    if imported.changed:
        ctx.search_cache.clear()
    return ImportResult(services=imported.services, changed=imported.changed)


class CsvTables(BaseModel):
    """HSDS CSV tables as text, by file name: what ``GET /v1/export.zip`` holds, or another directory's."""

    model_config = ConfigDict(extra="forbid")

    files: dict[
        Annotated[str, StringConstraints(pattern=r"^[a-z_]{1,40}\.csv$")],
        Annotated[str, StringConstraints(max_length=900_000), STORABLE],
    ] = Field(max_length=20, description="CSV text by file name: organizations.csv, services.csv, locations.csv, ...")


@router.post(
    "/import/csv",
    response_model=ImportResult,
    responses={422: {"model": ValidationProblem, "description": "Each bad row and why; nothing was stored"}},
    tags=["hsds"],
    summary="Load another directory's HSDS CSV tables (their text by file name): every service, or none",
)
async def import_csv(tables: CsvTables, ctx: Context, request: Request, _staff: Actor) -> ImportResult | JSONResponse:
    try:
        package = datapackage.read_csv_tables(tables.files)
    except datapackage.InvalidPackage as refused:
        return JSONResponse(status_code=422, content=ValidationProblem(errors=refused.errors).model_dump())
    return await import_json(package, ctx, request, _staff)


# --- Referrals ----------------------------------------------------------------------------------------------------

InquiryIdPath = Annotated[UUID, Path(description="The inquiry's id")]


@router.post(
    "/inquiries/{inquiry_id}/referrals",
    response_model=ReferralView,
    status_code=201,
    responses={
        200: {"model": ReferralView, "description": "The same request key was sent before: that referral"},
        422: {"model": ValidationProblem},
    },
    tags=["referrals"],
    summary="Refer an inquiry to a department; it answers by its reply deadline, the network keeps the case",
)
async def refer(
    inquiry_id: InquiryIdPath, body: ReferInquiry, ctx: Context, request: Request, staff: Actor
) -> ReferralView | JSONResponse:
    async with ctx.unit_of_work() as uow:
        outcome = await handlers.refer_inquiry(
            uow,
            inquiry_id,
            body,
            staff_id=staff.id,
            network_id=staff.network_id or "central",
            now=ctx.clock.now(),
            reply_business_days=ctx.referral_reply_business_days,
            calendar=ctx.calendar,
            correlation_id=correlation_id_of(request),
        )
    if isinstance(outcome, handlers.NotFound):
        problem = ValidationProblem(
            errors=[FieldError(field="service_id", reason="names no department of the directory")]
        )
        return JSONResponse(status_code=422, content=problem.model_dump())
    if not outcome.created:
        return JSONResponse(status_code=200, content=outcome.referral.model_dump(mode="json"))
    if ctx.referral_clock is not None:
        ctx.referral_clock.wake()  # its next due time may be this one's
    return outcome.referral


@router.get(
    "/inquiries/{inquiry_id}/referrals",
    response_model=list[ReferralView],
    tags=["referrals"],
    summary="The inquiry's referrals, oldest first",
)
async def list_referrals(inquiry_id: InquiryIdPath, ctx: Context, _staff: Staff) -> list[ReferralView]:
    async with ctx.reader() as uow:
        return await uow.referrals.of_inquiry(inquiry_id=inquiry_id)


@router.post(
    "/inquiries/{inquiry_id}/referrals/{referral_id}/reply",
    response_model=ReferralView,
    responses={404: {"model": Problem}, 409: {"model": Problem}, 422: {"model": ValidationProblem}},
    tags=["referrals"],
    summary="The department's answer to a referral",
)
async def reply(
    inquiry_id: InquiryIdPath,
    referral_id: Annotated[UUID, Path(description="The referral's id")],
    body: ReferralReply,
    ctx: Context,
    request: Request,
    staff: Actor,
) -> ReferralView:
    async with ctx.unit_of_work() as uow:
        outcome = await handlers.answer_referral(
            uow,
            inquiry_id,
            referral_id,
            body,
            staff_id=staff.id,
            now=ctx.clock.now(),
            correlation_id=correlation_id_of(request),
        )
    if isinstance(outcome, handlers.NotFound):
        raise HTTPException(404, "no such referral")
    if isinstance(outcome, handlers.AlreadyAnswered):
        raise HTTPException(409, "the referral was answered already")
    return outcome
