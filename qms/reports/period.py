"""Report periods: whole business days in a site's own calendar, and the period before.

A period is the days `first` to `last`, both included, as the site's calendar
(its timezone) names them. Named periods are resolved at a moment `now` in a
timezone: at the same instant "today" is a different date in Jakarta and in
Jayapura, so a report over several sites resolves the name once per site.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from qms.core.calendar import business_day, valid_timezone
from qms.reports.errors import ReportError

MAX_DAYS = 3_700  # about ten years
FIRST_YEAR, LAST_YEAR = 1900, 2999  # of a range's days
KINDS = ("day", "week", "month", "quarter", "year", "range")
NAMED = (
    "today",
    "yesterday",
    "this_week",
    "last_week",
    "this_month",
    "last_month",
    "this_quarter",
    "last_quarter",
    "this_year",
    "last_year",
)
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Period:
    first: date
    last: date
    kind: str = "range"  # what `previous` steps back by (see docs/reports.md, "Periods")

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ReportError("invalid_period", f"unknown kind of period {self.kind!r}")
        if self.last < self.first:
            raise ReportError(
                "invalid_period", "the last day is before the first", first=str(self.first)
            )
        if self.days > MAX_DAYS:
            raise ReportError("invalid_period", f"at most {MAX_DAYS} days", days=self.days)

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def contains(self, day: str | date) -> bool:
        d = day if isinstance(day, date) else date.fromisoformat(day)
        return self.first <= d <= self.last

    def previous(self) -> Period:
        """The period before, of the same length: the day, week, month, quarter or year
        before (the same part of it when this one runs to date), or as many days before."""
        if self.kind in ("day", "week", "range"):
            # A week to date is compared with the same days of the week before.
            span = timedelta(days=7 if self.kind == "week" else self.days)
            return Period(self.first - span, self.last - span, self.kind)
        months = {"month": 1, "quarter": 3, "year": 12}[self.kind]
        first = _add_months(self.first, -months)
        unit_end = _add_months(first, months) - timedelta(days=1)
        whole = self.last == _add_months(self.first, months) - timedelta(days=1)
        last = unit_end if whole else min(unit_end, _same_day(self.last, -months))
        return Period(first, last, self.kind)

    def to_dict(self) -> dict[str, Any]:
        return {
            "first": self.first.isoformat(),
            "last": self.last.isoformat(),
            "kind": self.kind,
            "days": self.days,
        }


def _add_months(d: date, months: int) -> date:
    """The first of the month `months` after the month of `d` (d is a first of month)."""
    index = d.year * 12 + d.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _same_day(d: date, months: int) -> date:
    """The same day of the month `months` away, clipped to that month's last day."""
    first = _add_months(d.replace(day=1), months)
    return first.replace(day=min(d.day, calendar.monthrange(first.year, first.month)[1]))


def parse_day(text: Any, what: str = "day") -> date:
    if not isinstance(text, str) or not _ISO_DATE.match(text):
        raise ReportError("invalid_period", f"{what}: expected YYYY-MM-DD", value=str(text)[:40])
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise ReportError("invalid_period", f"{what}: no such date", value=text) from None
    if not FIRST_YEAR <= day.year <= LAST_YEAR:  # the period before must be a date too
        raise ReportError(
            "invalid_period", f"{what}: years {FIRST_YEAR} to {LAST_YEAR}", value=text
        )
    return day


def between(first: Any, last: Any) -> Period:
    """Any range of days, e.g. ``between("2025-01-01", "2025-03-31")``."""
    return Period(parse_day(first, "from"), parse_day(last, "to"), "range")


def named(name: str, now: float, tz: str) -> Period:
    """A named period (`NAMED`) at the moment `now` in the calendar of `tz`.

    "this_…" periods run from the unit's first day to today ("to date"); "last_…"
    periods are whole units."""
    if not valid_timezone(tz):
        raise ReportError("invalid_period", f"unknown timezone {tz!r}")
    today = date.fromisoformat(business_day(now, tz))
    if name == "today":
        return Period(today, today, "day")
    if name == "yesterday":
        day = today - timedelta(days=1)
        return Period(day, day, "day")
    if name in ("this_week", "last_week"):
        monday = today - timedelta(days=today.weekday())
        if name == "this_week":
            return Period(monday, today, "week")
        return Period(monday - timedelta(days=7), monday - timedelta(days=1), "week")
    units = {"month": 1, "quarter": 3, "year": 12}
    for kind, months in units.items():
        if name in (f"this_{kind}", f"last_{kind}"):
            index = (today.month - 1) // months * months  # months before the unit's start
            start = date(today.year, index + 1, 1)
            if name.startswith("this_"):
                return Period(start, today, kind)
            first = _add_months(start, -months)
            return Period(first, start - timedelta(days=1), kind)
    raise ReportError("unknown_period", f"no period named {name!r}", allowed=list(NAMED))
