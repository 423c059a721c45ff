"""The live day's summary and cuts computed in Python (qms/reports/today.py) against the
same figures computed by DuckDB's SQL over the same rows.

Random days of random commands (the property tests' hall, `tests/reports_hall.py`):
while the day is open, `today` over the live rows must equal the SQL over the live
tables (to rounding: the live table's rows are added in another order); once it
closed, `today` over the kept rows must equal the SQL over the day's file exactly,
float for float, with and without filters.
"""

from __future__ import annotations

import asyncio
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from reports_hall import SITE, ReportsHall, store
from test_reports_properties import DIMENSIONS, START, actions, assert_close, filters, play

from qms.core import commands as c
from qms.eventlog import open_log
from qms.reports import sql, today
from qms.reports.live import LiveDay
from qms.reports.period import Period
from qms.reports.query import Filters, Reports, Scope
from qms.reports.store import build_missing_days

pytestmark = pytest.mark.timeout(300)


def by_sql(reports: Reports, scope: Scope, now: float) -> dict[str, Any]:
    """The summary row and every cut's rows, by DuckDB."""
    out: dict[str, Any] = {"summary": reports._rows(scope, sql.SUMMARY, now)[0]}
    for by in DIMENSIONS:
        out[by] = reports._rows(scope, sql.breakdown(sql.DIMENSIONS[by]), now)
    return out


def assert_same(got: Any, want: Any, path: str = "") -> None:
    """Equal, float for float (the first difference named)."""
    if isinstance(want, dict):
        assert isinstance(got, dict) and set(got) == set(want), f"{path}: {got!r} != {want!r}"
        for key in want:
            assert_same(got[key], want[key], f"{path}.{key}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), f"{path}: {got!r} != {want!r}"
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            assert_same(g, w, f"{path}[{i}]")
    else:
        assert got == want and type(got) is type(want), f"{path}: {got!r} != {want!r}"


def by_python(live: LiveDay, wanted: dict[str, list[str]]) -> dict[str, Any]:
    _, rows = live.visit_rows()
    rows = today.chosen(rows, wanted)
    out: dict[str, Any] = {"summary": today.measures(rows)}
    for by in DIMENSIONS:
        out[by] = today.breakdown(rows, by)
    return out


async def _run(
    steps: list[tuple[str, int, float]], wanted: dict[str, list[str]], root: Path
) -> None:
    hall = ReportsHall(START).set_up()
    play(hall, steps)
    live = LiveDay(SITE)
    half = len(hall.entries) // 2
    live.fold.apply_all(hall.entries[:half])
    live.visit_rows()  # kept from here on, then only the tickets that change are made again
    for version, entry in hall.entries[half:]:
        live.apply(version, entry)
    day = live.day
    if day is None:
        return
    one = Scope({SITE: Period(date.fromisoformat(day), date.fromisoformat(day))},
                Filters.parse(wanted))  # fmt: skip
    reports = Reports(root / "reports")
    reports.add_live(live)
    try:
        # Open: the live tables through DuckDB, against Python over the same rows.
        assert_close(by_python(live, wanted), by_sql(reports, one, hall.now), "open")
        assert reports.summary(one, hall.now)["measures"]["visits"] == len(
            today.chosen(live.visit_rows()[1], wanted)
        )
        # Closed and written: the file through DuckDB, exactly.
        if not hall.run(c.CloseDay(), 60.0):
            return
        for version, entry in hall.entries[live.fold.version :]:
            live.apply(version, entry)
        log = open_log(f"sqlite:///{root / 'qms.db'}")
        try:
            await store(log, hall)
            assert await build_missing_days(log, SITE, root / "reports") != []
        finally:
            await log.close()
        files = Reports(root / "reports")  # no live day: the file alone
        try:
            assert_same(by_python(live, wanted), by_sql(files, one, hall.now), "closed")
            python = Reports(root / "none")  # no file: the live rows, in Python
            python.add_live(live)
            assert (
                python.summary(one, hall.now)["measures"]
                == files.summary(one, hall.now)["measures"]
            )
            for by in DIMENSIONS:
                assert python.breakdown(one, by, hall.now) == files.breakdown(one, by, hall.now)
            python.close()
        finally:
            files.close()
    finally:
        reports.close()


@settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(steps=actions, wanted=filters)
def test_todays_figures_in_python_equal_duckdbs(
    steps: list[tuple[str, int, float]], wanted: dict[str, list[str]]
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(_run(steps, wanted, Path(tmp)))


def test_quantiles_interpolate_between_the_closest_ranks() -> None:
    values = [1.0, 2.0, 4.0, 8.0]
    got = [today.quantile_cont(values, q) for q in (0.0, 0.5, 0.9, 1.0)]
    assert got == [1.0, 3.0, pytest.approx(6.8, rel=1e-15), 8.0]
    assert today.quantile_cont([5.0], 0.95) == 5.0
