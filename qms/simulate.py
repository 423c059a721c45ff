"""A simulated hall day: Poisson arrivals with a morning peak, officers serving, and a
share of the served visitors answering the satisfaction survey.

Discrete-event simulation on a simulated clock, driving a real `SiteEngine`
(so every call goes through decide, the log and compare-and-append). A visitor's
answer is the `submit_survey` command of their completed ticket with its token, as
their status page sends it (`qms.demo_survey` draws who answers, when, and what).
"""

from __future__ import annotations

import asyncio
import heapq
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from time import time as time_now
from typing import Any

from qms import demo_survey
from qms.core import Rejected
from qms.core.calendar import zone
from qms.demo_hall import COUNTERS, MEAN_SERVICE_MIN, SERVICES
from qms.engine import SiteEngine

# Visitors per hour across the hall by hour of day: the MPP morning peak.
ARRIVALS_PER_HOUR = {8: 60, 9: 110, 10: 120, 11: 90, 12: 50, 13: 60, 14: 50, 15: 20}
PRIORITY_SHARE = 0.08
ANSWER_SHARE = 0.3  # of the served visitors, who rate their visit (docs/survey.md)


@dataclass
class DayStats:
    issued: int = 0
    called: int = 0
    completed: int = 0
    no_show: int = 0
    surveyed: int = 0  # survey answers of served visitors
    waits: list[float] = field(default_factory=list)


@dataclass
class Respondents:
    """Who of the served visitors answers the survey, when and what: drawn from a
    generator of their own, so the visits are those of the same seed without them."""

    rng: random.Random
    manners: dict[str, tuple[float, float]]

    @classmethod
    def of(cls, rng: random.Random, officers: Sequence[str]) -> Respondents:
        """Seeded from `rng`'s state without drawing from it (a str seed is hashed)."""
        own = random.Random(f"survey-{rng.getstate()}")
        return cls(own, demo_survey.officer_manners(own.randrange(2**32), list(officers)))


def opening_time(day: datetime, tz: str) -> float:
    return datetime.combine(day.date(), time(8, 0), zone(tz)).timestamp()


def next_workday(after: float, tz: str) -> datetime:
    d = datetime.fromtimestamp(after, zone(tz)) + timedelta(days=1)
    while d.weekday() >= 5:
        d += timedelta(days=1)
    return d


async def run_day(
    engine: SiteEngine,
    start: float,
    hours: float | None,
    rng: random.Random,
    report: Callable[[str, dict[str, Any]], None] = lambda kind, ev: None,
    *,
    counters: Sequence[str] | None = None,
    live_speed: float | None = None,
) -> DayStats:
    """Simulate `hours` (None: for ever) of a day from `start` (unix seconds).

    By default on a simulated clock that the engine follows, as fast as it can.
    With `live_speed`, in real time `live_speed` times faster than a real hall
    (the engine keeps its real clock): the demo server's living hall.
    """
    now = start
    real0 = time_now()
    if live_speed is None:
        engine.clock = lambda: now
    stats = DayStats()
    cids = list(counters) if counters is not None else [c[0] for c in COUNTERS]
    survey = Respondents.of(rng, [f"petugas-{cid}" for cid in cids])
    agenda: list[tuple[float, int, str, str]] = []  # (time, tie, action, subject)
    tie = 0

    def at(t: float, action: str, subject: str) -> None:
        nonlocal tie
        tie += 1
        heapq.heappush(agenda, (t, tie, action, subject))

    tz = engine.state.site.timezone if engine.state.site else "Asia/Jakarta"
    at(start, "arrive", "")
    for cid in cids:
        at(start + rng.uniform(0, 120), "open", cid)
    end = math.inf if hours is None else start + hours * 3600
    while agenda:
        now, _, action, subject = heapq.heappop(agenda)
        if now > end:
            break
        if live_speed is not None:
            await asyncio.sleep(max(0.0, real0 + (now - start) / live_speed - time_now()))
        try:
            await _act(engine, action, subject, now, rng, tz, stats, report, at, survey)
        except Rejected as exc:
            if live_speed is None:
                raise
            # Live, people share the hall (a counter may be open already, or hold a
            # ticket from before a restart): settle the counter and go on.
            if exc.code == "counter_busy":
                at(now + 5, "complete", subject)
            elif action in ("complete", "no_show", "open"):
                at(now + 5, "next", subject)
    return stats


async def _act(
    engine: SiteEngine,
    action: str,
    subject: str,
    now: float,
    rng: random.Random,
    tz: str,
    stats: DayStats,
    report: Callable[[str, dict[str, Any]], None],
    at: Callable[[float, str, str], None],
    survey: Respondents,
) -> None:
    if action == "arrive":
        service = rng.choices(SERVICES, weights=[6, 3, 2, 3, 1, 6, 2, 4, 3, 2, 1, 2])[0][0]
        priority = rng.choice(["lansia", "disabilitas", "ibu_hamil"])
        if rng.random() >= PRIORITY_SHARE:
            priority = "regular"
        try:
            res = await engine.execute(
                {"type": "issue_ticket", "service": service, "priority": priority}
            )
            stats.issued += 1
            report("issued", res.events[-1][1])
        except Rejected:
            pass
        hour = datetime.fromtimestamp(now, zone(tz)).hour
        rate = ARRIVALS_PER_HOUR.get(hour, 60) / 3600  # off-hours: a demo stays alive
        at(now + rng.expovariate(rate), "arrive", "")
    elif action == "open":
        await engine.execute(
            {"type": "open_counter", "counter": subject, "officer": f"petugas-{subject}"}
        )
        at(now, "next", subject)
    elif action == "next":
        try:
            res = await engine.execute({"type": "call_next", "counter": subject})
        except Rejected as exc:
            if exc.code != "no_ticket_waiting":
                raise
            at(now + 30, "next", subject)  # nobody waiting: look again shortly
            return
        ev = res.events[-1][1]
        ticket = engine.state.tickets[ev["ticket"]]
        stats.called += 1
        stats.waits.append(engine.clock() - ticket.arrival_at)
        report("called", ev)
        if rng.random() < 0.04:
            at(now + 90, "no_show", subject)
        else:
            mean = MEAN_SERVICE_MIN[ticket.service] * 60
            at(now + 40 + rng.expovariate(1 / mean), "complete", subject)
    elif action == "complete":
        res = await engine.execute({"type": "complete", "counter": subject})
        stats.completed += 1
        at(now + rng.uniform(5, 30), "next", subject)
        if survey.rng.random() < ANSWER_SHARE:
            at(now + demo_survey.delay_s(survey.rng), "survey", res.events[-1][1]["ticket"])
    elif action == "survey":
        await _answer(engine, subject, survey, stats)
    elif action == "no_show":
        await engine.execute({"type": "no_show", "counter": subject})
        stats.no_show += 1
        at(now + 5, "next", subject)


async def _answer(engine: SiteEngine, tid: str, survey: Respondents, stats: DayStats) -> None:
    """The visitor of completed ticket `tid` rates the visit from its page: its token."""
    t = engine.state.visit(tid)
    if t is None or t.surveyed:  # gone, or rated at the counter's tablet meanwhile
        return
    waited = (t.called_at or t.issued_at) - t.arrival_at
    visit = demo_survey.Visit(wait_min=waited / 60, transferred=False, officer=t.officer or "")
    body = demo_survey.response(demo_survey.scores(visit, survey.rng, survey.manners), survey.rng)
    try:
        await engine.execute(
            {"type": "submit_survey", "ticket": tid, "token": t.token, "response": body}
        )
    except Rejected as exc:  # the survey switched off, or rated meanwhile: they go away
        if exc.code not in ("survey_off", "survey_already_answered", "survey_expired"):
            raise
        return
    stats.surveyed += 1


def summary(stats: DayStats) -> str:
    waits = sorted(stats.waits)
    avg = sum(waits) / len(waits) / 60 if waits else math.nan
    p90 = waits[int(0.9 * (len(waits) - 1))] / 60 if waits else math.nan
    return (
        f"{stats.issued} tiket diambil / tickets issued, {stats.called} dipanggil / called, "
        f"{stats.completed} selesai / completed, {stats.no_show} tidak hadir / no-show, "
        f"{stats.surveyed} survei / survey answers; "
        f"rata-rata tunggu / average wait {avg:.1f} min, p90 {p90:.1f} min"
    )
