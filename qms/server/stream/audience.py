"""Who sees which event of a site's log: one table for the three audiences.

- ``display`` (hall boards, the public): its fields are whitelisted by the display
  app (`qms.display.audience`); a display limited to a zone sees its zone's part.
- ``console`` (an officer's counter): its counter in full, the tickets of the
  queues it serves, and the hall's set-up; other counters' officers stay hidden.
- ``supervisor`` (the whole site): everything but ticket tokens.

`AUDIENCES` has a row for every event type of the core (tests/test_audience.py holds
it to `qms.core.EVENT_TYPES` and to the table in docs/protocol.md), so a new event
type cannot reach an audience, or miss one, without somebody deciding it here.

Everything here is pure: an event is projected from the event itself and its
`Facts`, which the stream computes once, from the state right after the event
was folded in, and keeps with the event in its ring. A replayed event therefore
looks exactly as it did live.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from qms.core.model import FINAL_STATES, HallState, TicketState
from qms.core.policy import directed_queue
from qms.display import audience as display
from qms.server import shapes
from qms.server.stream.facts import (
    PERSONAL,
    TICKET_EVENTS,
    Audience,
    Facts,
    Json,
    Kind,
    snapshot_queues,
    visible_queues,
)

__all__ = ["AUDIENCES", "Audience", "Facts", "Kind", "Rule", "event_message", "project", "view"]

WAITING_LIST_MAX = 200  # waiting tickets listed in a console snapshot


@dataclass(frozen=True, slots=True)
class Rule:
    """How each audience sees one event type; "" means never.

    display: "public" (its public fields, every zone) or "zone" (a zoned display
    only when the event is in its zone). console: "all" (without the fields that
    name a person), "own" (in full, at its own counter only) or "queues" (in full
    at its counter, without names when it touches a queue it serves). supervisor:
    "full" (everything but the ticket's token).
    """

    display: str
    console: str
    supervisor: str


_SET_UP = Rule("public", "all", "full")
_COUNTER = Rule("zone", "own", "full")
_TICKET = Rule("zone", "queues", "full")
_STAFF_ONLY = Rule("", "", "full")
# A survey answer names its ticket and officer (docs/survey.md, "Anonymity"): nobody
# sees it on the stream; the figures come from the survey routes only.
_NOBODY = Rule("", "", "")

AUDIENCES: Mapping[str, Rule] = {
    "site_configured": _SET_UP,
    "agency_configured": _SET_UP,
    "service_configured": _SET_UP,
    "counter_configured": _SET_UP,
    "day_opened": _SET_UP,
    "day_closed": _SET_UP,
    "counter_opened": _COUNTER,
    "counter_paused": _COUNTER,
    "counter_closed": _COUNTER,
    "counter_services_set": _COUNTER,
    **{kind: _TICKET for kind in sorted(TICKET_EVENTS)},
    "message_broadcast": Rule("zone", "all", "full"),
    "survey_configured": _STAFF_ONLY,
    "survey_plan_written": _STAFF_ONLY,
    "survey_answered": _NOBODY,
    "survey_skipped": _NOBODY,
}


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
    rule: str, event: Mapping[str, Any], f: Facts, counter: str, served: frozenset[str]
) -> Json | None:
    ours = event.get("counter") == counter
    if rule == "all":
        return _staff_event(event, f, personal=False)
    if rule in ("own", "queues") and ours:
        return _staff_event(event, f, personal=True)
    if rule == "queues":
        to_us = event.get("to_counter") == counter or event.get("to_service") in served
        if to_us or f.service in served or event.get("service") in served:
            return _staff_event(event, f, personal=False)
    return None


def project(
    audience: Audience,
    event: Mapping[str, Any],
    f: Facts,
    served: frozenset[str] = frozenset(),
) -> Json | None:
    """The event as `audience` sees it, or None when it holds nothing for it.

    `served` is the set of services of a console's counter (ignored otherwise).
    """
    rule = AUDIENCES.get(str(event.get("type")))
    if rule is None:
        return None  # a type this server does not know reaches no one
    if audience.kind is Kind.SUPERVISOR:
        return _staff_event(event, f, personal=True) if rule.supervisor else None
    if audience.kind is Kind.CONSOLE:
        return _console_event(rule.console, event, f, audience.counter or "", served)
    if not rule.display or not display.sees(event, f, audience.zone):
        return None
    return display.event(event, f)


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


def view(audience: Audience, state: HallState, calls: Iterable[Mapping[str, Any]]) -> Json:
    """The audience's snapshot of the hall: what a fresh client needs to draw itself.

    `calls` are the calls it carries (`CallHistory.for_snapshot`), oldest first."""
    common: Json = {
        "day": state.day,
        "agencies": [{"id": a.id, "name": a.name} for a in state.agencies.values()],
        "services": [shapes.service(s) for s in state.services.values()],
    }
    carried = display.with_states(calls, state)
    if audience.kind is Kind.DISPLAY:
        return display.snapshot(audience, state, carried, common)
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
            "site": shapes.site(state, full=False),
            **common,
            "counter": shapes.counter(state, state.counters[counter], staff=True)
            if counter in state.counters
            else None,
            "queues": snapshot_queues(audience, state, served),
            "waiting": [
                shapes.ticket(t, shapes.TICKET_NAMELESS) for t in waiting[:WAITING_LIST_MAX]
            ],
            "held": [shapes.ticket(t) for t in held],
            "calls": carried,
            "messages": shapes.messages(state, None, every_zone=True),
        }
    today = [t for t in state.tickets.values() if t.day == state.day]
    totals: dict[str, int] = {}
    for t in today:
        totals[str(t.state)] = totals.get(str(t.state), 0) + 1
    return {
        "site": shapes.site(state, full=True),
        **common,
        "queues": snapshot_queues(audience, state, frozenset()),
        "counters": [shapes.counter(state, c, staff=True) for c in state.counters.values()],
        "tickets": [shapes.ticket(t) for t in today if t.state not in FINAL_STATES],
        "totals": totals,
        "calls": carried,
        "messages": shapes.messages(state, None, every_zone=True),
    }
