"""What each audience of the live stream may see: pure projections of events and state.

Three audiences (docs/protocol.md):

- ``display`` (hall boards, the public): ticket numbers, counters, waiting counts,
  running text, calls and recalls. Never a ticket's token, an officer's name, who
  gave a command, or a ticket's priority category (disability, pregnancy: personal).
  A display limited to a zone sees the counters and running text of its zone.
- ``console`` (an officer's counter): its counter in full, the tickets of the
  queues it serves, and the hall's set-up; other counters' officers stay hidden.
- ``supervisor`` (the whole site): everything but ticket tokens.

No audience sees a survey answer (`survey_answered`): staff read the survey's
figures, never a response or which ticket gave it.

Everything here is pure: an event is projected from the event itself and its
`Facts`, which the stream computes once, from the state right after the event
was folded in, and keeps with the event in its ring. A replayed event therefore
looks exactly as it did live. Projections are whitelists: a field nobody listed
never reaches a display, and an event type a display does not know is withheld.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from qms.core.model import FINAL_STATES, HallState, Ticket, TicketState
from qms.core.policy import directed_queue

Json = dict[str, Any]

RECENT_CALLS = 10  # the last calls every snapshot carries (a resume's carries more)
# Events no audience sees, not even a supervisor: a survey answer names its ticket and
# officer (docs/survey.md, "Anonymity"); the figures come from the survey routes only.
ANONYMOUS_EVENTS = frozenset({"survey_answered"})
WAITING_LIST_MAX = 200  # waiting tickets listed in a console snapshot


class Kind(enum.StrEnum):
    DISPLAY = "display"
    CONSOLE = "console"
    SUPERVISOR = "supervisor"


@dataclass(frozen=True, slots=True)
class Audience:
    """One projection of the stream; connections with equal audiences share frames."""

    kind: Kind
    zone: str | None = None  # displays only: None sees the whole hall
    counter: str | None = None  # consoles only

    def __post_init__(self) -> None:
        if (self.kind is Kind.CONSOLE) != (self.counter is not None):
            raise ValueError("a console audience names its counter, and only a console does")
        if self.zone is not None and self.kind is not Kind.DISPLAY:
            raise ValueError("only a display audience has a zone")


@dataclass(frozen=True, slots=True)
class Facts:
    """What the state said right after an event, for projecting it the same way forever."""

    number: str | None = None  # the ticket's display number (ticket events)
    service: str | None = None  # the ticket's service after the event
    priority: str | None = None  # the ticket's priority (never shown to displays)
    zone: str | None = None  # the zone of the event's counter, when it names one
    queues: Mapping[str, int] | None = None  # waiting counts that changed with the event


# --- facts ------------------------------------------------------------------------


def queue_counts(state: HallState) -> dict[str, int]:
    """Waiting tickets per queue key (a service, or "@<counter>" for directed tickets)."""
    return {key: len(ids) for key, ids in state.queues.items() if ids}


def changed_counts(before: Mapping[str, int], after: Mapping[str, int]) -> dict[str, int]:
    """The queues whose waiting count differs, with the new count (0 for an emptied queue)."""
    keys = set(before) | set(after)
    return {k: after.get(k, 0) for k in sorted(keys) if before.get(k, 0) != after.get(k, 0)}


def facts(
    event: Mapping[str, Any], state: HallState, changed: Mapping[str, int] | None = None
) -> Facts:
    """The facts of `event` from the state right after it; `changed`: see `changed_counts`."""
    ticket = state.tickets.get(event["ticket"]) if isinstance(event.get("ticket"), str) else None
    counter = event.get("counter")
    zone = None
    if isinstance(counter, str) and counter in state.counters:
        zone = state.counters[counter].zone
    return Facts(
        number=ticket.number if ticket else None,
        service=ticket.service if ticket else None,
        priority=str(ticket.priority) if ticket else None,
        zone=zone,
        queues=changed or None,
    )


# --- events ---------------------------------------------------------------------------

SETUP_EVENTS = frozenset(
    {"site_configured", "agency_configured", "service_configured", "counter_configured"}
)
DAY_EVENTS = frozenset({"day_opened", "day_closed"})
COUNTER_EVENTS = frozenset(
    {"counter_opened", "counter_paused", "counter_closed", "counter_services_set"}
)
TICKET_EVENTS = frozenset(
    {
        "ticket_issued",
        "ticket_called",
        "ticket_recalled",
        "service_started",
        "ticket_completed",
        "ticket_no_show",
        "ticket_returned",
        "ticket_transferred",
        "ticket_held",
        "ticket_unheld",
        "ticket_cancelled",
    }
)
# Fields of the person or process behind an event: staff audiences only.
PERSONAL = ("by", "officer", "cid", "cn")
SITE_PUBLIC = ("id", "name", "timezone")


def _pick(event: Mapping[str, Any], names: Iterable[str]) -> Json:
    return {n: event[n] for n in names if event.get(n) is not None}


def _display_event(event: Mapping[str, Any], f: Facts) -> Json | None:
    kind = event.get("type")
    out = _pick(event, ("type", "schema", "at"))
    if kind == "site_configured":
        site = event.get("site")
        out["site"] = _pick(site, SITE_PUBLIC) if isinstance(site, Mapping) else {}
    elif kind in ("agency_configured", "service_configured", "day_opened"):
        out.update(_pick(event, ("agency", "service", "day")))
    elif kind == "counter_configured":
        out.update(_pick(event, ("counter", "name", "zone", "services")))
    elif kind == "day_closed":
        out["day"] = event.get("day")
    elif kind in COUNTER_EVENTS:
        out.update(_pick(event, ("counter", "services")))  # never the officer
    elif kind in TICKET_EVENTS:
        out.update(_pick(event, ("ticket", "counter", "recalls", "to_service", "to_counter")))
        out["number"] = f.number
        out["service"] = event["service"] if kind == "ticket_issued" else f.service
    elif kind == "message_broadcast":
        out.update(_pick(event, ("text", "zone")))
        out.setdefault("text", "")
        out.setdefault("zone", "")
    else:
        return None  # an event type displays do not know is withheld
    return out


def _display_sees(event: Mapping[str, Any], f: Facts, zone: str | None) -> bool:
    """Zone rules: a zoned display sees its counters and its zone's running text."""
    kind = event.get("type")
    if kind == "message_broadcast":
        return (event.get("zone") or "") in ("", zone or "")
    if zone is None or kind in SETUP_EVENTS or kind in DAY_EVENTS:
        return True
    if kind in COUNTER_EVENTS:
        return f.zone == zone
    if kind in TICKET_EVENTS:  # at a counter of another zone: only the counts change
        return event.get("counter") is None or f.zone == zone
    return True


def _staff_event(event: Mapping[str, Any], f: Facts, personal: bool) -> Json:
    out = {k: v for k, v in event.items() if k != "token"}
    if not personal:
        for name in PERSONAL:
            out.pop(name, None)
    if event.get("type") in TICKET_EVENTS:
        out["number"] = f.number
        out["service"] = event.get("service", f.service)
        if f.priority is not None:
            out["priority"] = f.priority
    return out


def _console_event(
    event: Mapping[str, Any], f: Facts, counter: str, served: frozenset[str]
) -> Json | None:
    kind = event.get("type")
    ours = event.get("counter") == counter
    if kind in SETUP_EVENTS or kind in DAY_EVENTS or kind == "message_broadcast":
        return _staff_event(event, f, personal=False)
    if kind in COUNTER_EVENTS:
        return _staff_event(event, f, personal=True) if ours else None
    if kind in TICKET_EVENTS:
        if ours:
            return _staff_event(event, f, personal=True)
        to_us = event.get("to_counter") == counter or event.get("to_service") in served
        if to_us or f.service in served or event.get("service") in served:
            return _staff_event(event, f, personal=False)
    return None


def visible_queues(audience: Audience, queues: Mapping[str, int], served: frozenset[str]) -> Json:
    """The waiting counts an audience is told about."""
    if audience.kind is Kind.SUPERVISOR:
        return dict(queues)
    if audience.kind is Kind.DISPLAY:
        return {k: n for k, n in queues.items() if not k.startswith("@")}
    own = directed_queue(audience.counter or "")
    return {k: n for k, n in queues.items() if k in served or k == own}


def project(
    audience: Audience,
    event: Mapping[str, Any],
    f: Facts,
    served: frozenset[str] = frozenset(),
) -> Json | None:
    """The event as `audience` sees it, or None when it holds nothing for it.

    `served` is the set of services of a console's counter (ignored otherwise).
    """
    if event.get("type") in ANONYMOUS_EVENTS:
        return None
    if audience.kind is Kind.SUPERVISOR:
        return _staff_event(event, f, personal=True)
    if audience.kind is Kind.CONSOLE:
        return _console_event(event, f, audience.counter or "", served)
    if not _display_sees(event, f, audience.zone):
        return None
    return _display_event(event, f)


def event_message(
    version: int,
    audience: Audience,
    event: Mapping[str, Any],
    f: Facts,
    served: frozenset[str] = frozenset(),
) -> Json:
    """The `event` message of `version` for `audience`; every version gets one.

    ``event`` is left out when the event holds nothing for the audience, and
    ``queues`` when no waiting count it is told about changed.
    """
    message: Json = {"type": "event", "version": version}
    projected = project(audience, event, f, served)
    if projected is not None:
        message["event"] = projected
    if f.queues:
        queues = visible_queues(audience, f.queues, served)
        if queues:
            message["queues"] = queues
    return message


def served_by(state: HallState, counter: str | None) -> frozenset[str]:
    """The services of `counter` (what a console's queues are)."""
    c = state.counters.get(counter or "")
    return frozenset(c.services) if c else frozenset()


# --- recent calls ------------------------------------------------------------------


def call_record(version: int, event: Mapping[str, Any], f: Facts) -> Json | None:
    """A call or recall for the recent-calls list of snapshots; None for other events."""
    kind = event.get("type")
    if kind not in ("ticket_called", "ticket_recalled") or f.number is None:
        return None
    return {
        "version": version,
        "ticket": event.get("ticket"),
        "number": f.number,
        "service": f.service,
        "counter": event.get("counter"),
        "zone": f.zone or "",
        "at": event.get("at"),
        "recalls": int(event.get("recalls", 0)) if kind == "ticket_recalled" else 0,
    }


# --- snapshots -----------------------------------------------------------------------


def _site(state: HallState, full: bool) -> Json | None:
    if state.site is None:
        return None
    site = vars(state.site)
    return dict(site) if full else {k: site[k] for k in SITE_PUBLIC}


def _services(state: HallState) -> list[Json]:
    return [
        {
            "id": s.id,
            "agency": s.agency,
            "prefix": s.prefix,
            "name_id": s.name_id,
            "name_en": s.name_en,
            "target_wait_min": s.target_wait_min,
            "active": s.active,
        }
        for s in state.services.values()
    ]


def _ticket_detail(t: Ticket) -> Json:
    return {
        "ticket": t.id,
        "number": t.number,
        "service": t.service,
        "state": str(t.state),
        "priority": str(t.priority),
        "channel": str(t.channel),
        "issued_at": t.issued_at,
        "arrival_at": t.arrival_at,
        "counter": t.counter,
        "target_counter": t.target_counter,
        "called_at": t.called_at,
        "started_at": t.started_at,
        "recalls": t.recalls,
    }


def _counter(state: HallState, counter_id: str, full: bool) -> Json:
    c = state.counters[counter_id]
    ticket = state.tickets.get(c.ticket) if c.ticket else None
    out: Json = {
        "id": c.id,
        "name": c.name,
        "zone": c.zone,
        "state": str(c.state),
        "services": list(c.services),
        "ticket": ticket.id if ticket else None,
        "number": ticket.number if ticket else None,
        "ticket_state": str(ticket.state) if ticket else None,
    }
    if full:
        out["officer"] = c.officer
        out["ticket_detail"] = _ticket_detail(ticket) if ticket else None
    return out


def _messages(state: HallState, zone: str | None, every_zone: bool) -> dict[str, str]:
    if every_zone:
        return dict(state.messages)
    return {z: text for z, text in state.messages.items() if z in ("", zone or "")}


def _with_states(calls: Iterable[Mapping[str, Any]], state: HallState) -> list[Json]:
    """Calls with their ticket's current state: of the calls it missed, a display
    announces only those still `called` (not being served, done or a no-show)."""
    out = []
    for call in calls:
        ticket = state.tickets.get(str(call.get("ticket")))
        out.append({**call, "state": str(ticket.state) if ticket is not None else None})
    return out


def view(audience: Audience, state: HallState, calls: Iterable[Mapping[str, Any]]) -> Json:
    """The audience's snapshot of the hall: what a fresh client needs to draw itself.

    `calls` are the calls it carries (`history.CallHistory.for_snapshot`), oldest first."""
    common: Json = {
        "day": state.day,
        "agencies": [{"id": a.id, "name": a.name} for a in state.agencies.values()],
        "services": _services(state),
    }
    calls = _with_states(calls, state)
    if audience.kind is Kind.DISPLAY:
        zone = audience.zone
        counters = [c for c in state.counters.values() if zone is None or c.zone == zone]
        return {
            "site": _site(state, full=False),
            **common,
            "zone": zone,
            "queues": visible_queues(audience, queue_counts(state), frozenset()),
            "counters": [_counter(state, c.id, full=False) for c in counters],
            "calls": [c for c in calls if zone is None or c["zone"] == zone],
            "messages": _messages(state, zone, every_zone=False),
        }
    if audience.kind is Kind.CONSOLE:
        counter = audience.counter or ""
        served = served_by(state, counter)
        own = directed_queue(counter)
        waiting = [
            t
            for key, ids in state.queues.items()
            if key in served or key == own
            for t in (state.tickets[i] for i in ids)
        ]
        waiting.sort(key=lambda t: (t.arrival_at, t.seq))
        held = [
            t
            for t in state.tickets.values()
            if t.state is TicketState.HELD and t.counter == counter and t.day == state.day
        ]
        return {
            "site": _site(state, full=False),
            **common,
            "counter": _counter(state, counter, full=True) if counter in state.counters else None,
            "queues": visible_queues(audience, queue_counts(state), served),
            "waiting": [_ticket_detail(t) for t in waiting[:WAITING_LIST_MAX]],
            "held": [_ticket_detail(t) for t in held],
            "calls": calls,
            "messages": _messages(state, None, every_zone=True),
        }
    today = [t for t in state.tickets.values() if t.day == state.day]
    totals: dict[str, int] = {}
    for t in today:
        totals[str(t.state)] = totals.get(str(t.state), 0) + 1
    return {
        "site": _site(state, full=True),
        **common,
        "queues": queue_counts(state),
        "counters": [_counter(state, c, full=True) for c in state.counters],
        "tickets": [_ticket_detail(t) for t in today if t.state not in FINAL_STATES],
        "totals": totals,
        "calls": calls,
        "messages": _messages(state, None, every_zone=True),
    }
