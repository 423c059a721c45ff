"""A survey window of days (docs/survey.md "For a stated time, up to a week"): a completed
visit of a day the hall's state no longer keeps is still rated, once, until its window closes.

The clock moves over day closes: each `issue` on a later date rolls the business day
(`day_closed`, `day_opened`), and the state keeps only today's and the day before's
tickets; the older days' completed visits live in `HallState.rateable`.
"""

from __future__ import annotations

import copy

from pure_hall import PureHall
from test_survey_core import ANSWERS, refused, served

from qms.core import state_from_dict, state_to_dict
from qms.core.events import SurveyAnswered
from qms.core.evolve import checkpoint, evolve

DAY = 24 * 3600


def two_days_later(h: PureHall) -> None:
    """Two business days on: the completion's day leaves `state.tickets`."""
    for _ in range(2):
        h.tick(DAY)
        h.issue("ktp")


def test_a_visit_is_rated_days_later_within_its_window() -> None:
    h, tid, token = served()
    h.do("configure_survey", config={"valid_hours": 72})
    two_days_later(h)
    assert tid not in h.state.tickets  # the day it was served is gone from the tickets...
    visit = h.state.rateable[tid]  # ...and its visit kept, without its steps
    assert visit.token == token and visit.steps == [] and visit.counter == "L2"
    (ev,) = h.do("submit_survey", ticket=tid, token=token, response=ANSWERS)
    assert isinstance(ev, SurveyAnswered)
    assert (ev.ticket, ev.service, ev.counter, ev.officer) == (tid, "kk", "L2", "sari")
    assert ev.day == visit.day  # dated by its visit's day, as any answer
    assert h.state.rateable[tid].surveyed
    refused(h, "survey_already_answered", "submit_survey", ticket=tid, token=token,
            response=ANSWERS)  # fmt: skip
    # a snapshot keeps it, and a replay of the log gives the same state
    restored = state_from_dict(state_to_dict(h.state))
    assert restored is not None and restored.rateable == h.state.rateable
    assert restored == h.state


def test_the_window_closes_and_the_visit_is_dropped() -> None:
    h, tid, token = served()
    h.do("configure_survey", config={"valid_hours": 50})
    two_days_later(h)
    assert tid in h.state.rateable
    h.tick(3 * 3600)  # 51 hours after the completion
    refused(h, "survey_expired", "submit_survey", ticket=tid, token=token, response=ANSWERS)
    h.tick(DAY)
    h.issue("ktp")  # the next day opening prunes it
    assert tid not in h.state.rateable
    refused(h, "survey_unknown_ticket", "submit_survey", ticket=tid, token=token,
            response=ANSWERS)  # fmt: skip


def test_a_day_long_window_keeps_nothing_apart() -> None:
    h, tid, token = served()
    two_days_later(h)
    assert h.state.rateable == {}
    refused(h, "survey_unknown_ticket", "submit_survey", ticket=tid, token=token,
            response=ANSWERS)  # fmt: skip


def test_only_completed_visits_are_kept() -> None:
    h = PureHall.standard()
    h.do("configure_survey", config={"valid_hours": 168})
    waiting = h.issue("ktp")
    h.open("L2", "sari")
    done = h.issue("kk")
    h.call("L2")
    h.do("complete", counter="L2")
    two_days_later(h)
    assert set(h.state.rateable) == {done} and waiting not in h.state.tickets


def test_rating_an_older_visit_is_undone_exactly() -> None:
    h, tid, token = served()
    h.do("configure_survey", config={"valid_hours": 72})
    two_days_later(h)
    before = copy.deepcopy(h.state)
    cmd = h.command("submit_survey", ticket=tid, token=token, response=ANSWERS)
    from qms.core import decide

    (ev,) = decide(h.state, cmd, h.now)
    undo = checkpoint(h.state, ev)
    assert undo is not None
    evolve(h.state, ev)
    assert h.state.rateable[tid].surveyed
    undo()
    assert h.state == before
