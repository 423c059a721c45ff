"""The survey's responses as a report view: the satisfaction figures of a scope
(`qms.reports.satisfaction`) from the sites' survey records, and the same figures as
a sheet of the reports' workbook (docs/reports.md "Satisfaction").

Used by the survey section's route (`qms.reports.routes_survey`: JSON, CSV, XLSX) and
by the reports' export (`qms.reports.routes`: the workbook's survey sheet), so that
the section, its files and the workbook give the same numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from starlette.requests import Request

from qms.engine import SiteEngine
from qms.reports import satisfaction
from qms.reports.errors import ReportError
from qms.reports.export import Table
from qms.reports.hub import ReportsHub
from qms.reports.scope import Filters, Scope
from qms.survey.aggregate import Record
from qms.survey.routes import min_group_of, survey_book

SHEET = "Kepuasan (SKM)"  # the workbook's survey sheet
CUTS = satisfaction.CUTS
View = Callable[[Scope, float], dict[str, Any]]


def check_cut(by: str | None) -> str:
    """The survey cut asked for (default `wait`), or `invalid_dimension`."""
    by = by or "wait"
    if by not in CUTS:
        raise ReportError("invalid_dimension", f"no survey cut {by!r}", allowed=list(CUTS))
    return by


async def survey_view(request: Request, engines: Mapping[str, SiteEngine], by: str) -> View:
    """The view of the sites' responses in a scope, cut `by`: each site's survey records
    caught up with its log now, then joined (in the report's thread) to the served
    visits they rated."""
    hub: ReportsHub = request.app.state.reports
    reports = hub.reports
    books = {site: await survey_book(request, engine) for site, engine in sorted(engines.items())}
    min_group = min_group_of(engines.values())  # each site's own, the largest over several

    def view(scope: Scope, now: float) -> dict[str, Any]:
        responses: list[tuple[str, Record]] = []
        for site, book in books.items():
            period = scope.periods[site]
            responses += [(site, r) for r in book.between(period.first, period.last)]
        every = Scope(scope.periods, Filters())  # the filters apply to the responses
        rated = [r.ticket for _, r in responses if r.ticket]
        linked = satisfaction.link(responses, reports.served_visits(every, rated, now))
        chosen = satisfaction.keep(linked, scope.filters.to_dict())
        return {"scope": scope.to_dict(), **satisfaction.satisfaction(chosen, by, min_group)}

    return view


def _number(value: Any) -> Any:
    """A published figure ("77.08", "3.083") as the number it writes; anything else as is."""
    if not isinstance(value, str):
        return value
    try:
        return float(Decimal(value))
    except InvalidOperation:
        return value


NUMERIC = frozenset({"ikm", "converted", *(f"U{i}.nrr" for i in range(1, 10))})


def sheet(result: Mapping[str, Any]) -> Table:
    """The survey view as the workbook's sheet: the CSV's table (`satisfaction.table`),
    with the index's figures as numbers (the CSV's text, read as a number); a hidden
    group's row says so and holds no figure."""
    columns, rows = satisfaction.table(result)
    numeric = [c in NUMERIC for c in columns]
    return columns, [[_number(v) if n else v for v, n in zip(row, numeric, strict=True)]
                     for row in rows]  # fmt: skip
