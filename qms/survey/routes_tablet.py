"""The counter tablet's routes (docs/survey.md "The counter tablet", docs/api.md).

A tablet is a device bound to one counter of one site (`DeviceKind.TABLET`, its
counter in its registration). It asks, every few seconds, whether the visitor
just served at its counter may rate the visit, and sends their answer:

- `GET  /tablet/survey`: `open` with the questions, or `idle`;
- `POST /tablet/survey`: the answer, decided as the visitor's own `submit_survey`
  for that ticket, so one visit is rated once, on the tablet or on the phone;
- `POST /tablet/survey/skip`: the visitor put it away (*Lewati*): a `survey_skipped`
  event closes that visit's survey on the tablet, for every page and reload.

The ticket is never named to the tablet: the server finds it from the counter
(`qms.core.survey.tablet_visit`) on each request. `closes_at`, which the page
sends back with the answer, tells the server which visit the page showed: an
answer given after the counter moved on to someone else is refused
(`survey_closed`), never recorded against the next visitor's ticket.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from qms.core import commands as c
from qms.core.errors import Rejected
from qms.core.model import HallState, Ticket
from qms.core.survey import instrument_of, tablet_closes_at, tablet_problem, tablet_visit
from qms.engine import SiteEngine
from qms.server import answers as a
from qms.server.api_hall import _hall, _json, set_up_engine
from qms.server.errors import ApiError, read_json
from qms.server.hall import Hall
from qms.server.principal import TABLETS, Principal
from qms.server.routes import ApiRoute, api
from qms.survey.routes import ANSWER_BODY


async def tablet_counter(hall: Hall, site: str, counter: str) -> SiteEngine:
    """The engine of a tablet's site; 404 unless the site and its counter are set up
    (also asked when a tablet is registered: a typo would leave it idle for good)."""
    engine = await set_up_engine(hall, site)
    if counter not in engine.state.counters:
        raise ApiError(404, "unknown_counter", f"no counter {counter!r}", id=counter)
    return engine


async def _counter(request: Request, who: Principal) -> tuple[SiteEngine, str]:
    """The engine of the tablet's site, and its counter."""
    site, counter = next(iter(who.sites or ()), ""), who.counter or ""
    return await tablet_counter(_hall(request), site, counter), counter


def _counter_name(state: HallState, counter: str) -> str:
    return state.counters[counter].name


TABLET_SURVEY = a.record(
    status={"type": "string", "enum": ["open", "idle"]},
    closes_at=a.MAYBE_NUM,
    instrument={"type": ["object", "null"]},
    counter=a.STR,
)


@api(
    "GET",
    "/tablet/survey",
    allow=TABLETS,
    tag="survey",
    summary="A counter tablet: the survey of the visit just completed at its counter, or idle",
    responses={
        404: "the tablet's site or counter is not set up (`unknown_site`, `unknown_counter`)"
    },
    response=TABLET_SURVEY,
)
async def get_tablet_survey(request: Request, who: Principal) -> Response:
    """`open` (with `instrument` and `closes_at`) while the ticket last completed at the
    tablet's counter, less than 10 minutes ago, is not rated, and nobody else is being
    served there; else `idle`. Never the ticket, its number or anything of its visitor."""
    engine, counter = await _counter(request, who)
    state, now = engine.state, _hall(request).clock()
    ticket = tablet_visit(state, counter)
    name = _counter_name(state, counter)
    if ticket is None or tablet_problem(state, ticket, now) is not None:
        return _json({"status": "idle", "closes_at": None, "instrument": None, "counter": name})
    return _json(
        {
            "status": "open",
            "closes_at": tablet_closes_at(ticket),
            "instrument": instrument_of(state).to_dict(),
            "counter": name,
        }
    )


TABLET_ANSWER: dict[str, Any] = {
    **ANSWER_BODY,
    "required": ["closes_at", "answers"],
    "properties": {
        **ANSWER_BODY["properties"],
        "closes_at": {
            "type": "number",
            "description": "as the GET answered it: the visit the page showed",
        },
    },
}


@api(
    "POST",
    "/tablet/survey",
    allow=TABLETS,
    tag="survey",
    summary="A counter tablet: the visitor's answer for the visit its page showed (once)",
    body=TABLET_ANSWER,
    responses={
        201: "the answer is recorded",
        404: "the tablet's site or counter is not set up (`unknown_site`, `unknown_counter`)",
        409: "the counter has served someone else since, or its 10 minutes passed"
        " (`survey_closed`); rated already, here or on the phone (`survey_already_answered`);"
        " `survey_off`; an older questionnaire (`instrument_mismatch`)",
        410: "`survey_expired`",
        422: "a bad answer (`invalid_answer`, `missing_answer`, …, `invalid_response`),"
        " or `closes_at` missing or not a number (`invalid_request`)",
    },
    response=a.record(answered=a.BOOL),
)
async def post_tablet_survey(request: Request, who: Principal) -> Response:
    """Decided as the visitor's own answer (`submit_survey`); nothing of it comes back."""
    engine, counter = await _counter(request, who)
    body = await read_json(request)
    ticket = _shown_visit(engine, counter, body.pop("closes_at", None), _hall(request).clock())
    answer = c.SubmitSurvey(ticket=ticket.id, token=ticket.token, response=body, tablet=True)
    await engine.execute(answer)
    return _json({"answered": True}, 201)


def _shown_visit(engine: SiteEngine, counter: str, shown: Any, now: float) -> Ticket:
    """The visit the tablet's page showed (`closes_at` as the GET answered it), if the
    tablet may still ask about it; else 409 `survey_closed` (or why not)."""
    if isinstance(shown, bool) or not isinstance(shown, int | float):
        raise ApiError(422, "invalid_request", "closes_at: the number the GET answered")
    state = engine.state
    ticket = tablet_visit(state, counter)
    if ticket is None or tablet_closes_at(ticket) != shown:
        raise Rejected("survey_closed", "the counter has served another visitor since")
    problem = tablet_problem(state, ticket, now)
    if problem is not None:
        raise problem
    return ticket


@api(
    "POST",
    "/tablet/survey/skip",
    allow=TABLETS,
    tag="survey",
    summary="A counter tablet: the visitor skipped the survey of the visit its page showed",
    body={
        "type": "object",
        "required": ["closes_at"],
        "properties": {"closes_at": TABLET_ANSWER["properties"]["closes_at"]},
        "additionalProperties": False,
    },
    responses={
        404: "the tablet's site or counter is not set up (`unknown_site`, `unknown_counter`)",
        409: "no longer asked here (`survey_closed`: skipped already, the counter moved on, or"
        " its 10 minutes passed), rated already (`survey_already_answered`), `survey_off`",
        410: "`survey_expired`",
        422: "`closes_at` missing or not a number, or another field (`invalid_request`)",
    },
    response=a.record(skipped=a.BOOL),
)
async def post_tablet_skip(request: Request, who: Principal) -> Response:
    """A `survey_skipped` event: the tablet is idle for that visit from now on, whatever
    page asks; the visitor may still answer on their phone."""
    engine, counter = await _counter(request, who)
    body = await read_json(request)
    if not isinstance(body, dict) or set(body) - {"closes_at"}:
        raise ApiError(422, "invalid_request", "expected {closes_at}")
    ticket = _shown_visit(engine, counter, body.get("closes_at"), _hall(request).clock())
    await engine.execute(c.SkipTabletSurvey(ticket=ticket.id, token=ticket.token))
    return _json({"skipped": True})


ROUTES: tuple[ApiRoute, ...] = (get_tablet_survey, post_tablet_survey, post_tablet_skip)
