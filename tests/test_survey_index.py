"""The IKM arithmetic against hand-computed examples, the grade boundaries, and the
known mistakes of e-SKM apps (each one reproduced here, and shown to be avoided)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qms.survey.index import GRADES, WEIGHT, Tally, compute, grade, grade_of, round_half_up


def tally_for(converted: Fraction) -> Tally:
    """A real tally (whole sums of 1-4 scores) whose converted IKM is exactly `converted`."""
    q = converted / 25  # the IKM = S / (9 n)
    n = q.denominator
    total = q.numerator * 9  # S = 9 n q
    assert 9 * n <= total <= 36 * n
    base, rest = divmod(total, 9)
    sums = tuple(base + (1 if i < rest else 0) for i in range(9))
    assert all(n <= s <= 4 * n for s in sums)
    return Tally(n, sums)


def published(tally: Tally) -> Decimal:
    index = compute(tally)
    assert index is not None
    return index.published


# --- hand-computed examples -------------------------------------------------


def test_one_respondent_all_fours_is_100_grade_a() -> None:
    index = compute(Tally.of([[4] * 9]))
    assert index is not None
    assert index.ikm == 4 and index.converted == 100
    assert index.published == Decimal("100.00") and index.grade.letter == "A"


def test_hand_computed_three_respondents() -> None:
    rows = [
        [4, 3, 3, 4, 3, 3, 4, 2, 3],
        [3, 3, 2, 4, 3, 4, 4, 3, 3],
        [4, 2, 3, 4, 3, 3, 4, 2, 2],
    ]
    index = compute(Tally.of(rows))
    assert index is not None
    # sums 11 8 8 12 9 10 12 7 8 = 85; NRR = sum/3; IKM = 85/27; x25 = 2125/27 = 78.7037…
    assert index.nrr[0] == Fraction(11, 3) and index.nrr[7] == Fraction(7, 3)
    assert index.ikm == Fraction(85, 27)
    assert index.converted == Fraction(2125, 27)
    assert index.published == Decimal("78.70") and index.grade.letter == "B"
    assert index.lowest == ("U8",)
    shown = index.to_dict()
    assert shown["ikm"] == "3.148" and shown["converted"] == "78.70"
    assert shown["elements"][7] == {
        "key": "U8",
        "nrr": "2.333",
        "weighted": "0.259",
        "converted": "58.33",
        "grade": "D",
        "lowest": True,
    }


def test_lowest_element_ties_are_all_highlighted() -> None:
    index = compute(Tally.of([[2, 4, 4, 2, 4, 4, 4, 4, 4]]))
    assert index is not None and index.lowest == ("U1", "U4")


def test_nobody_answered_is_no_index() -> None:
    assert compute(Tally()) is None


def test_a_tally_not_of_1_to_4_scores_is_refused() -> None:
    with pytest.raises(ValueError, match="outside 1-4"):
        compute(Tally(1, (5, 4, 4, 4, 4, 4, 4, 4, 4)))


# --- the grade rule and its boundaries ---------------------------------------


@pytest.mark.parametrize(
    ("figure", "letter"),
    [
        ("25.00", "D"),
        ("64.99", "D"),
        ("65.00", "C"),
        ("70.00", "C"),
        ("76.60", "C"),
        ("76.61", "B"),
        ("80.00", "B"),
        ("88.30", "B"),
        ("88.31", "A"),
        ("100.00", "A"),
    ],
)
def test_boundaries_of_published_figures(figure: str, letter: str) -> None:
    assert grade_of(Decimal(figure)).letter == letter
    # the same figure reached by a real set of responses, computed exactly
    tally = tally_for(Fraction(figure))
    assert published(tally) == Decimal(figure)
    index = compute(tally)
    assert index is not None and index.grade.letter == letter


@pytest.mark.parametrize(
    ("exact", "shown", "letter"),
    [
        ("64.994", "64.99", "D"),
        ("64.995", "65.00", "C"),  # half-up: shown as 65.00, graded on what is shown
        ("76.604", "76.60", "C"),
        ("76.605", "76.61", "B"),  # matched no closed band in apps grading unrounded values
        ("88.304", "88.30", "B"),
        ("88.305", "88.31", "A"),  # likewise
        ("88.3099", "88.31", "A"),
    ],
)
def test_values_between_boundaries_graded_on_the_published_figure(
    exact: str, shown: str, letter: str
) -> None:
    tally = tally_for(Fraction(exact))
    index = compute(tally)
    assert index is not None
    assert index.converted == Fraction(exact)
    assert index.published == Decimal(shown)
    assert index.grade.letter == letter


def test_bands_cover_25_to_100_without_gap_or_overlap() -> None:
    """Every two-decimal figure from 25.00 to 100.00 lies in exactly one band."""
    cent = Decimal("0.01")
    for hundredths in range(2500, 10001):
        figure = Decimal(hundredths) * cent
        matches = [g for g in GRADES if g.low <= figure <= g.high]
        assert len(matches) == 1, figure
    for upper, lower in pairwise(GRADES):
        assert upper.low - lower.high == cent  # adjacent, no gap, no overlap


def test_figures_outside_the_scale_are_refused() -> None:
    with pytest.raises(ValueError):
        grade_of(Decimal("24.99"))
    with pytest.raises(ValueError):
        grade_of(Decimal("100.01"))


def test_round_half_up_is_exact() -> None:
    assert round_half_up(Fraction(88305, 1000)) == Decimal("88.31")
    assert round_half_up(Fraction(88304999, 1000000)) == Decimal("88.30")
    assert round_half_up(Fraction(1, 3), 3) == Decimal("0.333")
    assert round_half_up(Fraction(2, 3), 3) == Decimal("0.667")
    with pytest.raises(ValueError):
        round_half_up(Fraction(-1, 2))


@given(st.fractions(min_value=0, max_value=1000, max_denominator=10**6))
def test_round_half_up_agrees_with_decimal(value: Fraction) -> None:
    exact = Decimal(value.numerator) / Decimal(value.denominator)  # 28 digits: enough here
    assert round_half_up(value) == exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


# --- the known e-SKM mistakes, reproduced, and avoided --------------------------


def esk_weight_011(tally: Tally) -> Decimal:
    """Mistake: each NRR weighted 0.11 instead of 1/9 (0.11 x 9 = 0.99)."""
    nrr = [Decimal(s) / tally.respondents for s in tally.sums]
    return sum((n * Decimal("0.11") for n in nrr), Decimal(0)) * 25


def esk_round_before_conversion(tally: Tally) -> Decimal:
    """Mistake: the IKM (1-4) rounded to two decimals, then x 25."""
    ikm = Fraction(sum(tally.sums), 9 * tally.respondents)
    return round_half_up(ikm) * 25


def esk_closed_bands_on_unrounded(value: Fraction) -> str | None:
    """Mistake: closed two-decimal bands tested against the unrounded figure."""
    for g in GRADES:
        if g.low <= Decimal(value.numerator) / value.denominator <= g.high:
            return g.letter
    return None


def test_weight_is_exactly_one_ninth_not_011() -> None:
    best = Tally.of([[4] * 9])
    assert esk_weight_011(best) == Decimal("99.00")  # the mistake: the best score is 99
    assert Fraction(1, 9) == WEIGHT and WEIGHT * 9 == 1
    assert published(best) == Decimal("100.00")


def test_weight_011_can_flip_a_grade() -> None:
    tally = tally_for(Fraction("88.50"))
    assert esk_weight_011(tally) < Decimal("88.31")  # 87.615: the mistake grades it B
    assert grade(Fraction("88.50")).letter == "A"
    assert compute(tally).grade.letter == "A"  # type: ignore[union-attr]


def test_rounding_the_mean_before_conversion_flips_a_grade() -> None:
    # exact 88.35 (IKM 3.534): A; the mistake rounds 3.534 to 3.53 and shows 88.25: B
    tally = tally_for(Fraction("88.35"))
    assert esk_round_before_conversion(tally) == Decimal("88.25")
    assert grade_of(esk_round_before_conversion(tally)).letter == "B"
    assert published(tally) == Decimal("88.35")
    assert compute(tally).grade.letter == "A"  # type: ignore[union-attr]
    # and at the C/B boundary: exact 76.61 (IKM 3.0644) is B; the mistake shows 76.50: C
    tally = tally_for(Fraction("76.61"))
    assert esk_round_before_conversion(tally) == Decimal("76.50")
    assert compute(tally).grade.letter == "B"  # type: ignore[union-attr]


def test_rounding_the_mean_shifts_up_to_an_eighth_of_a_point() -> None:
    worst = Fraction("3.535") - Fraction(1, 10**9)  # rounds down by almost 0.005
    shift = worst * 25 - Fraction(esk_round_before_conversion(tally_for(worst * 25)))
    assert Fraction(12, 100) < shift < Fraction(125, 1000)


@pytest.mark.parametrize(("value", "letter"), [("76.605", "B"), ("88.305", "A")])
def test_unrounded_values_between_closed_bands(value: str, letter: str) -> None:
    assert esk_closed_bands_on_unrounded(Fraction(value)) is None  # the mistake: no grade
    assert grade(Fraction(value)).letter == letter


# --- properties ------------------------------------------------------------------

rows = st.lists(st.lists(st.integers(1, 4), min_size=9, max_size=9), min_size=1, max_size=60)


@given(rows)
def test_index_equals_a_brute_force_recomputation(answers: list[list[int]]) -> None:
    index = compute(Tally.of(answers))
    assert index is not None
    n = len(answers)
    nrr = [Fraction(sum(r[i] for r in answers), n) for i in range(9)]
    assert list(index.nrr) == nrr
    assert index.converted == sum(nrr) / 9 * 25
    assert 25 <= index.converted <= 100


@given(rows, rows)
def test_splitting_and_merging_gives_the_same_figures(
    a: list[list[int]], b: list[list[int]]
) -> None:
    assert Tally.of(a) + Tally.of(b) == Tally.of(a + b)
    assert compute(Tally.of(a) + Tally.of(b)) == compute(Tally.of(a + b))
    assert (Tally.of(a) + Tally.of(b)) - Tally.of(b) == Tally.of(a)


def test_a_response_of_other_than_nine_scores_is_refused() -> None:
    with pytest.raises(ValueError, match="9 scores"):
        Tally.of([[4] * 9, [4] * 8])
    assert Tally.of([]) == Tally()
