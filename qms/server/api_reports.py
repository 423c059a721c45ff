"""The reports' HTTP API: `GET /api/v1/sites/{site}/reports/…` (docs/reports.md, docs/api.md).

Every route takes the period and the filters from the query string:

- ``period``: a named period (`qms.reports.period.NAMED`, default ``today``), or
  ``from`` and ``to`` (YYYY-MM-DD, both included) for any range;
- ``agency``, ``service``, ``counter``, ``officer``, ``channel``, ``priority``:
  only those visits (repeat a parameter for several values).

Each view is one method of `qms.reports.query.Reports`, run in a worker thread
(DuckDB) after the site's closed days of the period have their files
(`ReportsHub.prepare`). A bad period, cut or filter is a 422 with the report's
stable code (`qms.reports.errors.CODES`, answered by `qms.server.errors`), never
a 500.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from qms.reports import export, sql
from qms.reports.errors import CODES, ReportError
from qms.reports.period import NAMED
from qms.reports.query import INTERVAL_MINUTES, STAFF_KEYS, Scope, scope
from qms.server.api_hall import _set_up_engine
from qms.server.errors import ApiError
from qms.server.principal import Principal, Role
from qms.server.reports_hub import ReportsHub
from qms.server.routes import ApiRoute, api

READ_REPORTS = frozenset({Role.ADMIN, Role.SUPERVISOR, Role.VIEWER})
FILTERS = ("agency", "service", "counter", "officer", "channel", "priority")
PARAMS = frozenset({"period", "from", "to", "by", "minutes", "format", "table", *FILTERS})


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


def _answer(**props: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["site", "now", "scope", *sorted(props)],
        "properties": {
            "site": {"type": "string"},
            "now": {"type": "number"},
            "scope": SCOPE,
            **props,
        },
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
    request: Request, site: str, timezone: str, now: float, who: Principal | None = None
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
    return scope({site: timezone}, wanted, now, filters)


def minutes_of(request: Request, default: int | None) -> int | None:
    raw = _one(request, "minutes")
    if raw is None:
        return default
    if not raw.isdigit() or int(raw) not in INTERVAL_MINUTES:
        raise ReportError(
            "invalid_interval", "interval minutes: 15, 30 or 60", allowed=INTERVAL_MINUTES
        )
    return int(raw)


async def run_report(
    request: Request, view: Callable[[Scope, float], dict[str, Any]], who: Principal
) -> dict[str, Any]:
    """Resolve the scope, make sure its closed days have files, run `view` in a thread."""
    engine = await _set_up_engine(request)
    assert engine.state.site is not None  # _set_up_engine answers 404 otherwise
    hub = hub_of(request)
    now = request.app.state.hall.clock()
    wanted = request_scope(request, engine.site, engine.state.site.timezone, now, who)
    periods = [*wanted.periods.values(), *wanted.previous().periods.values()]
    await hub.prepare(engine.site, periods)
    result = await asyncio.to_thread(view, wanted, now)
    return {"site": engine.site, "now": now, **result}


def _json(data: dict[str, Any]) -> JSONResponse:
    return JSONResponse(data, headers={"Cache-Control": "no-store"})


@api(
    "GET",
    "/sites/{site}/reports/summary",
    allow=READ_REPORTS,
    summary="Every measure over a period, the period before, and the change",
    tag="reports",
    parameters=PERIOD_PARAMETERS,
    responses=REPORT_ERRORS,
    response=_answer(measures=MEASURES, previous={"type": "object"}, change={"type": "object"}),
)
async def get_report_summary(request: Request, who: Principal) -> Response:
    reports = hub_of(request).reports
    return _json(await run_report(request, lambda s, now: reports.summary(s, now), who))


@api(
    "GET",
    "/sites/{site}/reports/breakdown",
    allow=READ_REPORTS,
    summary="Every measure per agency, service, counter, officer, channel, priority, day, "
    "weekday or hour",
    tag="reports",
    parameters=(
        _query(
            "by", "the cut (default `service`)", {"type": "string", "enum": list(sql.DIMENSIONS)}
        ),
        *PERIOD_PARAMETERS,
    ),
    responses=REPORT_ERRORS,
    response=_answer(by={"type": "string"}, rows=ROWS),
)
async def get_report_breakdown(request: Request, who: Principal) -> Response:
    reports = hub_of(request).reports
    by = _one(request, "by") or "service"
    return _json(await run_report(request, lambda s, now: reports.breakdown(s, by, now), who))


@api(
    "GET",
    "/sites/{site}/reports/intervals",
    allow=READ_REPORTS,
    summary="Arrivals, calls, served, queue length and longest wait per 15, 30 or 60 minutes",
    tag="reports",
    parameters=(MINUTES, *PERIOD_PARAMETERS),
    responses=REPORT_ERRORS,
    response=_answer(minutes={"type": "integer"}, rows=ROWS),
)
async def get_report_intervals(request: Request, who: Principal) -> Response:
    reports = hub_of(request).reports
    minutes = minutes_of(request, 60) or 60
    return _json(await run_report(request, lambda s, now: reports.intervals(s, minutes, now), who))


@api(
    "GET",
    "/sites/{site}/reports/heatmap",
    allow=READ_REPORTS,
    summary="Arrivals, served and waits per weekday and hour of arrival",
    tag="reports",
    parameters=PERIOD_PARAMETERS,
    responses=REPORT_ERRORS,
    response=_answer(cells=ROWS),
)
async def get_report_heatmap(request: Request, who: Principal) -> Response:
    reports = hub_of(request).reports
    return _json(await run_report(request, lambda s, now: reports.heatmap(s, now), who))


@api(
    "GET",
    "/sites/{site}/reports/staff",
    allow=READ_REPORTS,
    summary="Per counter or officer: served, service time, open, paused, busy, idle while "
    "tickets waited, utilisation",
    tag="reports",
    parameters=(STAFF_BY, {**MINUTES, "description": "also per interval"}, *PERIOD_PARAMETERS),
    responses=REPORT_ERRORS,
    response=_answer(by={"type": "string"}, minutes={"type": ["integer", "null"]}, rows=ROWS),
)
async def get_report_staff(request: Request, who: Principal) -> Response:
    reports = hub_of(request).reports
    by = _one(request, "by") or "counter"
    minutes = minutes_of(request, None)

    def view(s: Scope, now: float) -> dict[str, Any]:
        result = reports.staff(s, by, now, minutes)
        if who.agencies is not None:
            # A counter's time is not per agency: an agency's coordinator sees the
            # counters and officers that ended visits of their agencies only.
            result["rows"] = [r for r in result["rows"] if r["service"]["n"] or r["served"]
                              or r["no_show"] or r["transferred"]]  # fmt: skip
        return result

    return _json(await run_report(request, view, who))


EXPORT_PARAMETERS = (
    _query("format", "`csv` (default: one table) or `xlsx` (every table, one sheet each)",
           {"type": "string", "enum": list(export.FORMATS)}),
    _query("table", "the CSV's table (default `summary`; `visits`: one row per visit)",
           {"type": "string", "enum": list(export.TABLES)}),
    *PERIOD_PARAMETERS,
)  # fmt: skip
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@api(
    "GET",
    "/sites/{site}/reports/export",
    allow=READ_REPORTS,
    summary="The report's tables as CSV or XLSX: the same numbers as the API",
    tag="reports",
    parameters=EXPORT_PARAMETERS,
    responses=REPORT_ERRORS,
    media=("text/csv", XLSX),
)
async def get_report_export(request: Request, who: Principal) -> Response:
    """A CSV of one table (`table`), or an XLSX workbook of every table, including one
    row per visit: exactly the figures of the API's views for the same query string."""
    fmt, table = export.check(_one(request, "format"), _one(request, "table"))
    reports = hub_of(request).reports
    engine = await _set_up_engine(request)
    name = engine.state.site.name if engine.state.site is not None else engine.site
    out: dict[str, Any] = {}

    def view(s: Scope, now: float) -> dict[str, Any]:
        if fmt == "csv":
            out["body"] = export.csv_export(reports, s, table, now)
        else:
            out["body"] = export.xlsx_export(reports, s, now, f"Laporan kinerja {name}")
        out["period"] = s.periods[engine.site]
        return {}

    await run_report(request, view, who)
    period = out["period"]
    filename = f"laporan-{engine.site}-{period.first}-{period.last}"
    filename += f"-{table}.csv" if fmt == "csv" else ".xlsx"
    return Response(
        out["body"],
        media_type="text/csv; charset=utf-8" if fmt == "csv" else XLSX,
        headers={
            "Cache-Control": "no-store",
            "Content-Disposition": f'attachment; filename="{filename}"',
        },
    )


ROUTES: tuple[ApiRoute, ...] = (
    get_report_summary,
    get_report_breakdown,
    get_report_intervals,
    get_report_heatmap,
    get_report_staff,
    get_report_export,
)
