"""Today's rows of a site, kept as DuckDB tables beside the closed days' files.

A `LiveDay` is fed the site's log entries in order (all of them, from version
1, or a `SiteFold` that has read them) and holds the open day's visits and
counter activity through the very fold that writes the closed days' files. The
live figures are the same SQL over these tables, so once the day closes they
equal the figures read from its file.

Loading 2,000 visits into DuckDB costs ~25 ms, so a table is loaded once per day
and then only the visits that changed since the last query are replaced: the
fold lists the tickets it touched (`SiteFold.dirty`).
"""

from __future__ import annotations

import bisect
import itertools
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from qms.reports import db
from qms.reports.activity import Key
from qms.reports.rows import ACTIVITY_COLUMNS, VISIT_COLUMNS, Visit, to_columns
from qms.reports.visits import SiteFold

if TYPE_CHECKING:
    import duckdb

_ids = itertools.count(1)


class LiveDay:
    """The open business day of one site, for the live figures (one DuckDB connection)."""

    def __init__(self, site: str, fold: SiteFold | None = None) -> None:
        self.site = site
        self.fold = fold if fold is not None else SiteFold(site)
        self._lock = threading.Lock()  # the fold is fed on one thread, queried on another
        n = next(_ids)
        self.visits_table, self.activity_table = f"live_v_{n}", f"live_a_{n}"
        self.open_table = f"live_o_{n}"
        self._synced: dict[int, _Synced] = {}  # id of a DuckDB connection -> its tables' state
        self._rows: dict[str, list[Visit]] = {}  # ticket -> its visits (`visit_rows`)
        self._rows_day: str | None = None
        self._rows_dirty: set[str] = set()
        self._order: list[str] = []  # the tickets of `_rows`, sorted
        self._flat: list[Visit] | None = None  # their rows, until one changes

    def apply(self, version: int, entry: Mapping[str, Any]) -> None:
        with self._lock:
            self.fold.apply(version, entry)

    @property
    def day(self) -> str | None:
        """The day whose rows this holds: the open one, or the last kept one once closed."""
        return self.fold.kept_day

    def sync(
        self, con: duckdb.DuckDBPyConnection, now: float, *, activity: bool = True
    ) -> str | None:
        """Bring this connection's tables up to date as of `now` (the activity ones only
        with `activity`: most views read visits alone); the day they hold (None: no day)."""
        with self._lock:
            fold = self.fold
            day = fold.kept_day
            self._take_dirty()
            if day is None:
                return None
            mine = self._synced.get(id(con))
            if mine is None or mine.day != day:
                rows = fold.rows()
                create = "CREATE OR REPLACE TABLE"
                db.load(con, f"{create} {self.visits_table} AS ", rows.visits, VISIT_COLUMNS)
                db.load(con, f"{create} {self.activity_table} AS ", rows.activity, ACTIVITY_COLUMNS)
                mine = self._synced[id(con)] = _Synced(day)
            else:
                self._sync_visits(con, mine)
            if activity:
                self._sync_activity(con, mine)
                db.load(
                    con,
                    f"CREATE OR REPLACE TABLE {self.open_table} AS ",
                    fold.open_activity(now),
                    ACTIVITY_COLUMNS,
                )
            return day

    def _take_dirty(self) -> None:
        """What changed since the last look goes to every connection's own list, and to
        the rows kept in Python (`visit_rows`)."""
        fold = self.fold
        visits, counters = set(fold.dirty), fold.take_activity_dirty()
        fold.dirty.clear()
        for synced in self._synced.values():
            synced.visits |= visits
            synced.activity |= counters
        self._rows_dirty |= visits

    def visit_rows(self) -> tuple[str | None, list[Visit]]:
        """The kept day and its visit rows as they stand (for `qms.reports.today`): kept
        per ticket between calls, only the tickets that changed made again."""
        with self._lock:
            fold = self.fold
            day = fold.kept_day
            self._take_dirty()
            if day is None:
                return None, []
            rows = self._rows
            if self._rows_day != day:
                rows.clear()
                for row in fold.rows().visits:
                    rows.setdefault(row.ticket, []).append(row)
                self._order = sorted(rows)
                self._rows_day, self._flat, self._rows_dirty = day, None, set()
            elif self._rows_dirty:
                for ticket in self._rows_dirty:
                    if rows.pop(ticket, None) is None:
                        bisect.insort(self._order, ticket)
                for row in fold.rows(tickets=sorted(self._rows_dirty)).visits:
                    rows.setdefault(row.ticket, []).append(row)
                self._rows_dirty, self._flat = set(), None
            if self._flat is None:
                # In the files' order (`VISIT_ORDER`): the means then add as the file's do.
                self._flat = [row for ticket in self._order for row in rows.get(ticket, ())]
            return day, self._flat

    def forget(self, con: duckdb.DuckDBPyConnection) -> None:
        """The connection is closing: stop keeping its list of changes."""
        with self._lock:
            self._synced.pop(id(con), None)

    def _sync_visits(self, con: duckdb.DuckDBPyConnection, mine: _Synced) -> None:
        dirty = sorted(mine.visits)
        mine.visits = set()
        if dirty:
            table = self.visits_table
            con.execute(f"DELETE FROM {table} WHERE list_contains($1, ticket)", [dirty])
            visits = self.fold.rows(tickets=dirty).visits
            db.load(con, f"INSERT INTO {table} ", visits, VISIT_COLUMNS)

    def _sync_activity(self, con: duckdb.DuckDBPyConnection, mine: _Synced) -> None:
        rows = self.fold.activity_rows(mine.activity)
        mine.activity = set()
        if not rows:
            return
        table = self.activity_table
        columns = to_columns(rows, ACTIVITY_COLUMNS)
        names = [n for n, _ in ACTIVITY_COLUMNS]
        key = [columns[names.index(n)] for n in ("counter", "officer", "state", "start")]
        con.execute(
            f"DELETE FROM {table} USING (SELECT unnest($1) AS c, unnest($2) AS o, "
            "unnest($3) AS s, make_timestamp(unnest($4)) AS st) AS d "
            f"WHERE {table}.counter = d.c AND {table}.officer IS NOT DISTINCT FROM d.o "
            f"AND {table}.state = d.s AND {table}.start = d.st",
            key,
        )
        db.load(con, f"INSERT INTO {table} ", rows, ACTIVITY_COLUMNS)


@dataclass
class _Synced:
    """What one connection's tables hold: their day, and what changed since."""

    day: str
    visits: set[str] = field(default_factory=set)
    activity: set[Key] = field(default_factory=set)
