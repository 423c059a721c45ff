"""`qms demo --history`: simulated past days, through the engine, read back through the reports."""

from __future__ import annotations

from collections import Counter
from datetime import date, time
from pathlib import Path
from statistics import mean
from typing import Any

from qms.cli import main
from qms.demo_hall import SITE
from qms.demo_history import days_to_fill, fill_demo_history
from qms.eventlog import open_log
from qms.reports.query import Reports, scope
from qms.survey.records import SurveyBook
from qms.survey.routes import published, results

TODAY = date(2026, 12, 5)  # a Saturday: the 3 days before are Wed, Thu and Fri (Jumat)
DAYS = ("2026-12-02", "2026-12-04")
SITES = {SITE["site"]: SITE["timezone"]}


async def _fill(data: Path, seed: int = 11) -> list[Any]:
    lines: list[str] = []
    tallies = await fill_demo_history(
        f"sqlite:///{data / 'qms.db'}", data / "reports", 3, seed, TODAY, lines.append
    )
    assert all(line for line in lines)  # progress: one line per day, then the files
    return tallies


def _visits(data: Path) -> tuple[list[str], list[tuple[Any, ...]]]:
    reports = Reports(data / "reports")  # only the closed days' files: no live day here
    try:
        return reports.visits(scope(SITES, DAYS, 0.0))
    finally:
        reports.close()


async def _events(data: Path) -> list[dict[str, Any]]:
    log = open_log(f"sqlite:///{data / 'qms.db'}")
    try:
        return [entry for _, entry in await log.read(SITE["site"], 0, 1_000_000)]
    finally:
        await log.close()


def _book(events: list[dict[str, Any]]) -> SurveyBook:
    book = SurveyBook()
    for version, entry in enumerate(events, 1):
        book.apply(version, entry)
    return book


def _summary(data: Path) -> dict[str, Any]:
    reports = Reports(data / "reports")
    try:
        return dict(reports.summary(scope(SITES, DAYS, 0.0))["measures"])
    finally:
        reports.close()


async def test_history_days_are_closed_with_every_outcome_and_a_friday_prayer_break(
    tmp_path: Path,
) -> None:
    tallies = await _fill(tmp_path)
    assert [t.day for t in tallies] == ["2026-12-02", "2026-12-03", "2026-12-04"]
    columns, rows = _visits(tmp_path)
    col = {name: i for i, name in enumerate(columns)}
    days = {row[col["day"]].isoformat() for row in rows}
    assert days == {"2026-12-02", "2026-12-03", "2026-12-04"}  # every day closed and built
    outcomes = Counter(row[col["outcome"]] for row in rows)
    assert outcomes["served"] > 500 and outcomes["no_show"] > 0 and outcomes["transferred"] > 0
    assert outcomes["going_on"] == 0  # closed days: nobody left in the hall
    assert any(row[col["priority"]] != "regular" for row in rows)
    assert len({row[col["officer"]] for row in rows if row[col["officer"]]}) > 5

    def calls_in_prayer_time(day: str) -> int:
        return sum(
            1
            for row in rows
            if row[col["day"]].isoformat() == day
            and row[col["called"]] is not None
            and time(11, 31) <= row[col["called"]].time() < time(12, 59)
        )

    assert calls_in_prayer_time("2026-12-04") == 0  # Jumat: the counters pause
    assert calls_in_prayer_time("2026-12-03") > 20  # a Thursday: served through lunch
    # Local times, on the simulated days, never the wall clock.
    assert all(
        row[col["issued"]].date() == row[col["day"]]
        and time(7, 45) <= row[col["issued"]].time() <= time(15, 0)
        for row in rows
    )


async def test_same_seed_same_figures_and_a_second_run_adds_nothing(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    await _fill(first)
    await _fill(second)
    assert _visits(first) == _visits(second)
    assert _summary(first) == _summary(second)
    before = _summary(first)
    assert await _fill(first) == []  # already there: no day played twice
    assert _summary(first) == before
    plans = [e for e in await _events(first) if e["type"] == "survey_plan_written"]
    assert len(plans) == 1  # and no second plan for the period
    survey = _book(await _events(first)).records
    assert survey and survey == _book(await _events(second)).records
    other = tmp_path / "c"
    other.mkdir()
    await _fill(other, seed=12)
    assert _summary(other) != before
    assert _book(await _events(other)).records != survey


async def test_history_fills_the_survey_through_served_tickets(tmp_path: Path) -> None:
    tallies = await _fill(tmp_path)
    events = await _events(tmp_path)
    issued = {e["ticket"]: e for e in events if e["type"] == "ticket_issued"}
    completed = {e["ticket"]: e["at"] for e in events if e["type"] == "ticket_completed"}
    called: dict[str, float] = {}
    for e in events:
        if e["type"] == "ticket_called":
            called.setdefault(e["ticket"], e["at"])
    answers = [e for e in events if e["type"] == "survey_answered"]
    visits = [e for e in answers if not e.get("walk_up")]
    walk_ups = [e for e in answers if e.get("walk_up")]
    # Every visit's answer is a served ticket's, once, within the day-long window, on the
    # simulated clock; the walk-up ones have no ticket.
    assert len({e["ticket"] for e in visits}) == len(visits)
    for e in visits:
        assert e["ticket"] in completed and 0 < e["at"] - completed[e["ticket"]] <= 24 * 3600
        assert e["day"] == issued[e["ticket"]]["day"]
    assert walk_ups and all(e["ticket"] == "" for e in walk_ups)
    assert sum(t.surveyed for t in tallies) == len(visits)
    assert sum(t.walk_up for t in tallies) == len(walk_ups)
    assert 0.2 <= len(visits) / len(completed) <= 0.35  # a realistic share of served visitors
    # The optional parts: some profile fields skipped, a few suggestions.
    profiles = [e["response"]["profile"] for e in answers]
    assert 0.5 < mean(len(p) for p in profiles) / 4 < 0.95
    texts = [e["response"]["suggestion"] for e in answers if e["response"]["suggestion"]]
    assert 0.05 * len(answers) < len(texts) < 0.25 * len(answers)
    # A long wait is rated lower on the waiting time (U3) than a short one.
    waited = {e["ticket"]: (called[e["ticket"]] - issued[e["ticket"]]["at"]) / 60 for e in visits}
    u3 = {e["ticket"]: e["response"]["scores"][2] for e in visits}
    short = [u3[t] for t, w in waited.items() if w < 10]
    long = [u3[t] for t, w in waited.items() if w > 40]
    assert short and long and mean(long) < mean(short) - 0.5
    # The index the result page shows: computed, a grade short of perfect, a weakest element
    # that is not the free service's cost.
    book = _book(events)
    shown = results(book, date(2026, 1, 1), TODAY, "service")
    assert shown["respondents"] == len(answers)
    index = shown["index"]
    assert index is not None and index["grade"]["letter"] in "BC"
    assert "U4" not in index["lowest"]
    nrr = {el["key"]: float(el["nrr"]) for el in index["elements"]}
    assert max(nrr.values()) - min(nrr.values()) > 0.5
    # The admin's follow-up plan for the two weakest elements of the period the public
    # page shows by default (here the quarter so far: the last one has no answers).
    (plan,) = [p.to_dict() for p in book.plan_history()]
    quarter = published(book, date(2026, 10, 1), TODAY)
    assert plan["period"] == "2026-Q4" and len(plan["elements"]) == 2
    assert set(quarter["index"]["lowest"]) <= set(plan["elements"])
    assert all(nrr[k] <= sorted(nrr.values())[1] for k in plan["elements"])
    assert quarter["plans"] == [plan] and plan["text"].startswith(plan["elements"][0])


def test_days_to_fill() -> None:
    assert days_to_fill(None, TODAY, 7) == [date(2026, 11, d) for d in (30,)] + [
        date(2026, 12, d) for d in (1, 2, 3, 4)
    ]
    assert days_to_fill("2026-12-02", TODAY, 7) == [date(2026, 12, 3), date(2026, 12, 4)]
    assert days_to_fill("2026-12-05", TODAY, 7) == []


def test_cli_rejects_a_history_of_no_days(tmp_path: Path, capsys: Any) -> None:
    assert main(["demo", "--history", "0", "--data-dir", str(tmp_path)]) == 2
    assert "--history" in capsys.readouterr().err


def test_cli_history_is_for_the_served_demo(tmp_path: Path, capsys: Any) -> None:
    assert main(["demo", "--terminal", "--history", "--data-dir", str(tmp_path)]) == 2
    assert "--terminal" in capsys.readouterr().err
