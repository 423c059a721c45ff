"""What a report is over: the sites, each over a period of its own calendar, and the
filters on its visits (`Scope`); and the SQL condition the filters make (`conditions`).

Filters come from untrusted input (`Filters.parse`): each is checked here, and the
values reach the SQL as parameters, never as text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from qms.core.model import Channel, Priority
from qms.eventlog.codec import check_site
from qms.reports import sql
from qms.reports.errors import ReportError
from qms.reports.period import Period, between, named

MAX_FILTER_VALUES = 200
_ALLOWED = {"channel": {c.value for c in Channel}, "priority": {p.value for p in Priority}}


@dataclass(frozen=True)
class Filters:
    """Only visits whose column is one of the listed values (an empty list: all)."""

    agency: tuple[str, ...] = ()
    service: tuple[str, ...] = ()
    counter: tuple[str, ...] = ()
    officer: tuple[str, ...] = ()
    channel: tuple[str, ...] = ()
    priority: tuple[str, ...] = ()

    @classmethod
    def parse(cls, data: Mapping[str, Any] | None) -> Filters:
        """From untrusted input: each known key maps to a list of strings."""
        names = {f.name for f in fields(cls)}
        values: dict[str, tuple[str, ...]] = {}
        for key, raw in (data or {}).items():
            if key not in names:
                raise ReportError("invalid_filter", f"no filter {key!r}", allowed=sorted(names))
            items = [raw] if isinstance(raw, str) else raw
            if not isinstance(items, list | tuple) or len(items) > MAX_FILTER_VALUES:
                raise ReportError("invalid_filter", f"{key}: a list of at most 200", filter=key)
            for item in items:
                if not isinstance(item, str) or not 0 < len(item) <= 200:
                    raise ReportError("invalid_filter", f"{key}: values are ids", filter=key)
                if key in _ALLOWED and item not in _ALLOWED[key]:
                    raise ReportError(
                        "invalid_filter",
                        f"{key}: unknown value {item!r}",
                        filter=key,
                        allowed=sorted(_ALLOWED[key]),
                    )
            values[key] = tuple(sorted(set(items)))
        return cls(**values)

    def to_dict(self) -> dict[str, list[str]]:
        return {f.name: list(getattr(self, f.name)) for f in fields(self) if getattr(self, f.name)}


@dataclass(frozen=True)
class Scope:
    """Which sites, each over a period of its own calendar, and which visits of them."""

    periods: Mapping[str, Period]
    filters: Filters = field(default_factory=Filters)

    def __post_init__(self) -> None:
        if not self.periods:
            raise ReportError("invalid_site", "name at least one site")
        for site in self.periods:
            try:
                check_site(site)
            except ValueError:
                raise ReportError("invalid_site", f"not a site id: {site!r}") from None

    def previous(self) -> Scope:
        return Scope({s: p.previous() for s, p in self.periods.items()}, self.filters)

    def to_dict(self) -> dict[str, Any]:
        return {
            "sites": {s: p.to_dict() for s, p in sorted(self.periods.items())},
            "filters": self.filters.to_dict(),
        }


def scope(
    sites: Mapping[str, str],
    period: str | tuple[str, str],
    now: float,
    filters: Mapping[str, Any] | Filters | None = None,
) -> Scope:
    """A scope over `sites` (site -> its timezone): a named period resolved in each site's
    own calendar at `now`, or a (first, last) range of dates, the same for every site."""
    if isinstance(period, str):
        periods = {site: named(period, now, tz) for site, tz in sites.items()}
    else:
        first, last = period
        periods = dict.fromkeys(sites, between(first, last))
    wanted = filters if isinstance(filters, Filters) else Filters.parse(filters)
    return Scope(periods, wanted)


def conditions(filters: Filters, only: Sequence[str] | None = None) -> tuple[str, dict[str, Any]]:
    """The SQL condition of the filters (those named in `only`, when given) on a relation
    that has their columns, and its parameters."""
    conds, params = ["true"], {}
    for f in fields(filters):
        values = getattr(filters, f.name)
        if values and (only is None or f.name in only):
            conds.append(sql.in_list(f"f_{f.name}", f.name))
            params[f"f_{f.name}"] = list(values)
    return " AND ".join(conds), params
