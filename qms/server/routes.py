"""Declaring a route: one `ApiRoute` per HTTP route feeds routing, access checks,
the OpenAPI document and the authorisation-matrix test.

    @api("POST", "/sites/{site}/counters/{counter}/call-next", allow=STAFF,
         summary="Call the next ticket")
    async def call_next(request: Request, who: Principal) -> Response: ...

`api` turns the function into its `ApiRoute` and registers nothing: each module
lists its routes in a `ROUTES` tuple, and `qms.server.api` composes them.

Every route is under /api/v1. The wrapper authenticates (401 when a role is
required and nobody is signed in, 403 when the role is not allowed), checks
the site scope when the path has {site}, and defends cookie sessions against
CSRF on unsafe methods (the Origin must be one of the allowed origins).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Route, Router
from starlette.types import Receive, Scope, Send

from qms.server.errors import ApiError
from qms.server.principal import Principal, Role

PREFIX = "/api/v1"
Endpoint = Callable[[Request, Principal], Awaitable[Response]]
Handler = Callable[[Request], Awaitable[Response]]
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class ApiRoute:
    method: str
    path: str  # below PREFIX, with {params}
    endpoint: Endpoint
    allow: frozenset[Role]
    summary: str
    tag: str = "hall"
    body: dict[str, Any] | None = None  # JSON schema of the request body
    responses: dict[int, str] = field(default_factory=dict)  # status -> description
    # OpenAPI parameter objects besides the {path} ones (query strings, headers)
    parameters: tuple[dict[str, Any], ...] = ()
    response: dict[str, Any] | None = None  # JSON schema of the success body
    media: tuple[str, ...] = ("application/json",)  # media types of the success body

    @property
    def full_path(self) -> str:
        return PREFIX + self.path


def api(
    method: str,
    path: str,
    *,
    allow: frozenset[Role],
    summary: str,
    tag: str = "hall",
    body: dict[str, Any] | None = None,
    responses: dict[int, str] | None = None,
    parameters: tuple[dict[str, Any], ...] = (),
    response: dict[str, Any] | None = None,
    media: tuple[str, ...] = ("application/json",),
) -> Callable[[Endpoint], ApiRoute]:
    def declare(fn: Endpoint) -> ApiRoute:
        return ApiRoute(
            method,
            path,
            fn,
            allow,
            summary,
            tag,
            body,
            responses or {},
            parameters,
            response,
            media,
        )

    return declare


def query(
    name: str, description: str = "", schema: dict[str, Any] | None = None, **more: Any
) -> dict[str, Any]:
    """The OpenAPI object of an optional query parameter (a string unless `schema` says)."""
    param: dict[str, Any] = {"name": name, "in": "query", "required": False}
    if description:
        param["description"] = description
    return {**param, "schema": schema or {"type": "string"}, **more}


def _guard(spec: ApiRoute) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        who: Principal = await request.app.state.auth.principal(request)
        if who.role not in spec.allow:
            if who.role is Role.ANONYMOUS:
                raise ApiError(401, "not_authenticated", "sign in first")
            raise ApiError(403, "forbidden", f"a {who.role.value} may not do this")
        site = request.path_params.get("site")
        if site is not None and site.startswith("_"):  # reserved logs, e.g. _accounts
            raise ApiError(404, "not_found", f"no site {site}")
        if site is not None and not who.may_use_site(site):
            raise ApiError(403, "forbidden", f"not allowed at site {site}")
        if who.via_cookie and request.method in UNSAFE:
            origin = request.headers.get("origin")
            if origin not in request.app.state.config.origins:
                raise ApiError(403, "bad_origin", "cross-site request refused", origin=origin)
        return await spec.endpoint(request, who)

    return endpoint


def starlette_routes(table: Sequence[ApiRoute]) -> list[Route]:
    """Group the table by path (one Starlette route per path, dispatching on method)."""
    by_path: dict[str, dict[str, ApiRoute]] = {}
    for spec in table:
        by_path.setdefault(spec.full_path, {})[spec.method] = spec
    routes = []
    for path, methods in by_path.items():
        handlers = {m: _guard(s) for m, s in methods.items()}

        async def dispatch(request: Request, handlers: dict[str, Handler] = handlers) -> Response:
            # Starlette answers HEAD on GET routes; it gets the GET handler's headers.
            method = "GET" if request.method == "HEAD" else request.method
            handler = handlers.get(method)
            if handler is None:
                raise ApiError(405, "method_not_allowed", f"{request.method} is not allowed here")
            return await handler(request)

        routes.append(Route(path, dispatch, methods=list(methods)))
    return routes


class RememberingRouter(Router):
    """Starlette's router, which remembers which route a request's method and path
    matched: Starlette tries its routes one by one (an officer's call-next was the
    19th, each a regular expression), this one then tries that route first.

    A route's match depends only on the scope's type, method and path (no `Host`
    routes here), so the route that matched a (method, path) fully once, all
    routes before it not, matches it fully again; any other request (a 404, a
    405, a websocket) goes Starlette's way. At most `REMEMBERED` paths are kept
    (the concrete paths of a hall: its sites, counters, tickets), then forgotten
    all at once."""

    REMEMBERED = 4096

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._known: dict[tuple[str, str, str], BaseRoute] = {}

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            # What a route matches on, without Starlette's private path helper.
            key = (scope["method"], scope.get("root_path", ""), scope["path"])
            route = self._known.get(key)
            if route is None:
                route = self._learn(scope, key)
            if route is not None:
                match, child_scope = route.matches(scope)
                if match is Match.FULL:
                    if "router" not in scope:
                        scope["router"] = self
                    scope["route"] = route
                    scope.update(child_scope)
                    await route.handle(scope, receive, send)
                    return
        await super().app(scope, receive, send)

    def _learn(self, scope: Scope, key: tuple[str, str, str]) -> BaseRoute | None:
        for route in self.routes:
            match, _ = route.matches(scope)
            if match is Match.FULL:
                if len(self._known) >= self.REMEMBERED:
                    self._known.clear()
                self._known[key] = route
                return route
        return None
