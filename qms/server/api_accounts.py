"""People over HTTP: sessions and users (tag "accounts"; devices: `api_devices`).

Every route is declared with `@api` (routes.py): the table feeds routing, the
access guard, the OpenAPI document and the authorisation-matrix test.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from qms.accounts import AccountRejected, User, UserRole
from qms.accounts.commands import parse
from qms.accounts.model import SITE_RE
from qms.accounts.passwords import MAX_LENGTH, MIN_LENGTH
from qms.accounts.sessions import COOKIE_NAME, DEVICE_COOKIE, DEVICE_LIFETIME_S, LIFETIME_S
from qms.eventsourcing.schema import MAX_LIST, MAX_STR
from qms.server.addresses import client_address
from qms.server.auth import Accounts, principal_of_user
from qms.server.errors import ApiError, read_json
from qms.server.principal import EVERYONE, STAFF, Principal, Role
from qms.server.routes import PREFIX, ApiRoute, api, query

ADMIN = frozenset({Role.ADMIN})
ADMIN_OR_SUPERVISOR = frozenset({Role.ADMIN, Role.SUPERVISOR})

# --- JSON schemas (request bodies and answers) ---------------------------------------------

_ID = {"type": "string", "maxLength": 64}
_SITE = {"type": "string", "pattern": f"^{SITE_RE.pattern}$"}  # a hall's id
_PASSWORD = {"type": "string", "minLength": MIN_LENGTH, "maxLength": MAX_LENGTH}
_SITES = {"type": "array", "items": _ID, "maxItems": MAX_LIST}
# Sites as a request names them: checked against the role (an admin's are ignored).
_ANY_SITES = {
    "type": "array",
    "items": {"type": "string", "maxLength": MAX_STR},
    "maxItems": MAX_LIST,
}
_ROLE = {"type": "string", "enum": [r.value for r in UserRole]}


def _object(required: list[str], **props: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "required": required,
        "properties": props,
        "additionalProperties": False,
    }


SIGN_IN = _object(["username", "password"], username={"type": "string"}, password=_PASSWORD)
PASSWORD_CHANGE = _object(
    ["old_password", "new_password"], old_password={"type": "string"}, new_password=_PASSWORD
)
NEW_USER = _object(
    ["username", "role", "password"],
    username={
        "type": "string",
        "maxLength": MAX_STR,
        # Not a pattern: the server trims and lower-cases it first ("Siti" is siti).
        "description": "once trimmed and lower-cased: 1-64 of a-z 0-9 . _ -, "
        "starting with a letter or digit",
    },
    role=_ROLE,
    sites={
        **_ANY_SITES,
        "description": "required for supervisor, officer and viewer; ignored for admin",
    },
    password=_PASSWORD,
    agencies={
        **_ANY_SITES,
        "description": "a viewer's agencies (it then sees only theirs); empty: every agency",
    },
)
USER_UPDATE = _object(
    [],
    role={
        "type": ["string", "null"],
        "enum": [*(r.value for r in UserRole), None],
        "description": "null: unchanged",
    },
    sites={**_ANY_SITES, "type": ["array", "null"], "description": "null: unchanged"},
    active={"type": ["boolean", "null"], "description": "null: unchanged"},
    agencies={**_ANY_SITES, "type": ["array", "null"], "description": "null: unchanged"},
)
PASSWORD_RESET = _object(["password"], password=_PASSWORD)
WHOAMI = _object(
    ["role", "name", "sites"],
    role={"type": "string", "enum": [r.value for r in Role]},
    name={"type": "string", "description": "username, device id, or empty"},
    sites={"type": ["array", "null"], "items": _ID, "description": "null: every site"},
    zone={"type": ["string", "null"]},
    agencies={"type": "array", "items": _ID, "description": "a viewer's (absent: every agency)"},
)
USER = _object(
    ["username", "role", "sites", "active"],
    username=_ID,
    role=_ROLE,
    sites=_SITES,
    agencies=_SITES,
    active={"type": "boolean"},
    created_at={"type": "number"},
    changed_at={"type": "number"},
)
SITE_FILTER = (query("site"),)  # any text: a site that matches nothing lists nothing


# --- request bodies -------------------------------------------------------------------------


@dataclass(frozen=True)
class UserUpdate:
    role: UserRole | None = None
    sites: list[str] | None = None
    active: bool | None = None
    agencies: list[str] | None = None


@dataclass(frozen=True)
class NewUser:
    username: str
    role: UserRole
    sites: list[str] = field(default_factory=list)
    agencies: list[str] = field(default_factory=list)


def _secret(body: dict[str, Any], name: str) -> str:
    """Take a password field out of the body (passwords may be longer than other strings)."""
    value = body.pop(name, None)
    if not isinstance(value, str):
        problem = "required" if value is None else "expected a string"
        raise AccountRejected("invalid_command", f"{name}: {problem}", field=name, problem=problem)
    return value


def _nothing_left(body: dict[str, Any]) -> None:
    """Refuse a body with a field left over once the known ones were taken out."""
    if body:
        raise AccountRejected("invalid_command", f"{sorted(body)[0]}: unknown field")


def _username(value: str) -> str:
    return value.strip().lower()


def _accounts(request: Request) -> Accounts:
    accounts: Accounts = request.app.state.auth
    return accounts


def whoami(who: Principal) -> dict[str, Any]:
    out: dict[str, Any] = {
        "role": who.role.value,
        "name": who.name,
        "sites": None if who.sites is None else sorted(who.sites),
        "zone": who.zone,
    }
    if who.agencies is not None:  # a viewer limited to agencies
        out["agencies"] = sorted(who.agencies)
    return out


def _json(body: dict[str, Any], status_code: int = 200) -> JSONResponse:
    """Answers about people and devices (tokens, once) are never cached."""
    return JSONResponse(body, status_code=status_code, headers={"Cache-Control": "no-store"})


def _with_cookie(request: Request, body: dict[str, Any], value: str, username: str) -> Response:
    """The answer with the session cookie, and the device cookie renewed for `username`."""
    response = _json(body)
    secure = request.url.scheme in ("https", "wss")
    response.set_cookie(
        COOKIE_NAME,
        value,
        max_age=LIFETIME_S,
        path="/",
        httponly=True,
        samesite="strict",
        secure=secure,
    )
    device = _accounts(request).device_cookie(request.cookies.get(DEVICE_COOKIE), username)
    response.set_cookie(
        DEVICE_COOKIE,
        device,
        max_age=DEVICE_LIFETIME_S,
        path=f"{PREFIX}/session",  # sent only to sign-in and password change
        httponly=True,
        samesite="strict",
        secure=secure,
    )
    return response


def _may_see(who: Principal, user: User) -> bool:
    """Admins see everyone; a supervisor the supervisors and officers of their sites."""
    if who.sites is None:
        return True
    return user.role is not UserRole.ADMIN and not who.sites.isdisjoint(user.sites)


# --- sessions -------------------------------------------------------------------------------


@api(
    "POST",
    "/session",
    allow=EVERYONE,
    tag="accounts",
    summary="Sign in: sets the qms_session cookie",
    body=SIGN_IN,
    response=WHOAMI,
    responses={
        401: "bad_credentials",
        403: "account_disabled, or bad_origin (a foreign Origin header)",
        429: "too_many_requests (see Retry-After)",
    },
)
async def sign_in(request: Request, who: Principal) -> Response:
    # Anonymous requests skip the guard's Origin check; a signed-in one from a
    # foreign page must not swap the browser's session (login CSRF).
    origin = request.headers.get("origin")
    if origin is not None and origin not in request.app.state.config.origins:
        raise ApiError(403, "bad_origin", "cross-site request refused", origin=origin)
    body = await read_json(request)
    password = _secret(body, "password")
    username = body.pop("username", None)
    _nothing_left(body)
    if not isinstance(username, str):
        raise AccountRejected("invalid_command", "username: expected a string", field="username")
    accounts = _accounts(request)
    user, cookie = await accounts.sign_in(
        _username(username), password, client_address(request), request.cookies.get(DEVICE_COOKIE)
    )
    return _with_cookie(request, whoami(principal_of_user(user)), cookie, user.username)


@api(
    "GET",
    "/session",
    allow=EVERYONE,
    tag="accounts",
    summary="Who am I: role, name, sites (anonymous when not signed in)",
    response=WHOAMI,
)
async def get_session(request: Request, who: Principal) -> Response:
    return _json(whoami(who))


@api(
    "DELETE",
    "/session",
    allow=EVERYONE,
    tag="accounts",
    summary="Sign out: ends the session on the server (every copy of its cookie) and clears it",
    response=WHOAMI,
)
async def sign_out(request: Request, who: Principal) -> Response:
    await _accounts(request).sign_out(request.cookies.get(COOKIE_NAME))
    response = _json(whoami(Principal(Role.ANONYMOUS)))
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="strict")
    return response


@api(
    "POST",
    "/session/password",
    allow=STAFF,
    tag="accounts",
    summary="Change my password (ends my other sessions; renews this one)",
    body=PASSWORD_CHANGE,
    response=WHOAMI,
    responses={401: "bad_credentials (the old password is wrong)", 429: "too_many_requests"},
)
async def change_password(request: Request, who: Principal) -> Response:
    body = await read_json(request)
    old, new = _secret(body, "old_password"), _secret(body, "new_password")
    _nothing_left(body)
    accounts = _accounts(request)
    user, cookie = await accounts.change_own_password(
        who.name, old, new, client_address(request), request.cookies.get(DEVICE_COOKIE)
    )
    return _with_cookie(request, whoami(principal_of_user(user)), cookie, user.username)


# --- users ----------------------------------------------------------------------------------


@api(
    "GET",
    "/users",
    allow=ADMIN_OR_SUPERVISOR,
    tag="accounts",
    summary="List users (a supervisor: the supervisors and officers of their sites)",
    parameters=SITE_FILTER,
    response={"type": "object", "properties": {"users": {"type": "array", "items": USER}}},
)
async def list_users(request: Request, who: Principal) -> Response:
    site = request.query_params.get("site")
    users = [
        u.public()
        for u in _accounts(request).store.users()
        if _may_see(who, u) and (site is None or u.role is UserRole.ADMIN or site in u.sites)
    ]
    return _json({"users": users})


@api(
    "POST",
    "/users",
    allow=ADMIN,
    tag="accounts",
    summary="Create a user",
    body=NEW_USER,
    response=USER,
    responses={201: "created", 409: "user_exists", 422: "invalid_username, sites_required, …"},
)
async def add_user(request: Request, who: Principal) -> Response:
    body = await read_json(request)
    password = _secret(body, "password")
    new = parse(NewUser, body)
    user = await _accounts(request).store.add_user(
        _username(new.username), new.role, new.sites, password, by=who.name, agencies=new.agencies
    )
    return _json(user.public(), status_code=201)


@api(
    "PUT",
    "/users/{username}",
    allow=ADMIN,
    tag="accounts",
    summary="Change a user's role, sites or active flag (deactivating ends their sessions)",
    body=USER_UPDATE,
    response=USER,
    responses={404: "unknown_user", 409: "last_admin"},
)
async def change_user(request: Request, who: Principal) -> Response:
    update = parse(UserUpdate, await read_json(request))
    user = await _accounts(request).store.change_user(
        request.path_params["username"],
        role=update.role,
        sites=update.sites,
        active=update.active,
        by=who.name,
        agencies=update.agencies,
    )
    return _json(user.public())


@api(
    "POST",
    "/users/{username}/password",
    allow=ADMIN,
    tag="accounts",
    summary="Reset a user's password (ends their sessions)",
    body=PASSWORD_RESET,
    response=USER,
    responses={404: "unknown_user"},
)
async def reset_password(request: Request, who: Principal) -> Response:
    body = await read_json(request)
    password = _secret(body, "password")
    _nothing_left(body)
    store = _accounts(request).store
    user = await store.set_password(request.path_params["username"], password, by=who.name)
    return _json(user.public())


ROUTES: tuple[ApiRoute, ...] = (
    sign_in,
    get_session,
    sign_out,
    change_password,
    list_users,
    add_user,
    change_user,
    reset_password,
)
