"""The closed days' files: built from the log (SQLite and Redis), missing ones found,
rebuilt identically, a reopened day written again; `qms reports rebuild`; no DuckDB
loaded by the server's import."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest
from reports_hall import SITE, ReportsHall, local, store

from qms.cli import main
from qms.core import commands as c
from qms.eventlog import EventLog, open_log
from qms.reports import store as store_files
from qms.reports.period import Period
from qms.reports.query import Reports, Scope
from qms.reports.store import (
    ACTIVITY_FILE,
    VISITS_FILE,
    _rebuild_part,
    _split,
    build_missing_days,
    built_days,
    closed_version,
    day_dir,
    rebuild,
)
from qms.reports.visits import SiteFold
from qms.server.config import Config

MONDAY, TUESDAY, WEDNESDAY = "2024-05-06", "2024-05-07", "2024-05-08"
WEEK = [MONDAY, TUESDAY, WEDNESDAY, "2024-05-09", "2024-05-10", "2024-05-11"]


def visits_in(root: Path, day: str) -> int:
    path = day_dir(root, SITE, day) / VISITS_FILE
    count = duckdb.execute(f"SELECT count(*) FROM read_parquet('{path}')").fetchone()
    return 0 if count is None else int(count[0])


async def test_a_day_closed_while_no_process_ran_is_built_on_the_next_start(
    log: EventLog, tmp_path: Path
) -> None:
    """Monday is closed by Tuesday's first command (nobody closed it; no process wrote
    its file): the next start's `build_missing_days` builds Monday, not Tuesday (open)."""
    root = tmp_path / "reports"
    hall = ReportsHall(local(MONDAY, "07:00")).set_up()
    hall.busy(MONDAY)
    hall.busy(TUESDAY)
    await store(log, hall)
    assert await build_missing_days(log, SITE, root, TUESDAY, TUESDAY) == []  # a period's
    assert await build_missing_days(log, SITE, root) == [MONDAY]
    assert list(built_days(root, SITE)) == [MONDAY]
    assert visits_in(root, MONDAY) == 5
    assert await build_missing_days(log, SITE, root) == []  # nothing is missing now
    hall.must(c.CloseDay(), 60.0)
    await store(log, hall, await log.version(SITE))
    assert await build_missing_days(log, SITE, root) == [TUESDAY]


async def test_rebuilding_gives_the_same_files(log: EventLog, tmp_path: Path) -> None:
    hall = ReportsHall(local(MONDAY, "07:00")).set_up()
    hall.busy(MONDAY)
    hall.busy(TUESDAY)
    hall.must(c.CloseDay(), 60.0)
    await store(log, hall)
    first, second = tmp_path / "one", tmp_path / "two"
    assert await build_missing_days(log, SITE, first) == [MONDAY, TUESDAY]
    before = {p: p.read_bytes() for p in first.rglob("*.parquet")}
    assert await rebuild(log, SITE, first) == [MONDAY, TUESDAY]
    assert await rebuild(log, SITE, second, TUESDAY, TUESDAY) == [TUESDAY]
    assert {p: p.read_bytes() for p in first.rglob("*.parquet")} == before  # byte for byte
    for name in (VISITS_FILE, ACTIVITY_FILE):
        one = day_dir(first, SITE, TUESDAY) / name
        assert (day_dir(second, SITE, TUESDAY) / name).read_bytes() == one.read_bytes()
    assert not list(first.rglob("*.tmp"))  # no temporary file left behind


def _week() -> ReportsHall:
    """Six days, Thursday closed then opened again by a late visitor and closed again."""
    hall = ReportsHall(local(MONDAY, "07:00")).set_up()
    for day in WEEK:
        hall.busy(day, tickets=3)
        if day == WEEK[3]:
            hall.must(c.CloseDay(), 60.0)
            hall.must(c.IssueTicket(service="kk", token="late"), 600.0)
    hall.must(c.CloseDay(), 60.0)
    return hall


def _files(root: Path) -> dict[Path, bytes]:
    return {p.relative_to(root): p.read_bytes() for p in root.rglob("*.parquet")}


async def test_a_rebuild_split_between_processes_gives_the_same_files(
    log: EventLog, log_url: str, tmp_path: Path
) -> None:
    """Split between folds (this process and spawned ones reading the log themselves, on
    SQLite and on Redis), a rebuild writes the very files of one fold of the whole log."""
    await store(log, _week())
    one = tmp_path / "one"
    assert await rebuild(log, SITE, one) == WEEK
    for folds in (2, 3):
        split = tmp_path / f"split{folds}"
        assert await rebuild(log, SITE, split, log_url=log_url, folds=folds) == WEEK
        assert _files(split) == _files(one)
    span = tmp_path / "span"
    assert await rebuild(log, SITE, span, TUESDAY, WEEK[4], log_url=log_url, folds=2) == WEEK[1:5]
    inside = {p: b for p, b in _files(one).items() if str(p).split("day=")[1][:10] in WEEK[1:5]}
    assert _files(span) == inside
    # Each part has days of its own: the spawned one the later ones.
    after, until = _split(await log.version(SITE), 2)[1]
    later = await asyncio.to_thread(
        _rebuild_part, log_url, SITE, tmp_path / "later", None, None, after, until
    )
    assert later and set(later) < set(WEEK) and later == WEEK[-len(later) :]


def test_a_fold_up_to_a_version_keeps_the_days_opened_by_then_and_is_done_after() -> None:
    hall = _week()
    opened = [v for v, entry in hall.entries if entry["type"] == "day_opened"]
    closed: list[str] = []
    fold = SiteFold(SITE, until=opened[2], on_closed=lambda rows: closed.append(rows.day))
    for version, entry in hall.entries:
        fold.apply(version, entry)
        if fold.done:
            break
    assert closed == WEEK[:3] and version == opened[3]
    rest: list[str] = []
    fold = SiteFold(SITE, after=opened[2], on_closed=lambda rows: rest.append(rows.day))
    fold.apply_all(hall.entries)
    assert rest == [WEEK[3], *WEEK[3:]] and not fold.done  # Thursday closed twice


def test_a_rebuild_writes_its_files_in_a_process_of_its_own(tmp_path: Path) -> None:
    """The rebuild's writer (`apart`) runs beside the fold in another process, so the two
    do not take turns for the interpreter (the files are the same: the test above)."""
    apart, here = store_files._Writer(tmp_path, apart=True), store_files._Writer(tmp_path)
    try:
        assert apart.pool.submit(os.getpid).result() != os.getpid()
        assert here.pool.submit(os.getpid).result() == os.getpid()
    finally:
        apart.finish()
        here.finish()


async def test_a_day_reopened_after_its_file_was_written_is_written_again(
    log: EventLog, tmp_path: Path
) -> None:
    root = tmp_path / "reports"
    hall = ReportsHall(local(MONDAY, "07:00")).set_up()
    hall.busy(MONDAY, tickets=3)
    hall.must(c.CloseDay(), 60.0)
    await store(log, hall)
    assert await build_missing_days(log, SITE, root) == [MONDAY]
    con = duckdb.connect()
    path = day_dir(root, SITE, MONDAY) / VISITS_FILE
    first_close = closed_version(con, path)
    assert first_close == len(hall.entries)
    # A report reads the file (its connection keeps the file's footer and blocks)...
    reports = Reports(root)
    monday = Scope({SITE: Period(date(2024, 5, 6), date(2024, 5, 6))})
    assert reports.summary(monday)["measures"]["visits"] == 3
    # Later the same Monday: a visitor comes, the day opens again and closes again.
    version = len(hall.entries)
    hall.must(c.IssueTicket(service="kk", token="late"), 600.0)
    hall.must(c.CloseDay(), 60.0)
    await store(log, hall, version)
    assert await build_missing_days(log, SITE, root) == [MONDAY]
    assert closed_version(con, path) == len(hall.entries) > first_close
    assert visits_in(root, MONDAY) == 4
    # ...and the same connection reads the new file, written within the same second.
    measures = reports.summary(monday)["measures"]
    assert measures["visits"] == 4
    assert measures["outcomes"]["served"] == 2 and measures["outcomes"]["expired"] == 2
    reports.close()


async def test_a_day_that_cannot_be_written_fails_the_rebuild(
    log: EventLog, tmp_path: Path
) -> None:
    hall = ReportsHall(local(MONDAY, "07:00")).set_up()
    hall.busy(MONDAY, tickets=2)
    hall.must(c.CloseDay(), 60.0)
    await store(log, hall)
    root = tmp_path / "reports"
    root.write_text("a file where the folder should be")  # written in the writer's thread
    with pytest.raises(OSError):
        await rebuild(log, SITE, root)


async def _three_days(path: Path) -> None:
    log = open_log(f"sqlite:///{path}")
    try:
        hall = ReportsHall(local(MONDAY, "07:00")).set_up()
        for day in (MONDAY, TUESDAY, WEDNESDAY):
            hall.busy(day, tickets=2)
        hall.must(c.CloseDay(), 60.0)
        await store(log, hall)
    finally:
        await log.close()


def test_qms_reports_rebuild(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    asyncio.run(_three_days(data / "qms.db"))
    argv = ["reports", "rebuild", "--data-dir", str(data), "--site", SITE]
    assert main([*argv, "--from", TUESDAY, "--to", WEDNESDAY]) == 0
    assert list(built_days(data / "reports", SITE)) == [TUESDAY, WEDNESDAY]
    assert main(["reports", "rebuild", "--data-dir", str(data)]) == 0  # the sites it has
    assert list(built_days(data / "reports", SITE)) == [MONDAY, TUESDAY, WEDNESDAY]
    assert list(built_days(data / "reports", SITE, TUESDAY, TUESDAY)) == [TUESDAY]
    assert list(built_days(data / "reports", SITE, first=TUESDAY)) == [TUESDAY, WEDNESDAY]
    assert list(built_days(data / "reports", SITE, last=MONDAY)) == [MONDAY]
    assert main([*argv, "--from", "2024-13-01"]) == 2  # not a date: refused, nothing done
    assert main(["reports", "rebuild", "--data-dir", str(tmp_path / "empty")]) == 2


def test_the_reports_folder_is_configurable(tmp_path: Path) -> None:
    env = {"QMS_DATA_DIR": str(tmp_path)}
    assert Config.from_env(env).reports_path == tmp_path / "reports"
    configured = Config.from_env({**env, "QMS_REPORTS_DIR": "/srv/qms-reports"})
    assert configured.reports_path == Path("/srv/qms-reports")


def test_the_server_does_not_load_duckdb() -> None:
    """DuckDB is imported when a report runs, not when the server or the CLI starts."""
    code = (
        "import sys, qms.server.app, qms.cli, qms.reports.query, qms.reports.store; "
        "sys.exit('duckdb' in sys.modules)"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    done = subprocess.run([sys.executable, "-c", code], env=env, timeout=60, check=False)
    assert done.returncode == 0
