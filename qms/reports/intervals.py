"""The per-interval view (15, 30 or 60 minutes) of a period: the sum of its days' figures.

Every figure of an interval is a count or a maximum over visits (arrivals, tickets
issued, calls, served, the queue at its end, the longest wait among those waiting
in it), and every visit belongs to one day: a period's figure for an interval is
the sum (the maximum) of its days' figures for the same start, exactly
(`sql.day_intervals` gives them per site and day). A closed day's figures never
change, so they are kept in memory (`DayFigures`), checked against the identity of
the day's visits file like the closed days' rows (`qms.reports.memory`): a report
over a year then adds up ~300 days of ~40 rows each instead of going through its
600,000 visits again. The live day's figures are computed on every report.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Iterable, Sequence
from typing import Any

from qms.reports.memory import Stamp

# One interval of one day: start, arrivals, issued, calls, served, queue_end,
# longest_wait_s (the keys of `add_up`'s dicts, in that order).
Row = tuple[Any, ...]


class DayFigures:
    """The per-interval figures of at most `size` closed (site, day, width, filters),
    least recently used out first (0: none kept)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._kept: OrderedDict[Hashable, tuple[Stamp, list[Row]]] = OrderedDict()

    def get(self, key: Hashable, stamp: Stamp) -> list[Row] | None:
        hit = self._kept.get(key)
        if hit is None or hit[0] != stamp:  # none, or the day's file was written again
            return None
        self._kept.move_to_end(key)
        return hit[1]

    def put(self, key: Hashable, stamp: Stamp, rows: list[Row]) -> None:
        if not self.size:
            return
        self._kept[key] = (stamp, rows)
        self._kept.move_to_end(key)
        while len(self._kept) > self.size:
            self._kept.popitem(last=False)

    def clear(self) -> None:
        self._kept.clear()


def by_day(rows: Iterable[Sequence[Any]]) -> dict[tuple[str, str], list[Row]]:
    """`sql.day_intervals`'s rows (site, day, then a `Row`) per (site, day)."""
    out: dict[tuple[str, str], list[Row]] = {}
    for row in rows:
        out.setdefault((row[0], row[1]), []).append(tuple(row[2:]))
    return out


def add_up(days: Iterable[Sequence[Row]]) -> list[dict[str, Any]]:
    """One row per interval start of any day, in order: the days' counts added, the
    longest wait the longest of theirs."""
    acc: dict[str, Row] = {}
    for rows in days:
        for row in rows:
            have = acc.get(row[0])
            if have is None:
                acc[row[0]] = row
                continue
            longest = (
                have[6] if row[6] is None else row[6] if have[6] is None else max(have[6], row[6])
            )
            acc[row[0]] = (
                row[0],
                have[1] + row[1],
                have[2] + row[2],
                have[3] + row[3],
                have[4] + row[4],
                have[5] + row[5],
                longest,
            )
    return [
        {
            "start": r[0],
            "arrivals": r[1],
            "issued": r[2],
            "calls": r[3],
            "served": r[4],
            "queue_end": r[5],
            "longest_wait_s": r[6],
        }
        for r in (acc[start] for start in sorted(acc))
    ]  # (a dict display: a third of the time of dict(zip(keys, …)) for a year's 11,000)
