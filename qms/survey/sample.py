"""How many respondents a period needs: Krejcie & Morgan (1970), as PermenPAN-RB 14/2017 asks.

    s = X² N P (1 - P) / (d² (N - 1) + X² P (1 - P))

with X² = 3.841 (chi-square, 1 degree of freedom, 95 % confidence), P = 0.5 and
d = 0.05, on N = the visitors served in the previous period. The result is
rounded half-up to a whole respondent, which reproduces the published table
(N = 15 → 14, 100 → 80, 1,000 → 278, 10,000 → 370, 1,000,000 → 384) and its
limit for an unbounded population, 384.1 → 384. Exact fractions throughout.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

CHI_SQUARE = Fraction(3841, 1000)
P = Fraction(1, 2)
D = Fraction(5, 100)


def _round_half_up(value: Fraction) -> int:
    return (value.numerator * 2 + value.denominator) // (2 * value.denominator)


def minimum_sample(population: int | None) -> int:
    """The respondents needed for `population` visitors served (None: unbounded)."""
    spread = CHI_SQUARE * P * (1 - P)
    if population is None:
        return _round_half_up(spread / D**2)
    if isinstance(population, bool) or not isinstance(population, int) or population < 0:
        raise ValueError(f"expected a number of visitors, got {population!r}")
    if population == 0:
        return 0
    return _round_half_up(spread * population / (D**2 * (population - 1) + spread))


@dataclass(frozen=True, slots=True)
class Progress:
    respondents: int
    target: int

    @property
    def reached(self) -> bool:
        return self.respondents >= self.target

    @property
    def percent(self) -> int:
        """Whole percent of the target, capped at 100 (a full bar is a full bar)."""
        if self.target == 0:
            return 100
        return min(100, self.respondents * 100 // self.target)

    def to_dict(self) -> dict[str, int | bool]:
        return {
            "respondents": self.respondents,
            "target": self.target,
            "percent": self.percent,
            "reached": self.reached,
        }


def progress(respondents: int, served_previous_period: int | None) -> Progress:
    return Progress(respondents, minimum_sample(served_previous_period))
