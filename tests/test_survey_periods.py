"""The period the public page `/skm/<site>` shows by default (docs/survey.md "Published
results"): the last complete quarter, or the quarter so far while it has too few."""

from __future__ import annotations

from datetime import date

import pytest
from test_survey_records import answered

from qms.survey.periods import period_of, public_default, quarter_start
from qms.survey.records import SurveyBook


def book_of(days: dict[date, int]) -> SurveyBook:
    book = SurveyBook()
    version = 0
    for day, n in days.items():
        for _ in range(n):
            version += 1
            entry = answered(0, [3] * 9)
            book.apply(version, {**entry, "day": day.isoformat()})
    return book


def default(book: SurveyBook, today: date, min_group: int = 5) -> tuple[date, date]:
    return public_default(lambda a, b: book.tallies.total(a, b).respondents, today, min_group)


def test_a_january_page_shows_the_last_complete_quarter() -> None:
    book = book_of({date(2026, 11, 20): 4, date(2026, 12, 30): 1, date(2027, 1, 3): 2})
    assert default(book, date(2027, 1, 5)) == (date(2026, 10, 1), date(2026, 12, 31))
    # the year so far (the staff results' default) would show two answers
    assert period_of(None, None, date(2027, 1, 5)) == (date(2027, 1, 1), date(2027, 1, 5))


def test_too_few_in_the_last_quarter_shows_the_quarter_so_far() -> None:
    book = book_of({date(2026, 12, 30): 4, date(2027, 2, 1): 9})
    assert default(book, date(2027, 2, 10)) == (date(2027, 1, 1), date(2027, 2, 10))
    # the site's own minimum decides what "too few" is
    assert default(book, date(2027, 2, 10), min_group=3) == (date(2026, 10, 1), date(2026, 12, 31))
    assert default(SurveyBook(), date(2027, 2, 10)) == (date(2027, 1, 1), date(2027, 2, 10))


@pytest.mark.parametrize(
    ("day", "start"),
    [(date(2026, 1, 1), date(2026, 1, 1)), (date(2026, 6, 30), date(2026, 4, 1)),
     (date(2026, 7, 1), date(2026, 7, 1)), (date(2026, 12, 31), date(2026, 10, 1))],
)  # fmt: skip
def test_quarters_start_where_the_regulation_counts_them(day: date, start: date) -> None:
    assert quarter_start(day) == start
