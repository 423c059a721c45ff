"""Fold a site's log into visits and counter activity, one business day at a time (pure).

`SiteFold` takes the log's entries in order (version, event mapping, as the log
returns them) and keeps, per business day, one `Visit` per stay of a ticket in
a queue and the counters' `Activity`. It needs nothing but the log: the hall's
set-up (services' targets and agencies, counters' services) is folded from the
set-up events as it was at each moment, through the core's own `evolve`, and so
is the waiting-queue index that says whether a free counter had someone to call.
Every rule is written down in docs/reports.md.

A day's rows are final once its `day_closed` is folded (`on_closed` is called
with them); while the day is open, `rows(now)` gives them as if it ended now
(the live figures).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from qms.core import events as e
from qms.core.evolve import evolve, queue_key
from qms.core.model import HallState
from qms.core.policy import directed_queue
from qms.reports.activity import CounterActivity, Key
from qms.reports.decode import decode
from qms.reports.rows import Activity, Visit

SET_UP = (
    e.SiteConfigured,
    e.AgencyConfigured,
    e.ServiceConfigured,
    e.CounterConfigured,
    e.CounterServicesSet,
)
_SKIPPING_NEEDS = frozenset({*(cls.TYPE for cls in SET_UP), e.DayOpened.TYPE, e.DayClosed.TYPE})
_TICKET_KINDS = frozenset(
    cls for cls in e.EVENT_TYPES.values() if issubclass(cls, e.TicketStep | e.TicketIssued)
)
COUNTER_EVENTS = (e.CounterOpened, e.CounterPaused, e.CounterClosed)
FINAL_KNOWN = ("served", "no_show", "cancelled")  # the visitor's leaving time is known


class _Stay:
    """A visit while it is folded (mutable; becomes a `Visit` row)."""

    __slots__ = (
        "agency",
        "arrival",
        "call_at",
        "call_counter",
        "call_officer",
        "call_target",
        "calls",
        "channel",
        "directed_to",
        "end_target",
        "finished",
        "holds",
        "in_hand",
        "index",
        "issued",
        "number",
        "outcome",
        "priority",
        "recalls",
        "returns",
        "service",
        "start_at",
    )

    def __init__(
        self,
        index: int,
        number: str,
        service: str,
        agency: str,
        channel: str,
        priority: str,
        directed_to: str | None,
        issued: float,
        arrival: float,
    ) -> None:
        self.index, self.number, self.service, self.agency = index, number, service, agency
        self.channel, self.priority, self.directed_to = channel, priority, directed_to
        self.issued, self.arrival = issued, arrival
        self.call_at: float | None = None
        self.call_counter: str | None = None
        self.call_officer: str | None = None
        self.call_target: float | None = None
        self.start_at: float | None = None
        self.in_hand = False
        self.finished: float | None = None
        self.outcome: str | None = None
        self.end_target: float | None = None
        self.calls = self.recalls = self.returns = self.holds = 0


def _row(site: str, tz: str, day: str, ticket: str, stay: _Stay, last: bool) -> Visit:
    """The row of a visit: ended, or (live) as it stands."""
    led = stay.in_hand  # the visit ended (or stands) at a counter: its last call led there
    called = stay.call_at if led else None
    started = stay.start_at if led else None
    outcome, finished = stay.outcome, stay.finished
    wait_s = None if called is None else called - stay.arrival
    walk_s = None if started is None or called is None else started - called
    service_s = None
    if outcome == "served" and started is not None and finished is not None:
        service_s = finished - started
    hall_s = None
    if last and outcome in FINAL_KNOWN and finished is not None:
        hall_s = finished - stay.issued
    target_s = stay.call_target if led else stay.end_target
    within = None
    if outcome == "served" and wait_s is not None and target_s is not None:
        within = wait_s <= target_s
    return Visit(
        site,
        tz,
        day,
        ticket,
        stay.number,
        stay.index,
        last,
        stay.service,
        stay.agency,
        stay.channel,
        stay.priority,
        stay.directed_to,
        stay.issued,
        stay.arrival,
        called,
        started,
        finished,
        outcome,
        stay.call_counter if led else None,
        stay.call_officer if led else None,
        stay.calls,
        stay.recalls,
        stay.returns,
        stay.holds,
        wait_s,
        walk_s,
        service_s,
        hall_s,
        target_s,
        within,
    )


@dataclass
class DayRows:
    """A business day's rows. `closed_version`: the log version of the `day_closed`
    that closed it (0 while it is open)."""

    site: str
    day: str
    closed_version: int
    visits: list[Visit]
    activity: list[Activity]


@dataclass
class _Day:
    day: str
    activity: CounterActivity
    stays: dict[str, list[_Stay]] = field(default_factory=dict)  # in order of issue
    closed_version: int = 0


class SiteFold:
    """Folds one site's log entries into `DayRows`.

    `keep(day)` says, when a day first opens, whether to keep its rows (default:
    every day); the days left out cost only their set-up events. A day left out
    that opens again after it was closed (a `close_day` then a later command on
    the same date) is handed to `reopened(day, version)`: when it answers True,
    the day is listed in `redo` (its first part was not kept: fold it again).

    `after` and `until` (log versions) keep only the days first opened after `after`
    and up to `until`: one part of a rebuild split between processes (`store.rebuild`).
    Once a day opens after `until` and is not the day kept, no later day can be kept
    (a day opened again after another one is not kept either): `done` is set, and the
    rest of the log need not be read.
    """

    def __init__(
        self,
        site: str,
        *,
        keep: Callable[[str], bool] = lambda day: True,
        reopened: Callable[[str, int], bool] = lambda day, version: False,
        on_closed: Callable[[DayRows], None] | None = None,
        after: int = 0,
        until: int | None = None,
    ) -> None:
        self.site = site
        self.after, self.until = after, until
        self.done = False  # a day opened after `until` was not kept: nothing more to keep
        self.state = HallState()
        self.version = 0
        self.keep, self.reopened, self.on_closed = keep, reopened, on_closed
        self.closed: dict[str, int] = {}  # every closed day -> version of its last day_closed
        self.redo: set[str] = set()
        self.dirty: set[str] = set()  # tickets whose rows changed (for the live tables)
        self._day: _Day | None = None  # the day being kept (open, or closed until the next)
        self._skipping: str | None = None  # the open day whose rows are not kept
        self._seen: set[str] = set()  # days opened so far

    # -- reading the log -----------------------------------------------------------

    def apply_all(self, entries: Iterable[tuple[int, Mapping[str, Any]]]) -> None:
        for version, entry in entries:
            self.apply(version, entry)

    def apply(self, version: int, entry: Mapping[str, Any]) -> None:
        self.version = version
        if self._skipping is not None and entry.get("type") not in _SKIPPING_NEEDS:
            return  # a day not kept: only its set-up and its close matter (not even decoded)
        ev = decode(entry)  # checked when it was written
        if type(ev) in _TICKET_KINDS:  # most events: first
            self._ticket(ev)  # type: ignore[arg-type]
        elif isinstance(ev, SET_UP):
            evolve(self.state, ev)
            day = self._open_day()
            if day is not None and isinstance(ev, e.CounterConfigured | e.CounterServicesSet):
                day.activity.counters_changed()
                day.activity.update(self.state, [ev.counter], ev.at)
        elif isinstance(ev, e.DayOpened):
            self._opened(ev, version)
        elif self._skipping is not None:
            if isinstance(ev, e.DayClosed):
                self.closed[ev.day] = version
                self._skipping = None
        elif isinstance(ev, e.DayClosed):
            self._closed(ev, version)
        elif isinstance(ev, COUNTER_EVENTS):
            evolve(self.state, ev)
            day = self._open_day()
            if day is not None:
                day.activity.update(self.state, [ev.counter], ev.at)
        else:
            evolve(self.state, ev)

    def _open_day(self) -> _Day | None:
        day = self._day
        return day if day is not None and day.closed_version == 0 else None

    def _opened(self, ev: e.DayOpened, version: int) -> None:
        again = ev.day in self._seen
        self._seen.add(ev.day)
        self.closed.pop(ev.day, None)
        kept = self._day is not None and self._day.day == ev.day
        within = self.after < version and (self.until is None or version <= self.until)
        if not kept and not again and within and self.keep(ev.day):
            kept = True
            tz = self.state.site.timezone if self.state.site else "UTC"
            self._day = _Day(ev.day, CounterActivity(self.site, tz, ev.day))
        if not kept:
            if self.until is not None and version > self.until:
                self.done = True
            if again and self.reopened(ev.day, version):
                self.redo.add(ev.day)
            self._day = None
            self._skipping = ev.day
            return
        assert self._day is not None
        self._day.closed_version = 0
        self._skipping = None
        evolve(self.state, ev)

    def _closed(self, ev: e.DayClosed, version: int) -> None:
        day = self._day
        if day is None or day.day != ev.day:  # the log began inside this day: nothing kept
            known = [t for t in ev.expired if t in self.state.tickets]
            evolve(self.state, e.DayClosed(day=ev.day, expired=known, at=ev.at, by=ev.by))
            self.closed[ev.day] = version
            return
        for tid in ev.expired:
            stays = day.stays.get(tid)
            if stays:
                self._end(stays[-1], "expired", ev.at)
                self.dirty.add(tid)
        evolve(self.state, ev)
        day.activity.close_all(ev.at)
        day.closed_version = version
        self.closed[ev.day] = version
        if self.on_closed is not None:
            self.on_closed(self.rows())

    # -- tickets --------------------------------------------------------------------

    def _ticket(self, ev: e.TicketStep | e.TicketIssued) -> None:
        s, day = self.state, self._day
        queues = s.queues
        kind = type(ev)
        before = s.tickets.get(ev.ticket)
        # Who may call changes only where a queue became empty or not empty (the index
        # keeps no empty queue), and at the counters that held or now hold the ticket.
        keys: list[tuple[str, bool]] = []
        if before is not None:
            key = queue_key(before)
            keys.append((key, key in queues))
        if kind is e.TicketIssued:
            keys.append((ev.service, ev.service in queues))  # type: ignore[union-attr]
        elif kind is e.TicketTransferred:
            to: e.TicketTransferred = ev  # type: ignore[assignment]
            key = directed_queue(to.to_counter) if to.to_counter else to.to_service
            keys.append((key, key in queues))
        evolve(s, ev)
        if day is None:
            return
        self._stay_step(day, ev)
        self.dirty.add(ev.ticket)
        counters = [s.tickets[ev.ticket].counter]
        if kind is not e.TicketIssued:
            counters.append(ev.counter)  # type: ignore[union-attr]
        if before is not None:
            counters.append(before.counter)
        activity = day.activity
        for key, had in keys:
            if had != (key in queues):
                counters += activity.counters_of(s, key)
        activity.update(s, dict.fromkeys(c for c in counters if c is not None), ev.at)

    def _target(self, service: str) -> float | None:
        svc = self.state.services.get(service)
        return None if svc is None else svc.target_wait_min * 60.0

    def _agency(self, service: str) -> str:
        svc = self.state.services.get(service)
        return "" if svc is None else svc.agency

    def _stay_step(self, day: _Day, ev: e.TicketStep | e.TicketIssued) -> None:
        at = ev.at
        if isinstance(ev, e.TicketIssued):
            day.stays[ev.ticket] = [
                _Stay(
                    1,
                    ev.number,
                    ev.service,
                    self._agency(ev.service),
                    ev.channel.value,
                    ev.priority.value,
                    None,
                    at,
                    at,
                )
            ]
            return
        stays = day.stays.get(ev.ticket)
        if not stays:  # a ticket of a day not kept (cannot happen in a well-formed log)
            return
        stay = stays[-1]
        kind = type(ev)
        step: Any = ev  # its type is `kind` (compared by identity: faster than isinstance)
        if kind is e.TicketCalled:
            stay.calls += 1
            stay.call_at, stay.call_counter, stay.call_officer = at, step.counter, step.officer
            stay.call_target = self._target(stay.service)
            stay.start_at = None
            stay.in_hand = True
        elif kind is e.TicketRecalled:
            stay.recalls += 1
        elif kind is e.ServiceStarted:
            stay.start_at = at
        elif kind is e.TicketCompleted:
            self._end(stay, "served", at)
        elif kind is e.TicketNoShow:
            self._end(stay, "no_show", at)
        elif kind is e.TicketCancelled:
            self._end(stay, "cancelled", at)
        elif kind is e.TicketReturned:
            stay.returns += 1
            stay.in_hand = False
        elif kind is e.TicketHeld:
            stay.holds += 1
            stay.in_hand = False
        elif kind is e.TicketTransferred:
            self._end(stay, "transferred", at)
            agency = self._agency(step.to_service)
            nxt = _Stay(
                stay.index + 1,
                stay.number,
                step.to_service,
                agency,
                stay.channel,
                stay.priority,
                step.to_counter,
                stay.issued,
                at,
            )
            stays.append(nxt)
        # TicketUnheld: back in the queue; nothing to note.

    def _end(self, stay: _Stay, outcome: str, at: float) -> None:
        stay.outcome, stay.finished = outcome, at
        stay.end_target = self._target(stay.service)

    # -- rows -------------------------------------------------------------------------

    @property
    def open_day(self) -> str | None:
        """The business day open now whose rows are kept, if any."""
        day = self._open_day()
        return None if day is None else day.day

    def rows(self, now: float | None = None, tickets: Iterable[str] | None = None) -> DayRows:
        """The kept day's rows: final once it closed; while open, as if it ended at `now`
        (its visits going on have no outcome yet). `tickets`: only these tickets' visits,
        and no activity (the live tables sync the two apart)."""
        day = self._day
        if day is None:
            raise LookupError(f"site {self.site}: no business day is kept")
        tz = self.state.site.timezone if self.state.site else "UTC"
        stays_of = day.stays
        wanted = stays_of if tickets is None else {t: stays_of[t] for t in tickets if t in stays_of}
        visits = [
            _row(self.site, tz, day.day, tid, stay, i == len(stays) - 1)
            for tid, stays in wanted.items()
            for i, stay in enumerate(stays)
        ]
        if tickets is not None:
            return DayRows(self.site, day.day, day.closed_version, visits, [])
        activity = day.activity.rows()
        if day.closed_version == 0 and now is not None:
            activity += day.activity.open_rows(now)
        return DayRows(self.site, day.day, day.closed_version, visits, activity)

    @property
    def kept_day(self) -> str | None:
        """The day whose rows are kept: the open one, or the last one kept once it closed."""
        return None if self._day is None else self._day.day

    def take_activity_dirty(self) -> set[Key]:
        """The activity totals changed since the last call (for the live tables)."""
        if self._day is None:
            return set()
        dirty = self._day.activity.dirty
        self._day.activity.dirty = set()
        return dirty

    def activity_rows(self, keys: Iterable[Key] | None = None) -> list[Activity]:
        """The kept day's activity of the stretches that ended (only `keys`, when given)."""
        return [] if self._day is None else self._day.activity.rows(keys)

    def open_activity(self, now: float) -> list[Activity]:
        """The stretches of the open day still going on, as if they ended at `now`."""
        day = self._open_day()
        return [] if day is None else day.activity.open_rows(now)
