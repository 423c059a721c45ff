"""The satisfaction survey beside the performance figures: the index (IKM) of the
respondents of a period and sites, cut by the wait of the visit they rated (within
or above its service's target) or any survey cut, with the wait and service times
of the same visits (docs/reports.md "Satisfaction", docs/survey.md).

Pure: the responses (`Record`s, each with its site and ticket) and the served
visits' figures (from the reports' rows, `Reports.served_visits`) come in; plain
dicts go out. The anonymity rule of docs/survey.md holds for every cut, the
wait cut included: a group under `min_group` respondents is hidden (figures,
count and its visits' times), with complementary suppression, by
`qms.survey.aggregate.cut`. No answer names a ticket or a response.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from qms.reports.errors import ReportError
from qms.reports.today import quantile_cont
from qms.survey.aggregate import CUTS as SURVEY_CUTS
from qms.survey.aggregate import Record, cut

# `wait`: within / above the target, as the visit's `within_target` says; answers with
# no served visit behind them (walk-up QR answers) or no target are the `null` group.
CUTS = ("wait", "site", *SURVEY_CUTS)
RECORD_FILTERS = ("agency", "service", "counter", "officer", "channel")


@dataclass(frozen=True, slots=True)
class Visit:
    """The figures of the served visit a response rated (a row of visits.parquet)."""

    wait_s: float | None
    service_s: float | None
    within_target: bool | None
    priority: str


@dataclass(frozen=True, slots=True)
class Linked:
    """One response, the site it was given at, and its visit (None: a walk-up answer, or
    a visit the reports do not hold)."""

    site: str
    record: Record
    visit: Visit | None


def link(
    responses: Iterable[tuple[str, Record]], visits: Mapping[tuple[str, str], Visit]
) -> list[Linked]:
    """Join each (site, response) to its site's served visit of the same ticket."""
    return [Linked(site, r, visits.get((site, r.ticket)) if r.ticket else None)
            for site, r in responses]  # fmt: skip


def keep(linked: Iterable[Linked], filters: Mapping[str, Sequence[str]]) -> list[Linked]:
    """The responses the report's filters select: agency, service, counter, officer and
    channel as the response records them; priority from its visit (a walk-up answer
    has none, so a priority filter leaves it out)."""
    out = []
    for item in linked:
        values = item.record.values
        if any(values.get(k) not in filters[k] for k in RECORD_FILTERS if filters.get(k)):
            continue
        priority = filters.get("priority")
        if priority and (item.visit is None or item.visit.priority not in priority):
            continue
        out.append(item)
    return out


def wait_key(item: Linked) -> str | None:
    if item.visit is None or item.visit.within_target is None:
        return None
    return "within" if item.visit.within_target else "above"


def _key(by: str) -> Callable[[Linked], str | None]:
    if by == "wait":
        return wait_key
    if by == "site":
        return lambda item: item.site
    return lambda item: item.record.values.get(by)


def stat(values: Iterable[float | None]) -> dict[str, Any]:
    xs = sorted(x for x in values if x is not None)
    return {
        "n": len(xs),
        "mean": sum(xs) / len(xs) if xs else None,
        # the reports' own percentile (DuckDB's, to the last bit), not a second formula
        "p50": quantile_cont(xs, 0.5) if xs else None,
        "p90": quantile_cont(xs, 0.9) if xs else None,
    }


def _times(items: Sequence[Linked]) -> dict[str, Any]:
    visits = [i.visit for i in items if i.visit is not None]
    return {
        "linked": len(visits),
        "wait": stat(v.wait_s for v in visits),
        "service": stat(v.service_s for v in visits),
        "within_target": sum(1 for v in visits if v.within_target),
    }


def satisfaction(linked: Sequence[Linked], by: str, min_group: int) -> dict[str, Any]:
    """The index of all `linked` responses and per value of `by`, each shown group with
    the wait and service times of its respondents' visits; small groups hidden."""
    if by not in CUTS:
        raise ReportError("invalid_dimension", f"no survey cut {by!r}", allowed=list(CUTS))
    key = _key(by)
    grouped = [Record(i.record.day, i.record.scores, {"group": key(i)}) for i in linked]
    shown = cut(grouped, by, min_group, key=lambda r: r.values["group"])
    members: dict[str | None, list[Linked]] = {}
    for item in linked:
        members.setdefault(key(item), []).append(item)
    out = shown.to_dict()
    for group in out["groups"]:
        group["visits"] = None if group["suppressed"] else _times(members[group["key"]])
    total = out["total"]
    total["visits"] = None if total["suppressed"] else _times(list(linked))
    return out


def table(result: Mapping[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """The view as one table (the CSV): the total, then each group; the index's figures
    as the API gives them (rounded once, as published), the times in seconds."""
    elements = [f"{u}.nrr" for u in ("U1", "U2", "U3", "U4", "U5", "U6", "U7", "U8", "U9")]
    times = [f"{m}.{s}" for m in ("wait", "service") for s in ("n", "mean", "p50", "p90")]
    columns = ["row", "key", "suppressed", "respondents", "ikm", "converted", "grade",
               *elements, "lowest", "visits.linked", "visits.within_target", *times]  # fmt: skip
    rows = []
    for kind, group in (("total", result["total"]), *(("group", g) for g in result["groups"])):
        index = group["index"] or {}
        visits = group["visits"] or {}
        nrr = {e["key"]: e["nrr"] for e in index.get("elements", [])}
        row = [kind, group["key"], group["suppressed"], group["respondents"], index.get("ikm"),
               index.get("converted"), (index.get("grade") or {}).get("letter")]  # fmt: skip
        row += [nrr.get(name.split(".")[0]) for name in elements]
        row += [" ".join(index.get("lowest", [])) or None]
        row += [visits.get("linked"), visits.get("within_target")]
        row += [(visits.get(m) or {}).get(s) for m, _, s in (t.partition(".") for t in times)]
        rows.append(row)
    return columns, rows
