"""Closed business days as Parquet files, written from the log and rebuilt from it.

Layout (docs/reports.md, "Files"): ``<root>/site=<site>/day=<YYYY-MM-DD>/`` holds
``visits.parquet`` and ``counters.parquet``, where the root is
``$QMS_REPORTS_DIR`` or ``<data dir>/reports``. A day's files are written when
its ``day_closed`` is folded, each atomically (a temporary file, synced, then
renamed), counters first: a day with a ``visits.parquet`` is built. Both carry
the log version of the ``day_closed`` they were made from (Parquet key-value
metadata ``qms_closed_version``), so a day opened again after a close (and
closed later) is seen to need writing again. The same log gives the same files.

The functions here read the log (async) and fold each page of it in a worker
thread, so a server can call them without stalling its event loop.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import itertools
import multiprocessing
import os
import re
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from qms.reports import db
from qms.reports.rows import ACTIVITY_COLUMNS, ACTIVITY_ORDER, VISIT_COLUMNS, VISIT_ORDER
from qms.reports.visits import DayRows, SiteFold

if TYPE_CHECKING:
    import duckdb

    from qms.eventlog import EventLog

VISITS_FILE = "visits.parquet"
ACTIVITY_FILE = "counters.parquet"
SCHEMA = "1"  # raised when a column changes meaning: files of another schema are rebuilt
PAGE = 5_000  # log entries read and folded at a time
FEW_DAYS = 31  # `built_days` of a period this short looks at its days' folders only
_DAY_DIR = re.compile(r"^day=(\d{4}-\d{2}-\d{2})$")


def day_dir(root: Path, site: str, day: str) -> Path:
    return root / f"site={site}" / f"day={day}"


def built_days(
    root: Path, site: str, first: str | None = None, last: str | None = None
) -> dict[str, Path]:
    """The site's days that have files (from `first` to `last`, YYYY-MM-DD, when given):
    day -> its visits file, in day order. Every report asks this for each site, so only
    the days of its period are looked at (a year's folder holds hundreds)."""
    site_dir = root / f"site={site}"
    if first is not None and last is not None and first <= last:
        span = (date.fromisoformat(last) - date.fromisoformat(first)).days + 1
        if span <= FEW_DAYS:  # a day or a week: look at those folders, not at every one
            days = (date.fromisoformat(first) + timedelta(days=i) for i in range(span))
            paths = ((d.isoformat(), site_dir / f"day={d.isoformat()}" / VISITS_FILE) for d in days)
            return {day: path for day, path in paths if os.path.exists(path)}
    try:
        entries = list(os.scandir(site_dir))
    except FileNotFoundError:
        return {}
    out: dict[str, Path] = {}
    for entry in entries:
        match = _DAY_DIR.match(entry.name)
        if match is None or not _within(match.group(1), first, last):
            continue
        path = os.path.join(entry.path, VISITS_FILE)
        if os.path.exists(path):
            out[match.group(1)] = Path(path)
    return dict(sorted(out.items()))


def built_sites(root: Path) -> list[str]:
    try:
        names = [e.name for e in os.scandir(root) if e.is_dir() and e.name.startswith("site=")]
    except FileNotFoundError:
        return []
    return sorted(n.removeprefix("site=") for n in names)


def write_day(con: duckdb.DuckDBPyConnection, root: Path, rows: DayRows) -> Path:
    """Write a closed day's files; returns the visits file."""
    if rows.closed_version <= 0:
        raise ValueError(f"site {rows.site}: day {rows.day} is not closed")
    folder = day_dir(root, rows.site, rows.day)
    meta = {
        "qms_site": rows.site,
        "qms_day": rows.day,
        "qms_closed_version": str(rows.closed_version),
        "qms_schema": SCHEMA,
    }
    db.write_parquet(
        con, folder / ACTIVITY_FILE, rows.activity, ACTIVITY_COLUMNS, ACTIVITY_ORDER, meta
    )
    visits = folder / VISITS_FILE
    db.write_parquet(con, visits, rows.visits, VISIT_COLUMNS, VISIT_ORDER, meta)
    return visits


def closed_version(con: duckdb.DuckDBPyConnection, path: Path) -> int:
    """The log version a day's file was made from (0 when unknown or of another schema)."""
    meta = db.file_metadata(con, path)
    if meta.get("qms_schema") != SCHEMA:
        return 0
    try:
        return int(meta.get("qms_closed_version", "0"))
    except ValueError:
        return 0


async def _fold_log(log: EventLog, site: str, fold: SiteFold) -> None:
    """Feed the whole log of `site` to `fold` (until it is `done`), a page at a time,
    folding in a thread while the next page is read."""
    page = await log.read(site, 0, PAGE)
    while page and not fold.done:
        ahead = asyncio.ensure_future(log.read(site, page[-1][0], PAGE))
        try:
            await asyncio.to_thread(fold.apply_all, page)
        except BaseException:
            ahead.cancel()
            with contextlib.suppress(BaseException):
                await ahead
            raise
        page = await ahead


class _Writer:
    """Writes closed days' files while the fold goes on, in the order they closed (at most
    `AHEAD` days waiting); `finish` waits and raises the first failure. In a thread of its
    own, or (`apart`) in a process of its own, so that the writes do not take turns with
    the fold for the interpreter: a rebuild of many days. The same `write_day` either way,
    so the same files."""

    AHEAD = 4

    def __init__(self, root: Path, *, apart: bool = False) -> None:
        self.root = root
        self.con: duckdb.DuckDBPyConnection | None = None
        self.pool: concurrent.futures.Executor
        if apart:  # spawned: a fork would copy this process's threads' locks mid-use
            context = multiprocessing.get_context("spawn")
            self.pool = concurrent.futures.ProcessPoolExecutor(1, mp_context=context)
        else:
            self.con = db.connect()
            self.pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="qms-reports")
        self.pending: collections.deque[concurrent.futures.Future[Path]] = collections.deque()
        self.written: dict[str, None] = {}

    def __call__(self, rows: DayRows) -> None:  # on the fold's thread
        while len(self.pending) >= self.AHEAD:
            self.pending.popleft().result()
        if self.con is None:
            self.pending.append(self.pool.submit(_write_apart, self.root, rows))
        else:
            self.pending.append(self.pool.submit(write_day, self.con, self.root, rows))
        self.written[rows.day] = None

    def finish(self) -> None:
        try:
            while self.pending:
                self.pending.popleft().result()
        finally:
            self.pool.shutdown(wait=True, cancel_futures=True)
            if self.con is not None:
                self.con.close()


_APART: list[duckdb.DuckDBPyConnection] = []  # the writing process's connection


def _write_apart(root: Path, rows: DayRows) -> Path:
    """`write_day` in the writing process (`_Writer(apart=True)`), one connection for all."""
    if not _APART:
        _APART.append(db.connect())
    return write_day(_APART[0], root, rows)


async def build_days(
    log: EventLog,
    site: str,
    root: Path,
    wanted: Callable[[str], bool],
    *,
    reopened: Callable[[str, int], bool] = lambda day, version: False,
    apart: bool = False,
    after: int = 0,
    until: int | None = None,
) -> list[str]:
    """Write the files of every closed day that `wanted(day)` selects (first opened after
    log version `after` and up to `until`: `SiteFold`); the days written (`apart`: by a
    process of its own, `_Writer`)."""
    write = _Writer(root, apart=apart)
    try:
        fold = SiteFold(
            site, keep=wanted, reopened=reopened, on_closed=write, after=after, until=until
        )
        await _fold_log(log, site, fold)
        if fold.redo:  # days opened again after a close whose first part was not kept
            redo = set(fold.redo)
            await _fold_log(log, site, SiteFold(site, keep=redo.__contains__, on_closed=write))
    finally:
        await asyncio.to_thread(write.finish)
    return sorted(write.written)


async def build_missing_days(
    log: EventLog, site: str, root: Path, first: str | None = None, last: str | None = None
) -> list[str]:
    """Write every closed day of `site` that has no file (or whose file predates a later
    close of the same day), from `first` to `last` when given (YYYY-MM-DD): at start,
    whenever a day closes, and before a report of a period. The days written."""
    have = built_days(root, site)
    con = db.connect()

    def missing(day: str) -> bool:
        return day not in have and _within(day, first, last)

    def stale(day: str, version: int) -> bool:
        if not _within(day, first, last):
            return False
        path = have.get(day)
        return path is None or closed_version(con, path) < version

    try:
        return await build_days(log, site, root, missing, reopened=stale)
    finally:
        con.close()


def _within(day: str, first: str | None, last: str | None) -> bool:
    return (first is None or day >= first) and (last is None or day <= last)


SPLIT_AT = 200_000  # log entries from which `rebuild` splits the fold (~3 s of folding)
FIRST_SHARE = 0.58  # of the log, folded by the first part (see `_split`)


def _split(head: int, folds: int) -> list[tuple[int, int | None]]:
    """The log versions (after, until] of each part's days, by the day's first open.

    Every part reads the log from its start (the set-up, and the days it skips cost
    only their reading), and stops after its own days: the first part reads only its
    share, the last reads it all. Reading an entry costs about a third of folding it
    (~6 µs against ~15), so the first part takes more than an even share: with two,
    (read + fold) x = read + fold (1 - x) when x = 21/36 = 0.58."""
    if folds <= 1:
        return [(0, None)]
    first = int(head * FIRST_SHARE)
    rest = (head - first) / (folds - 1)
    cuts = [0, first, *(first + int(rest * i) for i in range(1, folds - 1))]
    return [*itertools.pairwise(cuts), (cuts[-1], None)]


def _rebuild_part(
    log_url: str,
    site: str,
    root: Path,
    first: str | None,
    last: str | None,
    after: int,
    until: int | None,
) -> list[str]:
    """One part of a split `rebuild`, in a process of its own: its own connection to
    the log, its own fold and its own writing process."""
    from qms.eventlog import open_log

    async def run() -> list[str]:
        log = open_log(log_url)
        try:
            return await _rebuild_range(log, site, root, first, last, after, until)
        finally:
            await log.close()

    return asyncio.run(run())


async def _rebuild_range(
    log: EventLog,
    site: str,
    root: Path,
    first: str | None,
    last: str | None,
    after: int = 0,
    until: int | None = None,
) -> list[str]:
    """The closed days from `first` to `last` first opened in the log's versions
    (`after`, `until`], written by a process of their own."""

    def wanted(day: str) -> bool:
        return _within(day, first, last)

    return await build_days(log, site, root, wanted, apart=True, after=after, until=until)


async def rebuild(
    log: EventLog,
    site: str,
    root: Path,
    first: str | None = None,
    last: str | None = None,
    *,
    log_url: str | None = None,
    folds: int | None = None,
) -> list[str]:
    """Write again the files of every closed day of `site` from `first` to `last` (inclusive,
    YYYY-MM-DD; None: unbounded). The days written. The files are written by a process
    of its own beside the fold (a year: ~300 days).

    Given the log's URL (`log_url`, the same log as `log`), the days are split between
    `folds` folds (default: two on a machine of two cores or more with one of them to
    spare by the load average, when the log has `SPLIT_AT` entries or more): this
    process folds the first part, each other part is folded by a spawned process that
    opens the log itself. Each day is folded by one part exactly as one fold of the
    whole log folds it, so the files are the same."""
    if folds is None:
        big = log_url is not None and await log.version(site) >= SPLIT_AT
        cores = os.cpu_count() or 1
        # A second fold only helps with a core to spare: it reads more of the log, so on
        # cores busy with other work it costs more than it gives (docs/performance.md 5).
        spare = os.getloadavg()[0] <= cores - 1
        folds = min(2, cores) if big and spare else 1
    if log_url is None or folds <= 1 or log_url.startswith("sqlite:///:memory:"):
        return await _rebuild_range(log, site, root, first, last)
    parts = _split(await log.version(site), folds)
    context = multiprocessing.get_context("spawn")  # see `_Writer`
    with concurrent.futures.ProcessPoolExecutor(len(parts) - 1, mp_context=context) as pool:
        others = [
            asyncio.wrap_future(pool.submit(_rebuild_part, log_url, site, root, first, last, *part))
            for part in parts[1:]
        ]
        try:
            days = await _rebuild_range(log, site, root, first, last, *parts[0])
        finally:
            done = await asyncio.gather(*others, return_exceptions=True)
    for result in done:
        if isinstance(result, BaseException):
            raise result
        days += result
    return sorted(days)
