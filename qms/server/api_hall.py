"""The hall's HTTP API: a resource-oriented route for every engine command, and the queries.

Commands (`COMMAND_ROUTES`, one per type in `qms.core.commands.COMMAND_TYPES`)
take their ids from the path and the rest of the command from the JSON body;
``by`` is the caller and the ``Idempotency-Key`` header becomes the command id,
namespaced by caller. A command answers ``{"version", "events", "repeated"}``
plus the resource it acted on, as it is now.

Who may do what, beyond the route table's roles and site scope (docs/api.md):
- an officer opens a counter for themselves only, and acts only at the counter
  they are signed in to (``not_your_counter``), and on tickets in hand at, last
  at, or sent to that counter (``not_your_ticket``); ``override`` is for
  supervisors and admins;
- a kiosk issues kiosk tickets only;
- displays and kiosks read the public views; officers' names are for staff.

The public ticket status (`GET /tickets/{ref}`) finds a ticket by its
unguessable token through a per-site index kept per log version; every miss
answers the same 404 and counts against the caller's address (429 past
`MISSES_PER_WINDOW`).
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
from collections import OrderedDict, deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from qms.core import COMMAND_TYPES, Command, Rejected, parse_command
from qms.core import commands as c
from qms.core.model import Channel, HallState, Ticket, TicketState
from qms.engine import Result, SiteEngine, WireGuard, wire_guard
from qms.eventlog import check_site
from qms.server import answers as a
from qms.server import queries as q
from qms.server.addresses import client_address
from qms.server.errors import ApiError, read_json
from qms.server.hall import Hall
from qms.server.openapi import COMMAND_RESULT, dataclass_schema
from qms.server.principal import EVERYONE, STAFF, Principal, Role
from qms.server.routes import PREFIX, Endpoint, api

ADMINS = frozenset({Role.ADMIN})
MANAGERS = frozenset({Role.ADMIN, Role.SUPERVISOR})
ISSUERS = STAFF | {Role.KIOSK}
READERS = STAFF | {Role.DISPLAY, Role.KIOSK}  # the public views

# Fields a body never sets: the server fills them (or, for the token, the engine).
SERVER_FIELDS = frozenset({"type", "schema", "by", "command_id", "token", "site"})
RESERVED_PREFIX = "_"  # logs that are not halls, e.g. _accounts (qms.accounts.model)
MAX_KEY = 100  # characters of an Idempotency-Key
MAX_COMMAND_ID = 200  # the core's string limit

MISSES_PER_WINDOW = 20  # unknown ticket refs per address per window
MISS_WINDOW_S = 60.0
MAX_ADDRESSES = 10_000

IDEMPOTENCY_KEY: dict[str, Any] = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "a client-made key (1-100 visible ASCII characters); the same key from "
    "the same caller returns the first result with `repeated: true` instead of acting twice, "
    "whichever server process it reaches; the key given to a different command is 422 "
    "`idempotency_key_reused`",
    "schema": {"type": "string", "pattern": f"^[!-~]{{1,{MAX_KEY}}}$"},
}


class Own(enum.Enum):
    """What an officer must hold to give a command."""

    NOTHING = "nothing"
    FREE_COUNTER = "free counter"  # open: the counter is theirs or nobody's
    COUNTER = "counter"  # the counter is theirs
    TICKET = "ticket"  # the ticket is at, was last at, or was sent to their counter


@dataclass(frozen=True)
class CommandRoute:
    method: str
    path: str
    command: str  # the engine's command type
    allow: frozenset[Role]
    summary: str
    ids: tuple[str, ...] = ()  # path parameters that are command fields
    officer: Own = Own.NOTHING
    created: bool = False  # 201 Created (when not repeated)
    description: str = ""

    @property
    def command_class(self) -> type[Command]:
        return COMMAND_TYPES[self.command]


def _counter(verb: str, command: str, summary: str, **kw: Any) -> CommandRoute:
    return CommandRoute(
        "POST",
        f"/sites/{{site}}/counters/{{counter}}/{verb}",
        command,
        STAFF,
        summary,
        ("counter",),
        kw.pop("officer", Own.COUNTER),
        **kw,
    )


def _ticket(verb: str, command: str, summary: str) -> CommandRoute:
    return CommandRoute(
        "POST",
        f"/sites/{{site}}/tickets/{{ticket}}/{verb}",
        command,
        STAFF,
        summary,
        ("ticket",),
        Own.TICKET,
    )


COMMAND_ROUTES: tuple[CommandRoute, ...] = (
    CommandRoute(
        "PUT",
        "/sites/{site}",
        "set_up_site",
        ADMINS,
        "Set up the site (hall) or change it",
        ("site",),
    ),
    CommandRoute(
        "PUT",
        "/sites/{site}/agencies/{agency}",
        "set_up_agency",
        MANAGERS,
        "Set up or rename an agency (instansi)",
        ("agency",),
    ),
    CommandRoute(
        "PUT",
        "/sites/{site}/services/{service}",
        "set_up_service",
        MANAGERS,
        "Set up or change a service (layanan): prefix, names, target, quota, hours",
        ("service",),
    ),
    CommandRoute(
        "PUT",
        "/sites/{site}/counters/{counter}",
        "set_up_counter",
        MANAGERS,
        "Set up or change a counter (loket): name, zone, services",
        ("counter",),
    ),
    CommandRoute(
        "PUT",
        "/sites/{site}/counters/{counter}/services",
        "set_counter_services",
        MANAGERS,
        "Reallocate a counter's services (in order of preference)",
        ("counter",),
    ),
    CommandRoute(
        "POST",
        "/sites/{site}/tickets",
        "issue_ticket",
        ISSUERS,
        "Issue a ticket (kiosk or staff)",
        created=True,
        description="A kiosk issues `kiosk` tickets only; staff default to `staff`. "
        "The answer's `ticket` has the number and the visitor's status URL.",
    ),
    _counter(
        "open",
        "open_counter",
        "Open a counter (sign in to it), or resume it from a pause",
        officer=Own.FREE_COUNTER,
        description="An officer opens a counter for themselves (`officer` may only name "
        "them); a supervisor or admin may name any officer (default: themselves).",
    ),
    _counter("pause", "pause_counter", "Pause a counter (istirahat)"),
    _counter("close", "close_counter", "Close a counter (its officer signs out)"),
    _counter("call-next", "call_next", "Call the next ticket"),
    _counter(
        "call",
        "call_ticket",
        "Call one ticket by id (waiting or held)",
        description="`override: true` (a ticket of a service the counter lacks) is for "
        "supervisors and admins.",
    ),
    _counter("recall", "recall", "Call the ticket in hand again"),
    _counter("start", "start_service", "The visitor arrived: start the service"),
    _counter("complete", "complete", "Complete the ticket in hand"),
    _counter("no-show", "no_show", "The called visitor did not come"),
    _counter("return", "return_to_queue", "Put the ticket in hand back in its queue"),
    _ticket("transfer", "transfer", "Transfer a ticket to another service or counter"),
    _ticket("hold", "hold", "Park a ticket (the visitor fetches a document)"),
    _ticket("unhold", "unhold", "Put a parked ticket back in its queue"),
    _ticket("cancel", "cancel", "Cancel a waiting or parked ticket"),
    CommandRoute(
        "POST",
        "/sites/{site}/broadcast",
        "broadcast",
        MANAGERS,
        "Set the running text of the displays (of one zone); empty clears it",
    ),
    CommandRoute(
        "POST",
        "/sites/{site}/close-day",
        "close_day",
        MANAGERS,
        "Close the business day: unserved tickets expire, counters close",
    ),
)


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


async def _set_up_engine(request: Request) -> SiteEngine:
    """The engine of the path's site, for a query; 404 unless the site was set up."""
    site = request.path_params["site"]
    hall = _hall(request)
    if not _valid_site(site) or not await _site_exists(hall, site):
        raise unknown_site(site)
    engine = await hall.engine(site)
    if engine.state.site is None:
        raise unknown_site(site)
    return engine


def _views(app: Starlette, engine: SiteEngine) -> q.SiteViews:
    """The site's derived views (token index, service times), kept for this app."""
    cache: dict[str, tuple[SiteEngine, q.SiteViews]] | None = getattr(app.state, "hall_views", None)
    if cache is None:
        cache = app.state.hall_views = {}
    entry = cache.get(engine.site)
    if entry is None or entry[0] is not engine:
        entry = cache[engine.site] = (engine, q.SiteViews())
    return entry[1]


# --- commands -------------------------------------------------------------------------------


def command_id(request: Request, who: Principal) -> str | None:
    """The Idempotency-Key as the engine's command id, namespaced by the caller."""
    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    if not 1 <= len(key) <= MAX_KEY or not all(33 <= ord(ch) <= 126 for ch in key):
        raise ApiError(
            400,
            "invalid_idempotency_key",
            f"Idempotency-Key: 1-{MAX_KEY} visible ASCII characters",
        )
    cid = f"{who.role.value}:{who.name}:{key}"
    if len(cid) > MAX_COMMAND_ID:
        cid = f"{who.role.value}:sha256:{hashlib.sha256(cid.encode()).hexdigest()}"
    return cid


def _command_data(
    spec: CommandRoute, request: Request, who: Principal, body: dict[str, Any]
) -> dict[str, Any]:
    """The command as plain data: the body, the ids from the path, the caller."""
    for name in sorted(body):
        if name in SERVER_FIELDS or name in spec.ids:
            raise Rejected(
                "invalid_command",
                f"{name}: set by the server or the path, not the body",
                field=name,
            )
    data: dict[str, Any] = dict(body)
    if spec.command == "issue_ticket":
        if who.role is Role.KIOSK:
            if data.get("channel", Channel.KIOSK.value) != Channel.KIOSK.value:
                raise ApiError(403, "forbidden", "a kiosk issues kiosk tickets")
            data["channel"] = Channel.KIOSK.value
        else:
            data.setdefault("channel", Channel.STAFF.value)
    if spec.command == "open_counter":
        if who.role is Role.OFFICER and data.get("officer", who.name) != who.name:
            raise ApiError(403, "forbidden", "an officer opens a counter for themselves")
        data.setdefault("officer", who.name)
    data["type"] = spec.command
    data.update({name: request.path_params[name] for name in spec.ids})
    data["by"] = who.name or who.role.value
    data["command_id"] = command_id(request, who)
    return data


def _officer_problem(own: Own, officer: str, state: HallState, cmd: Command) -> Rejected | None:
    if isinstance(cmd, c.CounterCommand):
        counter = state.counters.get(cmd.counter)
        if counter is None:
            return None  # the engine answers unknown_counter
        if own is Own.FREE_COUNTER and counter.officer in (None, officer):
            return None
        if own is Own.COUNTER and counter.officer == officer:
            return None
        return Rejected(
            "not_your_counter",
            f"you are not signed in to counter {counter.id}",
            counter=counter.id,
        )
    if isinstance(cmd, c.TicketCommand):
        ticket = state.tickets.get(cmd.ticket)
        if ticket is None:
            return None  # the engine answers unknown_ticket
        for counter_id in (ticket.counter, ticket.target_counter):
            counter = state.counters.get(counter_id) if counter_id else None
            if counter is not None and counter.officer == officer:
                return None
        return Rejected(
            "not_your_ticket",
            f"ticket {ticket.number} is not at your counter",
            ticket=ticket.id,
        )
    return None


@wire_guard
@dataclass(frozen=True)
class OfficerGuard(WireGuard):
    """An officer acts only for their own counter and tickets.

    The check runs inside the engine, on the very state the command is decided on
    (and again on every retry), so a counter that changes hands between the check
    and the append cannot slip through; before refusing, the engine looks at the
    newest log once (the officer may have just signed in through another process).
    A `WireGuard`: it goes with the command to the site's writer (`qms.relay`).
    """

    kind: ClassVar[str] = "officer"
    own: Own
    officer: str
    command: Command

    def __call__(self, state: HallState) -> None:
        problem = _officer_problem(self.own, self.officer, state, self.command)
        if problem is not None:
            raise problem

    def to_wire(self) -> dict[str, Any]:
        return {"own": self.own.value, "officer": self.officer}

    @classmethod
    def from_wire(cls, data: Mapping[str, Any], command: Command) -> OfficerGuard:
        return cls(Own(data["own"]), str(data["officer"]), command)


def _officer_guard(spec: CommandRoute, who: Principal, cmd: Command) -> OfficerGuard | None:
    if who.role is not Role.OFFICER or spec.officer is Own.NOTHING:
        return None
    if isinstance(cmd, c.CallTicket) and cmd.override:
        raise ApiError(403, "forbidden", "only a supervisor or admin calls with override")
    return OfficerGuard(spec.officer, who.name, cmd)


def _issued(engine: SiteEngine, result: Result) -> dict[str, Any]:
    for _, ev in result.events:
        if ev.get("type") == "ticket_issued":
            ref = f"{engine.site}.{ev['token']}"
            return {
                "ticket": {
                    "ticket": ev["ticket"],
                    "number": ev["number"],
                    "service": ev["service"],
                    "day": ev["day"],
                    "priority": ev.get("priority", "regular"),
                    "channel": ev.get("channel", "kiosk"),
                    "ref": ref,
                    "status_url": f"/t/{ref}",
                    "status_api": f"{PREFIX}/tickets/{ref}",
                }
            }
    return {}


def _resource(engine: SiteEngine, cmd: Command, result: Result) -> dict[str, Any]:
    """The resource the command acted on, as it is now."""
    state = engine.state
    if isinstance(cmd, c.IssueTicket):
        return _issued(engine, result)
    if isinstance(cmd, c.CounterCommand | c.SetUpCounter):
        counter = state.counters.get(cmd.counter)
        return {"counter": q.counter_view(state, counter, staff=True)} if counter else {}
    if isinstance(cmd, c.TicketCommand):
        ticket = state.tickets.get(cmd.ticket)
        return {"ticket": q.ticket_view(ticket)} if ticket else {}
    if isinstance(cmd, c.SetUpSite):
        return {"site": q.site_setup(state)["site"]}
    if isinstance(cmd, c.SetUpAgency):
        agency = state.agencies.get(cmd.agency)
        return {"agency": dataclasses.asdict(agency)} if agency else {}
    if isinstance(cmd, c.SetUpService):
        service = state.services.get(cmd.service)
        return {"service": q.service_view(service)} if service else {}
    if isinstance(cmd, c.Broadcast):
        return {"messages": dict(state.messages)}
    return {"day": state.day}


def _command_endpoint(spec: CommandRoute) -> Endpoint:
    creates_site = spec.command == "set_up_site"

    async def endpoint(request: Request, who: Principal) -> Response:
        site = request.path_params["site"]
        if not _valid_site(site):
            if creates_site:
                raise Rejected("invalid_command", "site: 1-64 letters, digits, '-' or '_'")
            raise unknown_site(site)
        body = await read_json(request)
        cmd = parse_command(_command_data(spec, request, who, body))
        hall = _hall(request)
        if not creates_site and not await _site_exists(hall, site):
            raise Rejected("site_not_set_up", "set up the site first")
        engine = await hall.engine(site)
        result = await engine.execute(cmd, guard=_officer_guard(spec, who, cmd))
        out = {
            "version": result.version,
            "events": [{"version": v, **ev} for v, ev in result.events],
            "repeated": result.repeated,
        }
        out.update(_resource(engine, cmd, result))
        return _json(out, 201 if spec.created and not result.repeated else 200)

    endpoint.__name__ = spec.command
    endpoint.__qualname__ = spec.command
    endpoint.__doc__ = spec.description or spec.summary
    return endpoint


def _register_commands() -> None:
    for spec in COMMAND_ROUTES:
        exclude = SERVER_FIELDS | set(spec.ids)
        responses = {201 if spec.created else 200: "done (or repeated)"}
        if spec.created:
            responses[200] = "repeated: the first result of this Idempotency-Key"
        responses[404] = "unknown site, agency, service, counter or ticket"
        responses[409] = "refused in this state (the engine's code, e.g. `counter_busy`)"
        responses[422] = (
            "the request is malformed (`invalid_command`, `invalid_request`), or its "
            "Idempotency-Key was used for a different command (`idempotency_key_reused`)"
        )
        responses[503] = (
            "the hall is very busy (`busy`; nothing was done), or the event log cannot be "
            "reached (`log_unavailable`, with Retry-After): press again, with the same key"
        )
        api(
            spec.method,
            spec.path,
            allow=spec.allow,
            summary=spec.summary,
            body=dataclass_schema(spec.command_class, exclude=frozenset(exclude)),
            responses=responses,
            parameters=(IDEMPOTENCY_KEY,),
            response=COMMAND_RESULT,
        )(_command_endpoint(spec))


_register_commands()


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
    summary="Each service's queue: waiting count, oldest wait, estimated wait of a new ticket",
    responses={404: "no such site (`unknown_site`)"},
    response=a.QUEUES,
)
async def get_queues(request: Request, who: Principal) -> Response:
    engine = await _set_up_engine(request)
    now = _hall(request).clock()
    means = _views(request.app, engine).means(engine.state, engine.version)
    return _json(
        {"version": engine.version, "now": now, "queues": q.queues(engine.state, now, means)}
    )


@api(
    "GET",
    "/sites/{site}/counters",
    allow=READERS,
    summary="Every counter: state, ticket in hand, services (officers for staff only)",
    responses={404: "no such site (`unknown_site`)"},
    parameters=(
        {
            "name": "zone",
            "in": "query",
            "required": False,
            "description": "only the counters of this zone",
            "schema": {"type": "string"},
        },
    ),
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
        {
            "name": "state",
            "in": "query",
            "required": False,
            "description": "only tickets in these states (repeat the parameter for more)",
            "schema": {"type": "array", "items": {"type": "string", "enum": STATE_VALUES}},
            "style": "form",
            "explode": True,
        },
        {
            "name": "service",
            "in": "query",
            "required": False,
            "description": "only tickets of this service",
            "schema": {"type": "string"},
        },
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


class MissLimiter:
    """At most `limit` misses per address in a sliding `window`; remembers `max_addresses`."""

    def __init__(
        self,
        limit: int = MISSES_PER_WINDOW,
        window: float = MISS_WINDOW_S,
        max_addresses: int = MAX_ADDRESSES,
    ) -> None:
        self.limit = limit
        self.window = window
        self.max_addresses = max_addresses
        self._misses: OrderedDict[str, deque[float]] = OrderedDict()

    def retry_after(self, address: str, now: float) -> float:
        """Seconds until `address` may ask again; 0 when it may now."""
        misses = self._misses.get(address)
        if misses is None:
            return 0.0
        while misses and misses[0] <= now - self.window:
            misses.popleft()
        if not misses:
            del self._misses[address]
            return 0.0
        if len(misses) < self.limit:
            return 0.0
        return max(0.0, misses[0] + self.window - now)

    def miss(self, address: str, now: float) -> None:
        misses = self._misses.pop(address, None) or deque()
        misses.append(now)
        while len(misses) > self.limit:
            misses.popleft()
        self._misses[address] = misses  # the most recent address last
        while len(self._misses) > self.max_addresses:
            self._misses.popitem(last=False)


def _limiter(app: Starlette) -> MissLimiter:
    limiter: MissLimiter | None = getattr(app.state, "ticket_miss_limiter", None)
    if limiter is None:
        limiter = app.state.ticket_miss_limiter = MissLimiter()
    return limiter


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
        ticket = _views(request.app, engine).find_token(engine.state, engine.version, token)
        if ticket is not None:
            return engine, ticket
    return None


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
    limiter = _limiter(request.app)
    address = client_address(request)
    hall = _hall(request)
    now = hall.clock()
    wait = limiter.retry_after(address, now)
    if wait > 0:
        error = ApiError(429, "too_many_requests", "too many unknown tickets; try again later")
        error.details["retry_after"] = int(wait) + 1
        error.headers["Retry-After"] = str(int(wait) + 1)
        raise error
    found = await _find_ticket(request, request.path_params["ref"])
    if found is None:
        limiter.miss(address, now)
        raise _no_such_ticket()
    engine, ticket = found
    means = _views(request.app, engine).means(engine.state, engine.version)
    status = q.ticket_status(engine.state, ticket, now, means)
    return _json({"version": engine.version, "now": now, "ticket": status})
