"""The hall's commands over HTTP: a resource-oriented route for every engine command.

Commands (`COMMAND_ROUTES`, one per type in `qms.core.commands.COMMAND_TYPES`)
take their ids from the path and the rest of the command from the JSON body;
``by`` is the caller and the ``Idempotency-Key`` header becomes the command id,
namespaced by caller. A command answers ``{"version", "events", "repeated"}``
plus the resource it acted on, as it is now. The counter's own commands and who
may press them are the counter console's (`qms.counter_console`).
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from qms.core import Command, Rejected, parse_command
from qms.core import commands as c
from qms.core.model import Channel
from qms.counter_console.commands import COUNTER_COMMANDS
from qms.counter_console.guard import officer_guard
from qms.engine import Result, SiteEngine
from qms.eventsourcing.schema import dataclass_schema
from qms.server import shapes
from qms.server.api_hall import _hall, _json, _site_exists, _valid_site, unknown_site
from qms.server.command_route import CommandRoute
from qms.server.errors import ApiError, read_json
from qms.server.openapi import COMMAND_RESULT
from qms.server.principal import ADMINS, ISSUERS, MANAGERS, Principal, Role
from qms.server.routes import PREFIX, ApiRoute, Endpoint, api

SERVER_FIELDS = frozenset({"type", "schema", "by", "command_id", "token", "site"})
MAX_KEY = 100  # characters of an Idempotency-Key
MAX_COMMAND_ID = 200  # the core's string limit

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
    *COUNTER_COMMANDS,
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


def _issued(engine: SiteEngine, result: Result) -> dict[str, Any]:
    """A new ticket in the ticket's shape (without its officer), with its visitor's links."""
    for _, ev in result.events:
        if ev.get("type") == "ticket_issued":
            ref = f"{engine.site}.{ev['token']}"
            links = {"ref": ref, "status_url": f"/t/{ref}", "status_api": f"{PREFIX}/tickets/{ref}"}
            return {"ticket": {**shapes.issued(engine.state, ev), **links}}
    return {}


def _resource(engine: SiteEngine, cmd: Command, result: Result) -> dict[str, Any]:
    """The resource the command acted on, as it is now."""
    state = engine.state
    if isinstance(cmd, c.IssueTicket):
        return _issued(engine, result)
    if isinstance(cmd, c.CounterCommand | c.SetUpCounter):
        counter = state.counters.get(cmd.counter)
        return {"counter": shapes.counter(state, counter, staff=True)} if counter else {}
    if isinstance(cmd, c.TicketCommand):
        ticket = state.tickets.get(cmd.ticket)
        return {"ticket": shapes.ticket(ticket)} if ticket else {}
    if isinstance(cmd, c.SetUpSite):
        return {"site": shapes.site(state, full=True)}
    if isinstance(cmd, c.SetUpAgency):
        agency = state.agencies.get(cmd.agency)
        return {"agency": dataclasses.asdict(agency)} if agency else {}
    if isinstance(cmd, c.SetUpService):
        service = state.services.get(cmd.service)
        return {"service": shapes.service(service)} if service else {}
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
        result = await engine.execute(cmd, guard=officer_guard(spec.officer, who, cmd))
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


def _body_schema(spec: CommandRoute, exclude: frozenset[str]) -> dict[str, Any]:
    """The command's fields less those of the server and the path; a field the server
    fills in when absent (`defaulted`) is not required of the caller."""
    body = dataclass_schema(spec.command_class, exclude=frozenset(exclude))
    if spec.defaulted:
        required = [name for name in body.pop("required", []) if name not in spec.defaulted]
        if required:
            body["required"] = required
    return body


def _command_route(spec: CommandRoute) -> ApiRoute:
    """The HTTP route of one engine command."""
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
    return api(
        spec.method,
        spec.path,
        allow=spec.allow,
        summary=spec.summary,
        body=_body_schema(spec, exclude),
        responses=responses,
        parameters=(IDEMPOTENCY_KEY,),
        response=COMMAND_RESULT,
    )(_command_endpoint(spec))


ROUTES: tuple[ApiRoute, ...] = tuple(_command_route(spec) for spec in COMMAND_ROUTES)
