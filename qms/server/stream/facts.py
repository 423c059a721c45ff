"""The stream's vocabulary: the audiences, and the facts an event is projected with.

Pure. `audience` (who sees what) and the apps' projections (`qms.display.audience`)
build on it.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from qms.core.model import HallState
from qms.core.policy import directed_queue
from qms.server import shapes

Json = dict[str, Any]


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


# --- event groups ---------------------------------------------------------------------

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


def pick(event: Mapping[str, Any], names: Iterable[str]) -> Json:
    return {n: event[n] for n in names if event.get(n) is not None}


def sees_queue(audience: Audience, queue_id: str, served: frozenset[str]) -> bool:
    """Is an audience told about this queue? Supervisors of every one, displays of the
    services' (`shapes.public_queue`), a console of those it serves and its own."""
    if audience.kind is Kind.SUPERVISOR:
        return True
    if audience.kind is Kind.DISPLAY:
        return shapes.public_queue(queue_id)
    return queue_id in served or queue_id == directed_queue(audience.counter or "")


def visible_queues(
    audience: Audience, queues: Mapping[str, int], served: frozenset[str]
) -> list[Json]:
    """The queues of `queues` (waiting counts by queue id) an audience is told about,
    in the stream's shape (`shapes.QUEUE_LIVE`)."""
    return [shapes.live_queue(k, n) for k, n in queues.items() if sees_queue(audience, k, served)]


def snapshot_queues(audience: Audience, state: HallState, served: frozenset[str]) -> list[Json]:
    """The queues of a snapshot: those of `GET …/queues` (`shapes.queue_ids`) the
    audience is told about, in the stream's shape."""
    return [
        shapes.queue(state, k, shapes.QUEUE_LIVE)
        for k in shapes.queue_ids(state)
        if sees_queue(audience, k, served)
    ]
