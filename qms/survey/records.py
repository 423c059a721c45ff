"""The survey's records read from a site's log: a pure fold of its entries.

`SurveyBook.apply(version, entry)` takes every entry of the log in order and
keeps what the survey figures need: each `survey_answered` as an anonymous
`Record` (its scores, the cut values, the day: no ticket, no time of day; listed
for the export, by day for the figures: `DayTallies`), and
the visitors served per business day (`ticket_completed`, for the sample size
of the next period), and each period's latest follow-up plan
(`survey_plan_written`). Everything else is skipped without being decoded.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from qms.core.calendar import business_day
from qms.survey.aggregate import DayTallies, Record, source_of_channel
from qms.survey.instrument import PROFILE_KEYS
from qms.survey.plan import Plan, plan_of

_WANTED = frozenset(
    {"survey_answered", "survey_plan_written", "ticket_completed", "site_configured"}
)


def answered_on(entry: Mapping[str, Any]) -> str:
    """Where a `survey_answered` was given: `phone` (the visitor's page `/t/<ref>`),
    `tablet` (the counter's tablet, in front of the officer) or `walk_up` (a service's QR
    code, no ticket): the cut `answered_on`."""
    if entry.get("walk_up"):
        return "walk_up"
    return "tablet" if entry.get("tablet") else "phone"


def record_of(entry: Mapping[str, Any]) -> Record:
    """A `survey_answered` event as the figures see it."""
    response = entry.get("response") or {}
    profile = response.get("profile") or {}
    values: dict[str, str | None] = {
        "service": entry.get("service"),
        "agency": entry.get("agency") or None,
        "counter": entry.get("counter"),
        "officer": entry.get("officer"),
        # a walk-up answer (no ticket) is its own channel in every cut
        "channel": "walk_up" if entry.get("walk_up") else entry.get("channel", "kiosk"),
        "answered_on": answered_on(entry),
    }
    for key in PROFILE_KEYS:
        values[key] = profile.get(key)
    scores = tuple(int(s) for s in response.get("scores", ()))
    text = str(response.get("suggestion") or "")
    ticket = str(entry.get("ticket") or "")
    return Record(date.fromisoformat(str(entry["day"])), scores, values, text, ticket)


def source_of(record: Record) -> str:
    """`walk_up` for an answer on a service's walk-up QR code, `visit` for a served ticket's
    (the cut `source` of `DayTallies`)."""
    return source_of_channel(record.values.get("channel"))


@dataclass
class SurveyBook:
    """One site's survey records, brought up to date entry by entry."""

    version: int = 0
    records: list[Record] = field(default_factory=list)
    # the same records by day, with their tallies (derived: left out of == and repr)
    tallies: DayTallies = field(default_factory=DayTallies, compare=False, repr=False)
    served: Counter[str] = field(default_factory=Counter)  # business day -> tickets completed
    timezone: str = "Asia/Jakarta"
    plans: dict[str, Plan] = field(default_factory=dict)  # period -> its latest follow-up plan

    def apply(self, version: int, entry: Mapping[str, Any]) -> None:
        self.version = version
        kind = entry.get("type")
        if kind not in _WANTED:
            return
        if kind == "ticket_completed":
            self.served[business_day(float(entry["at"]), self.timezone)] += 1
        elif kind == "survey_plan_written":
            plan = plan_of(entry)
            self.plans.pop(plan.period, None)  # re-inserted: the latest written is last
            self.plans[plan.period] = plan
        elif kind == "site_configured":
            self.timezone = str((entry.get("site") or {}).get("timezone", self.timezone))
        else:
            record = record_of(entry)
            self.records.append(record)
            self.tallies.add(record)

    def between(self, first: date, last: date) -> list[Record]:
        return [r for r in self.records if first <= r.day <= last]

    def plan_history(self) -> list[Plan]:
        """Every period's latest plan: the latest year first; within a year S2, S1, Q4…Q1,
        12…01, then the year's own plan (the labels' reverse order)."""
        return sorted(self.plans.values(), key=lambda p: (p.period[:4], p.period), reverse=True)

    def served_between(self, first: date, last: date) -> int:
        low, high = first.isoformat(), last.isoformat()
        return sum(n for day, n in self.served.items() if low <= day <= high)
