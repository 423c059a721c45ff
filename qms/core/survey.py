"""The satisfaction survey's rules in the hall: who may answer, when, and once.

- A ticket may be rated once it is completed (`done`), by whoever holds its
  token (the secret of its status URL), within the instrument's `valid_hours`
  of its completion (24 by default, up to 7 days), and once: a second answer is
  refused with `survey_already_answered`, never replaces the first.
- The answers are checked against the instrument in force (`qms.survey`); the
  event copies the visit's service, agency, counter, officer, channel and day.
- A site changes its questionnaire with `configure_survey`: the next version.

The hall's state keeps today's and the previous business day's tickets, which
always covers 24 hours after any completion; a longer window is served by
`HallState.rateable`, the completed visits of older days whose window is open.

A counter tablet (docs/survey.md "The counter tablet") asks about one visit only:
`tablet_visit`, the last completion at its counter, for `TABLET_MINUTES`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from qms.core import commands as c
from qms.core import events as e
from qms.core.calendar import business_day
from qms.core.errors import Rejected
from qms.core.model import HallState, Ticket, TicketState
from qms.survey.errors import SurveyError

if TYPE_CHECKING:
    from qms.survey.instrument import Instrument

# qms.survey's instrument and response modules are imported where they are used:
# they use qms.core.text, and importing them here would make importing either
# package first a circular import.


def instrument_of(state: HallState) -> Instrument:
    """The instrument in force at the site."""
    from qms.survey import instrument as si

    return si.DEFAULT if state.survey is None else si.from_dict(state.survey)


def _rejected(exc: SurveyError) -> Rejected:
    return Rejected(exc.code, exc.message, **exc.details)


def survey_problem(state: HallState, ticket: str, token: str, now: float) -> Rejected | None:
    """Why the ticket may not be rated now, or None (also asked by the visitor's page)."""
    inst = instrument_of(state)
    t = state.visit(ticket)
    if t is None or t.token != token:
        return Rejected("survey_unknown_ticket", "no such ticket")
    if not inst.enabled:
        return Rejected("survey_off", "this site does not run the survey now")
    if t.state is not TicketState.DONE or t.finished_at is None:
        return Rejected("survey_not_open", "the survey opens when the service is completed")
    if t.surveyed:
        return Rejected("survey_already_answered", "this visit has been rated already; thank you")
    if now - t.finished_at > inst.valid_hours * 3600:
        return Rejected(
            "survey_expired",
            f"the survey closes {inst.valid_hours} hours after the service",
            valid_hours=inst.valid_hours,
        )
    return None


TABLET_MINUTES = 10  # a counter tablet shows a completion's survey this long


def tablet_visit(state: HallState, counter: str) -> Ticket | None:
    """The visit a tablet at `counter` may ask about: the ticket most recently completed
    there, unless the counter has started serving someone else since (the person at the
    counter is then the next visitor). Only the latest counts: when its visitor rated
    it on their phone, or skipped, an earlier visitor's survey must not come back.

    A scan of the tickets the state keeps (two business days); a tablet asks every 3 s.
    """
    at = state.counters.get(counter)
    if at is None:
        return None
    if at.ticket is not None and state.tickets[at.ticket].state is TicketState.SERVING:
        return None
    latest, latest_at = None, -1.0
    for t in state.tickets.values():
        finished = t.finished_at
        if t.counter != counter or t.state is not TicketState.DONE or finished is None:
            continue
        if finished > latest_at:
            latest, latest_at = t, finished
    return latest


def tablet_closes_at(ticket: Ticket) -> float:
    """When a tablet stops asking about `ticket` (its key for the answer, too)."""
    return (ticket.finished_at or 0.0) + TABLET_MINUTES * 60


def tablet_problem(state: HallState, ticket: Ticket | None, now: float) -> Rejected | None:
    """Why a tablet may not ask about `ticket` (its counter's `tablet_visit`) now, or None:
    closed after `TABLET_MINUTES`, or once its visitor skipped it there."""
    if ticket is None or now >= tablet_closes_at(ticket) or ticket.tablet_skipped:
        return Rejected("survey_closed", "no visit at this counter to rate now")
    return survey_problem(state, ticket.id, ticket.token, now)


def _submit(
    state: HallState, cmd: c.SubmitSurvey, now: float, meta: dict[str, Any]
) -> list[e.Event]:
    problem = survey_problem(state, cmd.ticket, cmd.token, now)
    if problem is not None:
        raise problem
    from qms.survey.response import parse

    try:
        response = parse(cmd.response, instrument_of(state))
    except SurveyError as exc:
        raise _rejected(exc) from None
    t = state.visit(cmd.ticket)
    assert t is not None  # survey_problem: a known ticket
    service = state.services.get(t.service)
    return [
        e.SurveyAnswered(
            ticket=t.id,
            service=t.service,
            agency=service.agency if service is not None else "",
            counter=t.counter,
            officer=t.officer,
            channel=t.channel,
            day=t.day,
            response=response.to_dict(),
            tablet=cmd.tablet,
            **meta,
        )
    ]


def _skip(
    state: HallState, cmd: c.SkipTabletSurvey, now: float, meta: dict[str, Any]
) -> list[e.Event]:
    # Only a visit the tablet may still ask about; the route found it from its counter.
    t = state.tickets.get(cmd.ticket)
    if t is None or t.token != cmd.token:
        raise Rejected("survey_unknown_ticket", "no such ticket")
    problem = tablet_problem(state, t, now)
    if problem is not None:
        raise problem
    return [e.SurveySkipped(ticket=t.id, **meta)]


def _submit_walk_up(
    state: HallState, cmd: c.SubmitWalkUpSurvey, now: float, meta: dict[str, Any]
) -> list[e.Event]:
    # No ticket, so nothing to rate once: the server limits answers per address instead
    # (qms.survey.routes_walkup), and the figures count them apart.
    inst = instrument_of(state)
    if not inst.enabled:
        raise Rejected("survey_off", "this site does not run the survey now")
    service = state.services.get(cmd.service)
    if service is None:
        raise Rejected("survey_unknown_service", "no such service", service=cmd.service)
    from qms.survey.response import parse

    try:
        response = parse(cmd.response, inst)
    except SurveyError as exc:
        raise _rejected(exc) from None
    site = state.site
    assert site is not None  # decide: a set-up site
    return [
        e.SurveyAnswered(
            ticket="",
            service=service.id,
            agency=service.agency,
            channel=None,
            day=business_day(now, site.timezone),
            response=response.to_dict(),
            walk_up=True,
            **meta,
        )
    ]


def _configure(
    state: HallState, cmd: c.ConfigureSurvey, now: float, meta: dict[str, Any]
) -> list[e.Event]:
    from qms.survey.instrument import configure

    try:
        changed = configure(instrument_of(state), cmd.config)
    except SurveyError as exc:
        raise _rejected(exc) from None
    return [e.SurveyConfigured(instrument=changed.to_dict(), **meta)]


def _write_plan(
    state: HallState, cmd: c.WriteSurveyPlan, now: float, meta: dict[str, Any]
) -> list[e.Event]:
    from qms.survey.plan import parse_plan

    try:
        plan = parse_plan(cmd.plan)
    except SurveyError as exc:
        raise _rejected(exc) from None
    return [
        e.SurveyPlanWritten(
            period=plan.period, elements=list(plan.elements), text=plan.text, **meta
        )
    ]


# The survey's commands, for `qms.core.decide` (which imports this module; this one
# imports nothing of decide).
HANDLERS: dict[
    type[c.Command], Callable[[HallState, Any, float, dict[str, Any]], list[e.Event]]
] = {
    c.SubmitSurvey: _submit,
    c.SkipTabletSurvey: _skip,
    c.SubmitWalkUpSurvey: _submit_walk_up,
    c.ConfigureSurvey: _configure,
    c.WriteSurveyPlan: _write_plan,
}
