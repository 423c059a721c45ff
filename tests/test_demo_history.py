"""`qms demo --history`: simulated past days, through the engine, read back through the reports."""

from __future__ import annotations

from collections import Counter
from datetime import date, time
from pathlib import Path
from typing import Any

from qms.cli import main
from qms.demo_hall import SITE
from qms.demo_history import days_to_fill, fill_demo_history
from qms.reports.query import Reports, scope

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


def _visits(data: Path) -> tuple[list[str], list[list[Any]]]:
    reports = Reports(data / "reports")  # only the closed days' files: no live day here
    try:
        return reports.visits(scope(SITES, DAYS, 0.0))
    finally:
        reports.close()


def _summary(data: Path) -> dict[str, Any]:
    reports = Reports(data / "reports")
    try:
        return reports.summary(scope(SITES, DAYS, 0.0))["measures"]
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
    other = tmp_path / "c"
    other.mkdir()
    await _fill(other, seed=12)
    assert _summary(other) != before


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
