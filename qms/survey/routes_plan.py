"""The survey's follow-up plan over HTTP (docs/survey.md "Follow-up plan").

- `PUT /sites/{site}/survey/plan`: an admin writes a period's plan (rencana tindak
  lanjut) for its weakest elements; it is published on `/skm/<site>` with the plans
  of past periods (`GET /survey/{hall}`, `plans`).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from qms.core import commands as c
from qms.server import answers as a
from qms.server.api_hall import _json, _set_up_engine
from qms.server.errors import read_json
from qms.server.principal import ADMINS, Principal
from qms.server.routes import ApiRoute, api
from qms.survey.plan import MAX_TEXT, parse_plan

PLAN_BODY: dict[str, Any] = {
    "type": "object",
    "required": ["period", "elements", "text"],
    "properties": {
        "period": {"type": "string", "description": "2026, 2026-S1, 2026-Q1 or 2026-03"},
        "elements": {
            "type": "array",
            "minItems": 1,
            "maxItems": 9,
            "items": {"type": "string", "enum": [f"U{i}" for i in range(1, 10)]},
        },
        "text": {"type": "string", "maxLength": MAX_TEXT},
    },
    "additionalProperties": False,
}
PLAN = a.record(period=a.STR, elements={"type": "array", "items": a.STR}, text=a.STR)


@api(
    "PUT",
    "/sites/{site}/survey/plan",
    allow=ADMINS,
    tag="survey",
    summary="Write a period's follow-up plan (rencana tindak lanjut) for the weakest elements",
    body=PLAN_BODY,
    responses={
        404: "no such site (`unknown_site`)",
        422: "a bad plan (`invalid_plan`, `text_too_long`, `invalid_text`)",
    },
    response=a.record(plan=PLAN),
)
async def put_survey_plan(request: Request, who: Principal) -> Response:
    """A later plan for the same period replaces it on the public page; the log keeps both."""
    engine = await _set_up_engine(request)
    body = await read_json(request)
    await engine.execute(c.WriteSurveyPlan(plan=body, by=who.name))
    return _json({"plan": parse_plan(body).to_dict()})


ROUTES: tuple[ApiRoute, ...] = (put_survey_plan,)
