"""The satisfaction survey in the reports: `GET /api/v1/sites/{site}/reports/survey` and
`GET /api/v1/reports/survey` (across sites), docs/reports.md "Satisfaction".

The same period, sites and filters as every other report view; the survey's
responses of the period (a ticket's answer is dated by its visit's business
day, even when given the next morning), each joined to the served visit it
rated (the reports' rows of the same period), cut by `by`:
`wait` (default: within or above the service's target), `site`, or any cut of
the survey. Groups under the survey's minimum are hidden (docs/survey.md,
"Cuts and anonymity"). `format=csv` gives the same table as a file, `format=xlsx`
as a workbook's sheet (`qms.reports.responses`, the reports' workbook's survey sheet).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from qms.reports import export, satisfaction
from qms.reports.errors import ReportError
from qms.reports.export import to_csv
from qms.reports.responses import SHEET, check_cut, sheet, survey_view
from qms.reports.routes import (
    PERIOD_PARAMETERS,
    XLSX,
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
from qms.reports.scope import Scope
from qms.server.principal import Principal
from qms.server.routes import ApiRoute

FORMATS = ("json", "csv", "xlsx")


async def _survey(request: Request, who: Principal, engines: Engines, per_site: bool) -> Response:
    by = check_cut(_one(request, "by"))
    fmt = _one(request, "format") or "json"
    if fmt not in FORMATS:
        raise ReportError("invalid_dimension", f"format {fmt!r}", allowed=list(FORMATS))
    view = await survey_view(request, engines, by)
    out: dict[str, bytes] = {}

    def as_file(scope: Scope, now: float) -> dict[str, Any]:
        result = view(scope, now)
        if fmt == "xlsx":
            # The workbook's "Laporan" sheet (what and when), then the survey's alone.
            names = [e.state.site.name if e.state.site else s for s, e in sorted(engines.items())]
            title = "Kepuasan masyarakat (SKM) " + ", ".join(names) + f" — menurut {by}"
            table = sheet(result)
            extra = {"survey": (SHEET, lambda *_: table)}
            reports = hub_of(request).reports
            out["body"] = export.xlsx_export(reports, scope, now, title, "survey", extra)
        return result

    result = await run_report(request, as_file if fmt == "xlsx" else view, who, engines)
    if fmt == "json":
        return _json({**where(engines, per_site), **result})
    first = min(engines)
    period = result["scope"]["sites"][first]
    name = f"survei-{'+'.join(sorted(engines))}-{period['first']}-{period['last']}-{by}.{fmt}"
    return Response(
        to_csv(satisfaction.table(result)) if fmt == "csv" else out["body"],
        media_type="text/csv; charset=utf-8" if fmt == "csv" else XLSX,
        headers={
            "Cache-Control": "no-store",
            "Content-Disposition": f'attachment; filename="{name}"',
        },
    )


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
        _query(
            "format",
            "`json` (default), `csv` (the table) or `xlsx` (the same table as a sheet)",
            {"type": "string", "enum": list(FORMATS)},
        ),
        *PERIOD_PARAMETERS,
    ),
    {
        "by": {"type": "string"},
        "min_group": {"type": "integer"},
        "total": GROUP,
        "groups": {"type": "array", "items": GROUP},
    },
    ("application/json", "text/csv", XLSX),
)

ROUTES: tuple[ApiRoute, ...] = (VIEW.route("/sites/{site}/reports/survey", path_site),)
