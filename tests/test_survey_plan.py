"""The follow-up plan's checks (qms.survey.plan) and the records' reading of plans and
walk-up answers (qms.survey.records): pure, no server."""

from __future__ import annotations

from typing import Any

import pytest

from qms.survey.errors import SurveyError
from qms.survey.plan import MAX_TEXT, parse_plan
from qms.survey.records import SurveyBook, source_of

GOOD = {"period": "2026-Q2", "elements": ["U9", "U1"], "text": " Satu\r\nDua "}


def test_a_plan_is_normalised() -> None:
    plan = parse_plan(GOOD)
    assert plan.period == "2026-Q2"
    assert plan.elements == ("U1", "U9")  # the instrument's order
    assert plan.text == "Satu\nDua"  # trimmed, CRLF as LF, the line break kept


@pytest.mark.parametrize("period", ["2026", "2026-S1", "2026-S2", "2026-Q4", "2026-01", "2026-12"])
def test_every_period_label_of_the_figures_is_accepted(period: str) -> None:
    assert parse_plan({**GOOD, "period": period}).period == period


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"period": "2026-Q0"}, "invalid_plan"),
        ({"period": "2026-13"}, "invalid_plan"),
        ({"period": "26"}, "invalid_plan"),
        ({"period": "2026-Q1\n"}, "invalid_plan"),
        ({"period": None}, "invalid_plan"),
        ({"elements": "U1"}, "invalid_plan"),
        ({"elements": ["U10"]}, "invalid_plan"),
        ({"text": ""}, "invalid_plan"),
        ({"text": "x" * (MAX_TEXT + 1)}, "text_too_long"),
        ({"text": "tab\there"}, "invalid_text"),
        ({"text": "nul\x00"}, "invalid_text"),
        ({"text": "ls\u2028here"}, "invalid_text"),
        ({"text": "\u2066isolate"}, "invalid_text"),
    ],
)
def test_bad_plans_have_stable_codes(changes: dict[str, Any], code: str) -> None:
    with pytest.raises(SurveyError) as caught:
        parse_plan({**GOOD, **changes})
    assert caught.value.code == code


def test_the_longest_plan_is_accepted() -> None:
    assert len(parse_plan({**GOOD, "text": "x" * MAX_TEXT}).text) == MAX_TEXT


def plan(period: str, text: str) -> dict[str, Any]:
    return {"type": "survey_plan_written", "period": period, "elements": ["U1"], "text": text}


def test_the_book_keeps_each_periods_latest_plan_latest_year_first() -> None:
    book = SurveyBook()
    for version, entry in enumerate(
        [plan("2025-Q4", "a"), plan("2026-Q1", "b"), plan("2025-Q4", "c")], start=1
    ):
        book.apply(version, entry)
    assert [(p.period, p.text) for p in book.plan_history()] == [("2026-Q1", "b"), ("2025-Q4", "c")]
    assert book.version == 3


def test_a_walk_up_answer_is_its_own_channel_and_source() -> None:
    book = SurveyBook()
    walk_up = {
        "type": "survey_answered",
        "ticket": "",
        "service": "ktp",
        "agency": "dukcapil",
        "counter": None,
        "officer": None,
        "channel": None,
        "walk_up": True,
        "day": "2026-02-03",
        "response": {"instrument": 1, "scores": [3] * 9, "profile": {}, "suggestion": ""},
    }
    book.apply(1, walk_up)
    book.apply(2, {**walk_up, "walk_up": False, "ticket": "t1", "channel": "online"})
    first, second = book.records
    assert first.values["channel"] == "walk_up" and source_of(first) == "walk_up"
    assert second.values["channel"] == "online" and source_of(second) == "visit"
