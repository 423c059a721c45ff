"""Read-only views of one site's hall: pure functions of a `HallState` and `now`.

No I/O and no clock: the HTTP layer (`api_hall`, `api_commands`) passes the engine's state and
the time in. Every view is plain JSON-ready data. The resources
themselves (a site, a service, a counter, a ticket, a queue) have one shape each, built by
`qms.server.shapes` for HTTP and the stream alike. Public views (set-up, queues,
counters without officers, a ticket's status) never carry personal data or a
ticket's token; staff views add officers and ticket ids.

Estimates are simple and say so: a service's mean service time is the mean of
its last `RECENT_COMPLETIONS` completed tickets (its target wait when it has
none yet), and a wait is the people ahead times that mean divided by the open counters that
serve the service (`shapes.estimate`; a counter's queue: that counter, when open).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import asdict
from typing import Any

from qms.core.model import (
    CounterState,
    HallState,
    Priority,
    Ticket,
    TicketState,
)
from qms.core.policy import directed_queue
from qms.server import shapes

RECENT_COMPLETIONS = 20  # how many completed tickets make a service's mean service time

Json = dict[str, Any]


# --- set-up ----------------------------------------------------------------------------


def site_setup(state: HallState) -> Json:
    """The site, its agencies, services, counters (their configuration) and running texts."""
    return {
        "site": shapes.site(state, full=True),
        "day": state.day,
        "agencies": [asdict(a) for a in state.agencies.values()],
        "services": [shapes.service(s) for s in state.services.values()],
        "counters": [
            shapes.counter(state, c, staff=False, live=False) for c in state.counters.values()
        ],
        "messages": dict(state.messages),
    }


# --- service times and waits -------------------------------------------------------------


def mean_service_times(state: HallState, recent: int = RECENT_COMPLETIONS) -> dict[str, float]:
    """Seconds per service: the mean service time of its last `recent` completed tickets.

    Services with no completion yet are absent (callers fall back to the target).
    """
    done: dict[str, list[Ticket]] = {}
    for t in state.tickets.values():
        if t.state is TicketState.DONE and t.started_at is not None and t.finished_at is not None:
            done.setdefault(t.service, []).append(t)
    means: dict[str, float] = {}
    for service, tickets in done.items():
        last = sorted(tickets, key=lambda t: t.finished_at or 0.0)[-recent:]
        means[service] = sum((t.finished_at or 0.0) - (t.started_at or 0.0) for t in last) / len(
            last
        )
    return means


def queues(
    state: HallState, now: float, means: dict[str, float] | None = None, *, public: bool = False
) -> list[Json]:
    """Every queue of the hall (`shapes.queue_ids`): waiting count, oldest wait, and the
    estimated wait of a ticket joining it; `public`: the services' queues only."""
    means = mean_service_times(state) if means is None else means
    return [
        shapes.queue(state, key, now=now, means=means)
        for key in shapes.queue_ids(state)
        if not public or shapes.public_queue(key)
    ]


# --- counters and tickets ------------------------------------------------------------------


def counters(state: HallState, *, staff: bool, zone: str | None = None) -> list[Json]:
    """Every counter (of one zone when given); officers and ticket ids only for staff."""
    return [
        shapes.counter(state, c, staff=staff)
        for c in state.counters.values()
        if zone is None or c.zone == zone
    ]


def current_day(state: HallState) -> str | None:
    """The open business day, or after close-day the last day that had tickets."""
    return state.day or max((t.day for t in state.tickets.values()), default=None)


def todays_tickets(
    state: HallState,
    *,
    states: Iterable[TicketState] | None = None,
    service: str | None = None,
) -> list[Json]:
    """Today's tickets in issue order, optionally of some states and one service."""
    day = current_day(state)
    wanted = frozenset(states) if states is not None else None
    return [
        shapes.ticket(t)
        for t in state.tickets.values()
        if t.day == day
        and (wanted is None or t.state in wanted)
        and (service is None or t.service == service)
    ]


# --- one ticket's public status ---------------------------------------------------------------


def people_ahead(state: HallState, t: Ticket) -> int:
    """Waiting tickets of the same queue that go before `t`.

    A priority ticket has the earlier priority tickets ahead of it; a regular one
    has every priority ticket and the earlier regular ones. An estimate: the
    starvation guard and the counters' other services can change the order.
    """
    key = directed_queue(t.target_counter) if t.target_counter else t.service
    mine = (t.arrival_at, t.id)
    regular = t.priority is Priority.REGULAR
    ahead = 0
    for o in state.waiting_in(key):
        if o.id == t.id:
            continue
        o_regular = o.priority is Priority.REGULAR
        if (regular and not o_regular) or (regular == o_regular and (o.arrival_at, o.id) < mine):
            ahead += 1
    return ahead


def ticket_status(
    state: HallState, t: Ticket, now: float, means: dict[str, float] | None = None
) -> Json:
    """What a visitor may see of their own ticket: no token, no officer, no personal data."""
    service = state.services.get(t.service)
    out: Json = {
        "number": t.number,
        "service": t.service,
        "service_name_id": service.name_id if service else t.service,
        "service_name_en": service.name_en if service else t.service,
        "day": t.day,
        "state": t.state.value,
        "issued_at": t.issued_at,
        "people_ahead": None,
        "estimated_wait_s": None,
        "counter": None,
        "called_at": None,
        "recalls": 0,
    }
    if t.state is TicketState.WAITING:
        ahead = people_ahead(state, t)
        means = mean_service_times(state) if means is None else means
        per_ticket = shapes.service_time(state, t.service, means)
        if t.target_counter is not None:
            target = state.counters.get(t.target_counter)
            serving = 1 if target is not None and target.state is CounterState.OPEN else 0
        else:
            serving = len(shapes.open_counters(state, t.service))
        out["people_ahead"] = ahead
        out["estimated_wait_s"] = shapes.estimate(ahead, per_ticket, serving)
    elif t.state in (TicketState.CALLED, TicketState.SERVING) and t.counter is not None:
        c = state.counters.get(t.counter)
        out["counter"] = {"counter": t.counter, "name": c.name if c else t.counter}
        out["called_at"] = t.called_at
        out["recalls"] = t.recalls  # public (displays see it): a phone signals a recall too
    return out


# --- derived data, kept per version ----------------------------------------------------------


class SiteViews:
    """Derived data of one site's state, brought up to date lazily when its version moves.

    The token index grows with the tickets (a ticket's token never changes) and is
    rebuilt only when the state's ticket map is replaced (a new business day);
    mean service times are recomputed at most once per version.
    """

    def __init__(self) -> None:
        self._tickets: dict[str, Ticket] | None = None
        self._indexed = 0
        self._by_token: dict[str, str] = {}
        self._token_version = -1
        self._rateable: dict[str, Ticket] | None = None
        self._rateable_by_token: dict[str, str] = {}
        self._means: dict[str, float] = {}
        self._means_version = -1

    def find_token(self, state: HallState, version: int, token: str) -> Ticket | None:
        """The ticket whose public token is `token` (or the older day's completed visit
        still open to the survey: `state.rateable`), or None."""
        if version != self._token_version or state.tickets is not self._tickets:
            self._index(state)
            self._token_version = version
        ticket_id = self._by_token.get(token)
        if ticket_id is not None:
            return state.tickets.get(ticket_id)
        if not state.rateable:
            return None
        if state.rateable is not self._rateable:  # replaced, never changed, when a day opens
            self._rateable = state.rateable
            self._rateable_by_token = {t.token: t.id for t in state.rateable.values()}
        ticket_id = self._rateable_by_token.get(token)
        return state.rateable.get(ticket_id) if ticket_id is not None else None

    def _index(self, state: HallState) -> None:
        tickets = state.tickets
        if tickets is not self._tickets or len(tickets) < self._indexed:
            self._tickets, self._indexed, self._by_token = tickets, 0, {}
        for t in itertools.islice(tickets.values(), self._indexed, None):
            self._by_token[t.token] = t.id
        self._indexed = len(tickets)

    def means(self, state: HallState, version: int) -> dict[str, float]:
        """`mean_service_times(state)`, computed once per version."""
        if version != self._means_version:
            self._means = mean_service_times(state)
            self._means_version = version
        return self._means
