"""Access control for the services' HTTP routes (FastAPI).

``shared.http.authorize`` runs on every route of every service and calls :func:`admit`: it reads the credentials
(``Authorization: Bearer <token>`` or ``X-API-Key``) into ``request.state.principal`` and decides by what the route
declares:

- a route declared public (``dependencies=[PUBLIC]`` on the route or its router) admits anyone; a credential sent
  to it is read if it can be, never refused;
- a route that declares a requirement (a parameter or dependency ``Depends(require_staff)``, ``require_actor``,
  ``require_scope(...)``, ``require_role(...)``, or the ``Staff``/``Actor`` annotations) gets what it asks for;
- any other route needs a signed-in staff member.

No credential, or one that cannot be trusted: 401 with ``WWW-Authenticate: Bearer``. A caller without the role or
scope: 403. Another network's inquiry is no 403 but the 404 of an unknown one (:func:`visible_or_404`), so ids leak
nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Literal, Protocol

from fastapi import Depends, HTTPException, Request, Security
from fastapi.dependencies.models import Dependant
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from shared.auth.principal import Principal, Role, Scope
from shared.auth.settings import AuthSettings
from shared.auth.tokens import Credentials, InvalidCredentials

API_KEY_HEADER = "X-API-Key"
NOT_FOUND = "no such inquiry"
_SIGN_IN = "sign in: send Authorization: Bearer <token> (POST /v1/auth/token) or X-API-Key"

_bearer = HTTPBearer(
    auto_error=False,
    bearerFormat="JWT",
    description="A staff member's token from intake's POST /v1/auth/token (or the district's OpenID Connect provider)",
)
_api_key = APIKeyHeader(
    name=API_KEY_HEADER, auto_error=False, description="A district system's API key (scopes inquiries:submit, :read)"
)


@dataclass(frozen=True)
class StaffRecord:
    """A staff member as a service's copy of routing's directory has them."""

    staff_id: str
    role: str
    network_id: str
    active: bool


class StaffDirectory(Protocol):
    """What a service that follows the staff directory offers (``app.state.staff_directory``): a token of a staff
    member it knows as inactive is refused at once rather than when it expires, and a token that names no role or
    network takes the directory's. A staff member it has not heard of is taken at the token's word (the signature
    is checked: the platform's key or the district's provider)."""

    async def staff_member(self, staff_id: str) -> StaffRecord | None: ...


def install(app_state: object, settings: AuthSettings) -> None:
    """Give an app the credential checker of these settings (``create_http_app`` does this for every service)."""
    app_state.credentials = Credentials(settings)  # type: ignore[attr-defined]


def unauthorized(reason: str) -> HTTPException:
    return HTTPException(401, reason, headers={"WWW-Authenticate": "Bearer"})


def forbidden(reason: str) -> HTTPException:
    return HTTPException(403, reason)


def principal_of(request: Request) -> Principal | None:
    """Who made the request (None: nobody signed in), as ``authorize`` found."""
    principal = getattr(request.state, "principal", None)
    return principal if isinstance(principal, Principal) else None


def visible_or_404(principal: Principal, network_id: str | None) -> None:
    """An inquiry of a network this caller may not see answers like an unknown one."""
    if not principal.sees_network(network_id):
        raise HTTPException(404, NOT_FOUND)


class Requirement:
    """A route's access requirement, as a FastAPI dependency returning the caller. The OpenAPI document shows the
    route's security schemes (bearer and API key) from it."""

    def __init__(self, name: str, refusal: Callable[[Principal], str | None]) -> None:
        self.name = name
        self._refusal = refusal

    async def __call__(
        self,
        request: Request,
        _bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
        _key: Annotated[str | None, Security(_api_key)],
    ) -> Principal:
        principal = principal_of(request)
        if principal is None:  # authorize has refused already; here only if it was not run
            raise unauthorized(_SIGN_IN)
        refused = self._refusal(principal)
        if refused:
            raise forbidden(refused)
        return principal

    def __repr__(self) -> str:
        return f"Requirement({self.name})"


def _staff_only(principal: Principal) -> str | None:
    return None if principal.is_staff else "staff only: sign in as a staff member"


def _actor_only(principal: Principal) -> str | None:
    return _staff_only(principal) or (None if principal.may_act else "your role reads only")


require_staff = Requirement("staff", _staff_only)
require_actor = Requirement("staff who may act", _actor_only)


def require_scope(scope: Scope) -> Requirement:
    """An API key with ``scope``, or staff it allows (staff read; staff who may act also submit)."""
    return Requirement(f"scope {scope}", lambda p: None if p.allows(scope) else f"needs the {scope} scope")


def require_role(*roles: Role) -> Requirement:
    """Staff of one of ``roles``."""
    names = ", ".join(roles)
    return Requirement(f"roles {names}", lambda p: None if p.has_role(*roles) else f"only for {names}")


require_central_staff = require_role(Role.CENTRAL_STAFF)

Staff = Annotated[Principal, Depends(require_staff)]
"""A route parameter ``_: Staff``: any signed-in staff member (auditors too)."""
Actor = Annotated[Principal, Depends(require_actor)]
"""``_: Actor``: staff who may act (not auditors)."""
CentralStaff = Annotated[Principal, Depends(require_central_staff)]
"""``_: CentralStaff``: the district's Parent Support Center staff (directory, calendar and staff changes)."""


def public() -> None:
    """Marks a route (``dependencies=[PUBLIC]``) or a router as open to anyone."""


PUBLIC = Depends(public)
Public = Annotated[None, PUBLIC]
"""A route parameter ``_: Public``: the same as ``dependencies=[PUBLIC]``."""

_Need = Literal["public", "declared", "staff"]
# What a route that declares nothing needs: a signed-in staff member (a route is public only when it says so).
UNDECLARED: _Need = "staff"
_NEED_ATTRIBUTE = "psc_access_need"


def _calls(dependant: Dependant) -> list[object]:
    calls: list[object] = []
    for dependency in dependant.dependencies:
        calls.append(dependency.call)
        calls.extend(_calls(dependency))
    return calls


def _need(dependant: Dependant) -> _Need:
    calls = _calls(dependant)
    if any(call is public for call in calls):
        return "public"
    if any(isinstance(call, Requirement) for call in calls):
        return "declared"
    return UNDECLARED


def need_of(route: object) -> _Need:
    """What a route asks of its callers: public, its declared requirement, or (by default) signed-in staff."""
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return UNDECLARED
    need: _Need | None = getattr(route, _NEED_ATTRIBUTE, None)
    if need is None:
        need = _need(dependant)
        setattr(route, _NEED_ATTRIBUTE, need)  # worked out once per route, on its first request
    return need


async def admit(request: Request) -> None:
    """Read the request's credentials and admit or refuse it by what its route declares (see the module's doc)."""
    need = need_of(request.scope.get("route"))
    try:
        principal = await identify(request)
    except InvalidCredentials as exc:
        if need != "public":
            raise unauthorized(str(exc)) from None
        principal = None
    request.state.principal = principal
    request.state.caller = principal.id if principal else "anonymous"
    if need == "public":
        return
    if principal is None:
        raise unauthorized(_SIGN_IN)
    if need == "staff" and not principal.is_staff:
        raise forbidden("staff only: sign in as a staff member")


async def identify(request: Request) -> Principal | None:
    """The principal the request's credentials name; None without credentials; ``InvalidCredentials`` if untrusted."""
    credentials: Credentials | None = getattr(request.app.state, "credentials", None)
    if credentials is None:
        raise RuntimeError("access control is not installed on this app (shared.auth.access.install)")
    key = request.headers.get(API_KEY_HEADER)
    if key:
        return credentials.api_key(key)
    authorization = request.headers.get("Authorization")
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidCredentials("send the token as Authorization: Bearer <token>")
    claimed = await credentials.bearer(token.strip())
    directory: StaffDirectory | None = getattr(request.app.state, "staff_directory", None)
    record = await directory.staff_member(claimed.staff_id) if directory is not None else None
    if record is not None and not record.active:
        raise InvalidCredentials("this account is not active")
    role = claimed.role or (record.role if record else None)
    network_id = claimed.network_id or (record.network_id if record else None)
    if role is None or network_id is None:
        raise InvalidCredentials("the token names no role or network, and no staff directory here knows them")
    try:
        return Principal.staff(claimed.staff_id, role=role, network_id=network_id)
    except ValueError:
        raise InvalidCredentials("the token's role is not one of the platform's") from None
