"""decide(state, command, now) -> events: every rule of the hall, in one place.

Pure: reads the state, never changes it, never reads a clock or a random source
(the time comes in as `now`, a ticket's token inside the command). A refused
command raises `Rejected` and yields no events, so nothing is half-applied.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Callable
from typing import Any, TypeVar

from qms.core import commands as c
from qms.core import events as e
from qms.core import survey
from qms.core.calendar import business_day, is_open, valid_hours, valid_timezone
from qms.core.checks import (
    check_id,
    check_name,
    check_number_format,
    check_services,
    check_text,
    counter_of,
    expect_free,
    expect_ticket,
    invalid,
    open_counter_of,
    service_of,
    site_of,
    ticket_of,
)
from qms.core.errors import Rejected, wrong_state
from qms.core.evolve import evolve
from qms.core.model import (
    FINAL_STATES,
    IN_HAND_STATES,
    Agency,
    Counter,
    CounterState,
    HallState,
    Service,
    Site,
    Ticket,
    TicketState,
)
from qms.core.policy import POLICIES, choose

PREFIX = re.compile(c.PREFIX_PATTERN)
MAX_TARGET_MIN = c.MAX_TARGET_MIN
MAX_QUOTA = c.MAX_QUOTA

C = TypeVar("C", bound=c.Command)
Handler = Callable[[HallState, Any, float, dict[str, Any]], list[e.Event]]
_HANDLERS: dict[type[c.Command], Handler] = {}


def handles(cls: type[C]) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        _HANDLERS[cls] = fn
        return fn

    return register


def decide(state: HallState, command: c.Command, now: float) -> list[e.Event]:
    """The events that `command` causes at time `now`, or `Rejected`."""
    meta: dict[str, Any] = {"at": now, "by": command.by}
    if isinstance(command, c.SetUpSite):
        return _set_up_site(state, command, now, meta)
    site = site_of(state)
    # The survey neither opens nor closes a business day: a visitor answering at night
    # must not expire the tickets of a day a supervisor left open.
    if isinstance(
        command,
        c.SetUpAgency
        | c.SetUpService
        | c.SetUpCounter
        | c.Broadcast
        | c.SubmitSurvey
        | c.SkipTabletSurvey
        | c.SubmitWalkUpSurvey
        | c.ConfigureSurvey
        | c.WriteSurveyPlan,
    ):
        return _HANDLERS[type(command)](state, command, now, meta)
    # Any other command first rolls the business day over when the date changed.
    rolled = _roll_day(state, site, command, now, meta)
    if rolled and isinstance(command, c.CloseDay):
        return rolled  # the open day was an earlier date: the roll-over closed it
    if rolled:
        state = copy.deepcopy(state)
        for event in rolled:
            evolve(state, event)
    return rolled + _HANDLERS[type(command)](state, command, now, meta)


# --- set-up -------------------------------------------------------------------


def _set_up_site(
    state: HallState, cmd: c.SetUpSite, now: float, meta: dict[str, Any]
) -> list[e.Event]:
    check_id("site", cmd.site)
    if state.site is not None and state.site.id != cmd.site:
        raise wrong_state("site", cmd.site, state.site.id, cmd.site)
    check_name(cmd.name)
    if not valid_timezone(cmd.timezone):
        raise Rejected("invalid_timezone", f"unknown timezone {cmd.timezone!r}", field="timezone")
    if cmd.policy not in POLICIES:
        raise Rejected("unknown_policy", f"unknown policy {cmd.policy!r}", allowed=sorted(POLICIES))
    if not 1 <= cmd.priority_streak_max <= c.MAX_PRIORITY_STREAK:
        raise invalid("priority_streak_max", f"between 1 and {c.MAX_PRIORITY_STREAK}")
    check_number_format(cmd.number_format)
    site = Site(
        id=cmd.site,
        name=cmd.name,
        timezone=cmd.timezone,
        number_format=cmd.number_format,
        policy=cmd.policy,
        priority_streak_max=cmd.priority_streak_max,
        transfer_keeps_arrival=cmd.transfer_keeps_arrival,
    )
    return [e.SiteConfigured(site=site, **meta)]


@handles(c.SetUpAgency)
def _set_up_agency(
    state: HallState, cmd: c.SetUpAgency, now: float, meta: dict[str, Any]
) -> list[e.Event]:
    check_id("agency", cmd.agency)
    check_name(cmd.name)
    return [e.AgencyConfigured(agency=Agency(id=cmd.agency, name=cmd.name), **meta)]


@handles(c.SetUpService)
def _set_up_service(
    state: HallState, cmd: c.SetUpService, now: float, meta: dict[str, Any]
) -> list[e.Event]:
    check_id("service", cmd.service)
    if cmd.agency not in state.agencies:
        raise Rejected("unknown_agency", f"no agency {cmd.agency!r}", id=cmd.agency)
    if not PREFIX.fullmatch(cmd.prefix):
        raise invalid("prefix", "one or two capital letters")
    if taken := _prefix_holder(state, cmd, now):
        holder, why = taken
        raise Rejected("prefix_taken", f"prefix {cmd.prefix} {why}", service=holder)
    check_name(cmd.name_id, "name_id")
    check_name(cmd.name_en, "name_en")
    if not 1 <= cmd.target_wait_min <= MAX_TARGET_MIN:
        raise invalid("target_wait_min", f"between 1 and {MAX_TARGET_MIN}")
    if not 0 <= cmd.daily_quota <= MAX_QUOTA:
        raise invalid("daily_quota", f"between 0 (no quota) and {MAX_QUOTA}")
    if not valid_hours(cmd.hours):
        raise invalid("hours", "open < close, as HH:MM, weekdays 0 (Monday) to 6")
    service = Service(
        id=cmd.service,
        agency=cmd.agency,
        prefix=cmd.prefix,
        name_id=cmd.name_id,
        name_en=cmd.name_en,
        target_wait_min=cmd.target_wait_min,
        daily_quota=cmd.daily_quota,
        hours=cmd.hours,
        active=cmd.active,
    )
    return [e.ServiceConfigured(service=service, **meta)]


def _prefix_holder(state: HallState, cmd: c.SetUpService, now: float) -> tuple[str, str] | None:
    """The other service that has `cmd.prefix`, or whose tickets of today carry it, and why.

    A prefix freed during the day (its service moved to another) stays with that service
    until the day ends: numbering starts at 1 per service, so a second A001 would be
    called in the same hall. A ticket keeps its seq and number, so whether the prefix
    made its number is a format away (a rare set-up command may scan).
    """
    for other in state.services.values():
        if other.prefix == cmd.prefix and other.id != cmd.service:
            return other.id, f"belongs to {other.id}"
    site = site_of(state)
    today = _today(state, site, now)
    number = functools.partial(site.number_format.format, prefix=cmd.prefix)
    for t in state.tickets.values():
        if t.day == today and t.service != cmd.service and t.number == number(seq=t.seq):
            return t.service, f"numbered {t.service}'s tickets today; free again tomorrow"
    return None


@handles(c.SetUpCounter)
def _set_up_counter(
    state: HallState, cmd: c.SetUpCounter, now: float, meta: dict[str, Any]
) -> list[e.Event]:
    check_id("counter", cmd.counter)
    check_name(cmd.name)
    check_text(cmd.zone, "zone")
    check_services(state, cmd.services)
    return [
        e.CounterConfigured(
            counter=cmd.counter, name=cmd.name, zone=cmd.zone, services=cmd.services, **meta
        )
    ]


# --- the business day -----------------------------------------------------------


def _today(state: HallState, site: Site, now: float) -> str:
    today = business_day(now, site.timezone)
    # The business day never goes back: a clock a little behind (another host's, or one
    # stepped back) decides on the latest day, never reopens an earlier one over it.
    latest = state.day or max((t.day for t in state.tickets.values()), default=None)
    return latest if latest is not None and today < latest else today


def _roll_day(
    state: HallState, site: Site, cmd: c.Command, now: float, meta: dict[str, Any]
) -> list[e.Event]:
    today = _today(state, site, now)
    if state.day == today:
        return []
    out: list[e.Event] = []
    if state.day is not None:
        out.append(e.DayClosed(day=state.day, expired=_unfinished(state), **meta))
    if not isinstance(cmd, c.CloseDay):
        out.append(e.DayOpened(day=today, **meta))
    return out


@handles(c.CloseDay)
def _close_day(
    state: HallState, cmd: c.CloseDay, now: float, meta: dict[str, Any]
) -> list[e.Event]:
    if state.day is None:
        raise wrong_state("business day", "-", "open", "closed")
    return [e.DayClosed(day=state.day, expired=_unfinished(state), **meta)]


def _unfinished(state: HallState) -> list[str]:
    return [
        t.id for t in state.tickets.values() if t.day == state.day and t.state not in FINAL_STATES
    ]


# --- tickets ---------------------------------------------------------------------


@handles(c.IssueTicket)
def _issue(state: HallState, cmd: c.IssueTicket, now: float, meta: dict[str, Any]) -> list[e.Event]:
    site = site_of(state)
    service = service_of(state, cmd.service)
    if not service.active:
        raise Rejected("service_inactive", f"service {service.id} is not active", id=service.id)
    if not is_open(service.hours, now, site.timezone):
        raise Rejected(
            "service_closed",
            f"service {service.id} is open {service.hours.open}-{service.hours.close}",
            id=service.id,
        )
    seq = state.seq.get(service.id, 0) + 1
    if service.daily_quota and seq > service.daily_quota:
        raise Rejected(
            "quota_reached",
            f"service {service.id} has issued its {service.daily_quota} tickets today",
            id=service.id,
        )
    if not cmd.token:
        raise invalid("token", "required (the engine draws it)")
    day = state.day or business_day(now, site.timezone)
    return [
        e.TicketIssued(
            ticket=f"{day}-{state.serial + 1:05d}",
            number=site.number_format.format(prefix=service.prefix, seq=seq),
            service=service.id,
            day=day,
            seq=seq,
            token=cmd.token,
            priority=cmd.priority,
            channel=cmd.channel,
            **meta,
        )
    ]


@handles(c.Transfer)
def _transfer(state: HallState, cmd: c.Transfer, now: float, meta: dict[str, Any]) -> list[e.Event]:
    t = ticket_of(state, cmd.ticket)
    expect_ticket(t, TicketState.WAITING, TicketState.CALLED, TicketState.SERVING)
    if cmd.to_service is None and cmd.to_counter is None:
        raise invalid("to_service", "name a service, a counter, or both")
    to_service = t.service if cmd.to_service is None else cmd.to_service
    service = service_of(state, to_service)
    if not service.active:
        raise Rejected("service_inactive", f"service {service.id} is not active", id=service.id)
    if cmd.to_counter is not None:
        counter_of(state, cmd.to_counter)
    if (
        t.state is TicketState.WAITING
        and to_service == t.service
        and cmd.to_counter == t.target_counter
    ):
        raise Rejected("same_destination", f"ticket {t.number} is already there", id=t.id)
    site = site_of(state)
    arrival = t.arrival_at if site.transfer_keeps_arrival else now
    return [
        e.TicketTransferred(
            ticket=t.id,
            counter=t.counter if t.state in IN_HAND_STATES else None,
            officer=t.officer if t.state in IN_HAND_STATES else None,
            to_service=to_service,
            to_counter=cmd.to_counter,
            arrival_at=arrival,
            **meta,
        )
    ]


@handles(c.Hold)
def _hold(state: HallState, cmd: c.Hold, now: float, meta: dict[str, Any]) -> list[e.Event]:
    t = ticket_of(state, cmd.ticket)
    expect_ticket(t, TicketState.WAITING, TicketState.CALLED, TicketState.SERVING)
    in_hand = t.state in IN_HAND_STATES
    return [
        e.TicketHeld(
            ticket=t.id,
            counter=t.counter if in_hand else None,
            officer=t.officer if in_hand else None,
            **meta,
        )
    ]


@handles(c.Unhold)
def _unhold(state: HallState, cmd: c.Unhold, now: float, meta: dict[str, Any]) -> list[e.Event]:
    t = ticket_of(state, cmd.ticket)
    expect_ticket(t, TicketState.HELD)
    return [e.TicketUnheld(ticket=t.id, **meta)]


@handles(c.Cancel)
def _cancel(state: HallState, cmd: c.Cancel, now: float, meta: dict[str, Any]) -> list[e.Event]:
    t = ticket_of(state, cmd.ticket)
    expect_ticket(t, TicketState.WAITING, TicketState.HELD)
    return [e.TicketCancelled(ticket=t.id, **meta)]


@handles(c.Broadcast)
def _broadcast(
    state: HallState, cmd: c.Broadcast, now: float, meta: dict[str, Any]
) -> list[e.Event]:
    check_text(cmd.text, "text")
    check_text(cmd.zone, "zone")
    return [e.MessageBroadcast(text=cmd.text.strip(), zone=cmd.zone, **meta)]


# --- counters ----------------------------------------------------------------------


@handles(c.OpenCounter)
def _open(state: HallState, cmd: c.OpenCounter, now: float, meta: dict[str, Any]) -> list[e.Event]:
    counter = counter_of(state, cmd.counter)
    if counter.state is CounterState.OPEN:
        raise wrong_state("counter", counter.id, "closed or paused", counter.state.value)
    if not cmd.officer.strip():
        raise Rejected("officer_required", "an officer opens a counter", field="officer")
    check_text(cmd.officer, "officer")
    return [e.CounterOpened(counter=counter.id, officer=cmd.officer, **meta)]


@handles(c.PauseCounter)
def _pause(
    state: HallState, cmd: c.PauseCounter, now: float, meta: dict[str, Any]
) -> list[e.Event]:
    counter = open_counter_of(state, cmd.counter)
    expect_free(counter)
    return [e.CounterPaused(counter=counter.id, **meta)]


@handles(c.CloseCounter)
def _close(
    state: HallState, cmd: c.CloseCounter, now: float, meta: dict[str, Any]
) -> list[e.Event]:
    counter = counter_of(state, cmd.counter)
    if counter.state is CounterState.CLOSED:
        raise wrong_state("counter", counter.id, "open or paused", counter.state.value)
    expect_free(counter)
    return [e.CounterClosed(counter=counter.id, **meta)]


@handles(c.SetCounterServices)
def _set_services(
    state: HallState, cmd: c.SetCounterServices, now: float, meta: dict[str, Any]
) -> list[e.Event]:
    counter = counter_of(state, cmd.counter)
    check_services(state, cmd.services)
    return [e.CounterServicesSet(counter=counter.id, services=cmd.services, **meta)]


@handles(c.CallNext)
def _call_next(
    state: HallState, cmd: c.CallNext, now: float, meta: dict[str, Any]
) -> list[e.Event]:
    counter = open_counter_of(state, cmd.counter)
    expect_free(counter)
    ticket = choose(state, site_of(state), counter, now)
    if ticket is None:
        raise Rejected(
            "no_ticket_waiting", f"no ticket waits for counter {counter.name}", id=counter.id
        )
    return [e.TicketCalled(ticket=ticket.id, counter=counter.id, officer=counter.officer, **meta)]


@handles(c.CallTicket)
def _call_ticket(
    state: HallState, cmd: c.CallTicket, now: float, meta: dict[str, Any]
) -> list[e.Event]:
    counter = open_counter_of(state, cmd.counter)
    expect_free(counter)
    t = ticket_of(state, cmd.ticket)
    # A parked visitor who is back is called by name, without queueing again.
    expect_ticket(t, TicketState.WAITING, TicketState.HELD)
    mine = t.target_counter == counter.id or (
        t.target_counter is None and t.service in counter.services
    )
    if not mine and not cmd.override:
        raise Rejected(
            "service_not_served",
            f"counter {counter.name} does not serve ticket {t.number}",
            id=t.id,
            service=t.service,
        )
    return [e.TicketCalled(ticket=t.id, counter=counter.id, officer=counter.officer, **meta)]


def _in_hand(
    state: HallState, counter_id: str, *expected: TicketState
) -> tuple[Counter, Ticket, dict[str, Any]]:
    counter = counter_of(state, counter_id)
    if counter.ticket is None:
        raise Rejected("counter_idle", f"counter {counter.name} has no ticket", id=counter.id)
    t = state.tickets[counter.ticket]
    expect_ticket(t, *expected)
    return counter, t, {"ticket": t.id, "counter": counter.id, "officer": counter.officer}


@handles(c.Recall)
def _recall(state: HallState, cmd: c.Recall, now: float, meta: dict[str, Any]) -> list[e.Event]:
    _, t, step = _in_hand(state, cmd.counter, TicketState.CALLED)
    return [e.TicketRecalled(recalls=t.recalls + 1, **step, **meta)]


@handles(c.StartService)
def _start(
    state: HallState, cmd: c.StartService, now: float, meta: dict[str, Any]
) -> list[e.Event]:
    _, _, step = _in_hand(state, cmd.counter, TicketState.CALLED)
    return [e.ServiceStarted(**step, **meta)]


@handles(c.Complete)
def _complete(state: HallState, cmd: c.Complete, now: float, meta: dict[str, Any]) -> list[e.Event]:
    _, t, step = _in_hand(state, cmd.counter, TicketState.CALLED, TicketState.SERVING)
    # Completing a called ticket implies its service started: the log keeps both steps.
    started = [e.ServiceStarted(**step, **meta)] if t.state is TicketState.CALLED else []
    return [*started, e.TicketCompleted(**step, **meta)]


@handles(c.NoShow)
def _no_show(state: HallState, cmd: c.NoShow, now: float, meta: dict[str, Any]) -> list[e.Event]:
    _, _, step = _in_hand(state, cmd.counter, TicketState.CALLED)
    return [e.TicketNoShow(**step, **meta)]


@handles(c.ReturnToQueue)
def _return(
    state: HallState, cmd: c.ReturnToQueue, now: float, meta: dict[str, Any]
) -> list[e.Event]:
    _, _, step = _in_hand(state, cmd.counter, TicketState.CALLED, TicketState.SERVING)
    return [e.TicketReturned(**step, **meta)]


_HANDLERS.update(survey.HANDLERS)  # the survey's commands, kept apart (this module is long)
