"""The index per group (service, agency, counter, officer, channel, where it was answered,
profile, period).

Anonymity rule: a group with fewer than `min_group` respondents (default 5) is
never shown on its own. Hiding it is not enough when the total is shown: the
total minus the shown groups gives it back. So suppression is complementary:
while the hidden groups are fewer than two, or hold fewer than `min_group`
respondents together, the smallest shown group is hidden too. Whatever a reader
subtracts from the total then covers at least two groups and at least
`min_group` people. A total below `min_group` is itself hidden, and so is
every group under it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from qms.survey.errors import SurveyError
from qms.survey.index import Index, Tally, compute
from qms.survey.instrument import MIN_GROUP, MIN_GROUP_RANGE, PROFILE_KEYS

DEFAULT_MIN_GROUP = MIN_GROUP  # a site sets its own (the instrument's `min_group`)
MIN_GROUP_FLOOR = MIN_GROUP_RANGE[0]  # a site may raise the minimum, never set it below this
# `channel`: how the ticket was taken (kiosk, online, staff; walk_up without one);
# `answered_on`: where the answer was given (phone, tablet, walk_up)
CUTS = ("service", "agency", "counter", "officer", "channel", "answered_on", *PROFILE_KEYS)
PERIODS = ("month", "quarter", "semester", "year")


@dataclass(frozen=True, slots=True)
class Record:
    """One response as the figures see it: its scores and what it can be cut by.

    `values` holds the cut values (service, agency, counter, officer, channel
    and the profile answers); no time finer than the day. `ticket` is kept for the
    join with the visit's figures and is never shown.
    """

    day: date
    scores: tuple[int, ...]
    values: dict[str, str | None] = field(default_factory=dict)
    suggestion: str = ""  # for the export of responses only; never in a cut
    # The rated ticket, only to join the response to its visit's wait inside the server
    # (qms.reports.satisfaction); never in a cut, a view or an export.
    ticket: str = field(default="", repr=False)


def period_key(day: date, kind: str) -> str:
    """The period a day belongs to: 2026-03, 2026-Q1, 2026-S1, 2026."""
    if kind == "month":
        return f"{day.year}-{day.month:02d}"
    if kind == "quarter":
        return f"{day.year}-Q{(day.month - 1) // 3 + 1}"
    if kind == "semester":
        return f"{day.year}-S{(day.month - 1) // 6 + 1}"
    if kind == "year":
        return str(day.year)
    raise SurveyError("invalid_cut", f"no period {kind!r}", allowed=list(PERIODS))


@dataclass(frozen=True, slots=True)
class Group:
    key: str | None  # None: the respondents who left this value out (or a walk-up with no officer)
    respondents: int | None  # None when suppressed
    index: Index | None  # None when suppressed (or nobody answered)
    suppressed: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "suppressed": self.suppressed,
            "respondents": self.respondents,
            "index": self.index.to_dict() if self.index else None,
        }


@dataclass(frozen=True, slots=True)
class Cut:
    by: str
    min_group: int
    total: Group
    groups: tuple[Group, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "by": self.by,
            "min_group": self.min_group,
            "total": self.total.to_dict(),
            "groups": [g.to_dict() for g in self.groups],
        }


def suppressed_keys(sizes: dict[str | None, int], min_group: int) -> set[str | None]:
    """The groups to hide: primary (too small) then complementary (see the module)."""
    hidden = {k for k, n in sizes.items() if n < min_group}
    if not hidden:
        return hidden
    shown = sorted((k for k in sizes if k not in hidden), key=lambda k: (sizes[k], str(k)))
    while shown and (len(hidden) < 2 or sum(sizes[k] for k in hidden) < min_group):
        hidden.add(shown.pop(0))
    return hidden


def _group(key: str | None, tally: Tally, hidden: bool) -> Group:
    if hidden:
        return Group(key, None, None, True)
    return Group(key, tally.respondents, compute(tally), False)


def _key(by: str, key: Callable[[Record], str | None] | None) -> Callable[[Record], str | None]:
    if key is not None:
        return key
    if by in PERIODS:
        return lambda r: period_key(r.day, by)
    if by in CUTS:
        return lambda r: r.values.get(by)
    raise SurveyError("invalid_cut", f"no cut {by!r}", allowed=[*CUTS, *PERIODS])


def _check_min_group(min_group: int) -> None:
    if min_group < MIN_GROUP_FLOOR:
        raise SurveyError(
            "invalid_group_size", f"the minimum group is at least {MIN_GROUP_FLOOR}", got=min_group
        )


def _grouped(
    records: Iterable[Record], key: Callable[[Record], str | None]
) -> dict[str | None, Tally]:
    rows: dict[str | None, list[tuple[int, ...]]] = {}
    for r in records:
        rows.setdefault(key(r), []).append(r.scores)
    return {k: Tally.of(v) for k, v in rows.items()}


def cut_of(by: str, tallies: dict[str | None, Tally], min_group: int) -> Cut:
    """The cut of the groups' tallies (every respondent in exactly one group): the index of
    the total and of each group, small groups hidden (see the module)."""
    _check_min_group(min_group)
    total = sum(tallies.values(), Tally())
    if total.respondents < min_group:
        hidden = set(tallies)
    else:
        hidden = suppressed_keys({k: t.respondents for k, t in tallies.items()}, min_group)
    groups = tuple(
        _group(k, tallies[k], k in hidden)
        for k in sorted(tallies, key=lambda k: (k is None, str(k)))
    )
    return Cut(by, min_group, _group(None, total, total.respondents < min_group), groups)


def cut(
    records: Iterable[Record],
    by: str,
    min_group: int = DEFAULT_MIN_GROUP,
    key: Callable[[Record], str | None] | None = None,
) -> Cut:
    """The index of all `records` and of each value of `by`, with small groups hidden.

    `by` is one of `CUTS` or `PERIODS` (or any name, with `key` to say how to group).
    """
    _check_min_group(min_group)
    return cut_of(by, _grouped(records, _key(by, key)), min_group)


def source_of_channel(channel: str | None) -> str:
    """`walk_up` for an answer on a service's walk-up QR code, `visit` for a served ticket's."""
    return "walk_up" if channel == "walk_up" else "visit"


# Cuts that are a function of another cut's value: their groups are merged from it.
DERIVED: dict[str, tuple[str, Callable[[str | None], str | None]]] = {
    "source": ("channel", source_of_channel),
}


class DayTallies:
    """The records by business day, with each day's tallies per cut kept once computed.

    What every view of the figures reads: a period's tally (or a cut's groups) is the sum
    of its days' (tallies add up), a few thousand small additions for a year instead of
    a pass over every response. A day's tallies are computed on first use and dropped
    when a record of that day arrives (answers come up to 24 hours after the visit, so
    yesterday may still change). A day's records are kept apart by channel as they
    arrive, so the tallies every view needs (the total, the visit / walk-up sources) are
    column sums, with no call per record.
    """

    def __init__(self) -> None:
        self._records: dict[date, dict[str | None, list[Record]]] = {}
        self._tallies: dict[date, dict[str, dict[str | None, Tally]]] = {}

    def add(self, record: Record) -> None:
        parts = self._records.setdefault(record.day, {})
        parts.setdefault(record.values.get("channel"), []).append(record)
        self._tallies.pop(record.day, None)

    def _day(
        self, day: date, by: str, key: Callable[[Record], str | None] | None
    ) -> dict[str | None, Tally]:
        kept = self._tallies.setdefault(day, {})
        tallies = kept.get(by)
        if tallies is not None:
            return tallies
        parts = self._records[day]
        if by == "channel":
            tallies = {c: Tally.of([r.scores for r in rs]) for c, rs in parts.items()}
        elif by == "":  # the day's total
            tallies = {None: sum(self._day(day, "channel", None).values(), Tally())}
        elif by in DERIVED:
            base, derive = DERIVED[by]
            tallies = {}
            for value, tally in self._day(day, base, None).items():
                k = derive(value)
                tallies[k] = tally + tallies[k] if k in tallies else tally
        else:
            records = [r for rs in parts.values() for r in rs]
            tallies = _grouped(records, _key(by, key))
        kept[by] = tallies
        return tallies

    def groups(
        self,
        first: date,
        last: date,
        by: str | None,
        key: Callable[[Record], str | None] | None = None,
    ) -> dict[str | None, Tally]:
        """The tally of each value of `by` (None: of the whole period) over `first`-`last`.

        `key` says how to group when `by` is not one of `CUTS`, `PERIODS` or `DERIVED`; the
        same `by` must always come with the same `key` (the days keep their tallies by `by`)."""
        period = by in PERIODS
        name = "" if by is None or period else by
        if name and name not in DERIVED:
            _key(name, key)  # an unknown cut is refused even over a period without answers
        out: dict[str | None, Tally] = {}
        for day in self._records:
            if not first <= day <= last:
                continue
            for k, tally in self._day(day, name, key).items():
                if period:  # every record of a day is in the day's period
                    k = period_key(day, str(by))
                seen = out.get(k)
                out[k] = tally if seen is None else seen + tally
        return out

    def total(self, first: date, last: date) -> Tally:
        return self.groups(first, last, None).get(None, Tally())

    def cut(
        self,
        first: date,
        last: date,
        by: str,
        min_group: int = DEFAULT_MIN_GROUP,
        key: Callable[[Record], str | None] | None = None,
    ) -> Cut:
        """`cut(records between first and last, by, min_group, key)`, from the days' tallies."""
        _check_min_group(min_group)
        return cut_of(by, self.groups(first, last, by, key), min_group)
