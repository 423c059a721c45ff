"""The shapes of a hall's resources in snapshots: a site, a service, a counter, a ticket.

Every audience is given the same shape of a resource; an audience that may not see a
field is given the shape without it (`full=False`), never a different one.
"""

from __future__ import annotations

from qms.core.model import HallState, Ticket
from qms.server.stream.facts import SITE_PUBLIC, Json


def site(state: HallState, full: bool) -> Json | None:
    if state.site is None:
        return None
    site = vars(state.site)
    return dict(site) if full else {k: site[k] for k in SITE_PUBLIC}


def services(state: HallState) -> list[Json]:
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


def ticket_detail(t: Ticket) -> Json:
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


def counter(state: HallState, counter_id: str, full: bool) -> Json:
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
        out["ticket_detail"] = ticket_detail(ticket) if ticket else None
    return out


def messages(state: HallState, zone: str | None, every_zone: bool) -> dict[str, str]:
    if every_zone:
        return dict(state.messages)
    return {z: text for z, text in state.messages.items() if z in ("", zone or "")}
