"""The survey's records read from a log: the index of the folded events equals a brute-force
recomputation from the raw `survey_answered` entries, and nothing else is read."""

from __future__ import annotations

from datetime import date
from fractions import Fraction
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from qms.survey.aggregate import CUTS, PERIODS, cut
from qms.survey.index import Tally, compute
from qms.survey.records import SurveyBook, source_of


def answered(day: int, scores: list[int], **values: Any) -> dict[str, Any]:
    return {
        "type": "survey_answered",
        "schema": 1,
        "at": 1_700_000_000.0 + day * 86400,
        "ticket": f"t{day}",
        "service": values.get("service", "ktp"),
        "agency": "dukcapil",
        "counter": "L1",
        "officer": values.get("officer", "budi"),
        "channel": values.get("channel", "kiosk"),
        "day": date(2026, 1, 1 + day % 28).isoformat(),
        "response": {"instrument": 1, "scores": scores, "profile": {}, "suggestion": ""},
        **({"walk_up": True} if values.get("walk_up") else {}),
        **({"tablet": True} if values.get("tablet") and not values.get("walk_up") else {}),
    }


entries = st.lists(
    st.one_of(
        st.builds(
            answered,
            st.integers(0, 27),
            st.lists(st.integers(1, 4), min_size=9, max_size=9),
            service=st.sampled_from(["ktp", "kk"]),
        ),
        st.just({"type": "ticket_completed", "schema": 1, "at": 1_700_000_000.0, "ticket": "x"}),
        st.just({"type": "ticket_called", "schema": 1, "at": 1_700_000_000.0, "ticket": "x"}),
    ),
    max_size=40,
)


@given(entries)
def test_index_from_the_log_equals_brute_force(log: list[dict[str, Any]]) -> None:
    book = SurveyBook()
    for version, entry in enumerate(log, start=1):
        book.apply(version, entry)
    raw = [e["response"]["scores"] for e in log if e["type"] == "survey_answered"]
    assert book.version == len(log)
    assert len(book.records) == len(raw)
    assert sum(book.served.values()) == sum(e["type"] == "ticket_completed" for e in log)
    index = compute(Tally.of(r.scores for r in book.records))
    if not raw:
        assert index is None
        return
    assert index is not None
    brute = sum(Fraction(sum(row[i] for row in raw), len(raw)) for i in range(9)) / 9 * 25
    assert index.converted == brute
    by_service = cut(book.records, "service", 3)
    shown = [g for g in by_service.groups if not g.suppressed]
    assert sum(g.respondents or 0 for g in shown) <= len(raw)


# few days, so that answers often arrive for a day whose tallies were computed already
few_days = st.lists(
    st.builds(
        answered,
        st.integers(0, 4),
        st.lists(st.integers(1, 4), min_size=9, max_size=9),
        service=st.sampled_from(["ktp", "kk"]),
        officer=st.sampled_from(["budi", "sari"]),
        channel=st.sampled_from(["kiosk", "online"]),
        walk_up=st.booleans(),
        tablet=st.booleans(),
    ),
    max_size=40,
)


@given(few_days, st.integers(0, 40), st.integers(0, 4), st.integers(0, 4))
def test_the_days_tallies_give_the_cuts_of_the_records(
    log: list[dict[str, Any]], split: int, a: int, b: int
) -> None:
    """What the views read (`book.tallies`, kept per day) equals a cut of the period's
    records, also after answers arrive for days whose tallies were already computed."""
    first, last = sorted((date(2026, 1, 1 + a), date(2026, 1, 1 + b)))
    book = SurveyBook()

    def same() -> None:
        records = book.between(first, last)
        assert book.tallies.total(first, last) == Tally.of(r.scores for r in records)
        for by in (*CUTS, *PERIODS):
            assert book.tallies.cut(first, last, by, 3) == cut(records, by, 3)
        assert book.tallies.cut(first, last, "source", 3) == cut(
            records, "source", 3, key=source_of
        )

    for version, entry in enumerate(log[:split], start=1):
        book.apply(version, entry)
    same()  # the days' tallies are computed and kept...
    for version, entry in enumerate(log[split:], start=split + 1):
        book.apply(version, entry)
    same()  # ...and follow the answers that came after, for those days too


def test_reading_in_pieces_is_reading_at_once() -> None:
    log = list(enumerate((answered(d, [1 + d % 4] * 9) for d in range(10)), start=1))
    whole, pieces = SurveyBook(), SurveyBook()
    for v, e in log:
        whole.apply(v, e)
    for v, e in log[:4]:
        pieces.apply(v, e)
    for v, e in log[4:]:
        pieces.apply(v, e)
    assert whole == pieces
    assert whole.records[0].values["officer"] == "budi"
    assert "t0" not in repr(whole.records)  # no ticket in what the figures see


def test_the_figures_are_cut_by_where_the_answer_was_given() -> None:
    """`answered_on`: the visitor's phone, the counter's tablet or a service's walk-up QR
    code (`survey_answered.tablet`, `.walk_up`), each group under the minimum hidden."""
    book = SurveyBook()
    log = [answered(1, [4] * 9) for _ in range(6)]
    log += [answered(2, [2] * 9, tablet=True) for _ in range(5)]
    log += [answered(3, [3] * 9, walk_up=True) for _ in range(3)]
    for version, entry in enumerate(log, start=1):
        book.apply(version, entry)
    assert [r.values["answered_on"] for r in book.records] == (
        ["phone"] * 6 + ["tablet"] * 5 + ["walk_up"] * 3
    )
    first, last = date(2026, 1, 1), date(2026, 1, 31)
    shown = book.tallies.cut(first, last, "answered_on", 5).to_dict()
    groups = {g["key"]: g for g in shown["groups"]}
    assert groups["phone"]["index"]["converted"] == "100.00"
    # three walk-up answers are under 5: hidden, and the smallest shown group with them
    assert groups["walk_up"]["suppressed"] and groups["tablet"]["suppressed"]
    assert not groups["phone"]["suppressed"]
    three = book.tallies.cut(first, last, "answered_on", 3).to_dict()
    assert [g["respondents"] for g in three["groups"]] == [6, 5, 3]
    assert three["groups"][1]["index"]["converted"] == "50.00"
