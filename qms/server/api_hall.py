"""The hall's queries over HTTP: its set-up, queues, counters and tickets, and the
public status of one ticket. The commands are `qms.server.api_commands`; who may
do what is in docs/api.md (and `qms.counter_console.guard` at a counter).

The public ticket status (`GET /tickets/{ref}`) finds a ticket by its
unguessable token through a per-site index kept per log version; every miss
answers the same 404 and counts against the caller's address (429 past
`TICKET_MISS`), in the server's one throttle (`qms.server.throttle`: shared by
every process on a Redis log).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from qms.core.model import Ticket, TicketState
from qms.engine import SiteEngine
from qms.eventlog import check_site
from qms.server import answers as a
from qms.server import queries as q
from qms.server.addresses import client_address
from qms.server.errors import ApiError
from qms.server.hall import Hall
from qms.server.principal import EVERYONE, READERS, STAFF, Principal, Role
from qms.server.routes import ApiRoute, api, query
from qms.server.throttle import TICKET_MISS, Throttle

RESERVED_PREFIX = "_"  # logs that are not halls, e.g. _accounts (qms.accounts.model)


# --- shared pieces --------------------------------------------------------------------------


def _hall(request: Request) -> Hall:
    hall: Hall = request.app.state.hall
    return hall


def _json(data: dict[str, Any], status: int = 200) -> JSONResponse:
    return JSONResponse(data, status_code=status, headers={"Cache-Control": "no-store"})


def _valid_site(site: str) -> bool:
    """A hall's site id: a valid log name, and not a reserved log (``_accounts``)."""
    try:
        check_site(site)
    except ValueError:
        return False
    return not site.startswith(RESERVED_PREFIX)


async def _site_exists(hall: Hall, site: str) -> bool:
    """Whether the site has a log (without opening an engine for a stranger's name)."""
    return site in hall.sites or await hall.log.version(site) > 0


def unknown_site(site: str) -> ApiError:
    return ApiError(404, "unknown_site", f"no site {site!r}", site=site)


async def set_up_engine(hall: Hall, site: str) -> SiteEngine:
    """The engine of `site`; 404 (`unknown_site`) unless the site was set up."""
    if not _valid_site(site) or not await _site_exists(hall, site):
        raise unknown_site(site)
    engine = await hall.engine(site)
    if engine.state.site is None:
        raise unknown_site(site)
    return engine


async def _set_up_engine(request: Request) -> SiteEngine:
    """The engine of the path's site, for a query; 404 unless the site was set up."""
    return await set_up_engine(_hall(request), request.path_params["site"])


# --- queries --------------------------------------------------------------------------------


@api(
    "GET",
    "/sites/{site}",
    allow=READERS | {Role.VIEWER},  # the reports page names services and agencies
    summary="The site's set-up: site, agencies, services, counters, running texts",
    responses={404: "no such site (`unknown_site`)"},
    response=a.SETUP,
)
async def get_site(request: Request, who: Principal) -> Response:
    engine = await _set_up_engine(request)
    return _json({"version": engine.version, **q.site_setup(engine.state)})


@api(
    "GET",
    "/sites/{site}/queues",
    allow=READERS,
    summary="Each queue: waiting count, oldest wait, estimated wait of a ticket joining it",
    responses={404: "no such site (`unknown_site`)"},
    response=a.QUEUES,
)
async def get_queues(request: Request, who: Principal) -> Response:
    engine = await _set_up_engine(request)
    now = _hall(request).clock()
    means = _hall(request).views(engine).means(engine.state, engine.version)
    return _json(
        {
            "version": engine.version,
            "now": now,
            "queues": q.queues(engine.state, now, means, public=who.role not in STAFF),
        }
    )


@api(
    "GET",
    "/sites/{site}/counters",
    allow=READERS,
    summary="Every counter: state, ticket in hand, services (officers for staff only)",
    responses={404: "no such site (`unknown_site`)"},
    parameters=(query("zone", "only the counters of this zone"),),
    response=a.COUNTERS,
)
async def get_counters(request: Request, who: Principal) -> Response:
    engine = await _set_up_engine(request)
    zone = request.query_params.get("zone")
    views = q.counters(engine.state, staff=who.role in STAFF, zone=zone)
    return _json({"version": engine.version, "now": _hall(request).clock(), "counters": views})


STATE_VALUES = [s.value for s in TicketState]


@api(
    "GET",
    "/sites/{site}/tickets",
    allow=STAFF,
    summary="Today's tickets (staff): number, service, state, times, counter",
    responses={
        404: "no such site (`unknown_site`)",
        422: "an unknown `state` (`invalid_request`)",
    },
    parameters=(
        query(
            "state",
            "only tickets in these states (repeat the parameter for more)",
            {"type": "array", "items": {"type": "string", "enum": STATE_VALUES}},
            style="form",
            explode=True,
        ),
        query("service", "only tickets of this service"),
    ),
    response=a.TICKETS,
)
async def get_tickets(request: Request, who: Principal) -> Response:
    wanted = request.query_params.getlist("state")
    bad = [s for s in wanted if s not in STATE_VALUES]
    if bad:
        raise ApiError(
            422, "invalid_request", f"unknown ticket state {bad[0]!r}", allowed=STATE_VALUES
        )
    engine = await _set_up_engine(request)
    states = [TicketState(s) for s in wanted] if wanted else None
    rows = q.todays_tickets(
        engine.state, states=states, service=request.query_params.get("service")
    )
    return _json({"version": engine.version, "day": q.current_day(engine.state), "tickets": rows})


# --- the public ticket status -----------------------------------------------------------------


def _no_such_ticket() -> ApiError:
    """The one answer for every miss, whatever the reason."""
    return ApiError(404, "unknown_ticket", "no such ticket")


async def _find_ticket(request: Request, ref: str) -> tuple[SiteEngine, Ticket] | None:
    """The ticket of a ref (``<site>.<token>``, or a bare token among the open sites)."""
    hall = _hall(request)
    if len(ref) > 200:
        return None
    site, dot, token = ref.partition(".")
    if dot:
        if not _valid_site(site) or not await _site_exists(hall, site):
            return None
        sites = [site]
    else:
        sites, token = hall.sites, ref
    for name in sites:
        engine = await hall.engine(name)
        ticket = _hall(request).views(engine).find_token(engine.state, engine.version, token)
        if ticket is not None:
            return engine, ticket
    return None


async def visitor_ticket(request: Request) -> tuple[SiteEngine, Ticket]:
    """The engine and ticket of the path's `ref`, the visitor's only credential: every
    miss answers the same 404 and counts against the caller's address (429 past
    `TICKET_MISS`, even for a real ref, until the oldest miss leaves the window)."""
    throttle: Throttle = request.app.state.throttle
    # Counted before the lookup, as sign-in failures are: parallel guesses from one
    # address each see the ones before them. A hit is taken back (a refusal never counts).
    miss = await throttle.count(TICKET_MISS, client_address(request), _hall(request).clock())
    found = await _find_ticket(request, request.path_params["ref"])
    if found is None:
        raise _no_such_ticket()
    await miss.take_back()
    return found


@api(
    "GET",
    "/tickets/{ref}",
    allow=EVERYONE,
    summary="One ticket's public status by its unguessable ref (anonymous)",
    responses={
        404: "no such ticket (`unknown_ticket`); every miss gives the same answer",
        429: "too many misses from this address (`too_many_requests`)",
    },
    response=a.TICKET_STATUS,
)
async def get_ticket_status(request: Request, who: Principal) -> Response:
    """The ref is ``<site>.<token>`` as in the status URL ``/t/<ref>`` an issued ticket
    gives; no token, officer or personal data in the answer."""
    engine, ticket = await visitor_ticket(request)
    now = _hall(request).clock()
    means = _hall(request).views(engine).means(engine.state, engine.version)
    status = q.ticket_status(engine.state, ticket, now, means)
    return _json({"version": engine.version, "now": now, "ticket": status})


ROUTES: tuple[ApiRoute, ...] = (
    get_site,
    get_queues,
    get_counters,
    get_tickets,
    get_ticket_status,
)
