"""Reports over a year of a busy hall: qms (Parquet day files + DuckDB) against a PostgreSQL
`tickets` table with the same report in SQL, on the same data, in the same run.

    flock /tmp/qms-bench.lock .venv/bin/python bench/reports_year.py

The year (bench/year_hall.py: 300 days x ~2,000 visits, ~2.5 million events) is
made once into the cache folder (`--cache`, default /tmp/qms-reports-year; about
3.5 minutes) and kept. Each run then measures, with the page cache warm:

- rebuilding every closed day's files from the log (`qms.reports.store.rebuild`,
  what `qms reports rebuild` does), into a fresh folder that then replaces the
  cache's;
- writing one closed day (the rows of the fold at its `day_closed`, then
  `write_day`: both files, synced and renamed), median of --repeat;
- each report view over the whole year (the 300 days) and over a month (its last
  30 days, ~60,000 visits) through `qms.reports.query.Reports`: the first call
  on a fresh `Reports` and the median of --repeat calls after it; the same SQL
  on PostgreSQL (median of --repeat after one warm-up);
- today's live figures: the last day as a `LiveDay` fed up to ~2,000 tickets, a
  few new events between queries (summary and per service);
- an XLSX of the month (every sheet, the visits sheet ~60,000 rows).

Every figure of the views is compared between qms and PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import PG_DSN, load_average, md_table, print_machine, unique
from peer_reports import SESSION, drop, load, views
from year_hall import SITE, make_year

from qms.reports import db
from qms.reports.export import xlsx_export
from qms.reports.live import LiveDay
from qms.reports.period import between
from qms.reports.query import Reports, Scope
from qms.reports.store import rebuild, write_day
from qms.reports.visits import DayRows, SiteFold

NOW = 2_000_000_000.0  # any moment after the data: no view of a closed day depends on it
PARTS = ("rebuild", "write", "views", "live", "xlsx", "peer")
TARGETS = {"year": 100.0, "month": 20.0, "today": 5.0}  # ms per view


def qms_views(reports: Reports) -> dict[str, Any]:
    return {
        "summary": lambda s: reports.summary(s, NOW),
        "service": lambda s: reports.breakdown(s, "service", NOW),
        "officer": lambda s: reports.breakdown(s, "officer", NOW),
        "staff_officer": lambda s: reports.staff(s, "officer", NOW),
        "intervals_60": lambda s: reports.intervals(s, 60, NOW),
        "intervals_15": lambda s: reports.intervals(s, 15, NOW),
        "heatmap": lambda s: reports.heatmap(s, NOW),
    }


def timed(fn: Any, repeat: int) -> tuple[float, float, Any]:
    """(first call ms, median ms of `repeat` calls after it, the last result)."""
    t0 = time.perf_counter()
    out = fn()
    first = (time.perf_counter() - t0) * 1e3
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        runs.append((time.perf_counter() - t0) * 1e3)
    return first, statistics.median(runs), out


async def pg_timed(conn: Any, sql: str, args: tuple[Any, ...], repeat: int) -> tuple[float, Any]:
    rows = await conn.fetch(sql, *args)  # warm-up (and the statement prepared)
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        rows = await conn.fetch(sql, *args)
        runs.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(runs), rows


def close(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-6)
    return bool(a == b)


def compare(view: str, ours: Any, peer: list[Any]) -> str:
    """The peer's numbers against qms's, for the figures both compute ("ok" or what differs)."""
    if view == "summary":
        ours_rows = [{"key": None, **ours["measures"]}]
    elif view == "heatmap":
        ours_rows = ours["cells"]
    else:
        ours_rows = ours["rows"]
    if len(ours_rows) != len(peer):
        return f"{len(ours_rows)} rows against {len(peer)}"
    for mine, theirs in zip(ours_rows, peer, strict=True):
        pairs: list[tuple[Any, Any]] = []
        if view in ("summary", "service", "officer"):
            pairs += [(mine["key"], theirs.get("key") if view != "summary" else None)]
            pairs += [(mine["visits"], theirs["visits"]), (mine["tickets"], theirs["tickets"])]
            pairs += [(mine["outcomes"]["served"], theirs["served"])]
            for stat in ("wait", "walk", "service", "hall"):
                q = theirs[f"{stat}_s_q"] or [None, None, None]
                pairs += [
                    (mine[stat]["n"], theirs[f"{stat}_s_n"]),
                    (mine[stat]["max"], theirs[f"{stat}_s_max"]),
                    (mine[stat]["mean"], theirs[f"{stat}_s_mean"]),
                ]
                pairs += list(zip([mine[stat][p] for p in ("p50", "p90", "p95")], q, strict=True))
            share = (
                theirs["within_target"] / theirs["with_target"] if theirs["with_target"] else None
            )
            pairs += [(mine["rates"]["within_target"], share)]
        elif view == "staff_officer":
            q = theirs["service_s_q"] or [None, None, None]
            pairs += [(mine["key"], theirs["key"]), (mine["served"], theirs["served"] or 0)]
            pairs += [(mine["busy_s"], theirs["busy_s"] or 0.0), (mine["open_s"], theirs["open_s"])]
            pairs += [(mine["idle_waiting_s"], theirs["idle_waiting_s"])]
            pairs += list(zip([mine["service"][p] for p in ("p50", "p90", "p95")], q, strict=True))
        elif view.startswith("intervals"):
            pairs += [(mine[k], theirs[k]) for k in ("start", "arrivals", "issued", "calls",
                      "served", "queue_end", "longest_wait_s")]  # fmt: skip
        elif view == "heatmap":
            q = theirs["wait_s_q"] or [None, None]
            pairs += [(mine[k], theirs[k]) for k in ("weekday", "hour", "days", "arrivals")]
            pairs += [(mine["wait"]["p50"], q[0]), (mine["wait"]["p90"], q[1])]
        bad = [(a, b) for a, b in pairs if not close(a, b)]
        if bad:
            return f"differs: {bad[:3]}"
    return "ok"


async def day_rows(
    log: Any, meta: dict[str, Any], day: str, hold_back: int
) -> tuple[SiteFold, list[tuple[int, Any]]]:
    """A fold that has the hall's set-up and `day` up to `hold_back` entries before its
    `day_closed`, and those last entries."""
    first, last = meta["days"][day]
    setup = await log.read(SITE, 0, meta["setup_version"])
    entries = await log.read(SITE, first - 1, last - first + 1)
    fold = SiteFold(SITE)
    fold.apply_all(setup)
    cut = len(entries) - hold_back
    fold.apply_all(entries[:cut])
    return fold, entries[cut:]


async def main_async(args: argparse.Namespace) -> None:
    import asyncpg

    from qms.eventlog import open_log

    cache = Path(args.cache) / f"y{args.days}"
    meta = await make_year(cache, args.days, args.seed, lambda line: print(line, file=sys.stderr))
    days = sorted(meta["days"])
    print(f"## Reports over a year: qms against a PostgreSQL tickets table\n\n"
          f"- data: {len(days)} days ({days[0]} .. {days[-1]}), {meta['tickets']:,} tickets, "
          f"{meta['events']:,} events; made in {meta['made_in_s']} s ({cache})\n"
          f"- load average at start: {load_average()}\n")  # fmt: skip
    log_url = f"sqlite://{cache}/qms.db"
    log = open_log(log_url)
    root = cache / "reports"
    results: list[tuple[Any, ...]] = []
    try:
        # -- rebuilding the year from the log ---------------------------------------------
        if "rebuild" in args.only and (args.rebuild or not root.exists()):
            fresh = cache / "reports.new"
            shutil.rmtree(fresh, ignore_errors=True)
            parts = RebuildParts(log)
            t0 = time.perf_counter()
            written = await rebuild(log, SITE, fresh, log_url=log_url, folds=args.folds)
            took = time.perf_counter() - t0
            parts.undo()
            shutil.rmtree(root, ignore_errors=True)
            fresh.rename(root)
            split = (f"{len(written)} days, folds: {args.folds or 'auto'}; this process reading "
                     f"the log {parts.read_s:.1f} s; the files written by processes of their "
                     f"own beside the folds")  # fmt: skip
            results.append(("rebuild the year from the log", split, took, "s", 60.0, None))
        # -- writing one closed day -------------------------------------------------------
        last_day = days[-1]
        if "write" in args.only:
            results.append(await measure_write(log, meta, cache, last_day, args.repeat))
        # -- the views over the year and a month -------------------------------------------
        periods = {"year": (days[0], days[-1]), "month": (days[-min(30, len(days))], days[-1])}
        ours: dict[tuple[str, str], Any] = {}
        rss: dict[str, float] = {"before": rss_mb()}
        for name, (first, last) in periods.items():
            if "views" not in args.only:
                break
            # No results kept (each call computes); the closed days copied into memory on
            # the first call (`memory_days`; 0: the files read on every call).
            reports = Reports(root, cached_results=0, memory_days=args.memory_days)
            scope = Scope({SITE: between(first, last)})
            for view, fn in qms_views(reports).items():
                cold, warm, out = timed(lambda fn=fn, scope=scope: fn(scope), args.repeat)
                ours[(name, view)] = (cold, warm, out)
            rss[name] = rss_mb()
            reports.close()
        # -- today, live --------------------------------------------------------------------
        live_ms: dict[str, list[float]] = {"summary": [], "service": []}
        first_live, tickets, live_visits = float("nan"), 0, 0
        if "live" in args.only:
            first_live, tickets, live_visits = await measure_live(
                log, meta, root, last_day, args.repeat, live_ms
            )
        # -- XLSX of the month ---------------------------------------------------------------
        if "xlsx" in args.only:
            reports = Reports(root)
            month = Scope({SITE: between(*periods["month"])})
            month_visits = reports.summary(month, NOW)["measures"]["visits"]
            reports.close()
            reports = Reports(root)  # a fresh one: nothing kept from the call above
            t0 = time.perf_counter()
            book = xlsx_export(reports, month, NOW, "bench")
            xlsx_s = time.perf_counter() - t0
            reports.close()
            check_xlsx(book, month_visits)
            results.append(("XLSX of the month (every sheet)", f"{month_visits:,} visit rows, "
                            f"{len(book) / 1e6:.1f} MB", xlsx_s, "s", 3.0, None))  # fmt: skip
        # -- the peer ---------------------------------------------------------------------------
        peer: dict[tuple[str, str], tuple[float, str]] = {}
        peer_live: dict[str, float] = {}
        load_info: dict[str, float] = {}
        if not args.skip_peer and "peer" in args.only:
            table = unique("rep").replace("-", "_")
            conn = await asyncpg.connect(args.dsn)
            try:
                load_info = await load(conn, table, root, SITE)
                for sql in SESSION:
                    await conn.execute(sql)
                queries = views(table)
                for name, (first, last) in periods.items():
                    if "views" not in args.only:
                        break
                    span = (SITE, _d(first), _d(last))
                    for view, sql in queries.items():
                        ms, rows = await pg_timed(conn, sql, span, args.repeat)
                        check = compare(view, ours[(name, view)][2], [dict(r) for r in rows])
                        if view == "summary":  # qms's summary also runs the period before
                            ms += (await pg_timed(conn, sql, _before(span), args.repeat))[0]
                        peer[(name, view)] = (ms, check)
                span = (SITE, _d(last_day), _d(last_day))
                for view in ("summary", "service"):
                    ms, _ = await pg_timed(conn, queries[view], span, args.repeat)
                    if view == "summary":
                        ms += (await pg_timed(conn, queries[view], _before(span), args.repeat))[0]
                    peer_live[view] = ms
            finally:
                await drop(conn, table)
                await conn.close()
    finally:
        await log.close()

    print("### The targets\n")
    rows = []
    for what, size, value, unit, target, _ in results:
        verdict = "met" if value <= target else "NOT met"
        rows.append((what, size, f"{value:,.2f} {unit}", f"<= {target:g} {unit}", verdict))
    print(md_table(["what", "size", "qms", "target", "verdict"], rows))
    print()
    print(
        "### Report views (ms; qms: first call on a fresh Reports / median of "
        f"{args.repeat} after it; PostgreSQL: median of {args.repeat} after a warm-up)\n"
    )
    rows = []
    for (name, view), (cold, warm, _) in ours.items():
        ms, check = peer.get((name, view), (float("nan"), "-"))
        verdict = "met" if warm <= TARGETS[name] else "NOT met"
        rows.append((name, view, cold, warm, f"<= {TARGETS[name]:g}", verdict, ms,
                     ms / warm if warm else float("nan"), check))  # fmt: skip
    for view, runs in live_ms.items():
        if not runs:
            continue
        med = statistics.median(runs)
        ms = peer_live.get(view, float("nan"))
        rows.append(("today, live", view, first_live if view == "summary" else float("nan"), med,
                     "<= 5", "met" if med <= 5 else "NOT met", ms, ms / med, "-"))  # fmt: skip
    print(md_table(["period", "view", "qms first ms", "qms ms", "target", "verdict",
                    "PostgreSQL ms", "PostgreSQL / qms", "same figures"], rows))  # fmt: skip
    print(f"\nSummary: qms's runs the period before too (one query for both); so does the peer's. "
          f"Today: {tickets:,} tickets in the live day, 3 new events before each query; "
          f"today's visits {live_visits:,}.\n")  # fmt: skip
    print("Process memory (RSS, MB): " + ", ".join(f"{k} {v:,.0f}" for k, v in rss.items())
          + f" (views with memory_days={args.memory_days})\n")  # fmt: skip
    if load_info:
        print("PostgreSQL load: " + ", ".join(f"{k} {v:,.1f}" for k, v in load_info.items()))
        print()
    print(f"- load average at the end: {load_average()}\n")


async def measure_write(
    log: Any, meta: dict[str, Any], cache: Path, last_day: str, repeat: int
) -> tuple[Any, ...]:
    """Writing one closed day: the fold's rows at its `day_closed`, then both files."""
    fold, rest = await day_rows(log, meta, last_day, 1)
    closed: list[DayRows] = []
    fold.on_closed = closed.append
    fold.apply_all(rest)  # the day_closed
    con = db.connect()
    scratch = cache / "scratch"
    writes = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        write_day(con, scratch, fold.rows())
        writes.append((time.perf_counter() - t0) * 1e3)
    con.close()
    shutil.rmtree(scratch, ignore_errors=True)
    return ("write one closed day (rows + both files)", f"{len(closed[0].visits):,} visits",
            statistics.median(writes), "ms", 100.0, None)  # fmt: skip


async def measure_live(
    log: Any,
    meta: dict[str, Any],
    root: Path,
    last_day: str,
    repeat: int,
    live_ms: dict[str, list[float]],
) -> tuple[float, int, int]:
    """Today, live: the last day up to 400 entries before its close, then 3 new entries
    before each query (summary with yesterday, per service). (first call ms, tickets,
    visits); each call's ms into `live_ms`."""
    live_fold, rest = await day_rows(log, meta, last_day, 400)
    live = LiveDay(SITE, live_fold)
    reports = Reports(root)
    reports.add_live(live)
    today = Scope({SITE: between(last_day, last_day)})
    tickets = sum(1 for s in live_fold._day.stays.values()) if live_fold._day else 0
    at = rest[0][1]["at"]
    t0 = time.perf_counter()
    summary = reports.summary(today, at)
    first = (time.perf_counter() - t0) * 1e3
    step = 0
    for _ in range(repeat * 3):
        for version, entry in rest[step : step + 3]:
            live.apply(version, entry)
            at = entry["at"]
        step += 3
        t0 = time.perf_counter()
        summary = reports.summary(today, at)
        live_ms["summary"].append((time.perf_counter() - t0) * 1e3)
        t0 = time.perf_counter()
        reports.breakdown(today, "service", at)
        live_ms["service"].append((time.perf_counter() - t0) * 1e3)
    reports.close()
    return first, tickets, summary["measures"]["visits"]


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def check_xlsx(book: bytes, visits: int) -> None:
    """The workbook opens (openpyxl) and its visits sheet has a row per visit."""
    import io

    import openpyxl

    sheets = openpyxl.load_workbook(io.BytesIO(book), read_only=True)
    rows = sum(1 for _ in sheets["Kunjungan"].iter_rows(values_only=True))
    if rows != visits + 1:
        raise SystemExit(f"XLSX: {rows - 1} visit rows, not {visits}")


class RebuildParts:
    """Where a rebuild's time goes: the log's reads and the files' writes are timed by
    wrapping them for the one rebuild (the writes run in a thread beside the fold)."""

    def __init__(self, log: Any) -> None:
        from qms.reports import store

        self.read_s = self.write_s = 0.0
        self.log, self.store = log, store
        self._read, self._write = log.read, store.write_day

        async def read(*a: Any, **k: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return await self._read(*a, **k)
            finally:
                self.read_s += time.perf_counter() - t0

        def write(*a: Any, **k: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return self._write(*a, **k)
            finally:
                self.write_s += time.perf_counter() - t0

        log.read, store.write_day = read, write

    def undo(self) -> None:
        self.log.read, self.store.write_day = self._read, self._write


def _d(day: str) -> Any:
    from datetime import date

    return date.fromisoformat(day)


def _before(span: tuple[Any, Any, Any]) -> tuple[Any, Any, Any]:
    from datetime import timedelta

    site, first, last = span
    n = (last - first).days + 1
    return site, first - timedelta(days=n), first - timedelta(days=1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cache", default="/tmp/qms-reports-year")
    ap.add_argument("--days", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument(
        "--no-rebuild",
        dest="rebuild",
        action="store_false",
        help="keep the cache's files when there are some (no rebuild timed)",
    )
    ap.add_argument("--skip-peer", action="store_true")
    ap.add_argument(
        "--only",
        type=lambda text: set(text.split(",")),
        default=set(PARTS),
        help=f"comma-separated parts to run (default all): {','.join(PARTS)}",
    )
    ap.add_argument(
        "--memory-days",
        type=int,
        default=400,
        help="closed days the views keep in DuckDB's memory (0: read the files each call)",
    )
    ap.add_argument(
        "--folds",
        type=int,
        default=None,
        help="processes folding the rebuild's days (default: qms's choice, 2 on 2+ cores)",
    )
    ap.add_argument("--dsn", default=PG_DSN)
    args = ap.parse_args()
    print_machine()
    print(f"Command: {' '.join(sys.argv)}\n")
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
