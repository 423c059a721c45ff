"""The reports' decoding of stored events (qms/reports/decode.py) gives the very events
`event_from_dict` gives, and refuses what it refuses."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from reports_hall import ReportsHall
from test_reports_properties import START, actions, play

from qms.core import events as e
from qms.core.events import event_from_dict
from qms.eventsourcing.records import UnknownEvent
from qms.reports.decode import _PLANS, decode


def same(entry: dict[str, Any]) -> None:
    want = event_from_dict(entry)
    got = decode(entry)
    assert type(got) is type(want) and got == want, entry
    assert vars(got) == vars(want)  # every field, with its type (floats, enums)
    assert {type(v) for v in vars(got).values()} == {type(v) for v in vars(want).values()}


@settings(max_examples=30, deadline=None, derandomize=True, database=None)
@given(steps=actions)
def test_every_event_of_played_days_decodes_as_event_from_dict(steps: Any) -> None:
    hall = ReportsHall(START).set_up()
    play(hall, steps)
    for _, entry in hall.entries:
        same(entry)


def test_the_ticket_and_counter_events_take_the_short_way() -> None:
    for cls in (e.TicketIssued, e.TicketCalled, e.TicketTransferred, e.CounterOpened):
        assert cls.TYPE in _PLANS
    assert e.ServiceConfigured.TYPE not in _PLANS  # nested records: the long way


def test_old_and_odd_entries_are_read_or_refused_as_before() -> None:
    base = {"type": "ticket_called", "schema": 1, "at": 5, "ticket": "t1"}
    same(base)  # an integer time becomes a float; missing fields take their defaults
    same({**base, "added_later": [1, 2]})  # a field of a later version is left out
    same({"type": "ticket_issued", "at": 1.0, "ticket": "t", "number": "A001",
          "service": "ktp", "day": "2025-01-06", "seq": 1, "token": "x",
          "priority": "lansia", "channel": "online"})  # fmt: skip
    for odd in (
        {"type": "ticket_called", "ticket": "t1"},  # no time
        {**base, "at": "noon"},  # not a number
        {
            "type": "ticket_issued",
            "at": 1.0,
            "ticket": "t",
            "number": "A",
            "service": "s",
            "day": "d",
            "seq": 1,
            "token": "x",
            "priority": "vip",
        },
        {"type": "no_such_event", "at": 1.0},
    ):
        with pytest.raises(UnknownEvent):
            event_from_dict(odd)
        with pytest.raises(UnknownEvent):
            decode(odd)
