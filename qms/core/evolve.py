"""evolve(state, event) -> state: fold one recorded fact into the hall's state.

Never refuses: an event is a fact already in the log. For speed the state is
updated in place and returned (an engine owns its state; `decide` never sees a
state that `evolve` is changing). Copy the state first to keep an old one.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from typing import Any

from qms.core import events as e
from qms.core.model import (
    FINAL_STATES,
    Counter,
    CounterState,
    HallState,
    Line,
    Priority,
    Step,
    Ticket,
    TicketState,
)
from qms.core.policy import directed_queue

_APPLY: dict[type[e.Event], Callable[[HallState, Any], None]] = {}


def applies(cls: type[e.Event]) -> Callable[[Callable[[HallState, Any], None]], Any]:
    def register(fn: Callable[[HallState, Any], None]) -> Any:
        _APPLY[cls] = fn
        return fn

    return register


def evolve(state: HallState, event: e.Event) -> HallState:
    _APPLY[type(event)](state, event)
    return state


# --- set-up and the day -----------------------------------------------------------


@applies(e.SiteConfigured)
def _site(s: HallState, ev: e.SiteConfigured) -> None:
    s.site = ev.site


@applies(e.AgencyConfigured)
def _agency(s: HallState, ev: e.AgencyConfigured) -> None:
    s.agencies[ev.agency.id] = ev.agency


@applies(e.ServiceConfigured)
def _service(s: HallState, ev: e.ServiceConfigured) -> None:
    s.services[ev.service.id] = ev.service


@applies(e.CounterConfigured)
def _counter_configured(s: HallState, ev: e.CounterConfigured) -> None:
    counter = s.counters.get(ev.counter)
    if counter is None:
        s.counters[ev.counter] = Counter(
            id=ev.counter, name=ev.name, zone=ev.zone, services=list(ev.services)
        )
    else:
        counter.name, counter.zone, counter.services = ev.name, ev.zone, list(ev.services)


@applies(e.DayOpened)
def _day_opened(s: HallState, ev: e.DayOpened) -> None:
    # Keep the day before (its tickets answer "expired"); forget older ones.
    # DayClosed has already cleared `s.day`, so find that day among the tickets.
    before = max((t.day for t in s.tickets.values() if t.day < ev.day), default=None)
    reopened = any(t.day == ev.day for t in s.tickets.values())
    kept = {k: t for k, t in s.tickets.items() if t.day in (ev.day, before)}
    _keep_rateable(s, [t for k, t in s.tickets.items() if k not in kept], ev.at)
    s.tickets = kept
    s.day = ev.day
    if not reopened:  # the same day opened again after close_day goes on numbering
        s.seq = {}
        s.serial = 0
    s.queues, s.lines = {}, {}


def _keep_rateable(s: HallState, dropped: list[Ticket], now: float) -> None:
    """The completed visits among `dropped` whose survey window is still open join
    `s.rateable` (without their steps); the ones whose window has closed leave it.
    Only a window over a day keeps any: the tickets of today and the day before cover a
    day. Rated ones stay until then too, so their page says "rated", not "no such ticket"."""
    window = float((s.survey or {}).get("valid_hours", 24)) * 3600

    def open_(t: Ticket) -> bool:
        return t.finished_at is not None and now - t.finished_at < window

    rateable = {k: t for k, t in s.rateable.items() if open_(t)}
    for t in dropped:  # out of `s.tickets`: nothing else holds them, so they are changed
        if t.state is TicketState.DONE and open_(t):
            t.steps = []
            rateable[t.id] = t
    s.rateable = rateable  # a new map: the token index sees it changed (qms.server.queries)


@applies(e.DayClosed)
def _day_closed(s: HallState, ev: e.DayClosed) -> None:
    for tid in ev.expired:
        t = s.tickets[tid]
        _unqueue(s, t)
        t.state = TicketState.EXPIRED
        t.finished_at = ev.at
        t.steps.append(Step("expired", ev.at))
    for counter in s.counters.values():
        counter.state, counter.officer, counter.ticket = CounterState.CLOSED, None, None
        counter.priority_streak = 0
    s.queues, s.lines = {}, {}
    s.day = None


# --- tickets ------------------------------------------------------------------------


@applies(e.TicketIssued)
def _issued(s: HallState, ev: e.TicketIssued) -> None:
    t = Ticket(
        id=ev.ticket,
        number=ev.number,
        service=ev.service,
        day=ev.day,
        seq=ev.seq,
        token=ev.token,
        priority=ev.priority,
        channel=ev.channel,
        issued_at=ev.at,
        arrival_at=ev.at,
        steps=[Step("issued", ev.at)],
    )
    s.tickets[t.id] = t
    s.seq[t.service] = ev.seq
    s.serial += 1
    _enqueue(s, t)


@applies(e.TicketCalled)
def _called(s: HallState, ev: e.TicketCalled) -> None:
    t = s.tickets[ev.ticket]
    _unqueue(s, t)
    counter = s.counters[ev.counter] if ev.counter else None
    if counter is not None:
        counter.ticket = t.id
        regular = t.priority is Priority.REGULAR
        counter.priority_streak = 0 if regular else counter.priority_streak + 1
    t.state, t.counter, t.officer, t.called_at = TicketState.CALLED, ev.counter, ev.officer, ev.at
    t.target_counter = None
    _step(t, ev, "called")


@applies(e.TicketRecalled)
def _recalled(s: HallState, ev: e.TicketRecalled) -> None:
    t = s.tickets[ev.ticket]
    t.recalls = ev.recalls
    _step(t, ev, "recalled")


@applies(e.ServiceStarted)
def _started(s: HallState, ev: e.ServiceStarted) -> None:
    t = s.tickets[ev.ticket]
    t.state, t.started_at = TicketState.SERVING, ev.at
    _step(t, ev, "started")


def _release(s: HallState, t: Ticket) -> None:
    """The counter holding `t` lets go of it."""
    if t.counter is not None and t.counter in s.counters:
        counter = s.counters[t.counter]
        if counter.ticket == t.id:
            counter.ticket = None


def _finish(s: HallState, ev: e.TicketStep, state: TicketState, kind: str) -> None:
    t = s.tickets[ev.ticket]
    _release(s, t)
    _unqueue(s, t)
    t.state, t.finished_at = state, ev.at
    _step(t, ev, kind)


@applies(e.TicketCompleted)
def _completed(s: HallState, ev: e.TicketCompleted) -> None:
    _finish(s, ev, TicketState.DONE, "completed")


@applies(e.TicketNoShow)
def _no_show(s: HallState, ev: e.TicketNoShow) -> None:
    _finish(s, ev, TicketState.NO_SHOW, "no_show")


@applies(e.TicketCancelled)
def _cancelled(s: HallState, ev: e.TicketCancelled) -> None:
    _finish(s, ev, TicketState.CANCELLED, "cancelled")


@applies(e.TicketReturned)
def _returned(s: HallState, ev: e.TicketReturned) -> None:
    t = s.tickets[ev.ticket]
    _release(s, t)
    t.state = TicketState.WAITING
    _step(t, ev, "returned")
    _enqueue(s, t)


@applies(e.TicketTransferred)
def _transferred(s: HallState, ev: e.TicketTransferred) -> None:
    t = s.tickets[ev.ticket]
    _release(s, t)
    _unqueue(s, t)
    t.state, t.service, t.target_counter = TicketState.WAITING, ev.to_service, ev.to_counter
    t.arrival_at = ev.arrival_at
    _step(t, ev, "transferred")
    _enqueue(s, t)


@applies(e.TicketHeld)
def _held(s: HallState, ev: e.TicketHeld) -> None:
    t = s.tickets[ev.ticket]
    _release(s, t)
    _unqueue(s, t)
    t.state = TicketState.HELD
    _step(t, ev, "held")


@applies(e.TicketUnheld)
def _unheld(s: HallState, ev: e.TicketUnheld) -> None:
    t = s.tickets[ev.ticket]
    t.state = TicketState.WAITING
    _step(t, ev, "unheld")
    _enqueue(s, t)


# --- counters ------------------------------------------------------------------------


@applies(e.CounterOpened)
def _opened(s: HallState, ev: e.CounterOpened) -> None:
    counter = s.counters[ev.counter]
    counter.state, counter.officer = CounterState.OPEN, ev.officer


@applies(e.CounterPaused)
def _paused(s: HallState, ev: e.CounterPaused) -> None:
    s.counters[ev.counter].state = CounterState.PAUSED


@applies(e.CounterClosed)
def _closed(s: HallState, ev: e.CounterClosed) -> None:
    counter = s.counters[ev.counter]
    counter.state, counter.officer, counter.priority_streak = CounterState.CLOSED, None, 0


@applies(e.CounterServicesSet)
def _services_set(s: HallState, ev: e.CounterServicesSet) -> None:
    s.counters[ev.counter].services = list(ev.services)


@applies(e.MessageBroadcast)
def _broadcast(s: HallState, ev: e.MessageBroadcast) -> None:
    if ev.text:
        s.messages[ev.zone] = ev.text
    else:
        s.messages.pop(ev.zone, None)


# --- the satisfaction survey ---------------------------------------------------------------


@applies(e.SurveyConfigured)
def _survey_configured(s: HallState, ev: e.SurveyConfigured) -> None:
    s.survey = dict(ev.instrument)


@applies(e.SurveyAnswered)
def _survey_answered(s: HallState, ev: e.SurveyAnswered) -> None:
    # The answers themselves are not kept in the state: only that this ticket has
    # answered (one response per served ticket). A ticket no longer in the state (an
    # older day, or a report's fold of one day) has nothing to mark.
    t = s.visit(ev.ticket)
    if t is not None:
        t.surveyed = True


@applies(e.SurveySkipped)
def _survey_skipped(s: HallState, ev: e.SurveySkipped) -> None:
    t = s.tickets.get(ev.ticket)
    if t is not None:
        t.tablet_skipped = True


@applies(e.SurveyPlanWritten)
def _survey_plan_written(s: HallState, ev: e.SurveyPlanWritten) -> None:
    # Published from the log by the survey's records (qms.survey.records): the hall's
    # state needs nothing of it.
    pass


# --- the waiting-queue index -------------------------------------------------------------


def queue_key(t: Ticket) -> str:
    return directed_queue(t.target_counter) if t.target_counter else t.service


def _line_of(line: Line, t: Ticket) -> list[tuple[float, str]]:
    return line.regular if t.priority is Priority.REGULAR else line.priority


def _enqueue(s: HallState, t: Ticket) -> None:
    key = queue_key(t)
    s.queues.setdefault(key, {})[t.id] = None
    bisect.insort(_line_of(s.lines.setdefault(key, Line()), t), (t.arrival_at, t.id))


def _unqueue(s: HallState, t: Ticket) -> None:
    key = queue_key(t)
    queue = s.queues.get(key)
    if queue is None or t.id not in queue:
        return
    del queue[t.id]
    line = s.lines[key]
    pairs = _line_of(line, t)
    i = bisect.bisect_left(pairs, (t.arrival_at, t.id))
    del pairs[i]
    if not queue:  # no empty entries: the indexes equal their rebuilt selves
        del s.queues[key]
        del s.lines[key]


def _step(t: Ticket, ev: e.TicketStep, kind: str) -> None:
    t.steps.append(Step(kind, ev.at, ev.counter, ev.officer))


def rebuild_queues(s: HallState) -> None:
    """Recompute the derived waiting-queue index (after restoring a snapshot)."""
    s.queues = {}
    s.lines = {}
    for t in sorted(s.tickets.values(), key=lambda t: t.seq):
        if t.state is TicketState.WAITING and t.day == s.day:
            _enqueue(s, t)


# --- undoing an event ---------------------------------------------------------------------

# The events whose effect `checkpoint` can undo: they touch one ticket, the counters
# named by it and the event, the waiting-queue index, and a few small fields.
# Day and set-up events may touch every ticket: not undoable (the engine never
# decides past one of them before it is in the log).
_UNDOABLE: frozenset[type[e.Event]] = frozenset(
    {
        e.TicketIssued,
        e.SurveyAnswered,  # one ticket's `surveyed`
        e.SurveySkipped,  # one ticket's `tablet_skipped`
        e.SurveyPlanWritten,  # nothing in the state
        *(cls for cls in _APPLY if issubclass(cls, e.TicketStep)),
        e.CounterOpened,
        e.CounterPaused,
        e.CounterClosed,
        e.CounterServicesSet,
        e.MessageBroadcast,
    }
)


def tickets_touched(ev: e.Event) -> tuple[str, ...] | None:
    """The tickets `evolve(s, ev)` may change (or add); None when it may change any."""
    if type(ev) not in _UNDOABLE:
        return None
    tid: str | None = getattr(ev, "ticket", None)  # see `checkpoint`: at most this one
    return () if tid is None else (tid,)


def checkpoint(s: HallState, ev: e.Event) -> Callable[[], None] | None:
    """Call before `evolve(s, ev)`: a function that puts `s` back as it was, or None.

    The engine decides a batch of commands each on the state after the ones
    before it, then takes those events back out before its append (see
    `SiteEngine`). Undo functions must be called in reverse order, with nothing
    else evolving `s` in between. Restores exactly: the same objects with the
    same field values, dicts in the same order. Costs the touched objects' copy
    (and the ticket's queue when the event takes it out of it), not the state's.
    """
    if type(ev) not in _UNDOABLE:
        return None
    seq, serial, messages = dict(s.seq), s.serial, dict(s.messages)
    queues, lines = dict(s.queues), dict(s.lines)  # their keys (few), in order
    tid: str | None = getattr(ev, "ticket", None)  # TicketIssued and every TicketStep
    t = s.tickets.get(tid) if tid is not None else None
    ticket = None if t is None else {**vars(t), "steps": list(t.steps)}
    # a visit of an older day rated (SurveyAnswered): only its `surveyed` changes
    old = s.rateable.get(tid) if tid is not None and t is None else None
    old_surveyed = old is not None and old.surveyed
    queued_at: tuple[str, dict[str, None]] | None = None
    if t is not None:
        key = queue_key(t)
        queue = s.queues.get(key)
        if queue is not None and t.id in queue:
            queued_at = key, dict(queue)  # a re-insert would not keep the order
    names = {getattr(ev, "counter", None), None if t is None else t.counter}
    counters = {
        c: (s.counters[c], {**vars(s.counters[c]), "services": list(s.counters[c].services)})
        for c in names
        if c is not None and c in s.counters
    }

    def undo() -> None:
        if old is not None:
            old.surveyed = old_surveyed
        now = s.tickets.get(tid) if tid is not None else None
        if now is not None:  # out of the queue it is in now (its pair out of that line)
            key = queue_key(now)
            queue = s.queues.get(key)
            if queue is not None and now.id in queue:
                del queue[now.id]
                pairs = _line_of(s.lines[key], now)
                del pairs[bisect.bisect_left(pairs, (now.arrival_at, now.id))]
        if t is None:
            if tid is not None:
                s.tickets.pop(tid, None)
        else:
            assert ticket is not None
            vars(t).update(ticket)
            s.tickets[t.id] = t
        if queued_at is not None and t is not None:
            key, queue = queued_at
            inner = queues[key]  # in place: an older checkpoint's `queues` holds this object
            inner.clear()
            inner.update(queue)
            # The Line object it left (kept in `lines` even when emptied and dropped).
            bisect.insort(_line_of(lines[key], t), (t.arrival_at, t.id))
        s.queues.clear()
        s.queues.update(queues)
        s.lines.clear()
        s.lines.update(lines)
        for counter, fields in counters.values():
            vars(counter).update(fields)
        s.seq.clear()
        s.seq.update(seq)
        s.serial = serial
        s.messages.clear()
        s.messages.update(messages)

    return undo


__all__ = ["FINAL_STATES", "checkpoint", "evolve", "rebuild_queues", "tickets_touched"]
