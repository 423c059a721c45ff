"""The walk-up survey over HTTP: a service's QR code for visitors without a ticket
(Kabupaten Sidoarjo's practice; docs/survey.md "Walk-up survey").

- `GET  /survey/{hall}/walk-up/{service}`: the questions (anyone);
- `POST /survey/{hall}/walk-up/{service}`: the answers (anyone, at most
  `WALK_UP` per address, in `qms.server.throttle`: there is no ticket to make
  "once" hold).

The answers are `survey_answered` events with `walk_up` set and no ticket; the
figures count them apart (`sources`, and `walk_up` in the `channel` cut).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from qms.core import commands as c
from qms.core.survey import instrument_of
from qms.engine import SiteEngine
from qms.server import answers as a
from qms.server.addresses import client_address
from qms.server.api_hall import _hall, _json, set_up_engine
from qms.server.errors import ApiError, read_json
from qms.server.principal import EVERYONE, Principal
from qms.server.routes import ApiRoute, api
from qms.server.throttle import WALK_UP, Throttle
from qms.survey.routes import ANSWER_BODY

PARAMS = (
    {"name": "hall", "in": "path", "required": True, "schema": {"type": "string"}},
    {"name": "service", "in": "path", "required": True, "schema": {"type": "string"}},
)


async def _engine(request: Request) -> SiteEngine:
    return await set_up_engine(_hall(request), request.path_params["hall"])


def _service_name(engine: SiteEngine, service: str) -> list[str]:
    found = engine.state.services.get(service)
    if found is None:
        raise ApiError(404, "survey_unknown_service", "no such service", service=service)
    return [found.name_id, found.name_en]


WALK_UP_STATUS = a.record(
    status={"type": "string", "enum": ["open", "off"]},
    site=a.STR,
    name=a.STR,
    service=a.record(id=a.STR, name=a.STRINGS),
    closes_at={"type": "null"},
    instrument={"type": ["object", "null"]},
)


@api(
    "GET",
    "/survey/{hall}/walk-up/{service}",
    allow=EVERYONE,
    tag="survey",
    summary="A service's walk-up survey, for visitors without a ticket: the questions",
    responses={
        404: "no such site (`unknown_site`) or service (`survey_unknown_service`)",
    },
    response=WALK_UP_STATUS,
)
async def get_walk_up_survey(request: Request, who: Principal) -> Response:
    """`status` is `open` (with `instrument`) or `off`: the shape of a ticket's survey."""
    engine = await _engine(request)
    service = request.path_params["service"]
    names = _service_name(engine, service)
    inst = instrument_of(engine.state)
    site = engine.state.site
    assert site is not None  # _engine
    return _json(
        {
            "status": "open" if inst.enabled else "off",
            "site": engine.site,
            "name": site.name,
            "service": {"id": service, "name": names},
            "closes_at": None,
            "instrument": inst.to_dict() if inst.enabled else None,
        }
    )


@api(
    "POST",
    "/survey/{hall}/walk-up/{service}",
    allow=EVERYONE,
    tag="survey",
    summary="Answer a service's walk-up survey without a ticket (counted apart, limited)",
    body=ANSWER_BODY,
    responses={
        201: "the answer is recorded",
        404: "no such site (`unknown_site`) or service (`survey_unknown_service`)",
        409: "switched off (`survey_off`) or an older questionnaire (`instrument_mismatch`)",
        422: "a bad answer (`invalid_answer`, `missing_answer`, `unknown_question`,"
        " `invalid_profile`, `text_too_long`, `invalid_text`, `invalid_response`)",
        429: "more than 5 answers from this address within an hour (`too_many_requests`)",
    },
    response=a.record(answered=a.BOOL),
)
async def post_walk_up_survey(request: Request, who: Principal) -> Response:
    engine = await _engine(request)
    service = request.path_params["service"]
    _service_name(engine, service)
    body = await read_json(request)
    throttle: Throttle = request.app.state.throttle
    # Counted before the answer is decided, so parallel sends from one address each
    # see the ones before them; a refusal (the limit, or a bad answer) does not count.
    now = _hall(request).clock()
    answer = await throttle.count(WALK_UP, client_address(request), now)
    try:
        await engine.execute(c.SubmitWalkUpSurvey(service=service, response=body))
    except Exception:
        await answer.take_back()
        raise
    return _json({"answered": True}, 201)


ROUTES: tuple[ApiRoute, ...] = (get_walk_up_survey, post_walk_up_survey)
