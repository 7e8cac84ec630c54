"""Open311 GeoReport v2 on intake, so 311 clients work unchanged: the categories as services, a service request
submitted as an inquiry, and its status. JSON or XML by the path's ending (``.json``, ``.xml``); every refusal in the
spec's error format (``[{"code": 400, "description": "attribute[school_id]: ..."}]``, or ``<errors>``).

An API key is the spec's ``api_key`` (the form's field, or the query's on a GET; ``X-API-Key`` works too): submitting
needs the ``inquiries:submit`` scope; reading a request needs ``inquiries:read``, or the key that submitted it.
Reference numbers run in sequence, so an unknown, foreign or hidden request is one 404.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Form, HTTPException, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, StringConstraints
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.intake import georeport, handlers, parents
from services.intake.api import Context
from services.intake.domain import NewSubmission
from services.intake.georeport import Format, RequestCreated, ServiceRequest, ServiceRequestForm
from services.intake.unit_of_work import IntakeUnitOfWork
from shared.auth import PUBLIC, InvalidCredentials, Principal, Scope, principal_of
from shared.contracts.envelope import field_errors_of
from shared.contracts.text import STORABLE
from shared.http import correlation_id_of

_REQUEST_PARTS = frozenset({"body", "query", "path"})
SUBMITTER_PREFIX = "open311:"
NOT_FOUND = "service_request_id: no such service request"
BAD_KEY = "api_key: not a key that may {what}"


# --- the one place an Open311 caller's key is checked ---------------------------------------------------------------


def caller(request: Request, api_key: str | None) -> Principal | None:
    """Who the ``api_key`` names (else whoever the request's own credentials named: ``X-API-Key`` or a staff token);
    None for a key that is not one of the platform's."""
    if not api_key:
        return principal_of(request)
    try:
        principal: Principal = request.app.state.credentials.api_key(api_key)
    except InvalidCredentials:
        return None
    return principal


def submitter_of(principal: Principal) -> str:
    """``submitted_by`` of an inquiry a key submitted: it may read that inquiry back without the read scope."""
    return f"{SUBMITTER_PREFIX}{principal.id}"


# --- use cases --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Found:
    request: ServiceRequest


async def find_request(uow: IntakeUnitOfWork, *, reference: str, reader: Principal) -> Found | None:
    """The service request ``reference`` names, if ``reader`` may see it (None: unknown, or not theirs)."""
    key = parents.reference_key(reference)
    inquiry = await uow.inquiries.get(reference=key)
    record = await uow.status_pages.parent_record(reference=key)
    if inquiry is None or record is None:
        return None
    network = inquiry.assignment.network_id if inquiry.assignment else None
    may_read = reader.allows(Scope.READ) and reader.sees_network(network)
    if not (may_read or inquiry.submission.submitted_by == submitter_of(reader)):
        return None
    notes = await uow.inquiries.visible_notes(inquiry_id=inquiry.id)
    return Found(
        georeport.service_request(
            record=parents.with_notes(record, notes),
            category=inquiry.submission.category.value,
            requested=inquiry.created_at,
            updated=inquiry.updated_at,
        )
    )


# --- HTTP -------------------------------------------------------------------------------------------------------------


def _format_of(request: Request) -> Format:
    return "xml" if request.path_params.get("format") == "xml" else "json"


def answer(fmt: Format, kind: str, content: BaseModel | Sequence[BaseModel], *, status: int = 200) -> Response:
    if fmt == "xml":
        return Response(georeport.to_xml(kind, content), status_code=status, media_type=georeport.XML_TYPE)
    return Response(georeport.to_json(content), status_code=status, media_type=georeport.JSON_TYPE)


def refusal(fmt: Format, code: int, reasons: Sequence[str], headers: dict[str, str] | None = None) -> Response:
    refused = answer(fmt, "errors", georeport.errors(code, reasons), status=code)
    refused.headers.update(headers or {})
    return refused


class Open311Route(APIRoute):
    """A route that refuses in the spec's error format and the path's format: a field that breaks a rule is a 400
    naming it (the spec's 'bad request'), never echoing its value; other refusals keep their status."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def spec_errors(request: Request) -> Response:
            try:
                return await handle(request)
            except RequestValidationError as exc:
                found = field_errors_of(exc.errors(), where=_REQUEST_PARTS, whole="(body)")
                return refusal(_format_of(request), 400, [f"{e.field}: {e.reason}" for e in found])
            except georeport.Refused as exc:
                return refusal(_format_of(request), 400, [f"{e.field}: {e.reason}" for e in exc.errors])
            except StarletteHTTPException as exc:
                return refusal(_format_of(request), exc.status_code, [str(exc.detail)], dict(exc.headers or {}))

        return spec_errors


router = APIRouter(prefix="/open311/v2", tags=["open311"], route_class=Open311Route, dependencies=[PUBLIC])

FormatPath = Annotated[Format, Path(description="json or xml: the answer's format, as the spec's paths end")]
ApiKey = Annotated[
    Annotated[str, StringConstraints(max_length=200), STORABLE] | None,
    Query(description="A district system's API key (inquiries:read, or the submitter's)"),
]


def _documented(model: Any, description: str, *, refusals: Sequence[int] = ()) -> dict[int | str, dict[str, Any]]:
    """The 200 in JSON (its schema) and XML, and the spec's error body for each refusal (400 on every route: a
    parameter that breaks a rule)."""
    xml = {"text/xml": {"schema": {"type": "string", "description": "The same in the spec's XML"}}}
    responses: dict[int | str, dict[str, Any]] = {200: {"model": model, "description": description, "content": xml}}
    for code in sorted({400, *refusals}):
        responses[code] = {"model": list[georeport.Open311Error], "description": "The spec's errors", "content": xml}
    return responses


@router.get(
    "/services.{format}",
    response_class=Response,
    responses=_documented(list[georeport.Service], "The categories, as the spec's services"),
    summary="Open311: the services (the categories of parents' concerns)",
)
async def list_services(format: FormatPath) -> Response:
    return answer(format, "services", georeport.services())


@router.get(
    "/services/{service_code}.{format}",
    response_class=Response,
    responses=_documented(georeport.ServiceDefinition, "The attributes a request takes", refusals=(404,)),
    summary="Open311: a service's definition (the school, the grade and the optional attributes)",
)
async def define_service(
    service_code: Annotated[str, Path(max_length=100, pattern=r"^[a-z_]+$", description="A service_code")],
    format: FormatPath,
) -> Response:
    definition = georeport.service_definition(service_code)
    if definition is None:
        raise HTTPException(404, "service_code: no such service")
    return answer(format, "service_definition", definition)


@router.post(
    "/requests.{format}",
    response_class=Response,
    responses=_documented(list[RequestCreated], "Recorded: the request's id at once", refusals=(403,)),
    summary="Open311: submit a service request (a parent's inquiry; form-encoded, with api_key)",
)
async def submit_request(
    form: Annotated[ServiceRequestForm, Form()],
    format: FormatPath,
    ctx: Context,
    request: Request,
) -> Response:
    principal = caller(request, form.api_key)
    if principal is None or not principal.allows(Scope.SUBMIT):
        raise HTTPException(403, BAD_KEY.format(what="submit inquiries (inquiries:submit)"))
    submission = georeport.submission_of(form, submitted_by=submitter_of(principal))
    new = NewSubmission(
        submission=submission, source="http", correlation_id=correlation_id_of(request), idempotency_key=None
    )
    async with ctx.unit_of_work() as uow:
        (outcome,) = await handlers.record_submissions(
            uow, [new], now=ctx.clock.now(), reference_prefix=ctx.reference_prefix
        )
    assert isinstance(outcome, handlers.Created)  # no idempotency key: always new
    return answer(format, "requests", [georeport.created(outcome.inquiry.reference)])


@router.get(
    "/requests/{service_request_id}.{format}",
    response_class=Response,
    responses=_documented(list[ServiceRequest], "The request's status", refusals=(403, 404)),
    summary="Open311: a service request's status (open or closed), notes, office and expected date",
)
async def get_request(
    service_request_id: Annotated[str, Path(max_length=100, pattern=r"^[A-Za-z0-9-]+$", description="A reference")],
    format: FormatPath,
    ctx: Context,
    request: Request,
    api_key: ApiKey = None,
) -> Response:
    principal = caller(request, api_key)
    if principal is None:
        raise HTTPException(403, BAD_KEY.format(what="read service requests"))
    async with ctx.unit_of_work() as uow:
        found = await find_request(uow, reference=service_request_id, reader=principal)
    if found is None:
        raise HTTPException(404, NOT_FOUND)
    return answer(format, "requests", [found.request])


def install(app: FastAPI) -> None:
    app.include_router(router)
