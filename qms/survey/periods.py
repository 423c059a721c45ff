"""The periods the survey's figures are asked for (docs/survey.md "Published results").

- `period_of(first, last, today)`: the days a query names, by default the year so far
  (the staff results);
- `public_default(answered, today, min_group)`: the period the public page `/skm/<site>`
  shows when none is asked for: the last complete quarter, or the quarter so far while
  the last complete one has too few answers to show.

Pure: dates in, dates out; how many answered a period is asked of the caller.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

from qms.survey.errors import SurveyError

MAX_PERIOD_DAYS = 3 * 366  # a results query spans at most three years


def _day(text: str | None, default: date, what: str) -> date:
    if text is None:
        return default
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise SurveyError("invalid_period", f"{what}: expected YYYY-MM-DD", field=what) from None


def period_of(first: str | None, last: str | None, today: date) -> tuple[date, date]:
    """The days asked for; by default the year so far."""
    end = _day(last, today, "last")
    start = _day(first, date(end.year, 1, 1), "first")
    if end < start:
        raise SurveyError("invalid_period", "last is before first")
    if (end - start).days >= MAX_PERIOD_DAYS:
        raise SurveyError("invalid_period", f"at most {MAX_PERIOD_DAYS} days")
    return start, end


def quarter_start(day: date) -> date:
    return date(day.year, (day.month - 1) // 3 * 3 + 1, 1)


def public_default(
    answered: Callable[[date, date], int], today: date, min_group: int
) -> tuple[date, date]:
    """What a head of hall expects on the published page: the result of the last complete
    quarter (triwulan), the period halls report and print, which does not move from day
    to day; while that quarter has fewer than `min_group` answers (a hall that has just
    begun the survey, or a demo), the quarter so far, which then has all there is.
    `answered(first, last)` is the number of answers of the days first-last."""
    current = quarter_start(today)
    last = current - timedelta(days=1)
    first = quarter_start(last)
    if answered(first, last) >= min_group:
        return first, last
    return current, today
