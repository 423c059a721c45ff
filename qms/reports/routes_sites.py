"""Reports across sites: `GET /api/v1/reports/…` (docs/reports.md, docs/api.md "Reports").

The same views as `/sites/{site}/reports/…` (`qms.reports.routes.VIEWS`, the
same handlers) over several sites of a deployment at once: `site` names them
(repeat it, or separate them with commas); without it, every site the
principal may read. Each site's period is resolved in its own calendar, and
every figure is computed over the union of the sites' visits (percentiles
exact over all of them, never averages of per-site figures); `by=site` cuts
them apart.

Authorisation: a principal bound to some sites (a supervisor, a viewer) asking
for any other one gets 403 `forbidden`, naming the sites refused, and nothing
else; the names are checked before whether the sites exist, so a refusal says
nothing about another deployment's sites. `GET /reports/sites` lists the sites
the principal may read (the reports page's site picker).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from qms.reports.errors import ReportError
from qms.reports.routes import (
    READ_REPORTS,
    REPORT_ERRORS,
    VIEWS,
    Engines,
    _list,
    hub_of,
)
from qms.reports.routes_survey import VIEW as SURVEY
from qms.reports.store import built_sites
from qms.server import answers as a
from qms.server.api_accounts import _accounts
from qms.server.api_hall import _hall, _json, _site_exists, _valid_site, unknown_site
from qms.server.errors import ApiError
from qms.server.principal import Principal
from qms.server.routes import ApiRoute, api

MAX_SITES = 100  # sites in one report

SITES = _list(
    "site",
    "the sites (repeat it, or `a,b`); default: every site the principal may read",
)
RESPONSES = {
    **REPORT_ERRORS,
    403: "a site the principal may not read (`forbidden`, with `sites`: those refused)",
    404: "a site that does not exist (`unknown_site`)",
}


def readable(request: Request, who: Principal) -> list[str]:
    """The sites the principal may read: its own; an admin (bound to none) every site the
    deployment knows of: those this server has open, those with report files, and those
    the accounts name (users' and devices' sites). Not every one need exist."""
    if who.sites is not None:
        return sorted(who.sites)
    store = _accounts(request).store
    known = set(_hall(request).sites) | set(built_sites(hub_of(request).root))
    known |= {s for u in store.users() for s in u.sites} | {d.site for d in store.devices()}
    return sorted(known)


def asked(request: Request, who: Principal) -> tuple[list[str], bool]:
    """The sites of the query string, checked against the principal (and True); else the
    ones it may read (and False)."""
    names = [n for raw in request.query_params.getlist("site") for n in raw.split(",") if n]
    explicit = bool(names)
    if not explicit:
        names = readable(request, who)
    names = sorted(set(names))
    if len(names) > MAX_SITES:
        raise ReportError("invalid_site", f"at most {MAX_SITES} sites", allowed=MAX_SITES)
    bad = [n for n in names if not _valid_site(n) or n.startswith("_")]
    if bad and explicit:
        raise ReportError("invalid_site", f"not a site id: {bad[0]!r}", site=bad[0])
    refused = [n for n in names if not who.may_use_site(n)]
    if refused:
        raise ApiError(403, "forbidden", "not allowed at these sites", sites=refused)
    return [n for n in names if n not in bad], explicit


async def engines_of(request: Request, who: Principal) -> Engines:
    """The engines of the sites asked for: a site named that does not exist is a 404; of
    the default ones, those not set up are left out."""
    hall = _hall(request)
    engines: Engines = {}
    names, explicit = asked(request, who)
    for site in names:
        engine = await hall.engine(site) if await _site_exists(hall, site) else None
        if engine is None or engine.state.site is None:
            if explicit:
                raise unknown_site(site)
            continue
        engines[site] = engine
    if not engines:
        raise ReportError("invalid_site", "no site to report on: name one with `site`")
    return engines


SITE_LIST = a.record(
    sites={
        "type": "array",
        "items": a.record(site=a.STR, name=a.STR, timezone=a.STR),
    }
)


@api(
    "GET",
    "/reports/sites",
    allow=READ_REPORTS,
    summary="The sites whose reports the principal may read (set up ones), with their names",
    tag="reports",
    response=SITE_LIST,
)
async def get_report_sites(request: Request, who: Principal) -> Response:
    hall = _hall(request)
    out: list[dict[str, Any]] = []
    for site in readable(request, who):
        if not _valid_site(site) or site.startswith("_") or not await _site_exists(hall, site):
            continue
        info = (await hall.engine(site)).state.site
        if info is not None:
            out.append({"site": site, "name": info.name, "timezone": info.timezone})
    return _json({"sites": out})


ROUTES: tuple[ApiRoute, ...] = (
    get_report_sites,
    *(
        view.route(f"/reports/{view.name}", engines_of, (SITES,), RESPONSES)
        for view in (*VIEWS, SURVEY)
    ),
)
