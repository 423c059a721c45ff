"""The survey in the hall's core: a completed ticket rated once, by its token, in time.

Uses the decide-then-evolve `PureHall` of tests/test_core_commands.py (which also
checks that every event survives its wire form and that decide changes nothing).
"""

from __future__ import annotations

import copy
from typing import Any, cast

import pytest
from pure_hall import PureHall

from qms.core import Rejected, state_from_dict, state_to_dict
from qms.core import events as e
from qms.core.errors import ALL_CODES
from qms.core.evolve import checkpoint, evolve
from qms.core.survey import (
    TABLET_MINUTES,
    instrument_of,
    tablet_closes_at,
    tablet_problem,
    tablet_visit,
)
from qms.survey.instrument import ELEMENT_KEYS

ANSWERS = {"answers": {k: 3 for k in ELEMENT_KEYS}, "profile": {"usia": "30-39"}}


def refused(h: PureHall, code: str, kind: str, **fields: Any) -> Rejected:
    before = copy.deepcopy(h.state)
    with pytest.raises(Rejected) as info:
        h.do(kind, **fields)
    assert info.value.code == code, info.value
    assert info.value.http_status == ALL_CODES[code]
    assert h.state == before
    return info.value


def served() -> tuple[PureHall, str, str]:
    h = PureHall.standard()
    tid = h.issue("kk")
    h.open("L2", "sari")
    h.call("L2")
    h.do("start_service", counter="L2")
    h.tick(300)
    h.do("complete", counter="L2")
    return h, tid, h.state.tickets[tid].token


def test_a_completed_ticket_is_rated_once() -> None:
    h, tid, token = served()
    h.tick(60)
    (ev,) = h.do("submit_survey", ticket=tid, token=token, response=ANSWERS)
    assert isinstance(ev, e.SurveyAnswered)
    assert (ev.service, ev.agency, ev.counter, ev.officer, ev.day) == (
        "kk",
        "dukcapil",
        "L2",
        "sari",
        h.state.tickets[tid].day,
    )
    assert ev.response["scores"] == [3] * 9 and ev.response["profile"] == {"usia": "30-39"}
    assert ev.by is None  # the visitor is nobody in the log
    assert h.state.tickets[tid].surveyed
    error = refused(
        h, "survey_already_answered", "submit_survey", ticket=tid, token=token, response=ANSWERS
    )
    assert error.http_status == 409


def test_who_and_when() -> None:
    h, tid, token = served()
    refused(
        h,
        "survey_unknown_ticket",
        "submit_survey",
        ticket=tid,
        token="wrongtoken",
        response=ANSWERS,
    )
    refused(
        h, "survey_unknown_ticket", "submit_survey", ticket="nope", token=token, response=ANSWERS
    )
    waiting = h.issue("kk")
    refused(
        h,
        "survey_not_open",
        "submit_survey",
        ticket=waiting,
        token=h.state.tickets[waiting].token,
        response=ANSWERS,
    )
    h.tick(24 * 3600 + 1)
    error = refused(h, "survey_expired", "submit_survey", ticket=tid, token=token, response=ANSWERS)
    assert error.details == {"valid_hours": 24}


def test_bad_answers_record_nothing() -> None:
    h, tid, token = served()
    bad = {"answers": {**cast(dict[str, int], ANSWERS["answers"]), "U9": 5}}
    refused(h, "invalid_answer", "submit_survey", ticket=tid, token=token, response=bad)
    refused(
        h,
        "missing_answer",
        "submit_survey",
        ticket=tid,
        token=token,
        response={"answers": {"U1": 4}},
    )
    assert not h.state.tickets[tid].surveyed


def test_survey_does_not_roll_the_business_day() -> None:
    h, tid, token = served()
    h.tick(15 * 3600)  # the next morning, before anyone opened the day
    day = h.state.day
    events = h.do("submit_survey", ticket=tid, token=token, response=ANSWERS)
    assert [ev.TYPE for ev in events] == ["survey_answered"] and h.state.day == day


def test_configure_switch_off_and_versions() -> None:
    h, tid, token = served()
    assert instrument_of(h.state).version == 1
    (ev,) = h.do("configure_survey", config={"valid_hours": 2, "profile": ["usia"]})
    assert isinstance(ev, e.SurveyConfigured) and ev.instrument["version"] == 2
    refused(
        h,
        "instrument_mismatch",
        "submit_survey",
        ticket=tid,
        token=token,
        response={**ANSWERS, "instrument": 1},
    )
    h.do("configure_survey", config={"enabled": False})
    refused(h, "survey_off", "submit_survey", ticket=tid, token=token, response=ANSWERS)
    refused(h, "invalid_instrument", "configure_survey", config={"valid_hours": 169})
    h.do("configure_survey", config={"enabled": True})
    assert instrument_of(h.state).version == 4
    h.tick(3 * 3600)
    refused(h, "survey_expired", "submit_survey", ticket=tid, token=token, response=ANSWERS)


def test_snapshot_keeps_the_instrument_and_the_mark() -> None:
    h, tid, token = served()
    h.do("configure_survey", config={"valid_hours": 5})
    h.do("submit_survey", ticket=tid, token=token, response=ANSWERS)
    restored = state_from_dict(state_to_dict(h.state))
    assert restored is not None
    assert restored.survey == h.state.survey and restored.tickets[tid].surveyed


def test_the_answer_is_undone_exactly() -> None:
    h, tid, _token = served()
    before = copy.deepcopy(h.state)
    ev = e.SurveyAnswered(
        at=h.now, ticket=tid, service="kk", agency="dukcapil", day="2024-07-01", response={}
    )
    undo = checkpoint(h.state, ev)
    assert undo is not None
    evolve(h.state, ev)
    assert h.state != before
    undo()
    assert h.state == before


def test_a_counter_tablet_asks_about_its_counters_last_completion_only() -> None:
    """`tablet_visit` / `tablet_problem` (docs/survey.md "The counter tablet"), on a fixed
    clock: the latest completion at the counter, for TABLET_MINUTES, never an earlier one."""
    h, first, _ = served()  # completed at L2
    assert tablet_visit(h.state, "L1") is None and tablet_visit(h.state, "nowhere") is None
    visit = tablet_visit(h.state, "L2")
    assert visit is not None and visit.id == first
    assert tablet_closes_at(visit) == h.now + TABLET_MINUTES * 60
    assert tablet_problem(h.state, visit, h.now) is None
    closes = tablet_closes_at(visit)
    assert tablet_problem(h.state, visit, closes - 0.001) is None
    problem = tablet_problem(h.state, visit, closes)
    assert problem is not None and problem.code == "survey_closed"
    # The next visitor called: still the first visit (they are walking up) ...
    second = h.issue("kk")
    h.call("L2")
    assert tablet_visit(h.state, "L2") is visit
    # ... being served: nobody's, the person at the counter is someone else.
    h.do("start_service", counter="L2")
    assert tablet_visit(h.state, "L2") is None
    h.tick(60)
    h.do("complete", counter="L2")
    latest = tablet_visit(h.state, "L2")
    assert latest is not None and latest.id == second
    # Rated (here on the phone): closed, and the first, unrated, visit does not come back.
    h.do("submit_survey", ticket=second, token=latest.token, response=ANSWERS, tablet=False)
    assert tablet_visit(h.state, "L2") is latest
    rated = tablet_problem(h.state, latest, h.now)
    assert rated is not None and rated.code == "survey_already_answered"
    assert not h.state.tickets[first].surveyed and first != second
    # On the tablet: recorded as such.
    third = h.issue("kk")
    h.call("L2")
    h.do("complete", counter="L2")
    (ev,) = h.do("submit_survey", ticket=third, token=h.state.tickets[third].token,
                 response=ANSWERS, tablet=True)  # fmt: skip
    assert isinstance(ev, e.SurveyAnswered)
    assert ev.tablet is True and ev.channel == h.state.tickets[third].channel
