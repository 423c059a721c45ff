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

from qms.core.model import Counter, HallState, Priority, Site, Ticket

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
    """Today's waiting tickets this counter may call."""
    out = state.waiting_in(directed_queue(counter.id))
    for service in counter.services:
        out.extend(state.waiting_in(service))
    return out


def directed_queue(counter: str) -> str:
    """The queue key of tickets transferred to one counter."""
    return "@" + counter


def choose(state: HallState, site: Site, counter: Counter, now: float) -> Ticket | None:
    tickets = candidates(state, counter)
    if not tickets:
        return None
    key = POLICIES[site.policy]

    def best(pool: list[Ticket]) -> Ticket:
        return min(pool, key=lambda t: key(t, counter, state, now))

    directed = [t for t in tickets if t.target_counter == counter.id]
    if directed:
        return best(directed)
    priority = [t for t in tickets if t.priority is not Priority.REGULAR]
    regular = [t for t in tickets if t.priority is Priority.REGULAR]
    if not priority or not regular:
        return best(tickets)
    overdue = [t for t in regular if wait_fraction(t, state, now) >= 1.0]
    if overdue:
        return best(overdue)
    if counter.priority_streak >= site.priority_streak_max:
        return best(regular)
    return best(priority)
