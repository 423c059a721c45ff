"""`qms demo --history DAYS`: simulated past days of the demo hall, through the real engine.

Each working day before today is played on a simulated clock (the engine's clock is
set to each simulated instant, never the wall clock), so every ticket goes through
decide, the log and compare-and-append, and ends with `close_day`: the reports then
build their closed-day files from the log as for a real hall. Today is left alone
for the live demo.

The hall's day: visitors arrive from 07:45 with a morning peak and a lunch dip; on
Friday the counters pause for the Friday prayer (Jumat, 11:30-13:00) and few come;
some called visitors are recalled once and then marked no-show, some are transferred
to another service, about one in twelve is a priority visitor; each officer works
at their own speed. Arrivals stop at 15:00; officers serve who is still waiting
until 16:30; the day is closed at 17:00 (what is left expires).

Deterministic: a day's simulation depends only on (seed, date), so the same seed
gives the same figures, whichever days were filled before. Idempotent: days on or
before the log's latest business day are never played again (the log is
append-only and the business day never goes back), so a second run adds only the
days since (none, once the live demo has opened today).
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from qms import demo_survey
from qms.core import Rejected
from qms.core.calendar import zone
from qms.core.model import Ticket
from qms.core.survey import instrument_of
from qms.demo_hall import COUNTERS, MEAN_SERVICE_MIN, SERVICES, SITE, setup_commands
from qms.engine import SiteEngine
from qms.eventlog import EventLog
from qms.survey.aggregate import period_key
from qms.survey.index import compute
from qms.survey.instrument import ELEMENT_KEYS
from qms.survey.periods import public_default
from qms.survey.records import SurveyBook

DEFAULT_DAYS = 28
# Visitors per hour across the hall by local hour: the morning peak, the lunch dip.
ARRIVALS_PER_HOUR = {7: 20, 8: 55, 9: 85, 10: 80, 11: 60, 12: 25, 13: 45, 14: 35}
FRIDAY_BREAK = (time(11, 30), time(13, 0))  # Jumat: the counters pause for the prayer
FRIDAY_BREAK_ARRIVALS = 8  # per hour during the break: a few wait for the counters
FIRST_ARRIVAL = time(7, 45)
LAST_ARRIVAL = time(15, 0)
LAST_CALL = time(16, 30)
DAY_CLOSE = time(17, 0)
PRIORITY_SHARE = 0.08
NO_SHOW_SHARE = 0.05
TRANSFER_SHARE = 0.04
SERVICE_WEIGHTS = [6, 3, 2, 3, 1, 6, 2, 4, 3, 2, 1, 2]  # per `SERVICES`, as the live demo


@dataclass
class DayTally:
    day: str
    issued: int = 0
    completed: int = 0
    no_show: int = 0
    transferred: int = 0
    surveyed: int = 0  # satisfaction survey answers of served visits (SKM)
    walk_up: int = 0  # ... and on the services' walk-up QR codes

    def line(self) -> str:
        return (
            f"{self.day}: {self.issued} tiket / tickets, {self.completed} selesai / served, "
            f"{self.no_show} tidak hadir / no-show, {self.transferred} dialihkan / transferred, "
            f"{self.surveyed + self.walk_up} survei / survey answers"
        )


def latest_day(engine: SiteEngine) -> str | None:
    """The log's latest business day (open, or the last closed one), as the engine knows it."""
    state = engine.state
    return state.day or max((t.day for t in state.tickets.values()), default=None)


def days_to_fill(latest: str | None, today: date, days: int) -> list[date]:
    """The working days (Monday-Friday) of the `days` calendar days before `today` that
    come after `latest`."""
    first = today - timedelta(days=days)
    if latest is not None:
        first = max(first, date.fromisoformat(latest) + timedelta(days=1))
    out = []
    d = first
    while d < today:
        if d.weekday() < 5:
            out.append(d)
        d += timedelta(days=1)
    return out


def officer_speeds(seed: int) -> dict[str, float]:
    """Each counter's officer and their pace (a factor on the service's mean time)."""
    rng = random.Random(f"{seed}-officers")
    return {cid: round(rng.uniform(0.7, 1.5), 2) for cid, *_ in COUNTERS}


async def fill_history(
    engine: SiteEngine,
    days: int,
    seed: int,
    today: date,
    progress: Callable[[str], None] = lambda line: None,
) -> list[DayTally]:
    """Play the missing working days of the `days` before `today` (the site's calendar)."""
    tz = SITE["timezone"]
    todo = days_to_fill(latest_day(engine), today, days)
    if not todo:
        progress("Riwayat sudah ada / history already there: no day to add.")
        return []
    saved_clock = engine.clock
    try:
        if engine.state.site is None:  # set the hall up on the first simulated morning
            at = _instant(todo[0], time(7, 0), tz)
            engine.clock = lambda: at
            for cmd in setup_commands():
                await engine.execute({**cmd, "by": "demo"})
        speeds = officer_speeds(seed)
        manners = demo_survey.officer_manners(seed, [f"petugas-{cid}" for cid, *_ in COUNTERS])
        out = []
        for i, day in enumerate(todo, 1):
            # The survey draws from its own generator: the visits are those of the same
            # seed without it, so the reports' figures do not depend on the survey.
            rngs = random.Random(f"{seed}-{day}"), random.Random(f"{seed}-{day}-survey")
            tally = await _Day(engine, day, rngs, speeds, tz, manners).run()
            progress(f"[{i}/{len(todo)}] {tally.line()}")
            out.append(tally)
        return out
    finally:
        engine.clock = saved_clock


def _instant(day: date, at: time, tz: str) -> float:
    return datetime.combine(day, at, zone(tz)).timestamp()


class _Day:
    """One simulated day: an agenda of (time, tie, action, subject), run in time order."""

    def __init__(
        self,
        engine: SiteEngine,
        day: date,
        rngs: tuple[random.Random, random.Random],
        speeds: dict[str, float],
        tz: str,
        manners: dict[str, tuple[float, float]],
    ) -> None:
        self.engine, self.day, self.speeds = engine, day, speeds
        self.rng, self.survey_rng = rngs
        self.manners = manners
        self.answer_share = self.survey_rng.uniform(*demo_survey.ANSWER_SHARE)
        self.evening: list[tuple[float, str]] = []  # answers after the day's close, in order
        self.now = _instant(day, FIRST_ARRIVAL, tz)
        self.tally = DayTally(day.isoformat())
        self.agenda: list[tuple[float, int, str, str]] = []
        self.tie = 0
        self.friday = day.weekday() == 4
        self.break_from = _instant(day, FRIDAY_BREAK[0], tz)
        self.break_to = _instant(day, FRIDAY_BREAK[1], tz)
        self.last_arrival = _instant(day, LAST_ARRIVAL, tz)
        self.last_call = _instant(day, LAST_CALL, tz)
        self.close = _instant(day, DAY_CLOSE, tz)
        self.tz = tz
        self.plan: dict[str, tuple[str, float]] = {}  # counter -> what ends the service, when

    def at(self, t: float, action: str, subject: str = "") -> None:
        self.tie += 1
        heapq.heappush(self.agenda, (t, self.tie, action, subject))

    def in_break(self, t: float) -> bool:
        return self.friday and self.break_from <= t < self.break_to

    async def run(self) -> DayTally:
        self.engine.clock = lambda: self.now
        self.at(self.now, "arrive")
        opening = self.now + 15 * 60
        for cid, *_ in COUNTERS:
            self.at(opening + self.rng.uniform(0, 600), "open", cid)
        for _ in range(self.survey_rng.randint(*demo_survey.WALK_UPS_PER_DAY)):
            self.at(opening + self.survey_rng.uniform(0, 6 * 3600), "walk_up")
        while self.agenda:
            t, _, action, subject = heapq.heappop(self.agenda)
            self.now = t
            await getattr(self, f"_{action}")(subject)
        self.now = self.close
        await self.cmd({"type": "close_day"})
        # Answers from home, that evening: a survey command never rolls the day over.
        for t, ticket in sorted(self.evening):
            self.now = t
            await self._survey(ticket)
        return self.tally

    async def cmd(self, command: dict[str, Any]) -> Any:
        return await self.engine.execute({**command, "by": "demo"})

    async def _arrive(self, _: str) -> None:
        rng = self.rng
        service = rng.choices(SERVICES, weights=SERVICE_WEIGHTS)[0][0]
        priority = "regular"
        if rng.random() < PRIORITY_SHARE:
            priority = rng.choice(["lansia", "disabilitas", "ibu_hamil"])
        await self.cmd({"type": "issue_ticket", "service": service, "priority": priority})
        self.tally.issued += 1
        if self.in_break(self.now):
            rate = FRIDAY_BREAK_ARRIVALS
        else:
            hour = datetime.fromtimestamp(self.now, zone(self.tz)).hour
            rate = ARRIVALS_PER_HOUR.get(hour, 30)
        nxt = self.now + rng.expovariate(rate / 3600)
        if nxt < self.last_arrival:
            self.at(nxt, "arrive")

    async def _open(self, cid: str) -> None:
        await self.cmd({"type": "open_counter", "counter": cid, "officer": f"petugas-{cid}"})
        self.at(self.now, "next", cid)

    async def _next(self, cid: str) -> None:
        if self.in_break(self.now):  # Jumat: pause, back after the prayer
            await self.cmd({"type": "pause_counter", "counter": cid})
            self.at(self.break_to + self.rng.uniform(0, 300), "open", cid)
            return
        if self.now >= self.last_call:
            await self.cmd({"type": "close_counter", "counter": cid})
            return
        try:
            res = await self.cmd({"type": "call_next", "counter": cid})
        except Rejected as exc:
            if exc.code != "no_ticket_waiting":
                raise
            if self.now >= self.last_arrival:  # nobody left, nobody coming: go home
                await self.cmd({"type": "close_counter", "counter": cid})
            else:
                self.at(self.now + 30, "next", cid)
            return
        ticket = self.engine.state.tickets[res.events[-1][1]["ticket"]]
        draw = self.rng.random()
        if draw < NO_SHOW_SHARE:  # nobody comes: one recall, then no-show
            self.at(self.now + 60, "recall", cid)
            return
        if draw < NO_SHOW_SHARE + TRANSFER_SHARE:  # the wrong queue: sent on after a word
            self.plan[cid] = ("transfer", self.rng.uniform(30, 120))
        else:
            mean = MEAN_SERVICE_MIN[ticket.service] * 60 * self.speeds[cid]
            self.plan[cid] = ("complete", 30 + self.rng.expovariate(1 / mean))
        self.at(self.now + self.rng.uniform(20, 90), "start", cid)  # the walk to the counter

    async def _start(self, cid: str) -> None:
        await self.cmd({"type": "start_service", "counter": cid})
        action, took = self.plan.pop(cid)
        self.at(self.now + took, action, cid)

    async def _recall(self, cid: str) -> None:
        await self.cmd({"type": "recall", "counter": cid})
        self.at(self.now + 60, "no_show", cid)

    async def _no_show(self, cid: str) -> None:
        await self.cmd({"type": "no_show", "counter": cid})
        self.tally.no_show += 1
        self.at(self.now + 5, "next", cid)

    async def _transfer(self, cid: str) -> None:
        ticket = self.engine.state.counters[cid].ticket
        assert ticket is not None  # the counter holds the ticket it called
        current = self.engine.state.tickets[ticket].service
        to = self.rng.choice([s[0] for s in SERVICES if s[0] != current])
        await self.cmd({"type": "transfer", "ticket": ticket, "to_service": to})
        self.tally.transferred += 1
        self.at(self.now + self.rng.uniform(5, 30), "next", cid)

    async def _complete(self, cid: str) -> None:
        ticket = self.engine.state.counters[cid].ticket
        await self.cmd({"type": "complete", "counter": cid})
        self.tally.completed += 1
        self.at(self.now + self.rng.uniform(5, 30), "next", cid)
        if ticket is not None and self.survey_rng.random() < self.answer_share:
            when = self.now + demo_survey.delay_s(self.survey_rng)
            if when < self.close:
                self.at(when, "survey", ticket)
            else:
                self.evening.append((when, ticket))

    async def _survey(self, tid: str) -> None:
        """The visitor rates the visit from the ticket's page: its token, within the window."""
        t = self.engine.state.tickets[tid]
        visit = demo_survey.Visit(
            wait_min=_waited(t) / 60,
            transferred=any(s.kind == "transferred" for s in t.steps),
            officer=t.officer or "",
        )
        rng = self.survey_rng
        body = demo_survey.response(demo_survey.scores(visit, rng, self.manners), rng)
        await self.cmd({"type": "submit_survey", "ticket": tid, "token": t.token, "response": body})
        self.tally.surveyed += 1

    async def _walk_up(self, _: str) -> None:
        """Someone without a ticket answers on a service's QR code at its counter."""
        rng = self.survey_rng
        service = rng.choices(SERVICES, weights=SERVICE_WEIGHTS)[0][0]
        visit = demo_survey.Visit(wait_min=0.0, transferred=False, officer="")
        body = demo_survey.response(demo_survey.scores(visit, rng, self.manners), rng)
        await self.cmd({"type": "submit_walk_up_survey", "service": service, "response": body})
        self.tally.walk_up += 1


def _waited(t: Ticket) -> float:
    """Seconds the ticket spent waiting to be called (after a transfer too)."""
    waited = 0.0
    since: float | None = t.issued_at
    for step in t.steps:
        if step.kind == "called" and since is not None:
            waited += step.at - since
            since = None
        elif step.kind in ("transferred", "returned"):
            since = step.at
    return waited


async def fill_demo_history(
    log_url: str,
    reports_root: Path,
    days: int,
    seed: int,
    today: date,
    progress: Callable[[str], None] = print,
) -> list[DayTally]:
    """`qms demo --history`: fill the demo hall's log, then write the closed days' files
    (the server would build them on its first report otherwise)."""
    from qms.eventlog import open_log
    from qms.reports.store import build_missing_days

    event_log = open_log(log_url)
    try:
        engine = await SiteEngine(event_log, SITE["site"]).open()
        await event_log.set_durable(False)  # a simulated past can be played again
        try:
            tallies = await fill_history(engine, days, seed, today, progress)
        finally:
            await event_log.set_durable(True)
        if tallies:
            built = await build_missing_days(event_log, SITE["site"], reports_root)
            progress(f"Laporan / reports: {len(built)} hari ditulis / days written")
        period = await write_plan(engine, event_log, today)
        if period is not None:
            progress(f"Rencana tindak lanjut / follow-up plan: {period}")
    finally:
        await event_log.close()
    return tallies


async def write_plan(engine: SiteEngine, event_log: EventLog, today: date) -> str | None:
    """The admin's follow-up plan for the weakest elements of the period the public page
    shows by default (`qms.survey.periods.public_default`), once: the period's label, or
    None when that period has a plan already or too few answers to show."""
    book = SurveyBook()
    while True:
        entries = await event_log.read(engine.site, book.version, 5000)
        for version, entry in entries:
            book.apply(version, entry)
        if len(entries) < 5000:
            break
    least = instrument_of(engine.state).min_group
    first, last = public_default(lambda a, b: book.tallies.total(a, b).respondents, today, least)
    period = period_key(first, "quarter")
    tally = book.tallies.total(first, last)
    index = compute(tally)
    if period in book.plans or index is None or tally.respondents < least:
        return None
    nrr = dict(zip(ELEMENT_KEYS, index.nrr, strict=True))
    plan = demo_survey.follow_up_plan(period, nrr)
    await engine.execute({"type": "write_survey_plan", "plan": plan, "by": "admin"})
    return period


def site_today(now: float) -> date:
    """Today in the demo hall's calendar (only to choose the days to fill)."""
    return datetime.fromtimestamp(now, zone(SITE["timezone"])).date()
