"""The satisfaction survey over HTTP (docs/survey.md, docs/api.md "Survey").

- `GET  /tickets/{ref}/survey`: may this ticket be rated now, and the questions;
- `POST /tickets/{ref}/survey`: the visitor's answers (once per completed ticket);
- `GET|PUT /sites/{site}/survey`: the questionnaire in force / change it (admin);
- `GET  /sites/{site}/survey/results`: the index and its cuts (admin, supervisor);
- `GET  /sites/{site}/survey/export`: the responses as CSV or XLSX (admin, supervisor);
- `GET  /survey/{hall}`: the published figures and their history (anyone).

The visitor's ref (`<site>.<token>`) is their only credential, as for the ticket
status. No answer of these routes says which ticket gave which answer: the
results hold groups of at least the site's `min_group` respondents (the instrument's,
5 by default), never a response.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from qms.core import commands as c
from qms.core.calendar import business_day
from qms.core.survey import instrument_of, survey_problem
from qms.engine import SiteEngine
from qms.server import answers as a
from qms.server.api_hall import (
    _hall,
    _json,
    _set_up_engine,
    set_up_engine,
    visitor_ticket,
)
from qms.server.errors import ApiError, read_json
from qms.server.principal import ADMINS, EVERYONE, MANAGERS, Principal
from qms.server.routes import ApiRoute, api
from qms.survey.aggregate import CUTS, DEFAULT_MIN_GROUP, PERIODS
from qms.survey.errors import SurveyError
from qms.survey.export import to_csv, to_xlsx
from qms.survey.index import compute
from qms.survey.instrument import DEFAULT
from qms.survey.periods import period_of, public_default
from qms.survey.records import SurveyBook
from qms.survey.sample import progress

MIN_GROUP = DEFAULT_MIN_GROUP  # a site's own is its instrument's `min_group`
READ_PAGE = 5000  # log entries read at a time while catching up

# The visitor's view of the survey: `open` (the questions follow), or why not.
STATUS_OF_CODE = {
    "survey_off": "off",
    "survey_not_open": "not_open",
    "survey_already_answered": "answered",
    "survey_expired": "expired",
}


def _survey_error(exc: SurveyError) -> ApiError:
    return ApiError(exc.http_status, exc.code, exc.message, **exc.details)


async def _visitor_ticket(request: Request) -> tuple[SiteEngine, str, str]:
    """The engine, ticket id and token of the path's ref; misses are rate-limited per address."""
    engine, ticket = await visitor_ticket(request)
    return engine, ticket.id, ticket.token


SURVEY_STATUS = a.record(
    status={"type": "string", "enum": ["open", *STATUS_OF_CODE.values()]},
    closes_at=a.MAYBE_NUM,
    instrument={"type": ["object", "null"]},
)


@api(
    "GET",
    "/tickets/{ref}/survey",
    allow=EVERYONE,
    tag="survey",
    summary="May this completed ticket be rated now, and the questions (anonymous)",
    responses={
        404: "no such ticket (`unknown_ticket`); every miss gives the same answer",
        429: "too many misses from this address (`too_many_requests`)",
    },
    response=SURVEY_STATUS,
)
async def get_ticket_survey(request: Request, who: Principal) -> Response:
    """`status` is `open` (with `instrument` and `closes_at`), `not_open` (not completed
    yet), `answered`, `expired` or `off`."""
    engine, ticket, token = await _visitor_ticket(request)
    state, now = engine.state, _hall(request).clock()
    problem = survey_problem(state, ticket, token, now)
    inst = instrument_of(state)
    t = state.visit(ticket)
    assert t is not None  # _visitor_ticket found it in this state
    closes = None if t.finished_at is None else t.finished_at + inst.valid_hours * 3600
    if problem is not None:
        status = STATUS_OF_CODE.get(problem.code, "off")
        return _json({"status": status, "closes_at": closes, "instrument": None})
    return _json({"status": "open", "closes_at": closes, "instrument": inst.to_dict()})


ANSWER_BODY: dict[str, Any] = {
    "type": "object",
    "required": ["answers"],
    "properties": {
        "instrument": {
            "type": "integer",
            "minimum": 1,
            "maximum": 2**31,
            "description": "the version the page showed",
        },
        "answers": {
            "type": "object",
            "description": "U1…U9 (all nine) and the site's own X1… questions, each 1-4",
            "additionalProperties": {"type": "integer", "minimum": 1, "maximum": 4},
        },
        "profile": {"type": "object", "additionalProperties": {"type": "string"}},
        "suggestion": {"type": "string", "maxLength": 2000},
    },
    "additionalProperties": False,
}


@api(
    "POST",
    "/tickets/{ref}/survey",
    allow=EVERYONE,
    tag="survey",
    summary="Answer the satisfaction survey of a completed ticket (anonymous, once)",
    body=ANSWER_BODY,
    responses={
        201: "the answer is recorded",
        404: "no such ticket (`unknown_ticket`, `survey_unknown_ticket`)",
        409: "not completed (`survey_not_open`), answered already (`survey_already_answered`:"
        " a second answer never replaces the first), switched off (`survey_off`), or an"
        " older questionnaire (`instrument_mismatch`)",
        410: "more than the instrument's `valid_hours` after completion (`survey_expired`)",
        422: "a bad answer (`invalid_answer`, `missing_answer`, `unknown_question`,"
        " `invalid_profile`, `text_too_long`, `invalid_text`, `invalid_response`)",
        429: "too many misses from this address (`too_many_requests`)",
    },
    response=a.record(answered=a.BOOL),
)
async def post_ticket_survey(request: Request, who: Principal) -> Response:
    """Nothing of the answer comes back: the events name the counter and officer."""
    engine, ticket, token = await _visitor_ticket(request)
    body = await read_json(request)
    await engine.execute(c.SubmitSurvey(ticket=ticket, token=token, response=body))
    return _json({"answered": True}, 201)


@api(
    "GET",
    "/sites/{site}/survey",
    allow=MANAGERS,
    tag="survey",
    summary="The satisfaction survey's questionnaire in force, and the default one",
    responses={404: "no such site (`unknown_site`)"},
    response=a.record(instrument={"type": "object"}, default={"type": "object"}),
)
async def get_survey(request: Request, who: Principal) -> Response:
    """`default` is the regulation's questionnaire (PermenPAN-RB 14/2017): the texts the
    admin app's "restore default" puts back."""
    engine = await _set_up_engine(request)
    current = instrument_of(engine.state).to_dict()
    return _json({"instrument": current, "default": DEFAULT.to_dict()})


CONFIG_BODY: dict[str, Any] = {
    "type": "object",
    "properties": {
        "enabled": {"type": "boolean"},
        "questions": {"type": "object", "description": "U1…U9: {text, labels} to reword"},
        "profile": {"type": "array", "items": {"type": "string"}},
        "extras": {"type": "array", "maxItems": 10, "items": {"type": "object"}},
        "suggestion_limit": {"type": "integer", "minimum": 0, "maximum": 2000},
        "valid_hours": {"type": "integer", "minimum": 1, "maximum": 168},
        "min_group": {"type": "integer", "minimum": 3, "maximum": 100},
    },
    "additionalProperties": False,
}


@api(
    "PUT",
    "/sites/{site}/survey",
    allow=ADMINS,
    tag="survey",
    summary="Change the questionnaire (reword, extras, profile, on/off): its next version",
    body=CONFIG_BODY,
    responses={
        404: "no such site (`unknown_site`)",
        422: "a bad configuration (`invalid_instrument`)",
    },
    response=a.record(instrument={"type": "object"}),
)
async def put_survey(request: Request, who: Principal) -> Response:
    engine = await _set_up_engine(request)
    body = await read_json(request)
    await engine.execute(c.ConfigureSurvey(config=body, by=who.name))
    return _json({"instrument": instrument_of(engine.state).to_dict()})


# --- results -----------------------------------------------------------------------------


async def survey_book(request: Request, engine: SiteEngine) -> SurveyBook:
    """The site's survey records, caught up with its log (read from where it was left)."""
    cache: dict[str, tuple[SurveyBook, asyncio.Lock]] = request.app.state.survey_books
    if engine.site not in cache:
        cache[engine.site] = (SurveyBook(), asyncio.Lock())
    book, lock = cache[engine.site]
    async with lock:
        while True:
            entries = await _hall(request).log.read(engine.site, book.version, READ_PAGE)
            for version, entry in entries:
                book.apply(version, entry)
            if len(entries) < READ_PAGE:
                return book


def min_group_of(engines: Iterable[SiteEngine]) -> int:
    """The smallest group shown of figures over these sites: the largest of their
    instruments' `min_group` (each site's rule holds for its own respondents)."""
    return max((instrument_of(e.state).min_group for e in engines), default=MIN_GROUP)


def results(
    book: SurveyBook, first: date, last: date, by: str | None, min_group: int = MIN_GROUP
) -> dict[str, Any]:
    """The index of a period, its progress against the sample size, and one cut; groups
    under `min_group` respondents hidden."""
    # from the days' tallies (qms.survey.aggregate.DayTallies): a year of a busy hall in
    # a few milliseconds (bench/survey_index.py), never a pass over every response
    tally = book.tallies.total(first, last)
    shown = tally.respondents >= min_group
    index = compute(tally) if shown else None
    before = last - first
    served = book.served_between(first - before - timedelta(days=1), first - timedelta(days=1))
    out: dict[str, Any] = {
        "period": {"first": first.isoformat(), "last": last.isoformat()},
        "respondents": tally.respondents,
        "min_group": min_group,
        "index": index.to_dict() if index is not None else None,
        "progress": progress(tally.respondents, served or None).to_dict(),
        "served_previous_period": served,
        "cut": None,
        # answers of served visits and of walk-up QR codes, counted apart (small ones hidden)
        "sources": book.tallies.cut(first, last, "source", min_group).to_dict()["groups"],
    }
    if by is not None:
        out["cut"] = book.tallies.cut(first, last, by, min_group).to_dict()
    return out


RESULT_PARAMS = (
    {"name": "first", "in": "query", "required": False, "schema": {"type": "string"}},
    {"name": "last", "in": "query", "required": False, "schema": {"type": "string"}},
    {
        "name": "by",
        "in": "query",
        "required": False,
        "description": "one cut of the figures",
        "schema": {"type": "string", "enum": [*CUTS, *PERIODS]},
    },
)
# The figures of a period (`results`), which the public page (`published`) shows too.
FIGURES: dict[str, a.Schema] = {
    "period": a.record(first=a.STR, last=a.STR),
    "respondents": a.INT,
    "min_group": a.INT,
    "index": {"type": ["object", "null"]},
}
_OBJECTS = {"type": "array", "items": {"type": "object"}}
SURVEY_RESULTS = a.record(
    **FIGURES,
    progress={"type": "object"},
    served_previous_period=a.INT,
    cut={"type": ["object", "null"]},
    sources=_OBJECTS,
)


@api(
    "GET",
    "/sites/{site}/survey/results",
    allow=MANAGERS,
    tag="survey",
    summary="The satisfaction index (IKM) of a period, with one cut; small groups hidden",
    parameters=RESULT_PARAMS,
    responses={
        404: "no such site (`unknown_site`)",
        422: "a bad period (`invalid_period`) or cut (`invalid_cut`)",
    },
    response=SURVEY_RESULTS,
)
async def get_survey_results(request: Request, who: Principal) -> Response:
    """The figures of the period's respondents (default: the year so far); a period with
    fewer than the site's `min_group` (5 unless set) has no index, and a smaller group is
    hidden (docs/survey.md)."""
    engine, book, first, last = await _period_records(request)
    try:
        by = request.query_params.get("by")
        if by is not None and by not in (*CUTS, *PERIODS):
            raise SurveyError("invalid_cut", f"no cut {by!r}", allowed=[*CUTS, *PERIODS])
        min_group = instrument_of(engine.state).min_group
        return _json({"site": engine.site, **results(book, first, last, by, min_group)})
    except SurveyError as exc:
        raise _survey_error(exc) from None


async def _period_records(
    request: Request, engine: SiteEngine | None = None
) -> tuple[SiteEngine, SurveyBook, date, date]:
    engine = engine or await _set_up_engine(request)
    site = engine.state.site
    assert site is not None  # _set_up_engine: a set-up site
    today = date.fromisoformat(business_day(_hall(request).clock(), site.timezone))
    params = request.query_params
    try:
        first, last = period_of(params.get("first"), params.get("last"), today)
    except SurveyError as exc:
        raise _survey_error(exc) from None
    return engine, await survey_book(request, engine), first, last


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@api(
    "GET",
    "/sites/{site}/survey/export",
    allow=MANAGERS,
    tag="survey",
    summary="The period's responses, one row each (never the ticket): CSV or XLSX",
    parameters=(
        *RESULT_PARAMS[:2],
        {
            "name": "format",
            "in": "query",
            "required": False,
            "schema": {"type": "string", "enum": ["csv", "xlsx"]},
        },
    ),
    responses={
        404: "no such site (`unknown_site`)",
        422: "a bad period (`invalid_period`) or format (`invalid_request`)",
    },
    media=("text/csv", XLSX),
)
async def get_survey_export(request: Request, who: Principal) -> Response:
    """Columns: period (the month), service, agency, channel, U1…U9, the profile and the
    suggestion; XLSX adds the calculation sheet (NRR, weighted, IKM, converted, grade)."""
    kind = request.query_params.get("format", "csv")
    if kind not in ("csv", "xlsx"):
        raise ApiError(422, "invalid_request", "format: csv or xlsx", allowed=["csv", "xlsx"])
    engine, book, first, last = await _period_records(request)
    records = book.between(first, last)
    name = f"skm-{engine.site}-{first.isoformat()}-{last.isoformat()}.{kind}"
    headers = {
        "Content-Disposition": f'attachment; filename="{name}"',
        "Cache-Control": "no-store",
    }
    if kind == "csv":
        return Response(to_csv(records), media_type="text/csv; charset=utf-8", headers=headers)
    return Response(to_xlsx(records), media_type=XLSX, headers=headers)


PUBLIC_RESULTS = a.record(
    site=a.STR,
    name=a.STR,
    **FIGURES,
    history=_OBJECTS,
    sources=_OBJECTS,
    plans=_OBJECTS,
)


@api(
    "GET",
    "/survey/{hall}",
    allow=EVERYONE,
    tag="survey",
    summary="The published survey result: IKM, grade, each element, respondents, history",
    parameters=RESULT_PARAMS[:2],
    responses={
        404: "no such site (`unknown_site`)",
        422: "a bad period (`invalid_period`)",
    },
    response=PUBLIC_RESULTS,
)
async def get_survey_public(request: Request, who: Principal) -> Response:
    """What the regulation asks a unit to publish, for anyone: by default the last
    complete quarter (or the quarter so far while it has too few answers); no cut below
    the site, a period under the site's `min_group` respondents without an index; `history` is each
    quarter's result, `plans` each period's follow-up plan (rencana tindak lanjut), the
    latest first."""
    engine = await set_up_engine(_hall(request), request.path_params["hall"])
    site = engine.state.site
    assert site is not None  # set_up_engine: a set-up site
    engine, book, first, last = await _period_records(request, engine)
    min_group = instrument_of(engine.state).min_group
    params = request.query_params
    if params.get("first") is None and params.get("last") is None:
        # not the year so far (a January page would show next to nothing): the last
        # complete quarter, or the quarter so far while that one has too few answers
        first, last = public_default(
            lambda a, b: book.tallies.total(a, b).respondents, last, min_group
        )
    figures = published(book, first, last, min_group)
    return _json({"site": engine.site, "name": site.name, **figures})


def published(
    book: SurveyBook, first: date, last: date, min_group: int = MIN_GROUP
) -> dict[str, Any]:
    """The public page's figures (without the site's name): bench/survey_index.py times it."""
    shown = results(book, first, last, None, min_group)
    history = book.tallies.cut(date.min, date.max, "quarter", min_group)
    return {
        "period": shown["period"],
        "respondents": shown["respondents"],
        "min_group": min_group,
        "index": shown["index"],
        "history": history.to_dict()["groups"],
        "sources": shown["sources"],
        "plans": [p.to_dict() for p in book.plan_history()],
    }


ROUTES: tuple[ApiRoute, ...] = (
    get_ticket_survey,
    post_ticket_survey,
    get_survey,
    put_survey,
    get_survey_results,
    get_survey_export,
    get_survey_public,
)
