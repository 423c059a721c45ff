"""What a hall display may see and say: the display's audience of the live stream.

Ticket numbers, counters, waiting counts, running text, calls and recalls. Never a
ticket's token, an officer's name, who gave a command, or a ticket's priority
category (disability, pregnancy: personal). A display limited to a zone sees the
counters and running text of its zone. Which event types reach a display at all is
the stream's table (`qms.server.stream.audience.AUDIENCES`); the fields of each are
whitelisted here, so a field nobody listed never reaches a screen.

After a resync a display shows every call it missed and announces only those whose
ticket is still called (`with_states`; docs/protocol.md, "What a display says after
an outage"). Pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from qms.core.model import HallState
from qms.server import shapes
from qms.server.stream.facts import (
    COUNTER_EVENTS,
    DAY_EVENTS,
    SETUP_EVENTS,
    TICKET_EVENTS,
    Audience,
    Facts,
    Json,
    pick,
    snapshot_queues,
)

RECENT_CALLS = 10  # the last calls every snapshot carries (a resume's carries more)


def event(event: Mapping[str, Any], f: Facts) -> Json | None:
    kind = event.get("type")
    out = pick(event, ("type", "schema", "at"))
    if kind == "site_configured":
        site = event.get("site")
        out["site"] = pick(site, shapes.SITE_PUBLIC) if isinstance(site, Mapping) else {}
    elif kind in ("agency_configured", "service_configured", "day_opened"):
        out.update(pick(event, ("agency", "service", "day")))
    elif kind == "counter_configured":
        out.update(pick(event, ("counter", "name", "zone", "services")))
    elif kind == "day_closed":
        out["day"] = event.get("day")
    elif kind in COUNTER_EVENTS:
        out.update(pick(event, ("counter", "services")))  # never the officer
    elif kind in TICKET_EVENTS:
        out.update(pick(event, ("ticket", "counter", "recalls", "to_service", "to_counter")))
        out["number"] = f.number
        out["service"] = event["service"] if kind == "ticket_issued" else f.service
    elif kind == "message_broadcast":
        out.update(pick(event, ("text", "zone")))
        out.setdefault("text", "")
        out.setdefault("zone", "")
    else:
        return None  # an event type displays do not know is withheld
    return out


def sees(event: Mapping[str, Any], f: Facts, zone: str | None) -> bool:
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


def with_states(calls: Iterable[Mapping[str, Any]], state: HallState) -> list[Json]:
    """Calls with their ticket's current state: of the calls it missed, a display
    announces only those still `called` (not being served, done or a no-show)."""
    out = []
    for call in calls:
        ticket = state.tickets.get(str(call.get("ticket")))
        out.append({**call, "state": str(ticket.state) if ticket is not None else None})
    return out


def snapshot(audience: Audience, state: HallState, calls: list[Json], common: Json) -> Json:
    """A display's snapshot: its zone's counters and calls, the hall's public set-up."""
    zone = audience.zone
    counters = [c for c in state.counters.values() if zone is None or c.zone == zone]
    return {
        "site": shapes.site(state, full=False),
        **common,
        "zone": zone,
        "queues": snapshot_queues(audience, state, frozenset()),
        "counters": [shapes.counter(state, c, staff=False) for c in counters],
        "calls": [c for c in calls if zone is None or c["zone"] == zone],
        "messages": shapes.messages(state, zone, every_zone=False),
    }
