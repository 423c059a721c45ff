"""The satisfaction survey in the reports: `GET /api/v1/sites/{site}/reports/survey` and
`GET /api/v1/reports/survey` (across sites), docs/reports.md "Satisfaction".

The same period, sites and filters as every other report view; the survey's
responses of the period (a ticket's answer is dated by its visit's business
day, even when given the next morning), each joined to the served visit it
rated (the reports' rows of the same period), cut by `by`:
`wait` (default: within or above the service's target), `site`, or any cut of
the survey. Groups under the survey's minimum are hidden (docs/survey.md,
"Cuts and anonymity"). `format=csv` gives the same table as a file.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from qms.reports import satisfaction
from qms.reports.errors import ReportError
from qms.reports.export import to_csv
from qms.reports.query import Filters, Scope
from qms.reports.routes import (
    PERIOD_PARAMETERS,
    Engines,
    ReportView,
    _json,
    _one,
    _query,
    hub_of,
    path_site,
    run_report,
    where,
)
from qms.server.principal import Principal
from qms.server.routes import ApiRoute
from qms.survey.aggregate import Record
from qms.survey.routes import min_group_of, survey_book

FORMATS = ("json", "csv")


async def _survey(request: Request, who: Principal, engines: Engines, per_site: bool) -> Response:
    by = _one(request, "by") or "wait"
    fmt = _one(request, "format") or "json"
    if by not in satisfaction.CUTS:
        raise ReportError(
            "invalid_dimension", f"no survey cut {by!r}", allowed=list(satisfaction.CUTS)
        )
    if fmt not in FORMATS:
        raise ReportError("invalid_dimension", f"format {fmt!r}", allowed=list(FORMATS))
    reports = hub_of(request).reports
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

    result = await run_report(request, view, who, engines)
    if fmt == "csv":
        first = min(engines)
        period = result["scope"]["sites"][first]
        name = f"survei-{'+'.join(sorted(engines))}-{period['first']}-{period['last']}-{by}.csv"
        return Response(
            to_csv(satisfaction.table(result)),
            media_type="text/csv; charset=utf-8",
            headers={
                "Cache-Control": "no-store",
                "Content-Disposition": f'attachment; filename="{name}"',
            },
        )
    return _json({**where(engines, per_site), **result})


GROUP: dict[str, Any] = {
    "type": "object",
    "required": ["key", "suppressed", "respondents", "index", "visits"],
    "properties": {
        "key": {"type": ["string", "null"]},
        "suppressed": {"type": "boolean"},
        "respondents": {"type": ["integer", "null"]},
        "index": {"type": ["object", "null"]},
        "visits": {"type": ["object", "null"]},
    },
}
VIEW = ReportView(
    "survey",
    "The satisfaction index (IKM, grade, each element's NRR, respondents) of the period's "
    "responses, cut by the wait of the visit they rated (within or above target) or any "
    "survey cut, with the wait and service times of the same visits; groups under the sites'"
    " minimum (`min_group`, 5 unless set) hidden",
    _survey,
    (
        _query(
            "by",
            "the cut (default `wait`: within or above the service's target)",
            {"type": "string", "enum": list(satisfaction.CUTS)},
        ),
        _query("format", "`json` (default) or `csv`", {"type": "string", "enum": list(FORMATS)}),
        *PERIOD_PARAMETERS,
    ),
    {
        "by": {"type": "string"},
        "min_group": {"type": "integer"},
        "total": GROUP,
        "groups": {"type": "array", "items": GROUP},
    },
    ("application/json", "text/csv"),
)

ROUTES: tuple[ApiRoute, ...] = (VIEW.route("/sites/{site}/reports/survey", path_site),)
