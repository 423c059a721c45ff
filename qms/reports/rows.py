"""The two tables every report stands on: visits and counter activity (docs/reports.md).

A row is a plain tuple in the column order below, with times as unix seconds
(floats, as in the log). `to_columns` turns rows into the column lists that
`qms.reports.db` hands to DuckDB, times as site-local wall-clock microseconds:
the Parquet files, the live tables and every query share these definitions.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from qms.core.calendar import zone

OUTCOMES = ("served", "no_show", "cancelled", "expired", "transferred")
# Outcomes that end the ticket (the visitor's last visit): the denominator of the shares.
FINAL_OUTCOMES = ("served", "no_show", "cancelled", "expired")
# Activity states of an open or paused counter (a closed one has no rows).
STATES = ("busy", "idle_waiting", "idle", "paused")
QUARTER_S = 900  # activity is totalled per site-local quarter hour


class Visit(NamedTuple):
    """One ticket's stay in one queue (see docs/reports.md, "Visit")."""

    site: str
    tz: str
    day: str  # the business day, YYYY-MM-DD
    ticket: str
    number: str
    visit: int  # 1 for the queue it was issued to, +1 per transfer
    last: bool  # the ticket's latest visit (its final one once the day closed)
    service: str
    agency: str
    channel: str
    priority: str
    directed_to: str | None  # the counter it was transferred to, if any
    issued: float
    arrival: float
    called: float | None  # the call that led to the outcome
    started: float | None
    finished: float | None  # the outcome's time
    outcome: str | None  # None while the visit goes on (live)
    counter: str | None
    officer: str | None
    calls: int
    recalls: int
    returns: int
    holds: int
    wait_s: float | None
    walk_s: float | None
    service_s: float | None
    hall_s: float | None
    target_s: float | None
    within_target: bool | None


class Activity(NamedTuple):
    """Seconds one counter spent in one state with one officer within one quarter hour."""

    site: str
    tz: str
    day: str
    counter: str
    officer: str | None
    state: str  # one of STATES
    start: float  # the site-local quarter hour's start
    seconds: float


TIME = "TIMESTAMP"  # site-local wall-clock time; passed in as microseconds
VISIT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("site", "VARCHAR"),
    ("tz", "VARCHAR"),
    ("day", "DATE"),
    ("ticket", "VARCHAR"),
    ("number", "VARCHAR"),
    ("visit", "INTEGER"),
    ("last", "BOOLEAN"),
    ("service", "VARCHAR"),
    ("agency", "VARCHAR"),
    ("channel", "VARCHAR"),
    ("priority", "VARCHAR"),
    ("directed_to", "VARCHAR"),
    ("issued", TIME),
    ("arrival", TIME),
    ("called", TIME),
    ("started", TIME),
    ("finished", TIME),
    ("outcome", "VARCHAR"),
    ("counter", "VARCHAR"),
    ("officer", "VARCHAR"),
    ("calls", "INTEGER"),
    ("recalls", "INTEGER"),
    ("returns", "INTEGER"),
    ("holds", "INTEGER"),
    ("wait_s", "DOUBLE"),
    ("walk_s", "DOUBLE"),
    ("service_s", "DOUBLE"),
    ("hall_s", "DOUBLE"),
    ("target_s", "DOUBLE"),
    ("within_target", "BOOLEAN"),
)
ACTIVITY_COLUMNS: tuple[tuple[str, str], ...] = (
    ("site", "VARCHAR"),
    ("tz", "VARCHAR"),
    ("day", "DATE"),
    ("counter", "VARCHAR"),
    ("officer", "VARCHAR"),
    ("state", "VARCHAR"),
    ("start", TIME),
    ("seconds", "DOUBLE"),
)
assert tuple(n for n, _ in VISIT_COLUMNS) == Visit._fields
assert tuple(n for n, _ in ACTIVITY_COLUMNS) == Activity._fields
# The order of the files' rows: the same log gives the same file.
VISIT_ORDER = ("site", "day", "ticket", "visit")
ACTIVITY_ORDER = ("site", "day", "counter", "start", "state", "officer")


def micros(at: float) -> int:
    """Unix seconds to whole microseconds, rounded as `datetime.fromtimestamp` rounds."""
    whole = math.floor(at)
    frac = round((at - whole) * 1e6)  # half to even, on the exact fractional part
    return whole * 1_000_000 + frac


class LocalClock:
    """Unix seconds to site-local wall-clock microseconds, the zone's offset cached per hour."""

    def __init__(self, tz: str) -> None:
        self._zone = zone(tz)
        self._offsets: dict[int, int] = {}

    def offset_s(self, at: float) -> int:
        hour = int(at // 3600)  # every zone's offsets change on a whole hour or quarter
        offset = self._offsets.get(hour)
        if offset is None:
            delta = datetime.fromtimestamp(hour * 3600, self._zone).utcoffset() or timedelta()
            offset = self._offsets[hour] = int(delta.total_seconds())
        return offset

    def local_us(self, at: float) -> int:
        return micros(at) + self.offset_s(at) * 1_000_000

    def next_quarter(self, at: float) -> float:
        """The first site-local quarter hour strictly after `at`, as unix seconds."""
        offset = self.offset_s(at)
        local = at + offset
        return float((math.floor(local / QUARTER_S) + 1) * QUARTER_S - offset)


_TIME_COLUMNS = frozenset(n for n, t in (*VISIT_COLUMNS, *ACTIVITY_COLUMNS) if t == TIME)


def to_columns(
    rows: Iterable[Sequence[Any]], columns: tuple[tuple[str, str], ...]
) -> list[list[Any]]:
    """Rows as one list per column, times as site-local microseconds (for `db.load`)."""
    out: list[list[Any]] = [[] for _ in columns]
    tz_at = [n for n, _ in columns].index("tz")
    clocks: dict[str, LocalClock] = {}
    time_at = [i for i, (n, _) in enumerate(columns) if n in _TIME_COLUMNS]
    for row in rows:
        tz = row[tz_at]
        clock = clocks.get(tz)
        if clock is None:
            clock = clocks[tz] = LocalClock(tz)
        for i, value in enumerate(row):
            out[i].append(value)
        for i in time_at:
            value = row[i]
            if value is not None:
                out[i][-1] = clock.local_us(value)
    return out
