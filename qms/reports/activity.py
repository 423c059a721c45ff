"""Counter activity: each counter's open and paused time, per state and quarter hour.

While a counter is open it is `busy` (a ticket in hand: called or serving),
`idle_waiting` (free, and a ticket waits that it may call: `call_next` would
succeed), or `idle` (free, nobody waits for it); `paused` while on a break. A
closed counter has no time. The state is read off the hall's state as the real
`evolve` leaves it after each event, so "may call" is exactly the core's rule
(`qms.core.policy.candidates`).

The time is kept as totals per (counter, officer, state, site-local quarter
hour): any 15, 30 or 60 minute interval then sums whole rows, and a busy day is
a few thousand rows however often a counter flips between idle and busy (the
exact stretches are in the log, for whoever needs them).
"""

from __future__ import annotations

from collections.abc import Iterable

from qms.core.model import Counter, CounterState, HallState
from qms.core.policy import directed_queue
from qms.reports.rows import Activity, LocalClock

Key = tuple[str, str | None, str, float]  # counter, officer, state, quarter start (unix s)


def counter_state(state: HallState, counter: Counter) -> str | None:
    """The activity state of `counter` now, or None when it is closed."""
    if counter.state is CounterState.CLOSED:
        return None
    if counter.state is CounterState.PAUSED:
        return "paused"
    if counter.ticket is not None:
        return "busy"
    queues = state.queues
    if queues.get(directed_queue(counter.id)) or any(queues.get(s) for s in counter.services):
        return "idle_waiting"
    return "idle"


class CounterActivity:
    """Follows every counter of a site through one business day."""

    def __init__(self, site: str, tz: str, day: str) -> None:
        self.site, self.tz, self.day = site, tz, day
        self._clock = LocalClock(tz)
        # counter -> (state, officer, since) of the stretch going on
        self._open: dict[str, tuple[str, str | None, float]] = {}
        self._by_service: dict[str, list[str]] | None = None  # service -> counters serving it
        self.totals: dict[Key, float] = {}  # seconds of the stretches that ended
        self.dirty: set[Key] = set()  # totals changed since the caller last cleared this

    def counters_changed(self) -> None:
        """A counter's services changed: the service index is rebuilt when next needed."""
        self._by_service = None

    def counters_of(self, state: HallState, queue: str) -> list[str]:
        """The counters that may call from `queue` (a service, or "@<counter>")."""
        if queue.startswith("@"):
            return [queue[1:]]
        if self._by_service is None:
            index: dict[str, list[str]] = {}
            for counter in state.counters.values():
                for service in counter.services:
                    index.setdefault(service, []).append(counter.id)
            self._by_service = index
        return self._by_service.get(queue, [])

    def update(self, state: HallState, counters: Iterable[str], at: float) -> None:
        """Re-read the state of `counters` after an event at `at`."""
        for cid in counters:
            counter = state.counters.get(cid)
            now = None if counter is None else counter_state(state, counter)
            officer = None if counter is None else counter.officer
            going = self._open.get(cid)
            if going is not None and (going[0], going[1]) == (now, officer):
                continue
            if going is not None:
                self._add(self.totals, cid, going, at, self.dirty)
                del self._open[cid]
            if now is not None:
                self._open[cid] = (now, officer, at)

    def close_all(self, at: float) -> None:
        for cid, going in sorted(self._open.items()):
            self._add(self.totals, cid, going, at, self.dirty)
        self._open.clear()

    def rows(self, keys: Iterable[Key] | None = None) -> list[Activity]:
        """The totals of the stretches that ended (only `keys`, when given)."""
        totals = self.totals
        wanted = totals if keys is None else {k: totals[k] for k in keys if k in totals}
        return [self._row(key, seconds) for key, seconds in wanted.items()]

    def open_rows(self, now: float) -> list[Activity]:
        """The stretches still going on, as if they ended at `now` (live figures)."""
        pieces: dict[Key, float] = {}
        for cid, going in sorted(self._open.items()):
            self._add(pieces, cid, going, max(now, going[2]), None)
        return [self._row(key, seconds) for key, seconds in pieces.items()]

    def _row(self, key: Key, seconds: float) -> Activity:
        counter, officer, kind, start = key
        return Activity(self.site, self.tz, self.day, counter, officer, kind, start, seconds)

    def _add(
        self,
        into: dict[Key, float],
        cid: str,
        going: tuple[str, str | None, float],
        end: float,
        dirty: set[Key] | None,
    ) -> None:
        """Add a stretch from its start to `end` to `into`, cut at each quarter hour."""
        kind, officer, start = going
        while start < end:
            nxt = self._clock.next_quarter(start)
            cut = min(end, nxt)
            key = (cid, officer, kind, nxt - 900.0)
            into[key] = into.get(key, 0.0) + (cut - start)
            if dirty is not None:
                dirty.add(key)
            start = cut
