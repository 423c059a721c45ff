"""The day's calls of one site, so that a display that comes back is owed no call.

A display that resumes must be able to show every call it missed (docs/protocol.md,
"Resume"). A replay carries them as events. When the server answers with a
snapshot instead (the client is behind the ring, so far behind that a snapshot
is smaller, or it asked for one), the snapshot's `calls` carries every call of
the day after the client's version. `CallHistory` keeps the day's calls in
memory from the moment the feed opened (at most `QMS_STREAM_HISTORY_CALLS`);
calls from before that are read from the log when a client needs them (at most
`QMS_STREAM_HISTORY_READ` events per resume) and kept when they fit.

Only calls of the current day are owed: a display that was off overnight is
given today's calls, and yesterday's are forgotten when the next day opens.
Pure apart from `load`, which reads the log.
"""

from __future__ import annotations

import collections
import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from qms.core import HallState
from qms.display.audience import RECENT_CALLS, call_record
from qms.eventlog import EventLog
from qms.server.stream.facts import Facts

Json = dict[str, Any]

LOG_CHUNK = 2000  # events per read of the log while backfilling


def first_ticket(day: str) -> str:
    """The id of a day's first ticket (`core.decide`: ``{day}-{serial:05d}``): no call of
    the day can come before it was issued."""
    return f"{day}-{1:05d}"


def day_of(state: HallState) -> str | None:
    """The current business day, or the last one when the day is closed."""
    return state.day or max((t.day for t in state.tickets.values()), default=None)


@dataclass(frozen=True)
class Backfill:
    """Calls read from the log for one resume: those of `day` in versions (after, until]."""

    after: int
    until: int
    day: str | None
    calls: list[Json]
    complete: bool  # every call of the day in (after, until] is in `calls`


class CallHistory:
    """The day's calls of one site in this process, oldest first."""

    def __init__(self, limit: int, since: int, day: str | None) -> None:
        self.limit = limit
        self.since = since  # every call of the day after this version is in `calls`
        self.day = day
        self.calls: collections.deque[Json] = collections.deque()

    def covers(self, version: int) -> bool:
        """Whether every call of the day after `version` is held in memory."""
        return version >= self.since

    def add(self, version: int, event: Mapping[str, Any], f: Facts) -> None:
        """Fold one event of the log (every event, in order)."""
        if event.get("type") == "day_opened":
            day = str(event.get("day"))
            if day != self.day:  # a new day (the same day reopened keeps its calls)
                self.calls.clear()
            self.day = day
        call = call_record(version, event, f)
        if call is None:
            return
        self.calls.append(call)
        if len(self.calls) > self.limit:  # older calls are read from the log when owed
            self.since = self.calls.popleft()["version"]

    def reset(self, version: int) -> None:
        """Forget (after a failure of the feed): what is owed is read from the log."""
        self.calls.clear()
        self.since = version

    def recent(self, n: int = RECENT_CALLS) -> list[Json]:
        return list(itertools.islice(reversed(self.calls), n))[::-1]

    def after(self, version: int) -> list[Json]:
        """The calls held after `version`, oldest first (reads only those)."""
        out = list(itertools.takewhile(lambda c: c["version"] > version, reversed(self.calls)))
        out.reverse()
        return out

    def recovered(self, version: int, backfill: Backfill | None) -> bool:
        """Whether a snapshot can carry every call of the day after `version`."""
        if self.covers(version):
            return True
        return (
            backfill is not None
            and backfill.complete
            and backfill.day == self.day
            and backfill.after <= version
            and backfill.until >= self.since
        )

    def for_snapshot(self, version: int | None, backfill: Backfill | None = None) -> list[Json]:
        """The calls a snapshot carries: the last few (for a display to draw its list),
        and every call of the day after `version` (what a resuming client missed)."""
        recent = self.recent()
        if version is None:
            return recent
        owed: Iterable[Json] = self.after(version)
        if backfill is not None and backfill.day == self.day:
            owed = itertools.chain((c for c in backfill.calls if c["version"] > version), owed)
        by_version = {c["version"]: c for c in itertools.chain(owed, recent)}
        return [by_version[v] for v in sorted(by_version)]

    def merge(self, backfill: Backfill) -> None:
        """Keep calls read from the log that join the memory's, as many as fit."""
        if not (backfill.complete and backfill.until == self.since and backfill.day == self.day):
            return
        room = self.limit - len(self.calls)
        if room <= 0:
            return
        kept = backfill.calls[-room:]
        self.calls.extendleft(reversed(kept))
        if len(kept) == len(backfill.calls):
            self.since = backfill.after
        else:  # every call after the newest one left out is held
            self.since = backfill.calls[-room - 1]["version"]

    async def load(
        self, log: EventLog, site: str, after: int, state: HallState, read_limit: int
    ) -> Backfill:
        """The day's calls in (after, since] from the log, at most `read_limit` events back.

        Complete when the read reached `after`, or when it met the issue of the day's
        first ticket (nothing of the day came before). Merged into memory when it fits.
        """
        until, day = self.since, self.day
        start = max(after, until - read_limit)
        complete = start == after or day is None
        first = first_ticket(day) if day else None
        calls: list[Json] = []
        position = start
        while position < until:
            entries = await log.read(site, after=position, limit=min(LOG_CHUNK, until - position))
            if not entries:
                break
            for version, event in entries:
                if version > until:
                    break
                if event.get("type") == "ticket_issued" and event.get("ticket") == first:
                    complete = True
                call = _logged_call(version, event, state, day)
                if call is not None:
                    calls.append(call)
            position = entries[-1][0]
        backfill = Backfill(after, until, day, calls, complete)
        self.merge(backfill)
        return backfill


def _logged_call(
    version: int, event: Mapping[str, Any], state: HallState, day: str | None
) -> Json | None:
    """A call read from the log, projected with today's state (its number never changes)."""
    if event.get("type") not in ("ticket_called", "ticket_recalled"):
        return None
    ticket = state.tickets.get(str(event.get("ticket")))
    if ticket is None or ticket.day != day:
        return None
    counter = state.counters.get(str(event.get("counter")))
    f = Facts(number=ticket.number, service=ticket.service, zone=counter.zone if counter else None)
    return call_record(version, event, f)
