"""Which waiting ticket a counter calls next.

A policy is a sort key over the candidate tickets (smallest goes first);
register more in `POLICIES`. On top of any policy:
- tickets transferred to this very counter go first;
- priority tickets (disabilitas, lansia, ibu hamil) go before regular ones,
  except that a regular ticket goes first after `priority_streak_max` priority
  calls in a row at this counter, or once a regular ticket has waited past its
  service's target (so regular visitors are never starved).
"""

from __future__ import annotations

from collections.abc import Callable

from qms.core.model import Counter, HallState, Site, Ticket

SortKey = tuple[float | str, ...]
Policy = Callable[[Ticket, Counter, HallState, float], SortKey]


def by_arrival(t: Ticket, c: Counter, s: HallState, now: float) -> SortKey:
    """Strict arrival order across the counter's services."""
    return (t.arrival_at, t.id)


def by_preference(t: Ticket, c: Counter, s: HallState, now: float) -> SortKey:
    """The counter's first service first; arrival order within a service."""
    rank = c.services.index(t.service) if t.service in c.services else len(c.services)
    return (rank, t.arrival_at, t.id)


def by_target(t: Ticket, c: Counter, s: HallState, now: float) -> SortKey:
    """The ticket whose wait is the largest fraction of its service's target."""
    return (-wait_fraction(t, s, now), t.arrival_at, t.id)


POLICIES: dict[str, Policy] = {
    "arrival": by_arrival,
    "preference": by_preference,
    "target": by_target,
}


def wait_fraction(t: Ticket, s: HallState, now: float) -> float:
    target_s = max(1, s.services[t.service].target_wait_min) * 60.0
    return (now - t.arrival_at) / target_s


def candidates(state: HallState, counter: Counter) -> list[Ticket]:
    """Today's waiting tickets this counter may call (all of them: for views and tests)."""
    out = state.waiting_in(directed_queue(counter.id))
    for service in counter.services:
        out.extend(state.waiting_in(service))
    return out


def directed_queue(counter: str) -> str:
    """The queue key of tickets transferred to one counter."""
    return "@" + counter


def choose(state: HallState, site: Site, counter: Counter, now: float) -> Ticket | None:
    """The ticket `counter` calls next, or None.

    Within one service and priority class every policy orders by arrival, so
    only the head of each line (`HallState.lines`) can win: the choice costs
    one look per service, not one per waiting ticket. A policy added to
    `POLICIES` must keep that property.
    """
    key = POLICIES[site.policy]

    def best(pool: list[Ticket]) -> Ticket:
        return min(pool, key=lambda t: key(t, counter, state, now))

    directed = state.waiting_in(directed_queue(counter.id))  # few, of any service
    if directed:
        return best(directed)
    regular: list[Ticket] = []
    priority: list[Ticket] = []
    for service in counter.services:
        line = state.lines.get(service)
        if line is not None:
            regular.extend(state.tickets[tid] for _, tid in line.regular[:1])
            priority.extend(state.tickets[tid] for _, tid in line.priority[:1])
    if not priority or not regular:
        return best(priority or regular) if priority or regular else None
    # A line's head waited longest in it: if any regular ticket is overdue, its head is.
    overdue = [t for t in regular if wait_fraction(t, state, now) >= 1.0]
    if overdue:
        return best(overdue)
    if counter.priority_streak >= site.priority_streak_max:
        return best(regular)
    return best(priority)
