"""The reports' HTTP API: `GET /api/v1/sites/{site}/reports/…` (docs/reports.md, docs/api.md).

Every route takes the period and the filters from the query string:

- ``period``: a named period (`qms.reports.period.NAMED`, default ``today``), or
  ``from`` and ``to`` (YYYY-MM-DD, both included) for any range;
- ``agency``, ``service``, ``counter``, ``officer``, ``channel``, ``priority``:
  only those visits (repeat a parameter for several values).

Each view is one method of `qms.reports.query.Reports`, run in a worker thread
(DuckDB) after the sites' closed days of the period have their files
(`ReportsHub.prepare`). A bad period, cut or filter is a 422 with the report's
stable code (`qms.reports.errors.CODES`, answered by `qms.server.errors`), never
a 500.

Each view (`VIEWS`, a `ReportView`) is one handler given the sites to report on:
here the path's site; `qms.reports.routes_sites` serves the same handlers
across sites (`GET /api/v1/reports/…?site=…`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from qms.engine import SiteEngine
from qms.reports import export, responses, sql
from qms.reports.errors import CODES, ReportError
from qms.reports.hub import ReportsHub
from qms.reports.period import NAMED
from qms.reports.query import INTERVAL_MINUTES, STAFF_KEYS
from qms.reports.scope import Scope, scope
from qms.server.api_hall import _set_up_engine
from qms.server.errors import ApiError
from qms.server.principal import Principal, Role
from qms.server.routes import ApiRoute, api

READ_REPORTS = frozenset({Role.ADMIN, Role.SUPERVISOR, Role.VIEWER})
FILTERS = ("agency", "service", "counter", "officer", "channel", "priority")


def _query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema}  # fmt: skip


def _list(name: str, description: str) -> dict[str, Any]:
    return {
        **_query(name, description, {"type": "array", "items": {"type": "string"}}),
        "style": "form",
        "explode": True,
    }


DAY = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$"}
PERIOD_PARAMETERS: tuple[dict[str, Any], ...] = (
    _query(
        "period",
        "a named period, resolved in the site's own calendar (default `today`); "
        "or give `from` and `to`",
        {"type": "string", "enum": list(NAMED)},
    ),
    _query("from", "first day of a range, YYYY-MM-DD (with `to`)", DAY),
    _query("to", "last day of a range, YYYY-MM-DD, included (with `from`)", DAY),
    _list("agency", "only visits of these agencies"),
    _list("service", "only visits of these services"),
    _list("counter", "only visits ended at (and time of) these counters"),
    _list("officer", "only visits ended by (and time of) these officers"),
    _list("channel", "only visits of tickets issued by these channels (kiosk, online, staff)"),
    _list("priority", "only visits of these priority classes"),
)
MINUTES = _query(
    "minutes", "interval length in minutes (15, 30 or 60)",
    {"type": "integer", "enum": list(INTERVAL_MINUTES)},
)  # fmt: skip
STAFF_BY = _query(
    "by", "`counter` (default) or `officer`", {"type": "string", "enum": list(STAFF_KEYS)}
)
REPORT_ERRORS = {
    404: "no such site (`unknown_site`)",
    422: "a bad period, cut, interval or filter (`" + "`, `".join(sorted(CODES)) + "`)",
}

NUM_OR_NULL: dict[str, Any] = {"type": ["number", "null"]}
STAT: dict[str, Any] = {
    "type": "object",
    "required": ["n", "mean", "p50", "p90", "p95", "max"],
    "properties": {"n": {"type": "integer"}, **dict.fromkeys(
        ("mean", "p50", "p90", "p95", "max"), NUM_OR_NULL)},
}  # fmt: skip
MEASURES: dict[str, Any] = {
    "type": "object",
    "required": ["visits", "tickets", "outcomes", "rates", "wait", "walk", "service", "hall"],
    "properties": {
        "visits": {"type": "integer"},
        "tickets": {"type": "integer"},
        "outcomes": {"type": "object"},
        "rates": {"type": "object"},
        **dict.fromkeys(("wait", "walk", "service", "hall"), STAT),
    },
}
SCOPE: dict[str, Any] = {"type": "object", "required": ["sites", "filters"]}


def _answer(where: str = "site", **props: dict[str, Any]) -> dict[str, Any]:
    """A view's answer: `site` (a site's route) or `sites` (across sites), `now`, `scope`."""
    named = (
        {"type": "string"} if where == "site" else {"type": "array", "items": {"type": "string"}}
    )
    return {
        "type": "object",
        "required": [where, "now", "scope", *sorted(props)],
        "properties": {where: named, "now": {"type": "number"}, "scope": SCOPE, **props},
    }


ROWS: dict[str, Any] = {"type": "array", "items": {"type": "object"}}


def hub_of(request: Request) -> ReportsHub:
    hub: ReportsHub = request.app.state.reports
    return hub


def _one(request: Request, name: str) -> str | None:
    values = request.query_params.getlist(name)
    if len(values) > 1:
        raise ReportError(
            "invalid_period" if name in ("period", "from", "to") else "invalid_dimension",
            f"{name}: give it once",
        )
    return values[0] if values else None


def request_scope(
    request: Request, sites: Mapping[str, str], now: float, who: Principal | None = None
) -> Scope:
    """The scope the query string asks for (ReportError when it is bad). A viewer limited
    to agencies sees only theirs: the agency filter is theirs, or a part of it."""
    period, first, last = (_one(request, n) for n in ("period", "from", "to"))
    if first is not None or last is not None:
        if period is not None:
            raise ReportError("invalid_period", "give `period` or `from` and `to`, not both")
        if first is None or last is None:
            raise ReportError("invalid_period", "a range needs both `from` and `to`")
        wanted: str | tuple[str, str] = (first, last)
    else:
        wanted = period if period is not None else "today"
    filters = {n: request.query_params.getlist(n) for n in FILTERS if n in request.query_params}
    if who is not None and who.agencies is not None:
        asked = set(filters.get("agency") or who.agencies)
        if not asked <= who.agencies:
            raise ApiError(
                403, "forbidden", "not allowed to see these agencies",
                allowed=sorted(who.agencies),
            )  # fmt: skip
        filters["agency"] = sorted(asked)
    return scope(sites, wanted, now, filters)


def minutes_of(request: Request, default: int | None) -> int | None:
    raw = _one(request, "minutes")
    if raw is None:
        return default
    if not raw.isdigit() or int(raw) not in INTERVAL_MINUTES:
        raise ReportError(
            "invalid_interval", "interval minutes: 15, 30 or 60", allowed=INTERVAL_MINUTES
        )
    return int(raw)


Engines = dict[str, SiteEngine]
View = Callable[[Scope, float], dict[str, Any]]


async def path_site(request: Request, who: Principal) -> Engines:
    """The route's own site (the guard has checked the principal may read it)."""
    engine = await _set_up_engine(request)
    return {engine.site: engine}


async def run_report(
    request: Request, view: View, who: Principal, engines: Engines
) -> dict[str, Any]:
    """Resolve the scope over `engines`' sites, make sure their closed days have files,
    run `view` in a thread."""
    hub = hub_of(request)
    now = request.app.state.hall.clock()
    zones = {site: e.state.site.timezone for site, e in engines.items() if e.state.site is not None}
    wanted = request_scope(request, zones, now, who)
    before = wanted.previous()
    for site in sorted(engines):
        await hub.prepare(site, [wanted.periods[site], before.periods[site]])
    result = await asyncio.to_thread(view, wanted, now)
    return {"now": now, **result}


def where(engines: Engines, per_site: bool) -> dict[str, Any]:
    return {"site": next(iter(engines))} if per_site else {"sites": sorted(engines)}


def _json(data: dict[str, Any]) -> JSONResponse:
    return JSONResponse(data, headers={"Cache-Control": "no-store"})


Handler = Callable[[Request, Principal, Engines, bool], Awaitable[Response]]


@dataclass(frozen=True)
class ReportView:
    """One view, served twice: per site (`/sites/{site}/reports/<name>`) and across sites
    (`/reports/<name>`, qms.reports.routes_sites): the same handler, given the sites."""

    name: str
    summary: str
    handler: Handler
    parameters: tuple[dict[str, Any], ...] = PERIOD_PARAMETERS
    answer: dict[str, dict[str, Any]] | None = None  # the view's fields; None: a file
    media: tuple[str, ...] = ("application/json",)

    def route(
        self,
        path: str,
        sites: Callable[[Request, Principal], Awaitable[Engines]],
        extra: tuple[dict[str, Any], ...] = (),
        responses: dict[int, str] | None = None,
    ) -> ApiRoute:
        per_site = "{site}" in path

        async def endpoint(request: Request, who: Principal) -> Response:
            return await self.handler(request, who, await sites(request, who), per_site)

        where = "site" if per_site else "sites"
        return api(
            "GET",
            path,
            allow=READ_REPORTS,
            summary=self.summary,
            tag="reports",
            parameters=(*extra, *self.parameters),
            responses=responses or REPORT_ERRORS,
            response=None if self.answer is None else _answer(where, **self.answer),
            media=self.media,
        )(endpoint)


def _view(make: Callable[[Request, Principal], View]) -> Handler:
    """A JSON view: `make` turns the request into the `Reports` call to run."""

    async def handler(
        request: Request, who: Principal, engines: Engines, per_site: bool
    ) -> Response:
        view = make(request, who)
        result = await run_report(request, view, who, engines)
        return _json({**where(engines, per_site), **result})

    return handler


def _summary(request: Request, who: Principal) -> View:
    return hub_of(request).reports.summary


def _breakdown(request: Request, who: Principal) -> View:
    reports, by = hub_of(request).reports, _one(request, "by") or "service"
    return lambda s, now: reports.breakdown(s, by, now)


def _intervals(request: Request, who: Principal) -> View:
    reports, minutes = hub_of(request).reports, minutes_of(request, 60) or 60
    return lambda s, now: reports.intervals(s, minutes, now)


def _heatmap(request: Request, who: Principal) -> View:
    return hub_of(request).reports.heatmap


def _staff(request: Request, who: Principal) -> View:
    reports, by = hub_of(request).reports, _one(request, "by") or "counter"
    minutes = minutes_of(request, None)

    def view(s: Scope, now: float) -> dict[str, Any]:
        result = reports.staff(s, by, now, minutes)
        if who.agencies is not None:
            # A counter's time is not per agency: an agency's coordinator sees the
            # counters and officers that ended visits of their agencies only.
            result["rows"] = [r for r in result["rows"] if r["service"]["n"] or r["served"]
                              or r["no_show"] or r["transferred"]]  # fmt: skip
        return result

    return view


EXPORT_PARAMETERS = (
    _query("format", "`csv` (default: one table) or `xlsx` (every table, one sheet each)",
           {"type": "string", "enum": list(export.FORMATS)}),
    _query("table", "the table: the CSV's (default `summary`; `visits`: one row per visit), or "
           "the XLSX's only sheet (default: every table)",
           {"type": "string", "enum": list(export.TABLES)}),
    _query("survey", "the cut of the whole XLSX's last sheet, the survey section's "
           "(default `wait`; as `by` of `…/reports/survey`)",
           {"type": "string", "enum": list(responses.CUTS)}),
    *PERIOD_PARAMETERS,
)  # fmt: skip
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def _export(request: Request, who: Principal, engines: Engines, per_site: bool) -> Response:
    """A CSV of one table (`table`), or an XLSX workbook of every table, including one
    row per visit: exactly the figures of the API's views for the same query string."""
    fmt, table = export.check(_one(request, "format"), _one(request, "table"))
    reports = hub_of(request).reports
    names = [e.state.site.name if e.state.site else s for s, e in sorted(engines.items())]
    first = min(engines)
    out: dict[str, Any] = {}
    # The whole workbook ends with the survey section's sheet, cut as `survey` asks.
    by = responses.check_cut(_one(request, "survey"))
    survey = await responses.survey_view(request, engines, by) if fmt == "xlsx" else None

    def view(s: Scope, now: float) -> dict[str, Any]:
        if fmt == "xlsx":
            title = "Laporan kinerja " + ", ".join(names)
            extra: dict[str, tuple[str, Callable[..., export.Table]]] = {}
            if survey is not None and table is None:
                sheet = responses.sheet(survey(s, now))
                extra["survey"] = (responses.SHEET, lambda *_: sheet)
            out["body"] = export.xlsx_export(reports, s, now, title, table, extra)
        else:
            out["body"] = export.csv_export(reports, s, table or "summary", now)
        out["period"] = s.periods[first]
        return {}

    await run_report(request, view, who, engines)
    period = out["period"]
    filename = f"laporan-{'+'.join(sorted(engines))}-{period.first}-{period.last}"
    filename += f"-{table}" if table else ""
    filename += f".{fmt}"
    return Response(
        out["body"],
        media_type="text/csv; charset=utf-8" if fmt == "csv" else XLSX,
        headers={
            "Cache-Control": "no-store",
            "Content-Disposition": f'attachment; filename="{filename}"',
        },
    )


BY = _query("by", "the cut (default `service`)", {"type": "string", "enum": list(sql.DIMENSIONS)})
VIEWS: tuple[ReportView, ...] = (
    ReportView(
        "summary",
        "Every measure over a period, the period before, and the change",
        _view(_summary),
        answer={"measures": MEASURES, "previous": {"type": "object"}, "change": {"type": "object"}},
    ),
    ReportView(
        "breakdown",
        "Every measure per site, agency, service, counter, officer, channel, priority, day, "
        "weekday or hour",
        _view(_breakdown),
        (BY, *PERIOD_PARAMETERS),
        {"by": {"type": "string"}, "rows": ROWS},
    ),
    ReportView(
        "intervals",
        "Arrivals, calls, served, queue length and longest wait per 15, 30 or 60 minutes",
        _view(_intervals),
        (MINUTES, *PERIOD_PARAMETERS),
        {"minutes": {"type": "integer"}, "rows": ROWS},
    ),
    ReportView(
        "heatmap",
        "Arrivals, served and waits per weekday and hour of arrival",
        _view(_heatmap),
        answer={"cells": ROWS},
    ),
    ReportView(
        "staff",
        "Per counter or officer: served, service time, open, paused, busy, idle while "
        "tickets waited, utilisation",
        _view(_staff),
        (STAFF_BY, {**MINUTES, "description": "also per interval"}, *PERIOD_PARAMETERS),
        {"by": {"type": "string"}, "minutes": {"type": ["integer", "null"]}, "rows": ROWS},
    ),
    ReportView(
        "export",
        "The report's tables as CSV or XLSX: the same numbers as the API",
        _export,
        EXPORT_PARAMETERS,
        None,
        ("text/csv", XLSX),
    ),
)

ROUTES: tuple[ApiRoute, ...] = tuple(
    view.route(f"/sites/{{site}}/reports/{view.name}", path_site) for view in VIEWS
)
