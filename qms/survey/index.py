"""The satisfaction index (IKM), computed exactly as PermenPAN-RB 14/2017 defines it.

    NRR_i      = (sum of the scores given to element i) / (respondents)     1-4
    weighted_i = NRR_i x 1/9                     (exactly 1/9, never 0.11)
    IKM        = Σ weighted_i                                               1-4
    converted  = IKM x 25                                                 25-100

Every step is a `fractions.Fraction`: nothing is rounded until the figure is
shown. The grade rule, stated once:

    The converted IKM is rounded half-up to two decimals (the figure that is
    published), and the grade is the band that rounded figure falls in:
    A "sangat baik" 88.31-100.00, B "baik" 76.61-88.30,
    C "kurang baik" 65.00-76.60, D "tidak baik" 25.00-64.99.

On two-decimal figures the published bands meet without gap or overlap, so
every figure has exactly one grade (88.305 is shown as 88.31 and graded A;
76.605 is shown as 76.61 and graded B).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from operator import add, itemgetter
from typing import Any

from qms.survey.instrument import ELEMENT_KEYS

N_ELEMENTS = len(ELEMENT_KEYS)
WEIGHT = Fraction(1, N_ELEMENTS)  # equal weights summing to exactly 1
CONVERSION = 25


@dataclass(frozen=True, slots=True)
class Grade:
    letter: str
    id: str  # mutu pelayanan, in Bahasa Indonesia
    en: str
    low: Decimal  # the band's lowest two-decimal figure (inclusive)
    high: Decimal  # ... and its highest (inclusive)


# The published bands (converted IKM), highest first.
GRADES: tuple[Grade, ...] = (
    Grade("A", "Sangat baik", "Very good", Decimal("88.31"), Decimal("100.00")),
    Grade("B", "Baik", "Good", Decimal("76.61"), Decimal("88.30")),
    Grade("C", "Kurang baik", "Poor", Decimal("65.00"), Decimal("76.60")),
    Grade("D", "Tidak baik", "Very poor", Decimal("25.00"), Decimal("64.99")),
)


def round_half_up(value: Fraction, places: int = 2) -> Decimal:
    """`value` (not negative: every survey figure is) rounded half-up to `places` decimals."""
    if value < 0:
        raise ValueError(f"expected a figure of at least 0, got {value}")
    scaled = value * 10**places
    # floor(scaled + 1/2), in integers: exact for every fraction
    whole = (scaled.numerator * 2 + scaled.denominator) // (2 * scaled.denominator)
    return Decimal(whole).scaleb(-places).quantize(Decimal(1).scaleb(-places))


def grade_of(figure: Decimal) -> Grade:
    """The grade of a *published* (two-decimal) converted figure."""
    figure = figure.quantize(Decimal("0.01"))
    if not GRADES[-1].low <= figure <= GRADES[0].high:
        raise ValueError(f"a converted IKM is between 25 and 100, got {figure}")
    for grade in GRADES:
        if grade.low <= figure <= grade.high:
            return grade
    raise AssertionError("the bands cover 25.00-100.00 without a gap")  # pragma: no cover


def grade(converted: Fraction) -> Grade:
    """The grade of an exact converted IKM: the band of its published (rounded) figure."""
    return grade_of(round_half_up(converted))


@dataclass(frozen=True, slots=True)
class Tally:
    """What the index needs from a set of responses: how many, and each element's sum.

    Tallies add up: the tally of a period is the sum of the tallies of its days.
    """

    respondents: int = 0
    sums: tuple[int, ...] = (0,) * N_ELEMENTS

    def __add__(self, other: Tally) -> Tally:
        return Tally(self.respondents + other.respondents, tuple(map(add, self.sums, other.sums)))

    def __sub__(self, other: Tally) -> Tally:
        return Tally(
            self.respondents - other.respondents,
            tuple(a - b for a, b in zip(self.sums, other.sums, strict=True)),
        )

    @classmethod
    def of(cls, scores: Iterable[Sequence[int]]) -> Tally:
        rows = list(scores)
        if rows and set(map(len, rows)) != {N_ELEMENTS}:
            raise ValueError(f"expected {N_ELEMENTS} scores per response")
        if not rows:
            return cls()
        # column sums in C (sum over map(itemgetter)); zip(*rows) would build an iterator per
        # row, ten times slower on a year of responses
        return cls(len(rows), tuple(sum(map(itemgetter(i), rows)) for i in range(N_ELEMENTS)))


@dataclass(frozen=True, slots=True)
class Index:
    """The exact figures of one tally. `None` figures when nobody answered."""

    respondents: int
    nrr: tuple[Fraction, ...]
    weighted: tuple[Fraction, ...]
    ikm: Fraction
    converted: Fraction
    grade: Grade
    lowest: tuple[str, ...]  # the element(s) with the lowest NRR, highlighted in every view

    @property
    def published(self) -> Decimal:
        """The converted IKM as published: rounded half-up to two decimals."""
        return round_half_up(self.converted)

    def to_dict(self) -> dict[str, Any]:
        """Figures for display: each rounded once, from the exact value (strings, not floats)."""
        return {
            "respondents": self.respondents,
            "elements": [
                {
                    "key": key,
                    "nrr": str(round_half_up(nrr, 3)),
                    "weighted": str(round_half_up(w, 3)),
                    "converted": str(round_half_up(nrr * CONVERSION)),
                    "grade": grade(nrr * CONVERSION).letter,
                    "lowest": key in self.lowest,
                }
                for key, nrr, w in zip(ELEMENT_KEYS, self.nrr, self.weighted, strict=True)
            ],
            "ikm": str(round_half_up(self.ikm, 3)),
            "converted": str(self.published),
            "grade": {"letter": self.grade.letter, "id": self.grade.id, "en": self.grade.en},
            "lowest": list(self.lowest),
        }


def compute(tally: Tally) -> Index | None:
    """The IKM of `tally`, exactly; None for no respondents (there is no index of nobody)."""
    n = tally.respondents
    if n <= 0:
        return None
    nrr = tuple(Fraction(s, n) for s in tally.sums)
    for key, value in zip(ELEMENT_KEYS, nrr, strict=True):
        if not 1 <= value <= 4:
            raise ValueError(f"{key}: NRR {value} outside 1-4: the tally is not of 1-4 scores")
    weighted = tuple(v * WEIGHT for v in nrr)
    ikm = sum(weighted, Fraction(0))
    converted = ikm * CONVERSION
    low = min(nrr)
    lowest = tuple(k for k, v in zip(ELEMENT_KEYS, nrr, strict=True) if v == low)
    return Index(n, nrr, weighted, ikm, converted, grade(converted), lowest)
