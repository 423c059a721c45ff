"""Reports over any period and cut: one method per view, plain JSON-able dicts out.

`Reports` reads the closed days' Parquet files of the sites and periods in a
`Scope`, plus today's live tables (`LiveDay`) for a day that has no file yet,
and runs the SQL of `qms.reports.sql` over them with DuckDB. Percentiles are
exact over the whole period (`quantile_cont` over every visit, never an average
of daily figures). The shapes are documented in docs/reports.md ("Results");
the cards, the API and the exports are meant to take their numbers from here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qms.reports import db, intervals, memory, results, satisfaction, sql, today
from qms.reports.errors import ReportError
from qms.reports.live import LiveDay
from qms.reports.rows import ACTIVITY_COLUMNS, VISIT_COLUMNS, LocalClock, Visit
from qms.reports.scope import Filters, Scope, conditions, scope
from qms.reports.store import ACTIVITY_FILE, VISITS_FILE, built_days, day_dir

if TYPE_CHECKING:
    import duckdb

# `Filters`, `Scope` and `scope` live in `qms.reports.scope`; imported from here too.
__all__ = ["INTERVAL_MINUTES", "MEMORY_DAYS", "STAFF_KEYS", "Filters", "Reports", "Scope", "scope"]

INTERVAL_MINUTES = (15, 30, 60)
STAFF_KEYS = ("counter", "officer")
MEMORY_DAYS = 400  # closed days kept in memory: the default of Config.reports_memory_days
FIGURES_PER_DAY = 4  # a kept day's interval figures: three widths, and some filters
Closed = tuple[date, date, dict[str, Path]]  # a site's period, its closed days' visits files


class Reports:
    """The report views over one reports folder; today's figures from `live` sites."""

    def __init__(
        self, root: Path, *, cached_results: int = 64, memory_days: int = MEMORY_DAYS
    ) -> None:
        self.root = Path(root)
        # Closed days' rows copied into DuckDB's memory on first use (0: read the files).
        self.memory = memory.ClosedDays(memory_days)
        # Their per-interval figures (15, 30, 60 minutes; per filters), once computed.
        self.figures = intervals.DayFigures(FIGURES_PER_DAY * memory_days)
        # The results of queries over closed days alone (e.g. the live summary's day
        # before), keyed by the files' identity: a rebuilt file is another file.
        self.results = results.Results(cached_results)
        self.live: dict[str, LiveDay] = {}
        self._con: duckdb.DuckDBPyConnection | None = None
        self._lock = threading.Lock()  # one DuckDB connection, one query at a time

    def add_live(self, live: LiveDay) -> None:
        self.live[live.site] = live

    def close(self) -> None:
        if self._con is not None:
            for live in self.live.values():
                live.forget(self._con)
            self.memory.forget(self._con)
            self.figures.clear()
            self._con.close()
            self._con = None

    # -- the views ---------------------------------------------------------------------

    def summary(self, scope: Scope, now: float | None = None) -> dict[str, Any]:
        """Every measure over the scope, the same over the period before, and the change."""
        live = self._live_rows(scope)
        before = scope.previous()
        if live is not None:  # today alone: in Python over the rows in memory
            current = _measures(today.measures(live))
            previous = _measures(self._rows(before, sql.SUMMARY, now)[0])
        else:  # both periods in one query
            current, previous = (_measures(row) for row in self._summaries(scope, before, now))
        return {
            "scope": scope.to_dict(),
            "measures": current,
            "previous": {"scope": before.to_dict(), "measures": previous},
            "change": _change(current, previous),
        }

    def breakdown(self, scope: Scope, by: str, now: float | None = None) -> dict[str, Any]:
        """Every measure per value of one cut (`sql.DIMENSIONS`)."""
        key = sql.DIMENSIONS.get(by)
        if key is None:
            raise ReportError("invalid_dimension", f"no cut {by!r}", allowed=sorted(sql.DIMENSIONS))
        live = self._live_rows(scope)
        if live is not None:
            rows = today.breakdown(live, by)
        else:
            rows = self._rows(scope, sql.breakdown(key), now)
        return {
            "scope": scope.to_dict(),
            "by": by,
            "rows": [{"key": row["key"], **_measures(row)} for row in rows],
        }

    def intervals(
        self, scope: Scope, minutes: int = 15, now: float | None = None
    ) -> dict[str, Any]:
        """Per interval of `minutes` (15, 30 or 60; site-local, start included)."""
        if minutes not in INTERVAL_MINUTES:
            raise ReportError(
                "invalid_interval", "interval minutes: 15, 30 or 60", allowed=INTERVAL_MINUTES
            )
        at = time.time() if now is None else now
        with self._lock:
            rows = self._intervals(self._connection(), scope, minutes, at)
        return {"scope": scope.to_dict(), "minutes": minutes, "rows": rows}

    def heatmap(self, scope: Scope, now: float | None = None) -> dict[str, Any]:
        """Per weekday (0 = Monday) and hour of arrival."""
        out = []
        for row in self._rows(scope, sql.HEATMAP, now):
            q = row.pop("wait_s_q") or [None, None]
            n, mean = row.pop("wait_s_n"), row.pop("wait_s_mean")
            out.append({**row, "wait": {"n": n, "mean": mean, "p50": q[0], "p90": q[1]}})
        return {"scope": scope.to_dict(), "cells": out}

    def staff(
        self,
        scope: Scope,
        by: str = "counter",
        now: float | None = None,
        minutes: int | None = None,
    ) -> dict[str, Any]:
        """Per counter or officer: served, service time, open, paused, busy and idle time;
        with `minutes` (15, 30 or 60), per interval too (`start` of each row)."""
        if by not in STAFF_KEYS:
            raise ReportError("invalid_dimension", f"staff by {by!r}", allowed=list(STAFF_KEYS))
        if minutes is not None and minutes not in INTERVAL_MINUTES:
            raise ReportError(
                "invalid_interval", "interval minutes: 15, 30 or 60", allowed=INTERVAL_MINUTES
            )
        rows = []
        for row in self._rows(scope, sql.staff(by, minutes), now, activity=True):
            q = row.pop("service_s_q") or [None, None, None]
            service = {
                "n": row.pop("service_s_n") or 0,
                "total": row.pop("service_s_sum") or 0.0,
                "mean": row.pop("service_s_mean"),
                "p50": q[0],
                "p90": q[1],
                "p95": q[2],
                "max": row.pop("service_s_max"),
            }
            for name in ("open_s", "paused_s", "busy_s", "idle_waiting_s", "idle_s"):
                row[name] = row[name] or 0.0
            for name in ("served", "no_show", "transferred"):
                row[name] = row[name] or 0
            row["utilisation"] = _share(row["busy_s"], row["open_s"])
            rows.append({**row, "service": service})
        if minutes is None:
            for row in rows:
                del row["start"]
        return {"scope": scope.to_dict(), "by": by, "minutes": minutes, "rows": rows}

    def visits(
        self, scope: Scope, now: float | None = None
    ) -> tuple[list[str], list[tuple[Any, ...]]]:
        """One row per visit in scope (the exports' visits sheet): columns and rows (as
        DuckDB gives them: a month is 60,000), in order of site, day, arrival."""
        return self._fetch(scope, sql.VISITS, now)

    def served_visits(
        self, scope: Scope, tickets: Sequence[str], now: float | None = None
    ) -> dict[tuple[str, str], satisfaction.Visit]:
        """(site, ticket) -> the figures of the ticket's served visit, for the visits in
        scope of these `tickets` (the survey's link to the wait: a ticket is served at
        most once). Only the rated tickets are read out, not the period's every visit."""
        rows = self._rows(scope, sql.SERVED, now, extra={"tickets": sorted(set(tickets))})
        return {
            (r["site"], r["ticket"]): satisfaction.Visit(
                r["wait_s"], r["service_s"], r["within_target"], r["priority"]
            )
            for r in rows
        }

    def _intervals(
        self, con: duckdb.DuckDBPyConnection, scope: Scope, minutes: int, now: float
    ) -> list[dict[str, Any]]:
        """The intervals' figures as the sum of each day's (`qms.reports.intervals`): a
        closed day's kept in memory once computed, the live day's computed each time."""
        closed, live, _ = self._plan(con, scope, now, False)
        where, params = conditions(scope.filters)
        key = (minutes, results.frozen(params))
        days: list[list[intervals.Row]] = []
        missing: dict[str, Closed] = {}
        stamps: dict[tuple[str, str], memory.Stamp] = {}
        for site, (first, last, files) in closed.items():
            for day, path in files.items():
                stamp = memory.stamp(path)
                kept = self.figures.get((key, site, day), stamp)
                if kept is not None:
                    days.append(kept)
                    continue
                missing.setdefault(site, (first, last, {}))[2][day] = path
                stamps[(site, day)] = stamp

        def per_day(visits: str) -> dict[tuple[str, str], list[intervals.Row]]:
            query = f"WITH v AS (SELECT * FROM ({visits}) WHERE {where}) "
            query += _strip_with(sql.day_intervals(minutes))
            return intervals.by_day(con.execute(query, params).fetchall())

        if missing:
            found = per_day(_derived(self._closed(con, missing)[0], "NULL::TIMESTAMP"))
            for (site, day), stamp in stamps.items():
                figures = found.get((site, day), [])
                self.figures.put((key, site, day), stamp, figures)
                days.append(figures)
        if live:
            days += per_day(" UNION ALL ".join(live)).values()
        return intervals.add_up(days)

    # -- the live day in Python ---------------------------------------------------------

    def _live_rows(self, scope: Scope) -> list[Visit] | None:
        """The visits in scope when every site's period is its live day alone and that
        day is read live (not from a file): `qms.reports.today` computes its figures."""
        out: list[Visit] = []
        for site, period in sorted(scope.periods.items()):
            live = self.live.get(site)
            if live is None or period.first != period.last:
                return None
            day, rows = live.visit_rows()
            if day is None or str(period.first) != day:
                return None
            if live.fold.open_day != day and (day_dir(self.root, site, day) / VISITS_FILE).exists():
                return None  # closed and written: read from its file (`_sources`)
            out += rows
        return today.chosen(out, scope.filters.to_dict())

    # -- running the SQL -----------------------------------------------------------------

    def _connection(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            self._con = db.connect()
            # A closed day's files never change (a rebuild renames a new file over the
            # old one, which DuckDB sees): keep their footers and blocks in memory.
            self._con.execute("SET parquet_metadata_cache = true")
            self._con.execute("SET cache_local_files = true")
        return self._con

    def _rows(
        self,
        scope: Scope,
        query: str,
        now: float | None,
        *,
        activity: bool = False,
        extra: Mapping[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        names, rows = self._fetch(scope, query, now, activity=activity, extra=extra)
        return [dict(zip(names, row, strict=True)) for row in rows]

    def _summaries(self, scope: Scope, before: Scope, now: float | None) -> list[dict[str, Any]]:
        """`sql.SUMMARY` over `scope` and over `before` (the same filters), as one query:
        one round trip instead of two. When the closed days kept in memory cannot hold
        both periods at once, one query each (`_rows`)."""
        at = time.time() if now is None else now
        with self._lock:
            con = self._connection()
            evicted = self.memory.evicted
            ctes: list[str] = []
            selects: list[str] = []
            params: dict[str, Any] = {}
            read: list[list[str] | None] = []
            for i, part in enumerate((scope, before)):
                visits, _, files = self._sources(con, part, at, False)
                where, params = conditions(part.filters)
                ctes.append(f"v{i} AS (SELECT * FROM ({visits}) WHERE {where})")
                selects.append(sql.summary(f"v{i}", i))
                read.append(files)
            if self.memory.evicted == evicted:
                full = f"WITH {', '.join(ctes)} {' UNION ALL '.join(selects)} ORDER BY part"
                key = None
                if None not in read and self.results.size:  # closed days alone: cacheable
                    files = [f for fs in read if fs is not None for f in fs]
                    key = (full, results.frozen(params), results.stamps(files, False))
                    hit = self.results.get(key)
                    if hit is not None:
                        names, rows = hit
                        return [dict(zip(names, row, strict=True)) for row in rows]
                cursor = con.execute(full, params)
                names = [d[0] for d in cursor.description]
                rows = cursor.fetchall()
                if key is not None:
                    self.results.put(key, (names, rows))
                return [dict(zip(names, row, strict=True)) for row in rows]
        # The second period's days pushed some of the first's out of memory.
        return [self._rows(part, sql.SUMMARY, now)[0] for part in (scope, before)]

    def _fetch(
        self,
        scope: Scope,
        query: str,
        now: float | None,
        *,
        activity: bool = False,
        extra: Mapping[str, Any] | None = None,
    ) -> tuple[list[str], list[tuple[Any, ...]]]:
        """The column names and rows of `query` over the scope's `v` and `a`."""
        at = time.time() if now is None else now
        with self._lock:
            con = self._connection()
            visits, counters, files = self._sources(con, scope, at, activity)
            where, params = conditions(scope.filters)
            staff_where = conditions(scope.filters, only=STAFF_KEYS)[0]
            full = (
                f"WITH v AS (SELECT * FROM ({visits}) WHERE {where}), "
                f"a AS (SELECT * FROM ({counters}) WHERE {staff_where}) {_strip_with(query)}"
            )
            params = {**params, **(extra or {})}
            key = None
            if files is not None and self.results.size:  # closed days alone: cacheable
                key = (full, results.frozen(params), results.stamps(files, activity))
                hit = self.results.get(key)
                if hit is not None:
                    return hit
            cursor = con.execute(full, params)
            names = [d[0] for d in cursor.description]
            rows = cursor.fetchall()
            if key is not None:
                self.results.put(key, (names, rows))
            return names, rows

    def _sources(
        self, con: duckdb.DuckDBPyConnection, scope: Scope, now: float, with_activity: bool
    ) -> tuple[str, str, list[str] | None]:
        """The SQL of the visits and activity in scope: files, then live tables (their
        activity brought up to date only `with_activity`); and the visits files read
        when nothing live is (None when something is)."""
        closed, visits, activity = self._plan(con, scope, now, with_activity)
        visit_files = [str(p) for _, _, days in closed.values() for p in days.values()]
        if closed:
            read_visits, read_activity = self._closed(con, closed)
            visits.insert(0, _derived(read_visits, "NULL::TIMESTAMP"))
            activity.insert(0, read_activity)
        empty_visits = _derived(db.empty_select(VISIT_COLUMNS), "NULL::TIMESTAMP")
        return (
            sql.union(visits, empty_visits),
            sql.union(activity, db.empty_select(ACTIVITY_COLUMNS)),
            None if visits[1 if visit_files else 0 :] else visit_files,
        )

    def _plan(
        self, con: duckdb.DuckDBPyConnection, scope: Scope, now: float, with_activity: bool
    ) -> tuple[dict[str, Closed], list[str], list[str]]:
        """The closed days read from their files (site -> its period and its days' visits
        files), and the SQL of the live tables' visits and activity."""
        visits: list[str] = []
        activity: list[str] = []
        closed: dict[str, Closed] = {}
        for site, period in sorted(scope.periods.items()):
            days = built_days(self.root, site, str(period.first), str(period.last))
            live = self.live.get(site)
            day = None if live is None else live.day
            # Today is read live; so is a closed day whose file is not written yet, and a
            # day opened again after its file was written (the file is behind until it
            # closes again). A closed day with its file is read from the file.
            if live is not None and day is not None and period.contains(day):
                if day not in days or live.fold.open_day == day:
                    days.pop(day, None)
                else:
                    live = None
            else:
                live = None
            if days:
                closed[site] = (period.first, period.last, days)
            if live is None or live.sync(con, now, activity=with_activity) is None:
                continue
            clock = LocalClock(live.fold.state.site.timezone if live.fold.state.site else "UTC")
            local_now = f"make_timestamp({clock.local_us(now)})"
            visits.append(_derived(f"SELECT * FROM {live.visits_table}", local_now))
            activity.append(f"SELECT * FROM {live.activity_table}")
            activity.append(f"SELECT * FROM {live.open_table}")
        return closed, visits, activity

    def _closed(
        self, con: duckdb.DuckDBPyConnection, closed: Mapping[str, Closed]
    ) -> tuple[str, str]:
        """The SELECTs of the visits and activity of closed days: kept in memory, or their
        files read as they are when memory is off or they are more than it keeps."""
        kept = self.memory.sources(con, closed) if self.memory.max_days else None
        if kept is not None:
            return kept
        paths = [p for _, _, days in closed.values() for p in days.values()]
        return _read([str(p) for p in paths]), _read([str(p.parent / ACTIVITY_FILE) for p in paths])


def _read(paths: Sequence[str]) -> str:
    files = ", ".join("'" + p.replace("'", "''") + "'" for p in paths)
    return f"SELECT * FROM read_parquet([{files}])"


def _derived(select: str, now: str) -> str:
    extra = ", ".join(d.format(now=now) for d in sql.DERIVED)
    return f"SELECT *, {extra} FROM ({select})"


def _strip_with(query: str) -> str:
    """Join a view's own WITH onto the scope's: `WITH v AS (…), a AS (…), its CTEs`."""
    text = query.strip()
    return ", " + text[4:].lstrip() if text.upper().startswith("WITH") else text


# -- shaping the results -----------------------------------------------------------------


def _share(part: float | int | None, whole: float | int | None) -> float | None:
    return None if not whole else (part or 0) / whole


def _stat(row: Mapping[str, Any], column: str) -> dict[str, Any]:
    q = row.get(f"{column}_q") or [None] * len(sql.QUANTILES)
    return {
        "n": row[f"{column}_n"] or 0,
        "mean": row[f"{column}_mean"],
        "p50": q[0],
        "p90": q[1],
        "p95": q[2],
        "max": row[f"{column}_max"],
    }


def _measures(row: Mapping[str, Any]) -> dict[str, Any]:
    outcomes = {
        name: row[name] or 0
        for name in ("served", "no_show", "cancelled", "expired", "transferred", "going_on")
    }
    final = outcomes["served"] + outcomes["no_show"] + outcomes["cancelled"] + outcomes["expired"]
    return {
        "visits": row["visits"] or 0,
        "tickets": row["tickets"] or 0,
        "outcomes": outcomes,
        "rates": {
            "served": _share(outcomes["served"], final),
            "no_show": _share(outcomes["no_show"], final),
            "left": _share(outcomes["cancelled"], final),
            "expired": _share(outcomes["expired"], final),
            "transferred": _share(outcomes["transferred"], row["ended"]),
            "within_target": _share(row["within_target"], row["with_target"]),
        },
        "wait": _stat(row, "wait_s"),
        "walk": _stat(row, "walk_s"),
        "service": _stat(row, "service_s"),
        "hall": _stat(row, "hall_s"),
    }


def _change(current: Any, previous: Any) -> Any:
    """current - previous, leaf by leaf (None where either is None)."""
    if isinstance(current, dict):
        return {k: _change(v, previous.get(k) if previous else None) for k, v in current.items()}
    if isinstance(current, int | float) and isinstance(previous, int | float):
        return current - previous
    return None
