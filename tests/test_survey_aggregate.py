"""Sample size (Krejcie & Morgan) and the figures per group with small groups hidden."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qms.survey.aggregate import Record, cut, period_key, suppressed_keys
from qms.survey.errors import SurveyError
from qms.survey.index import Tally, compute
from qms.survey.sample import minimum_sample, progress

# --- Krejcie & Morgan ----------------------------------------------------------


@pytest.mark.parametrize(
    ("population", "needed"),
    [
        (10, 10),
        (15, 14),
        (50, 44),
        (100, 80),
        (200, 132),
        (300, 169),
        (1000, 278),
        (10_000, 370),
        (100_000, 383),
        (1_000_000, 384),
        (None, 384),
    ],
)
def test_krejcie_morgan_table(population: int | None, needed: int) -> None:
    assert minimum_sample(population) == needed


def test_sample_edge_cases() -> None:
    assert minimum_sample(0) == 0
    assert minimum_sample(1) == 1
    for bad in (-1, 2.5, True):
        with pytest.raises(ValueError):
            minimum_sample(bad)  # type: ignore[arg-type]


def test_progress_against_the_target() -> None:
    p = progress(139, 1000)
    assert p.to_dict() == {"respondents": 139, "target": 278, "percent": 50, "reached": False}
    assert progress(400, 1000).percent == 100 and progress(400, 1000).reached
    assert progress(0, 0).reached


# --- periods ----------------------------------------------------------------------


def test_period_keys() -> None:
    d = date(2026, 7, 15)
    assert period_key(d, "month") == "2026-07"
    assert period_key(d, "quarter") == "2026-Q3"
    assert period_key(d, "semester") == "2026-S2"
    assert period_key(d, "year") == "2026"
    with pytest.raises(SurveyError) as caught:
        period_key(d, "week")
    assert caught.value.code == "invalid_cut"


# --- cuts and suppression -----------------------------------------------------------


def records(**sizes: int) -> list[Record]:
    """`sizes` respondents per service, every score 3 except service-specific U1."""
    out = []
    for i, (service, n) in enumerate(sorted(sizes.items())):
        for _ in range(n):
            out.append(Record(date(2026, 1, 5), (1 + i % 4, *(3,) * 8), {"service": service}))
    return out


def test_groups_of_five_or_more_are_shown() -> None:
    c = cut(records(a=5, b=7), "service")
    assert [(g.key, g.respondents, g.suppressed) for g in c.groups] == [
        ("a", 5, False),
        ("b", 7, False),
    ]
    assert c.total.respondents == 12
    assert c.groups[0].index == compute(Tally.of([(1, *(3,) * 8)] * 5))


def test_a_single_small_group_takes_the_next_smallest_with_it() -> None:
    # b alone hidden would be total - a - c; so the smallest shown group (c) is hidden too
    c = cut(records(a=20, b=2, c=6), "service")
    hidden = {g.key for g in c.groups if g.suppressed}
    assert hidden == {"b", "c"}
    assert all(g.respondents is None and g.index is None for g in c.groups if g.suppressed)
    assert c.total.respondents == 28


def test_hidden_groups_together_hold_at_least_the_minimum() -> None:
    # b and c are both small, but together 3 people: d (the smallest shown) goes too
    c = cut(records(a=20, b=1, c=2, d=9, e=12), "service")
    assert {g.key for g in c.groups if g.suppressed} == {"b", "c", "d"}


def test_a_small_total_hides_everything() -> None:
    c = cut(records(a=2, b=2), "service")
    assert c.total.suppressed and all(g.suppressed for g in c.groups)


def test_respondents_who_skipped_a_profile_field_form_their_own_group() -> None:
    rs = [Record(date(2026, 1, 5), (4,) * 9, {"usia": "30-39"})] * 6
    rs += [Record(date(2026, 1, 5), (3,) * 9, {})] * 6
    c = cut(rs, "usia")
    assert [(g.key, g.respondents) for g in c.groups] == [("30-39", 6), (None, 6)]


def test_cut_by_period_and_bad_cuts() -> None:
    rs = [Record(date(2026, m, 1), (4,) * 9, {}) for m in (1, 2, 4, 5, 6, 7) for _ in range(5)]
    c = cut(rs, "quarter")
    assert [(g.key, g.respondents) for g in c.groups] == [
        ("2026-Q1", 10),
        ("2026-Q2", 15),
        ("2026-Q3", 5),
    ]
    for by, size in (("ticket", 5), ("service", 2)):
        with pytest.raises(SurveyError) as caught:
            cut(rs, by, min_group=size)
        assert caught.value.code in ("invalid_cut", "invalid_group_size")


@given(st.lists(st.integers(0, 12), min_size=1, max_size=8), st.integers(3, 6))
def test_no_hidden_group_can_be_derived_by_subtraction(sizes: list[int], k: int) -> None:
    """From the shown groups and the total, no combination of hidden groups smaller than k
    (or a single hidden group) can be recovered: the hidden remainder is ≥ 2 groups and ≥ k."""
    groups: dict[str | None, int] = {f"g{i}": n for i, n in enumerate(sizes) if n > 0}
    if not groups:
        return
    hidden = suppressed_keys(dict(groups), k)
    assert hidden <= set(groups)
    for key, n in groups.items():
        if n < k:
            assert key in hidden  # primary suppression
    if hidden and len(hidden) < len(groups):
        assert len(hidden) >= 2
        assert sum(groups[g] for g in hidden) >= k
