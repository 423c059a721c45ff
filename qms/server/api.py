"""The HTTP API's route table, composed here and nowhere else: routing, the access
checks, the OpenAPI document and the tests all read this one tuple. A new app's
module exports its `ROUTES` and is added below."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from qms.reports import routes as reports
from qms.reports import routes_sites as reports_sites
from qms.reports import routes_survey as reports_survey
from qms.server import (
    api_accounts,
    api_commands,
    api_devices,
    api_hall,
)
from qms.server.openapi import document
from qms.server.principal import EVERYONE, Principal
from qms.server.routes import ApiRoute, api
from qms.survey import routes as survey
from qms.survey import routes_plan as survey_plan
from qms.survey import routes_tablet as survey_tablet
from qms.survey import routes_walkup as survey_walkup


@api("GET", "/openapi.json", allow=EVERYONE, summary="This API's OpenAPI 3.1 document", tag="meta")
async def openapi_json(request: Request, who: Principal) -> Response:
    return JSONResponse(document(ROUTES))


ROUTES: tuple[ApiRoute, ...] = (
    *api_accounts.ROUTES,
    *api_devices.ROUTES,
    openapi_json,
    *api_commands.ROUTES,
    *api_hall.ROUTES,
    *survey.ROUTES,
    *survey_plan.ROUTES,
    *survey_walkup.ROUTES,
    *survey_tablet.ROUTES,
    *reports.ROUTES,
    *reports_survey.ROUTES,
    *reports_sites.ROUTES,
)
