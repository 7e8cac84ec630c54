"""The console's and the status page's routes. Declared public to ``shared.http.authorize`` (a browser sends a cookie,
not a bearer header): every console route checks the session itself (``session.principal_of_session``, which is
``shared.auth``'s own verification) and every POST its CSRF token.

Personal data never goes in a URL: searches by school or parent name are POSTed and answered in place; the status
page takes the phone digits by POST only (a reference and the link's token are not personal data)."""

from __future__ import annotations

import csv
import io
import re
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any, get_args
from zoneinfo import ZoneInfo

import jinja2
from fastapi import APIRouter, FastAPI, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from services.intake import access, handlers, parents, status
from services.intake.access_repository import PostgresAccessUnitOfWork
from services.intake.api import Caller, IntakeContext
from services.intake.console import i18n, session, stats
from services.intake.console.backends import Backends, backends
from services.intake.domain import QueueFilter
from services.intake.lifecycle import OPEN_STATUSES
from services.intake.settings import IntakeSettings
from shared.auth import PUBLIC, Credentials, Principal, Role
from shared.contracts.inquiries import Grade, InquiryCategory, Language
from shared.http import context_of

HERE = Path(__file__).parent
ZONE = ZoneInfo("America/Chicago")
NONE = "\u2013"  # an en dash: nothing to show
MINUS = "\u2212"
ACTIONS = {
    "acknowledge": ("Acknowledge", None),
    "notes": ("Add note", "text"),
    "request-info": ("Ask the parent", "question"),
    "parent-replies": ("Record the parent's reply", "reply"),
    "resolve": ("Resolve", "summary"),
    "reopen": ("Reopen", "reason"),
    "reassign": ("Reassign", "staff_id"),
}
"""Staff actions: intake's action route -> (button, the body's one field)."""

STALE_FORM = "The form's security token is missing or out of date. Reload the page and try again."
CsrfField = Annotated[str, Form(max_length=200)]

templates = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True)


def _duration(seconds: float | None) -> str:
    """Business seconds as hours and minutes ('-' for none; negative: overdue)."""
    if seconds is None:
        return NONE
    sign = MINUS if seconds < 0 else ""
    minutes = int(abs(seconds)) // 60
    return f"{sign}{minutes // 60}h {minutes % 60:02d}m"


def _local(moment: str | datetime | None) -> str:
    if moment is None:
        return NONE
    at = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    return at.astimezone(ZONE).strftime("%Y-%m-%d %H:%M")


templates.filters["duration"] = _duration
templates.filters["local"] = _local
templates.filters["label"] = lambda value: str(value or "").replace("_", " ")

router = APIRouter(dependencies=[PUBLIC], include_in_schema=False)


def _settings(request: Request) -> IntakeSettings:
    found: IntakeSettings = request.app.state.console_settings
    return found


def _ctx(request: Request) -> IntakeContext:
    return context_of(request, IntakeContext)


def _page(name: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    response = HTMLResponse(templates.get_template(name).render(**values), status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; form-action 'self';"
        " frame-ancestors 'none'"
    )
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _refused(reason: str) -> HTMLResponse:
    return _page("refused.html", 403, reason=reason, lang="en")


class Session:
    """The signed-in staff member of a console request, with the values every page shows."""

    def __init__(self, request: Request, principal: Principal, token: str) -> None:
        self.request = request
        self.principal = principal
        self.token = token
        self.caller = Caller(principal)
        self.csrf = session.csrf_token(request, token)
        self.settings = _settings(request)

    @property
    def central(self) -> bool:
        return self.principal.district_wide

    @property
    def dashboard(self) -> bool:
        return self.principal.has_role(Role.PSA, Role.CENTRAL_STAFF, Role.AUDITOR)

    def page(self, name: str, status_code: int = 200, **values: Any) -> HTMLResponse:
        return _page(name, status_code, me=self, csrf=self.csrf, lang="en", **values)

    def backends(self) -> Any:
        return backends(self.request.app, self.settings, self.token)


async def _signed_in(request: Request) -> Session | None:
    principal = await session.principal_of_session(request)
    token = session.session_token(request)
    if principal is None or token is None or not principal.is_staff:
        return None
    return Session(request, principal, token)


def _to_sign_in() -> RedirectResponse:
    return RedirectResponse("/console/sign-in", status_code=303)


async def _posted(request: Request, me: Session, csrf_token: str) -> dict[str, str] | None:
    """The form's fields if its CSRF token is this session's (None: refuse)."""
    form = await request.form()
    if not session.csrf_matches(request, csrf_token, bound_to=me.token):
        return None
    return {k: v for k, v in form.items() if isinstance(v, str)}


StaffPage = Callable[[Request, Session], Awaitable[Response]]
StaffForm = Callable[[Request, Session, dict[str, str]], Awaitable[Response]]


def _staff_get(path: str) -> Callable[[StaffPage], StaffPage]:
    """A console page: for a signed-in staff member (else to the sign-in page)."""

    def register(handler: StaffPage) -> StaffPage:
        async def endpoint(request: Request) -> Response:
            me = await _signed_in(request)
            return _to_sign_in() if me is None else await handler(request, me)

        endpoint.__name__ = endpoint.__qualname__ = handler.__name__
        router.get(path, response_class=HTMLResponse)(endpoint)
        return handler

    return register


def _staff_post(path: str) -> Callable[[StaffForm], StaffForm]:
    """A console form: for a signed-in staff member, with this session's CSRF token (else 403)."""

    def register(handler: StaffForm) -> StaffForm:
        async def endpoint(request: Request, csrf_token: CsrfField = "") -> Response:
            me = await _signed_in(request)
            if me is None:
                return _to_sign_in()
            form = await _posted(request, me, csrf_token)
            return _refused(STALE_FORM) if form is None else await handler(request, me, form)

        endpoint.__name__ = endpoint.__qualname__ = handler.__name__
        router.post(path, response_class=HTMLResponse)(endpoint)
        return handler

    return register


# --- Signing in and out ------------------------------------------------------------------------------------------


@router.get("/console/", response_class=HTMLResponse)
@router.get("/console", response_class=HTMLResponse)
async def console_home(request: Request) -> Response:
    me = await _signed_in(request)
    return RedirectResponse("/console/queue" if me else "/console/sign-in", status_code=303)


def _anonymous_page(request: Request, name: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    """A page with forms for someone not signed in: their CSRF token is bound to the pre-session cookie."""
    scratch = Response()
    bound = session.pre_session(request, scratch, secure=_settings(request).console_secure_cookies)
    page = _page(name, status_code, csrf=session.csrf_token(request, bound), **values)
    for value in scratch.headers.getlist("set-cookie"):
        page.headers.append("set-cookie", value)
    return page


def _parent_page(request: Request, name: str, lang: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    """A page of the parent's in ``lang``: its strings, its direction and the language switcher."""
    strings = i18n.strings(lang)
    return _anonymous_page(
        request, name, status_code, lang=lang, dir=i18n.direction(lang), t=strings, languages=i18n.LANGUAGES, **values
    )


def _sign_in_page(request: Request, *, error: str | None = None, status_code: int = 200) -> HTMLResponse:
    return _anonymous_page(request, "sign_in.html", status_code, error=error, lang="en")


@router.get("/console/sign-in", response_class=HTMLResponse)
async def sign_in_form(request: Request) -> Response:
    return _sign_in_page(request)


@router.post("/console/sign-in", response_class=HTMLResponse)
async def sign_in(request: Request, csrf_token: CsrfField = "") -> Response:
    form = await request.form()
    if not session.csrf_matches(request, csrf_token, bound_to=request.cookies.get(session.PRE_SESSION_COOKIE)):
        return _refused(STALE_FORM)
    username, password = form.get("username"), form.get("password")
    if not isinstance(username, str) or not isinstance(password, str) or not username or not password:
        return _sign_in_page(request, error="Enter your username and password.", status_code=422)
    if len(username) > 200 or len(password) > 1000:
        return _sign_in_page(request, error="The username or password is too long.", status_code=422)
    credentials: Credentials = request.app.state.credentials
    if not credentials.settings.signing_key.get_secret_value():
        return _sign_in_page(request, error="Sign-in is not configured on this server.", status_code=503)
    ctx = _ctx(request)
    client = request.client.host if request.client else "unknown"
    async with ctx.runtime.unit_of_work(PostgresAccessUnitOfWork) as uow:
        outcome = await access.sign_in(
            uow,
            username=username,
            password=password,
            client=client,
            settings=credentials.settings,
            now=datetime.now(UTC),
        )
    if isinstance(outcome, access.SignInLimited):
        return _sign_in_page(request, error="Too many failed sign-ins: try again in a few minutes.", status_code=429)
    if isinstance(outcome, access.SignInRefused):
        return _sign_in_page(request, error="Wrong username or password.", status_code=401)
    response = RedirectResponse("/console/queue", status_code=303)
    session.start_session(
        response, outcome.token, expires_in=outcome.expires_in, secure=_settings(request).console_secure_cookies
    )
    return response


@router.post("/console/sign-out", response_class=HTMLResponse)
async def sign_out(request: Request, csrf_token: CsrfField = "") -> Response:
    me = await _signed_in(request)
    if me is not None and await _posted(request, me, csrf_token) is None:
        return _refused(STALE_FORM)
    response = _to_sign_in()
    session.end_session(response, secure=_settings(request).console_secure_cookies)
    return response


# --- The queue ---------------------------------------------------------------------------------------------------

QUEUE_PER_STATUS = 200
"""The console lists this many inquiries of each open status, the most urgent (earliest due) first."""


async def _queue_rows(
    me: Session,
    api: Backends,
    *,
    network: str | None,
    status_filter: str | None,
    category: str | None,
    search: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """The open inquiries the caller sees, most urgent first (least business time left on routing's clocks)."""
    network_ids = me.caller.network_ids
    if network and (network_ids is None or network in network_ids):
        network_ids = frozenset({network})
    reference = (search or {}).get("reference", "").strip().upper() or None
    open_ones = []
    async with _ctx(me.request).unit_of_work() as uow:
        for wanted in [status_filter] if status_filter else OPEN_STATUSES:  # the 200 most urgent of each status
            where = QueueFilter(
                status=wanted, network_ids=network_ids, category=category, reference=reference, most_urgent_first=True
            )
            open_ones.extend(await handlers.queue(uow, where, limit=QUEUE_PER_STATUS))
    schools = {s["id"]: s["name"] for s in await api.schools()}
    if search:
        school_words = search.get("school", "").strip().lower()
        parent_words = search.get("parent", "").strip().lower()
        open_ones = [
            i
            for i in open_ones
            if (
                not school_words
                or school_words in str(schools.get(i.submission.student.school_id, "")).lower()
                or school_words == str(i.submission.student.school_id)
            )
            and (not parent_words or parent_words in i.submission.parent.name.lower())
        ]
    networks = sorted({i.assignment.network_id for i in open_ones if i.assignment})
    left: dict[str, int | None] = {}
    for network_id in networks:
        for item in await api.network_queue(network_id):
            left[str(item["inquiry_id"])] = item.get("left_seconds")
    rows = []
    for inquiry in open_ones:
        a = inquiry.assignment
        rows.append(
            {
                "reference": inquiry.reference,
                "status": inquiry.status,
                "category": inquiry.submission.category.value,
                "urgency": inquiry.submission.urgency,
                "school": schools.get(inquiry.submission.student.school_id, str(inquiry.submission.student.school_id)),
                "network": a.network_name if a else "Not routed yet",
                "tier": a.tier if a else NONE,
                "assignee": (a.assignee_id if a else None) or NONE,
                "left": left.get(str(inquiry.id)),
                "due_at": a.due_at if a else None,
                "created_at": inquiry.created_at,
            }
        )
    far = 10**12
    rows.sort(key=lambda r: (r["left"] if r["left"] is not None else far, r["created_at"]))
    return rows


def _filters(request: Request) -> dict[str, str | None]:
    q = request.query_params
    statuses = set(OPEN_STATUSES)
    categories = {c.value for c in InquiryCategory}
    network = q.get("network") or None
    return {
        "network": network if network and len(network) <= 64 else None,
        "status": q.get("status") if q.get("status") in statuses else None,
        "category": q.get("category") if q.get("category") in categories else None,
    }


async def _queue_page(request: Request, me: Session, search: dict[str, str] | None) -> HTMLResponse:
    f = _filters(request)
    created = request.query_params.get("created")
    async with me.backends() as api:
        rows = await _queue_rows(
            me, api, network=f["network"], status_filter=f["status"], category=f["category"], search=search
        )
        networks = await api.networks() if me.central else []
    return me.page(
        "queue.html",
        rows=rows,
        filters=f,
        search=search or {},
        networks=networks,
        categories=[c.value for c in InquiryCategory],
        statuses=OPEN_STATUSES,
        poll_seconds=me.settings.console_poll_seconds,
        rows_url="/console/queue/rows?" + "&".join(f"{k}={v}" for k, v in f.items() if v),
        created=created if created and re.fullmatch(r"[A-Z]{2,6}-\d{2}-\d{6}", created) else None,
    )


@_staff_get("/console/queue")
async def queue_page(request: Request, me: Session) -> Response:
    return await _queue_page(request, me, None)


@_staff_post("/console/queue")
async def queue_search(request: Request, me: Session, form: dict[str, str]) -> Response:
    """Search by reference, school or parent name: POSTed, so no name goes in a URL or a server's access log."""
    search = {k: form.get(k, "")[:200] for k in ("reference", "school", "parent")}
    return await _queue_page(request, me, search)


@router.get("/console/queue/rows", response_class=HTMLResponse)
async def queue_rows(request: Request) -> Response:
    """The queue's rows alone: what the page's script fetches to show new arrivals without a reload."""
    me = await _signed_in(request)
    if me is None:
        return HTMLResponse("", status_code=401)
    f = _filters(request)
    async with me.backends() as api:
        rows = await _queue_rows(me, api, network=f["network"], status_filter=f["status"], category=f["category"])
    return me.page("queue_rows.html", rows=rows)


# --- An inquiry --------------------------------------------------------------------------------------------------


async def _inquiry_page(
    me: Session, reference: str, *, error: str | None = None, done: str | None = None, status_code: int = 200
) -> HTMLResponse:
    async with me.backends() as api:
        found = await api.inquiry(reference)
        if found.status_code == 404:
            return me.page("not_found.html", 404, reference=reference)
        if not found.ok:
            return me.page("not_found.html", found.status_code, reference=reference)
        inquiry = found.body
        history = await api.history(reference)
        routing = await api.routing_state(inquiry["id"])
        deliveries = await api.deliveries(inquiry["id"])
        resources = await api.resources_for(inquiry["category"], inquiry["parent"].get("preferred_language"))
        school = directory_name = None
        for s in await api.schools():
            if s["id"] == inquiry["student"]["school_id"]:
                directory_name = s["name"]
        school = directory_name or str(inquiry["student"]["school_id"])
        network_id = (inquiry.get("assignment") or {}).get("network_id")
        staff = await api.staff(network_id) if network_id else []
    items = history.body if history.ok and isinstance(history.body, list) else []
    notes = [item for item in items if item.get("note")]
    return me.page(
        "inquiry.html",
        status_code,
        inquiry=inquiry,
        school=school,
        history=items,
        notes=notes,
        routing=routing.body if routing.ok else None,
        deliveries=deliveries,
        resources=resources,
        staff=[s for s in staff if s.get("role") != "auditor" and s.get("active")],
        duplicates=[link for link in inquiry.get("links", []) if "duplicate" in link["relation"]],
        links=inquiry.get("links", []),
        actions=ACTIONS,
        error=error,
        done=done,
        may_act=me.principal.may_act,
    )


@_staff_get("/console/inquiries/new")
async def new_inquiry_form(request: Request, me: Session) -> Response:
    return await _new_page(me, {}, None)


async def _new_page(me: Session, values: dict[str, str], error: str | None, status_code: int = 200) -> HTMLResponse:
    async with me.backends() as api:
        schools = await api.schools()
    return me.page(
        "new.html",
        status_code,
        schools=schools,
        values=values,
        error=error,
        categories=[c.value for c in InquiryCategory],
        languages=[(lang.value, lang.name.title()) for lang in Language],
        grades=list(get_args(Grade)),
        idempotency_key=values.get("idempotency_key") or secrets.token_urlsafe(16),
    )


def _school_id(text: str, schools: list[dict[str, Any]]) -> int | None:
    """The school id from the picker: '609794', '609794 · Edison ...' or a school's exact name."""
    head = text.strip().split(" ", 1)[0]
    if head.isdigit() and len(head) == 6:
        return int(head)
    for school in schools:
        if str(school["name"]).lower() == text.strip().lower():
            return int(school["id"])
    return None


@_staff_post("/console/inquiries/new")
async def new_inquiry(request: Request, me: Session, form: dict[str, str]) -> Response:
    async with me.backends() as api:
        school_id = _school_id(form.get("school", ""), await api.schools())
        if school_id is None:
            return await _new_page(me, form, "school: pick a school from the directory (its name or six-digit id)", 422)
        body = {
            "parent": {
                "name": form.get("parent_name", ""),
                "email": form.get("parent_email") or None,
                "mobile_phone": form.get("parent_phone") or None,
                "preferred_language": form.get("language") or "en",
                "sms_consent": form.get("sms_consent") == "on",
            },
            "student": {"school_id": school_id, "grade": form.get("grade", "")},
            "category": form.get("category", ""),
            "description": form.get("description", ""),
            "channel": form.get("channel") if form.get("channel") in ("phone", "walk_in") else "phone",
            "submitted_by": me.principal.id,
            "urgency": "urgent" if form.get("urgency") == "urgent" else "normal",
        }
        answer = await api.submit(body, form.get("idempotency_key") or secrets.token_urlsafe(16))
    if not answer.ok:
        return await _new_page(me, form, answer.detail(), 422 if answer.status_code == 422 else answer.status_code)
    # Until routing has assigned it, network staff do not see it: the queue shows it as it arrives.
    return RedirectResponse(f"/console/queue?created={answer.body['reference']}", status_code=303)


@_staff_get("/console/inquiries/{reference}")
async def inquiry_page(request: Request, me: Session) -> Response:
    reference = str(request.path_params["reference"])
    done = request.query_params.get("done")
    return await _inquiry_page(me, reference[:100], done=done if done in ACTIONS else None)


@_staff_post("/console/inquiries/{reference}/{action}")
async def inquiry_action(request: Request, me: Session, form: dict[str, str]) -> Response:
    reference, action = str(request.path_params["reference"]), str(request.path_params["action"])
    if action not in ACTIONS:
        return me.page("not_found.html", 404, reference=reference)
    field = ACTIONS[action][1]
    body: dict[str, Any] = {} if field is None else {field: form.get(field, "")}
    if action == "notes":
        body["visible_to_parent"] = form.get("visible_to_parent") == "on"
    async with me.backends() as api:
        answer = await api.act(reference[:100], action, body)
    if not answer.ok:
        return await _inquiry_page(me, reference[:100], error=answer.detail(), status_code=answer.status_code)
    target = answer.body["reference"] if isinstance(answer.body, dict) else reference
    return RedirectResponse(f"/console/inquiries/{target}?done={action}", status_code=303)


# --- The dashboard -----------------------------------------------------------------------------------------------


def _period(request: Request, today: date) -> tuple[date, date]:
    q = request.query_params
    try:
        since = date.fromisoformat(q.get("from", "")) if q.get("from") else today - timedelta(days=90)
        until = date.fromisoformat(q.get("to", "")) if q.get("to") else today
    except ValueError:
        since, until = today - timedelta(days=90), today
    if until < since:
        since, until = until, since
    return max(since, until - timedelta(days=730)), until


async def _dashboard_data(me: Session, request: Request) -> dict[str, Any]:
    ctx = _ctx(request)
    now = ctx.clock.now().astimezone(ZONE)
    today = now.date()
    end_of_today = datetime.combine(today + timedelta(days=1), time(0), ZONE)
    since, until = _period(request, today)
    dimension = request.query_params.get("by", "network")
    dimension = dimension if dimension in stats.DIMENSIONS else "network"
    network_ids = None if me.caller.network_ids is None else sorted(me.caller.network_ids)
    load = await stats.network_load(ctx.runtime.pool, end_of_today=end_of_today, network_ids=network_ids)
    async with me.backends() as api:
        try:
            hours = await api.business_intervals(since, until)
            calendar_error = None
        except LookupError as exc:
            hours, calendar_error = [], str(exc)
        names = {str(s["id"]): str(s["name"]) for s in await api.schools()} if dimension == "school" else {}
    if dimension == "language":
        names = {language.value: language.name.title() for language in Language}
    rows = await stats.equity(
        ctx.runtime.pool,
        dimension=dimension,
        open_hours=hours,
        since=datetime.combine(since, time(0), ZONE),
        until=datetime.combine(until + timedelta(days=1), time(0), ZONE),
        network_ids=network_ids,
    )
    district = rows[0] if rows and rows[0].key == "District" else None
    groups = [r for r in rows if r is not district]
    return {
        "load": load,
        "totals": {
            "open": sum(x.open for x in load),
            "due_today": sum(x.due_today for x in load),
            "escalated": sum(x.escalated for x in load),
            "breached": sum(x.breached for x in load),
        },
        "chart_max": max([x.open for x in load] or [1]) or 1,
        "district": district,
        "groups": groups,
        "names": names,
        "dimension": dimension,
        "dimensions": list(stats.DIMENSIONS),
        "since": since.isoformat(),
        "until": until.isoformat(),
        "calendar_error": calendar_error,
    }


@_staff_get("/console/dashboard")
async def dashboard(request: Request, me: Session) -> Response:
    if not me.dashboard:
        return _refused("The dashboard is for PSAs and central staff.")
    data = await _dashboard_data(me, request)
    return me.page("dashboard.html", **data, query=request.url.query)


@_staff_get("/console/dashboard.csv")
async def dashboard_csv(request: Request, me: Session) -> Response:
    if not me.dashboard:
        return _refused("The dashboard is for PSAs and central staff.")
    data = await _dashboard_data(me, request)
    out = io.StringIO()
    writer = csv.writer(out)
    hours: Callable[[float | None], str] = lambda s: "" if s is None else f"{s / 3600:.2f}"  # noqa: E731
    writer.writerow(
        [
            "dimension",
            "group",
            "cases",
            "ack_median_business_hours",
            "ack_p90_business_hours",
            "resolve_median_business_hours",
            "resolve_p90_business_hours",
            "resolved_within_sla_share",
            "resolve_median_gap_vs_district_hours",
        ]
    )
    district = data["district"]
    for row in [district, *data["groups"]] if district else data["groups"]:
        gap = (
            row.resolve_median - district.resolve_median
            if district and row.resolve_median is not None and district.resolve_median is not None
            else None
        )
        writer.writerow(
            [
                row.dimension,
                data["names"].get(row.key, row.key),
                row.cases,
                hours(row.ack_median),
                hours(row.ack_p90),
                hours(row.resolve_median),
                hours(row.resolve_p90),
                "" if row.within_sla is None else f"{row.within_sla:.3f}",
                hours(gap),
            ]
        )
    filename = f"equity-{data['dimension']}-{data['since']}-{data['until']}.csv"
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )


# --- The parent's status page ------------------------------------------------------------------------------------


async def _parent_language(request: Request, reference: str) -> str | None:
    """The language the parent chose with the inquiry (read once the factor has proven it is theirs)."""
    async with _ctx(request).unit_of_work() as uow:
        found = await handlers.find_inquiry(uow, reference)
    return found.submission.parent.preferred_language.value if found else None


def _status_form(
    request: Request,
    lang: str,
    *,
    error: str | None = None,
    reference: str = "",
    status_code: int = 200,
    chosen: bool = False,
) -> HTMLResponse:
    """The form; ``chosen``: the parent picked ``lang`` (else the inquiry's language is shown once it is proven)."""
    return _parent_page(request, "status_form.html", lang, status_code, error=error, reference=reference, chosen=chosen)


async def _show_status(
    request: Request, *, reference: str, factor: parents.Factor, requested_lang: str | None
) -> HTMLResponse:
    lang = i18n.language_of(requested_lang)
    reference = reference.strip()
    if not reference or len(reference) > 100 or not all(c.isalnum() or c == "-" for c in reference):
        return _status_form(
            request, lang, error=i18n.strings(lang)["invalid"], status_code=422, chosen=bool(requested_lang)
        )
    limits: parents.Limits = request.app.state.status_limits
    ctx = _ctx(request)
    async with ctx.unit_of_work() as uow:
        outcome = await status.show_status(
            uow,
            reference=reference,
            factor=factor,
            client=parents.client_key(request.client.host if request.client else None),
            now=ctx.clock.now(),
            limits=limits,
        )
    if isinstance(outcome, status.Limited):
        page = _status_form(
            request,
            lang,
            error=i18n.strings(lang)["too_many"],
            reference=reference,
            status_code=429,
            chosen=bool(requested_lang),
        )
        page.headers["Retry-After"] = str(outcome.retry_after)
        return page
    if not isinstance(outcome, status.Shown):
        return _status_form(
            request,
            lang,
            error=i18n.strings(lang)["not_found"],
            reference=reference,
            status_code=404,
            chosen=bool(requested_lang),
        )
    lang = i18n.language_of(requested_lang, await _parent_language(request, reference))
    return _parent_page(request, "status_page.html", lang, shown=outcome.page, factor=factor)


@router.get("/status", response_class=HTMLResponse)
@router.get("/status/", response_class=HTMLResponse)
@router.get("/status/{reference}", response_class=HTMLResponse)
async def status_form(request: Request) -> Response:
    """The form; with a reference and ``token`` (notify's link in the acknowledgment, ``/status/{reference}?token=``),
    the inquiry at once."""
    q = request.query_params
    reference = request.path_params.get("reference") or q.get("reference")
    token, lang = q.get("token"), q.get("lang")
    if reference and token and 20 <= len(token) <= 100:
        return await _show_status(request, reference=reference, factor=parents.Factor(token=token), requested_lang=lang)
    return _status_form(request, i18n.language_of(lang), reference=(reference or "")[:100], chosen=bool(lang))


@router.post("/status/", response_class=HTMLResponse)
async def status_lookup(request: Request, csrf_token: CsrfField = "") -> Response:
    form = await request.form()
    chosen_lang = form.get("lang")
    lang = chosen_lang if isinstance(chosen_lang, str) else None
    if not session.csrf_matches(request, csrf_token, bound_to=request.cookies.get(session.PRE_SESSION_COOKIE)):
        chosen = i18n.language_of(lang)
        return _status_form(request, chosen, error=i18n.strings(chosen)["stale"], status_code=403, chosen=bool(lang))
    reference, digits, token = (form.get(k) for k in ("reference", "phone_last4", "token"))
    if isinstance(token, str) and token and 20 <= len(token) <= 100:
        factor = parents.Factor(token=token)
    elif isinstance(digits, str) and len(digits.strip()) == 4 and digits.strip().isdigit():
        factor = parents.Factor(phone_last4=digits.strip())
    else:
        chosen = i18n.language_of(str(lang) if lang else None)
        return _status_form(request, chosen, error=i18n.strings(chosen)["invalid"], status_code=422)
    return await _show_status(
        request, reference=reference if isinstance(reference, str) else "", factor=factor, requested_lang=lang
    )


def install(app: FastAPI, settings: IntakeSettings) -> None:
    """Serve the console, the status page and their static files on intake's app."""
    app.state.console_settings = settings
    app.include_router(router)
    app.mount("/console/static", StaticFiles(directory=HERE / "static"), name="console-static")
