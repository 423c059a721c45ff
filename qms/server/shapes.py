"""One JSON shape per resource of a hall: a site, a service, a counter, a ticket.

HTTP answers (`queries`, `api_commands`) and stream snapshots (`stream.audience`,
`qms.display.audience`) build every resource here, so a client reads a counter
or a ticket the same way wherever it came from (docs/api.md, "Resources"). An
audience that may not see a field is given the same shape without it, never a
different one:

- a ticket: `TICKET_FIELDS` for staff; `TICKET_NAMELESS` (no officer) for a console's
  queues and a kiosk's new ticket; `TICKET_PUBLIC` (no id, priority, channel, times of
  arrival or officer) for displays and kiosks. Never its token.
- a counter: its officer for staff only; its ticket in hand in the ticket's shape
  for the same audience; `live=False` keeps its configuration (the site's set-up).
- a site: `SITE_PUBLIC` for displays and consoles, every field for the rest.

Pure: functions of the state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from qms.core.model import Channel, Counter, HallState, Priority, Service, Ticket
from qms.core.policy import directed_queue

Json = dict[str, Any]

SITE_PUBLIC = ("id", "name", "timezone")
TICKET_FIELDS = (
    "ticket",
    "number",
    "service",
    "day",
    "state",
    "priority",
    "channel",
    "issued_at",
    "arrival_at",
    "called_at",
    "started_at",
    "finished_at",
    "counter",
    "target_counter",
    "officer",
    "recalls",
)
TICKET_NAMELESS = tuple(f for f in TICKET_FIELDS if f != "officer")
TICKET_PUBLIC = ("number", "service", "state", "counter", "called_at", "started_at", "recalls")
COUNTER_CONFIG = ("counter", "name", "zone", "services")


def site(state: HallState, *, full: bool) -> Json | None:
    """The site's set-up (None before it is set up); `SITE_PUBLIC` unless `full`."""
    if state.site is None:
        return None
    out = asdict(state.site)
    return out if full else {k: out[k] for k in SITE_PUBLIC}


def service(s: Service) -> Json:
    """A service: its set-up, the same for every audience."""
    out = asdict(s)
    return {"service": out.pop("id"), **out}


def ticket(t: Ticket, fields: tuple[str, ...] = TICKET_FIELDS) -> Json:
    """A ticket, with `fields` of `TICKET_FIELDS` (in that order); never its token."""
    full: Json = {
        "ticket": t.id,
        "number": t.number,
        "service": t.service,
        "day": t.day,
        "state": t.state.value,
        "priority": t.priority.value,
        "channel": t.channel.value,
        "issued_at": t.issued_at,
        "arrival_at": t.arrival_at,
        "called_at": t.called_at,
        "started_at": t.started_at,
        "finished_at": t.finished_at,
        "counter": t.counter,
        "target_counter": t.target_counter,
        "officer": t.officer,
        "recalls": t.recalls,
    }
    return full if fields is TICKET_FIELDS else {f: full[f] for f in fields}


def issued(state: HallState, ev: Mapping[str, Any]) -> Json:
    """The ticket of a `ticket_issued` event as its issue answers it (`TICKET_NAMELESS`):
    as it is now, or as issued when its day has left the state (a repeated request)."""
    t = state.tickets.get(ev["ticket"])
    if t is None:
        t = Ticket(
            id=ev["ticket"],
            number=ev["number"],
            service=ev["service"],
            day=ev["day"],
            seq=0,
            token="",
            priority=Priority(ev.get("priority", Priority.REGULAR.value)),
            channel=Channel(ev.get("channel", Channel.KIOSK.value)),
            issued_at=ev["at"],
            arrival_at=ev["at"],
        )
    return ticket(t, TICKET_NAMELESS)


def waiting_for(state: HallState, c: Counter) -> int:
    """How many tickets `c` may call: ``len(candidates(state, c))`` without listing
    them (every command at a counter answers with it, and the queues are long)."""
    queues = state.queues
    directed = len(queues.get(directed_queue(c.id), ()))
    return directed + sum(len(queues.get(service, ())) for service in c.services)


def counter(state: HallState, c: Counter, *, staff: bool, live: bool = True) -> Json:
    """A counter: configuration, state, its ticket in hand (or None), how many tickets
    it may call, and its officer (staff only). `live=False`: the configuration only."""
    out: Json = {"counter": c.id, "name": c.name, "zone": c.zone, "services": list(c.services)}
    if not live:
        return out
    t = state.tickets.get(c.ticket) if c.ticket is not None else None
    out["state"] = c.state.value
    if t is None:
        out["ticket"] = None
    else:
        out["ticket"] = ticket(t) if staff else ticket(t, TICKET_PUBLIC)
    out["waiting"] = waiting_for(state, c)
    if staff:
        out["officer"] = c.officer
    return out


def messages(state: HallState, zone: str | None, every_zone: bool) -> dict[str, str]:
    """The running texts: every zone's, or the hall's and `zone`'s."""
    if every_zone:
        return dict(state.messages)
    return {z: text for z, text in state.messages.items() if z in ("", zone or "")}
