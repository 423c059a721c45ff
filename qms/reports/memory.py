"""The closed days' rows kept in DuckDB's own memory, loaded from their files on first use.

A closed day never changes, so a report over it need not decode its Parquet files
again: the first report that reads a day copies its two files into two in-memory
tables of the query connection (`mem_visits`, `mem_activity`), and later reports
scan those (DuckDB's own columnar format, zone maps on the day). Each day is
checked against its visits file's identity (inode, modified time, size) on every
use: a day rebuilt into a new file is loaded again. At most `max_days` days are
kept, the least recently used dropped first. A year of the benchmark's busy hall
(600,000 visits) takes ~300 MB (docs/performance.md).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from qms.reports import db
from qms.reports.rows import ACTIVITY_COLUMNS, VISIT_COLUMNS
from qms.reports.store import ACTIVITY_FILE

if TYPE_CHECKING:
    import duckdb

VISITS, ACTIVITY = "mem_visits", "mem_activity"
Stamp = tuple[int, int, int]


def stamp(path: Path) -> Stamp:
    st = os.stat(path)
    return (st.st_ino, st.st_mtime_ns, st.st_size)


class ClosedDays:
    """The closed days kept in one DuckDB connection's memory."""

    def __init__(self, max_days: int) -> None:
        self.max_days = max_days
        self._kept: OrderedDict[tuple[str, str], Stamp] = OrderedDict()  # (site, day)
        self._made: set[int] = set()  # ids of the connections whose tables exist
        # Days dropped to make room, ever: a query over two periods loaded one after
        # the other checks that the second did not push out days of the first.
        self.evicted = 0

    def sources(
        self,
        con: duckdb.DuckDBPyConnection,
        files: Mapping[str, tuple[date, date, Mapping[str, Path]]],
    ) -> tuple[str, str] | None:
        """The SELECTs of the visits and activity of `files` (site -> its period and its
        days' visits files), loading what is not kept yet; None when the days are more
        than may be kept (then the files are read as they are)."""
        wanted = [(site, day) for site, (_, _, days) in files.items() for day in days]
        if not wanted or len(wanted) > self.max_days:
            return None
        if id(con) not in self._made:
            for table, columns in ((VISITS, VISIT_COLUMNS), (ACTIVITY, ACTIVITY_COLUMNS)):
                con.execute(f"CREATE OR REPLACE TABLE {table} AS {db.empty_select(columns)}")
            self._made.add(id(con))
        try:
            self._load(con, files)
        except BaseException:  # half loaded: start again from nothing next time
            self._made.discard(id(con))
            self._kept.clear()
            raise
        conds = []
        for site, (first, last, days) in sorted(files.items()):
            # Days of the period kept but not asked for (read live instead) are left out.
            other = [d for (s, d) in self._kept if s == site and d not in days and
                     first.isoformat() <= d <= last.isoformat()]  # fmt: skip
            cond = f"(site = {_text(site)} AND day BETWEEN DATE {_text(first.isoformat())} "
            cond += f"AND DATE {_text(last.isoformat())}"
            if other:
                cond += f" AND day NOT IN ({', '.join(f'DATE {_text(d)}' for d in other)})"
            conds.append(cond + ")")
        where = " OR ".join(conds)
        return (f"SELECT * FROM {VISITS} WHERE {where}", f"SELECT * FROM {ACTIVITY} WHERE {where}")

    def _load(
        self,
        con: duckdb.DuckDBPyConnection,
        files: Mapping[str, tuple[date, date, Mapping[str, Path]]],
    ) -> None:
        """Copy in the days not kept yet (or whose file changed); drop the oldest."""
        load: list[tuple[str, str, Path]] = []
        for site, (_, _, days) in files.items():
            for day, path in days.items():
                now = stamp(path)
                if self._kept.get((site, day)) != now:
                    load.append((site, day, path))
                self._kept[(site, day)] = now
                self._kept.move_to_end((site, day))
        drop = [(site, day) for site, day, _ in load]
        while len(self._kept) > self.max_days:
            drop.append(self._kept.popitem(last=False)[0])
            self.evicted += 1
        self._drop(con, drop)
        if load:
            paths = [str(p) for _, _, p in load]
            counters = [str(p.parent / ACTIVITY_FILE) for _, _, p in load]
            con.execute(f"INSERT INTO {VISITS} SELECT * FROM read_parquet({_list(paths)})")
            con.execute(f"INSERT INTO {ACTIVITY} SELECT * FROM read_parquet({_list(counters)})")

    def _drop(self, con: duckdb.DuckDBPyConnection, days: Sequence[tuple[str, str]]) -> None:
        if not days:
            return
        sites = [s for s, _ in days]
        dates = [d for _, d in days]
        for table in (VISITS, ACTIVITY):
            con.execute(
                f"DELETE FROM {table} USING (SELECT unnest($1::VARCHAR[]) AS s, "
                f"unnest($2::DATE[]) AS d) AS x WHERE {table}.site = x.s AND {table}.day = x.d",
                [sites, dates],
            )

    def forget(self, con: duckdb.DuckDBPyConnection) -> None:
        """The connection is closing: what it held is gone."""
        self._made.discard(id(con))
        self._kept.clear()


def _text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _list(paths: Sequence[str]) -> str:
    return "[" + ", ".join(_text(p) for p in paths) + "]"
