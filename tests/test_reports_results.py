"""Results of queries over closed days alone are kept (`qms.reports.results`), so are the
closed days' rows and interval figures (`qms.reports.memory`, `qms.reports.intervals`),
and a day rebuilt into a new file is read again, not answered from what was kept."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path
from unittest import mock

from reports_hall import SITE, ReportsHall, local, store
from test_reports_store import MONDAY, TUESDAY

from qms.core import commands as c
from qms.eventlog import open_log
from qms.reports import memory, sql
from qms.reports.period import Period
from qms.reports.query import Reports, Scope
from qms.reports.store import VISITS_FILE, build_missing_days, rebuild

DAY = Scope({SITE: Period(date.fromisoformat(MONDAY), date.fromisoformat(MONDAY))})


async def monday(folder: Path, root: Path, tickets: int, *, again: bool = False) -> None:
    """A Monday of `tickets` visitors, closed, its file written into `root`."""
    hall = ReportsHall(local(MONDAY, "07:00")).set_up()
    hall.busy(MONDAY, tickets)
    hall.must(c.CloseDay(), 60.0)
    await asyncio.to_thread(folder.mkdir)
    log = open_log(f"sqlite:///{folder / 'qms.db'}")
    try:
        await store(log, hall)
        written = await (rebuild if again else build_missing_days)(log, SITE, root)
        assert written == [MONDAY]
    finally:
        await log.close()


async def test_a_closed_days_result_is_kept_until_its_file_is_rebuilt(tmp_path: Path) -> None:
    root = tmp_path / "reports"
    await monday(tmp_path / "a", root, 5)
    reports = Reports(root)
    try:
        first = reports.summary(DAY)
        assert first["measures"]["visits"] == 5
        kept = len(reports.results._kept)
        assert kept >= 1  # the day and the day before, both closed
        assert reports.summary(DAY) == first
        assert len(reports.results._kept) == kept  # answered from what was kept
        # The same day rebuilt from another log (7 visitors): a new file, read again.
        await monday(tmp_path / "b", root, 7, again=True)
        assert reports.summary(DAY)["measures"]["visits"] == 7
        assert reports.breakdown(DAY, "service")["rows"][0]["visits"] == 7
    finally:
        reports.close()


async def test_nothing_is_kept_when_told_so(tmp_path: Path) -> None:
    root = tmp_path / "reports"
    await monday(tmp_path / "a", root, 3)
    reports = Reports(root, cached_results=0)
    try:
        assert reports.summary(DAY)["measures"]["visits"] == 3
        assert not reports.results._kept
    finally:
        reports.close()


async def test_a_closed_day_kept_in_memory_is_loaded_again_when_rebuilt(tmp_path: Path) -> None:
    root = tmp_path / "reports"
    await monday(tmp_path / "a", root, 5)
    reports = Reports(root, cached_results=0)  # every query runs: over the memory tables
    try:
        assert reports.summary(DAY)["measures"]["visits"] == 5
        assert list(reports.memory._kept) == [(SITE, MONDAY)]
        assert reports.staff(DAY, "officer")["rows"][0]["served"] == 4
        await monday(tmp_path / "b", root, 7, again=True)
        assert reports.summary(DAY)["measures"]["visits"] == 7
        assert reports.staff(DAY, "officer")["rows"][0]["served"] == 6
        assert reports.intervals(DAY, 60)["rows"][0]["arrivals"] == 7
    finally:
        reports.close()


async def test_more_days_than_may_be_kept_are_read_from_their_files(tmp_path: Path) -> None:
    root = tmp_path / "reports"
    await monday(tmp_path / "a", root, 5)
    reports = Reports(root, cached_results=0, memory_days=0)
    try:
        assert reports.summary(DAY)["measures"]["visits"] == 5
        assert not reports.memory._kept
    finally:
        reports.close()


async def _monday_and_tuesday_closed(tmp_path: Path) -> Path:
    """Reports files of two closed days, 3 visits on Monday and 6 on Tuesday: their root."""
    root = tmp_path / "reports"
    hall = ReportsHall(local(MONDAY, "07:00")).set_up()
    hall.busy(MONDAY, 3)
    hall.busy(TUESDAY, 6)
    hall.must(c.CloseDay(), 60.0)
    log = open_log(f"sqlite:///{tmp_path / 'qms.db'}")
    try:
        await store(log, hall)
        assert await build_missing_days(log, SITE, root) == [MONDAY, TUESDAY]
    finally:
        await log.close()
    return root


async def test_a_summary_and_its_period_before_when_memory_holds_only_one_day(
    tmp_path: Path,
) -> None:
    """The summary asks for Tuesday and Monday (its day before) in one query; with room
    for one day in memory, loading Monday pushes Tuesday out: each is then read alone,
    and both figures are still there."""
    root = await _monday_and_tuesday_closed(tmp_path)
    day = date.fromisoformat(TUESDAY)
    for kept in (1, 2, 400):
        reports = Reports(root, cached_results=0, memory_days=kept)
        try:
            out = reports.summary(Scope({SITE: Period(day, day)}))
            assert out["measures"]["visits"] == 6
            assert out["previous"]["measures"]["visits"] == 3
            assert out["change"]["visits"] == 3
        finally:
            reports.close()


async def test_intervals_over_days_kept_in_memory_add_up_each_days_figures(
    tmp_path: Path,
) -> None:
    """A period's intervals are its days' figures added up; a closed day's figures, once
    computed, are kept in memory and answer the next report without a query, until the
    day's file is written again."""
    root = await _monday_and_tuesday_closed(tmp_path)
    monday_only, tuesday_only = (
        Scope({SITE: Period(date.fromisoformat(d), date.fromisoformat(d))})
        for d in (MONDAY, TUESDAY)
    )
    both = Scope({SITE: Period(date.fromisoformat(MONDAY), date.fromisoformat(TUESDAY))})
    reports = Reports(root, cached_results=0)
    files = Reports(root, cached_results=0, memory_days=0)  # nothing kept: computed each time
    try:
        for minutes in (15, 30, 60):
            days = [reports.intervals(s, minutes)["rows"] for s in (monday_only, tuesday_only)]
            rows = reports.intervals(both, minutes)["rows"]
            assert rows == days[0] + days[1] == files.intervals(both, minutes)["rows"]
            assert sum(r["arrivals"] for r in rows) == 9
            assert sum(r["served"] for r in rows) == 2 + 5
            for day, figures in zip((MONDAY, TUESDAY), days, strict=True):
                stamp = memory.stamp(root / f"site={SITE}" / f"day={day}" / VISITS_FILE)
                kept = reports.figures.get(((minutes, ()), SITE, day), stamp)
                assert kept == [tuple(r.values()) for r in figures]
        assert not files.figures._kept
        # Kept: the same reports again without computing any day's figures.
        want = {m: files.intervals(both, m) for m in (15, 30, 60)}
        with mock.patch.object(sql, "day_intervals", side_effect=AssertionError("computed")):
            for minutes in (15, 30, 60):
                assert reports.intervals(both, minutes) == want[minutes]
        # Tuesday written again (7 visitors, from another log): its figures are computed again.
        hall = ReportsHall(local(TUESDAY, "07:00")).set_up()
        hall.busy(TUESDAY, 7)
        hall.must(c.CloseDay(), 60.0)
        log = open_log(f"sqlite:///{tmp_path / 'again.db'}")
        try:
            await store(log, hall)
            assert await rebuild(log, SITE, root) == [TUESDAY]
        finally:
            await log.close()
        rows = reports.intervals(both, 60)["rows"]
        assert sum(r["arrivals"] for r in rows) == 3 + 7
    finally:
        reports.close()
        files.close()
