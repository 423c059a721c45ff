"""The summary and the cuts of the live day, computed in Python over its rows in memory.

A query of the live day through DuckDB costs 2-3 ms even over 2,000 rows (the
SQL planned, the live table brought up to date, the result turned back into
Python), and the summary runs it twice. The live day's visits are already rows
in this process (`LiveDay.visit_rows`), so the same measures are computed here
with the same definitions as `qms.reports.sql.MEASURES`: the same counts,
`quantile_cont`'s linear interpolation between the closest ranks, the nulls
left out of every statistic. The results have the shape of the SQL's rows, so
`query._measures` turns both into the API's measures. Given the rows in the
files' order (`rows.VISIT_ORDER`), every figure is the very float DuckDB gives
for the day's file (the means add in the same order): tests/test_reports_today.py.
"""

from __future__ import annotations

import math
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date
from fractions import Fraction
from typing import Any

from qms.reports.rows import LocalClock, Visit
from qms.reports.sql import QUANTILES, STATS

Key = Callable[[Visit], Any]


def _hour(clocks: dict[str, LocalClock]) -> Key:
    def hour(row: Visit) -> int:
        clock = clocks.get(row.tz)
        if clock is None:
            clock = clocks[row.tz] = LocalClock(row.tz)
        return (clock.local_us(row.arrival) // 3_600_000_000) % 24

    return hour


def key_of(by: str) -> Key:
    """The key of one cut (`sql.DIMENSIONS`) of a visit row, as the SQL computes it."""
    if by == "day":
        return lambda row: row.day
    if by == "weekday":
        return lambda row: date.fromisoformat(row.day).weekday()
    if by == "hour":
        return _hour({})
    index = Visit._fields.index(by)
    return lambda row: row[index]


def quantile_cont(ordered: Sequence[float], q: float) -> float:
    """DuckDB's `quantile_cont` of sorted values: linear between the closest ranks, to
    the last bit. DuckDB computes `lo * (1 - d) + hi * d` for doubles, and its x86-64
    build fuses the first product with the sum (one rounding, as `math.fma` in Python
    3.13): done here exactly with fractions, then rounded once."""
    h = (len(ordered) - 1) * q
    lo = math.floor(h)
    hi = math.ceil(h)
    if lo == hi:
        return ordered[lo]
    d = h - lo
    return fma(ordered[lo], 1.0 - d, ordered[hi] * d)


_SPLIT = 134_217_729.0  # 2**27 + 1 (Veltkamp's split of a double into two halves)


def fma(a: float, b: float, c: float) -> float:
    """a * b + c rounded once. The exact product and sum as pairs of doubles (Dekker,
    Knuth), then rounded; only when that lands within a hair of a rounding tie is it done
    again with fractions (exact)."""
    p = a * b
    x = _SPLIT * a
    ah = x - (x - a)
    al = a - ah
    y = _SPLIT * b
    bh = y - (y - b)
    bl = b - bh
    e = ((ah * bh - p) + ah * bl + al * bh) + al * bl  # a * b == p + e exactly
    s = p + c
    v = s - p
    t = (p - (s - v)) + (c - v)  # p + c == s + t exactly
    low = t + e
    r = s + low
    rest = abs((s - r) + low)
    half = math.ulp(r) / 2
    if abs(rest - half) <= half * 1e-6 or abs(rest - half / 2) <= half * 1e-6:
        return float(Fraction(a) * Fraction(b) + Fraction(c))
    return r


def _added(values: Iterable[float]) -> float:
    total = 0.0
    for value in values:
        total += value
    return total


# One after the other, in the rows' order, as DuckDB's avg adds: Python's own sum does
# exactly that up to 3.11 (in C); from 3.12 it compensates, so the loop above instead.
plain_sum: Callable[[Iterable[float]], float] = sum if sys.version_info < (3, 12) else _added


def stat(values: list[float], name: str, out: dict[str, Any]) -> None:
    """n, mean, quantiles and max of `values` (no nulls), named as the SQL names them."""
    n = len(values)
    out[f"{name}_n"] = n
    if not n:
        out[f"{name}_mean"] = out[f"{name}_q"] = out[f"{name}_max"] = None
        return
    out[f"{name}_mean"] = plain_sum(values) / n
    values.sort()
    out[f"{name}_q"] = [quantile_cont(values, q) for q in QUANTILES]
    out[f"{name}_max"] = values[-1]


assert STATS == ("wait_s", "walk_s", "service_s", "hall_s")  # the lists of `measures`
_OUTCOMES = ("served", "no_show", "cancelled", "expired", "transferred")


def measures(rows: Sequence[Visit]) -> dict[str, Any]:
    """`sql.MEASURES` over `rows`: one dict with the SQL's column names."""
    outcomes = Counter([row.outcome for row in rows])
    judged = [row.within_target for row in rows]
    going_on = outcomes.pop(None, 0)
    out: dict[str, Any] = {
        "visits": len(rows),
        "tickets": [row.visit for row in rows].count(1),
        "ended": len(rows) - going_on,
        **{name: outcomes.get(name, 0) for name in _OUTCOMES},
        "going_on": going_on,
        "within_target": judged.count(True),
        "with_target": len(judged) - judged.count(None),
    }
    stat([r.wait_s for r in rows if r.wait_s is not None], "wait_s", out)
    stat([r.walk_s for r in rows if r.walk_s is not None], "walk_s", out)
    stat([r.service_s for r in rows if r.service_s is not None], "service_s", out)
    stat([r.hall_s for r in rows if r.hall_s is not None], "hall_s", out)
    return out


def breakdown(rows: Iterable[Visit], by: str) -> list[dict[str, Any]]:
    """`sql.breakdown` over `rows`: one dict per key, in the SQL's order (nulls last)."""
    key = key_of(by)
    groups: dict[Any, list[Visit]] = {}
    for row in rows:
        k = key(row)
        group = groups.get(k)
        if group is None:
            groups[k] = [row]
        else:
            group.append(row)
    ordered = sorted(groups, key=lambda k: (k is None, "" if k is None else k))
    return [{"key": k, **measures(groups[k])} for k in ordered]


def chosen(rows: Iterable[Visit], filters: Mapping[str, Sequence[str]]) -> list[Visit]:
    """The rows whose column is one of the listed values, for each filter given."""
    tests = [(Visit._fields.index(name), frozenset(values)) for name, values in filters.items()]
    if not tests:
        return list(rows)
    return [row for row in rows if all(row[i] in allowed for i, allowed in tests)]
