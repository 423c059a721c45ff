"""The survey beside the wait (qms/reports/satisfaction.py), pure: the join of responses
to their visits, the filters, the `null` group of answers with no visit, and the
minimum group rule on the wait cut. The HTTP view is tests/test_api_reports_survey.py."""

from __future__ import annotations

from datetime import date

import pytest

from qms.reports.errors import ReportError
from qms.reports.satisfaction import Visit, keep, link, satisfaction, table
from qms.survey.aggregate import Record

DAY = date(2026, 3, 2)


def response(ticket: str, score: int, **values: str | None) -> Record:
    return Record(DAY, (score,) * 9, {"service": "ktp", "channel": "kiosk", **values}, "", ticket)


VISITS = {
    ("a", f"t{i}"): Visit(60.0 * i, 30.0, i <= 5, "lansia" if i == 1 else "regular")
    for i in range(1, 11)
}


def test_walk_up_answers_are_the_null_group_and_filters_apply() -> None:
    answers = [("a", response(f"t{i}", 4 if i <= 5 else 2)) for i in range(1, 11)]
    answers += [("a", response("", 3, channel="walk_up")) for _ in range(5)]
    answers += [("b", response("t1", 1))]  # another site's t1: no visit there
    linked = link(answers, VISITS)
    out = satisfaction(linked, "wait", 5)
    groups = {g["key"]: g for g in out["groups"]}
    assert {k: g["respondents"] for k, g in groups.items()} == {"within": 5, "above": 5, None: 6}
    assert groups["within"]["index"]["converted"] == "100.00"
    assert groups["above"]["visits"]["wait"] == {"n": 5, "mean": 480.0, "p50": 480.0, "p90": 576.0}
    assert groups[None]["visits"] == {
        "linked": 0, "within_target": 0,
        "wait": {"n": 0, "mean": None, "p50": None, "p90": None},
        "service": {"n": 0, "mean": None, "p50": None, "p90": None},
    }  # fmt: skip
    assert out["total"]["respondents"] == 16 and out["total"]["visits"]["linked"] == 10
    # a priority filter keeps the responses whose visit was of that class (no walk-up)
    assert [i.record.ticket for i in keep(linked, {"priority": ["lansia"]})] == ["t1"]
    assert len(keep(linked, {"channel": ["walk_up"]})) == 5
    assert len(keep(linked, {"service": ["kk"]})) == 0


def test_the_minimum_group_holds_on_the_wait_cut() -> None:
    # within: 5, above: 4 -> above hidden, and within with it (its complement)
    answers = [("a", response(f"t{i}", 3)) for i in range(1, 10)]
    out = satisfaction(link(answers, VISITS), "wait", 5)
    assert out["total"]["respondents"] == 9
    assert all(g["suppressed"] and g["visits"] is None for g in out["groups"])
    # and the CSV's table says so, with no number
    columns, rows = table(out)
    assert [r[columns.index("respondents")] for r in rows] == [9, None, None]
    assert rows[1][columns.index("wait.p50")] is None


def test_a_bad_cut_is_refused() -> None:
    with pytest.raises(ReportError) as err:
        satisfaction([], "colour", 5)
    assert err.value.code == "invalid_dimension"
