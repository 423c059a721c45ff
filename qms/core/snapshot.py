"""The hall's state as plain data and back, for snapshots in the event log."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from qms.core.events import Event
from qms.core.evolve import rebuild_queues, tickets_touched
from qms.core.model import HallState, Ticket
from qms.eventsourcing.schema import from_dict, to_dict

# Raised when the state's shape changes; an older snapshot is then ignored and
# the state rebuilt from the log (snapshots are a cache, the log is the truth).
SNAPSHOT_SCHEMA = 2  # 2: `rateable`, the older days' visits still open to the survey


def state_to_dict(state: HallState) -> dict[str, Any]:
    data: dict[str, Any] = to_dict(state)
    del data["queues"], data["lines"]  # derived
    data["snapshot_schema"] = SNAPSHOT_SCHEMA
    return data


class LiveSnapshot:
    """A snapshot of `state` as it is now, taken without copying the tickets.

    Everything but the tickets is converted at once (small). The tickets are
    converted later, a few at a time (`ticket`), from the live state, in the
    order they had; a ticket that an event is about to change is converted first
    (`before`, copy on write). The engine calls `before` ahead of every event it
    folds in while the snapshot is being written. So taking a snapshot costs the
    command path a dict of the ticket ids, not a copy of a busy day (10 ms at
    3,000 tickets, which was the p99 of a lightly loaded engine).


    The older days' visits still open to the survey (`rateable`, up to a week of
    completed tickets) are written the same way, after the tickets.
    """

    def __init__(self, state: HallState) -> None:
        self._state = state
        rest = copy.copy(state)
        rest.tickets, rest.queues, rest.lines = {}, {}, {}  # derived ones are not stored
        rest.rateable = {}
        self.head = state_to_dict(rest)
        del self.head["tickets"], self.head["rateable"]
        self.order = list(state.tickets)  # tickets issued from now on are not in it
        self.rateable_order = list(state.rateable)
        self._rateable = state.rateable  # replaced, not changed, when a day opens
        # not converted yet, per map: "t" the tickets, "r" the rateable visits
        self._left = {"t": set(self.order), "r": set(self.rateable_order)}
        self._early: dict[tuple[str, str], dict[str, Any]] = {}  # converted before a change

    def _convert(self, where: str, tid: str) -> dict[str, Any]:
        return ticket_to_dict((self._state.tickets if where == "t" else self._rateable)[tid])

    def before(self, ev: Event) -> None:
        """Call before `evolve(state, ev)`: keep what `ev` changes as it is now."""
        touched = tickets_touched(ev)
        for where, left in self._left.items():
            for tid in list(left) if touched is None else touched:
                if tid in left:
                    left.discard(tid)
                    self._early[where, tid] = self._convert(where, tid)

    def ticket(self, tid: str) -> dict[str, Any]:
        """Ticket `tid` (one of `order`) as it was when the snapshot was taken."""
        return self._take("t", tid)

    def rateable(self, tid: str) -> dict[str, Any]:
        """Visit `tid` (one of `rateable_order`) as it was when the snapshot was taken."""
        return self._take("r", tid)

    def _take(self, where: str, tid: str) -> dict[str, Any]:
        early = self._early.pop((where, tid), None)
        if early is not None:
            return early
        self._left[where].discard(tid)
        return self._convert(where, tid)


def ticket_to_dict(ticket: Ticket) -> dict[str, Any]:
    """One ticket as `state_to_dict` stores it (to serialise a state a piece at a time)."""
    data: dict[str, Any] = to_dict(ticket)
    return data


def state_from_dict(data: Mapping[str, Any]) -> HallState | None:
    """The state, or None when the snapshot is of another shape."""
    if data.get("snapshot_schema") != SNAPSHOT_SCHEMA:
        return None
    fields = {k: v for k, v in data.items() if k != "snapshot_schema"}
    state = from_dict(HallState, fields, strict=False)
    rebuild_queues(state)
    return state
