"""One JSON shape per resource of a hall: a site, a service, a counter, a ticket, a queue.

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
- a queue (a service's, or "@<counter>" for the tickets sent to one counter):
  `QUEUE_FIELDS` over HTTP, with its statistics at `now`; `QUEUE_LIVE` (its id and
  waiting count) on the stream, whose events carry the queues they changed in that
  same shape. Public audiences see the services' queues only (`public_queue`).

Pure: functions of the state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from qms.core.model import (
    Channel,
    Counter,
    CounterState,
    HallState,
    Priority,
    Service,
    Ticket,
)
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
QUEUE_FIELDS = (
    "queue",
    "service",
    "counter",
    "waiting",
    "priority_waiting",
    "oldest_wait_s",
    "target_wait_s",
    "over_target",
    "open_counters",
    "mean_service_s",
    "estimated_wait_s",
)
QUEUE_LIVE = ("queue", "waiting")


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


def queue_ids(state: HallState) -> list[str]:
    """A hall's queues in their order: every service's, then each counter's that has
    tickets sent to it (by its id, "@<counter>")."""
    directed = sorted(k for k, ids in state.queues.items() if ids and k.startswith("@"))
    return [*state.services, *directed]


def public_queue(queue_id: str) -> bool:
    """May displays and kiosks see this queue? A service's yes, a counter's no."""
    return not queue_id.startswith("@")


def live_queue(queue_id: str, waiting: int) -> Json:
    """A queue in `QUEUE_LIVE`: what the stream carries and keeps current."""
    return {"queue": queue_id, "waiting": waiting}


def open_counters(state: HallState, service: str) -> list[Counter]:
    """The open (not paused) counters that serve `service`."""
    return [
        c for c in state.counters.values() if c.state is CounterState.OPEN and service in c.services
    ]


def service_time(state: HallState, service: str, means: Mapping[str, float]) -> float:
    """The mean service time of `service` in seconds, or its target when none is known."""
    if service in means:
        return means[service]
    known = state.services.get(service)
    return float((known.target_wait_min if known else 15) * 60)


def estimate(ahead: int, per_ticket_s: float, counters: int) -> float | None:
    """Seconds until a ticket with `ahead` people in front is called; None with no counter open."""
    if counters <= 0:
        return None
    return round(ahead * per_ticket_s / counters, 1)


def queue(
    state: HallState,
    queue_id: str,
    fields: tuple[str, ...] = QUEUE_FIELDS,
    *,
    now: float = 0.0,
    means: Mapping[str, float] | None = None,
) -> Json:
    """A queue with `fields` of `QUEUE_FIELDS`: its waiting tickets, the oldest one's
    wait at `now`, and the estimated wait of a ticket joining it (`means`: the mean
    service times, `queries.mean_service_times`). A counter's queue ("@L3") has its
    `counter` and no `service`; it is served by that counter alone, when open."""
    waiting = state.waiting_in(queue_id)
    if fields is QUEUE_LIVE:
        return live_queue(queue_id, len(waiting))
    counter_id = queue_id[1:] if queue_id.startswith("@") else None
    if counter_id is None:
        service_id: str | None = queue_id
        known = state.services.get(queue_id)
        target_s: float | None = known.target_wait_min * 60 if known else None
        serving = len(open_counters(state, queue_id))
        per_ticket: float | None = service_time(state, queue_id, means or {})
    else:
        service_id = target_s = per_ticket = None
        c = state.counters.get(counter_id)
        serving = 1 if c is not None and c.state is CounterState.OPEN else 0
        if waiting:  # the mean of its tickets' services' times
            per_ticket = sum(service_time(state, t.service, means or {}) for t in waiting) / len(
                waiting
            )
    oldest = max((now - t.arrival_at for t in waiting), default=None)
    full: Json = {
        "queue": queue_id,
        "service": service_id,
        "counter": counter_id,
        "waiting": len(waiting),
        "priority_waiting": sum(t.priority is not Priority.REGULAR for t in waiting),
        "oldest_wait_s": None if oldest is None else round(max(0.0, oldest), 1),
        "target_wait_s": target_s,
        "over_target": oldest is not None and target_s is not None and oldest > target_s,
        "open_counters": serving,
        "mean_service_s": None if per_ticket is None else round(per_ticket, 1),
        "estimated_wait_s": None
        if per_ticket is None
        else estimate(len(waiting), per_ticket, serving),
    }
    return full if fields is QUEUE_FIELDS else {f: full[f] for f in fields}


def messages(state: HallState, zone: str | None, every_zone: bool) -> dict[str, str]:
    """The running texts: every zone's, or the hall's and `zone`'s."""
    if every_zone:
        return dict(state.messages)
    return {z: text for z, text in state.messages.items() if z in ("", zone or "")}
