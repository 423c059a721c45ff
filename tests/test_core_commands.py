"""The pure core, command by command: what each one does, every way it is refused.

The harness is tests/pure_hall.py: `PureHall.do` decides and folds a plain command
(checking its wire forms), `PureHall.reject` checks a refusal changed nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pure_hall import MONDAY, SATURDAY, TUESDAY, WEDNESDAY, PureHall, kinds, utc, wib

from qms.core import (
    CODES,
    COMMAND_TYPES,
    EVENT_TYPES,
    HallState,
    Rejected,
    command_to_dict,
    decide,
    event_from_dict,
    event_to_dict,
    evolve,
    parse_command,
    state_from_dict,
    state_to_dict,
)
from qms.core import events as e
from qms.core.model import (
    Agency,
    Channel,
    Counter,
    CounterState,
    OpeningHours,
    Priority,
    Service,
    Site,
    TicketState,
)
from qms.eventsourcing.records import UnknownEvent


@pytest.fixture
def pure_hall() -> PureHall:
    return PureHall.standard()


# =============================================================================
# 1. Each command, its normal case
# =============================================================================


def _issue(h: PureHall) -> str:
    return h.issue("ktp")


def _called(h: PureHall) -> str:
    h.open("L1")
    tid = h.issue("ktp")
    h.call("L1")
    return tid


Case = tuple[dict[str, Any], list[str]]  # the command's fields, the event types expected


def _open_l1(h: PureHall) -> dict[str, Any]:
    h.open("L1")
    return {"counter": "L1"}


def _call_l1(h: PureHall) -> dict[str, Any]:
    _called(h)
    return {"counter": "L1"}


def _rated(h: PureHall) -> dict[str, Any]:
    """A completed ticket and a full survey answer for it (tests/test_survey_core.py)."""
    tid = _called(h)
    h.do("complete", counter="L1")
    answers = {f"U{i}": 4 for i in range(1, 10)}
    return {"ticket": tid, "token": h.t(tid).token, "response": {"answers": answers}}


def _held(h: PureHall) -> dict[str, Any]:
    tid = _issue(h)
    h.do("hold", ticket=tid)
    return {"ticket": tid}


def _waiting_for_l1(h: PureHall) -> dict[str, Any]:
    h.open("L1")
    return {"counter": "L1", "ticket": _issue(h)}


def _next_for_l1(h: PureHall) -> dict[str, Any]:
    h.open("L1")
    _issue(h)
    return {"counter": "L1"}


def _day_under_way(h: PureHall) -> dict[str, Any]:
    _issue(h)
    return {}


NORMAL_CASES: dict[str, Callable[[PureHall], Case]] = {
    "set_up_site": lambda h: ({"site": "mpp-jkt", "name": "MPP DKI"}, ["site_configured"]),
    "set_up_agency": lambda h: ({"agency": "bpjs", "name": "BPJS"}, ["agency_configured"]),
    "set_up_service": lambda h: (
        {"service": "akta", "agency": "dukcapil", "prefix": "D", "name_id": "A", "name_en": "D"},
        ["service_configured"],
    ),
    "set_up_counter": lambda h: ({"counter": "L4", "name": "Loket 4"}, ["counter_configured"]),
    "issue_ticket": lambda h: ({"service": "ktp"}, ["day_opened", "ticket_issued"]),
    "open_counter": lambda h: (
        {"counter": "L1", "officer": "budi"},
        ["day_opened", "counter_opened"],
    ),
    "pause_counter": lambda h: (_open_l1(h), ["counter_paused"]),
    "close_counter": lambda h: (_open_l1(h), ["counter_closed"]),
    "set_counter_services": lambda h: (
        {"counter": "L2", "services": ["ktp"]},
        ["day_opened", "counter_services_set"],
    ),
    "call_next": lambda h: (_next_for_l1(h), ["ticket_called"]),
    "call_ticket": lambda h: (_waiting_for_l1(h), ["ticket_called"]),
    "recall": lambda h: (_call_l1(h), ["ticket_recalled"]),
    "start_service": lambda h: (_call_l1(h), ["service_started"]),
    "complete": lambda h: (_call_l1(h), ["service_started", "ticket_completed"]),
    "no_show": lambda h: (_call_l1(h), ["ticket_no_show"]),
    "return_to_queue": lambda h: (_call_l1(h), ["ticket_returned"]),
    "transfer": lambda h: ({"ticket": _issue(h), "to_service": "kk"}, ["ticket_transferred"]),
    "hold": lambda h: ({"ticket": _issue(h)}, ["ticket_held"]),
    "unhold": lambda h: (_held(h), ["ticket_unheld"]),
    "cancel": lambda h: ({"ticket": _issue(h)}, ["ticket_cancelled"]),
    "close_day": lambda h: (_day_under_way(h), ["day_closed"]),
    "broadcast": lambda h: ({"text": "Loket 5 istirahat"}, ["message_broadcast"]),
    "submit_survey": lambda h: (_rated(h), ["survey_answered"]),
    "skip_tablet_survey": lambda h: (
        {k: v for k, v in _rated(h).items() if k != "response"},
        ["survey_skipped"],
    ),
    "configure_survey": lambda h: ({"config": {"valid_hours": 12}}, ["survey_configured"]),
    "submit_walk_up_survey": lambda h: (
        {"service": "ktp", "response": {"answers": {f"U{i}": 3 for i in range(1, 10)}}},
        ["survey_answered"],
    ),
    "write_survey_plan": lambda h: (
        {"plan": {"period": "2026-Q1", "elements": ["U9"], "text": "Kursi tunggu"}},
        ["survey_plan_written"],
    ),
}


def test_every_command_type_has_a_normal_case() -> None:
    assert set(NORMAL_CASES) == set(COMMAND_TYPES)


@pytest.mark.parametrize("kind", sorted(COMMAND_TYPES))
def test_each_command_succeeds_in_its_normal_case(kind: str) -> None:
    h = PureHall.standard()
    fields, expected = NORMAL_CASES[kind](h)
    events = h.do(kind, by="tester", **fields)
    assert kinds(events) == expected
    assert all(ev.by == "tester" for ev in events)


def test_set_up_site_and_update_it() -> None:
    h = PureHall()
    events = h.do("set_up_site", site="mpp-jkt", name="MPP Jakarta", by="admin")
    site = Site(id="mpp-jkt", name="MPP Jakarta")
    assert events == [e.SiteConfigured(site=site, at=MONDAY, by="admin")]
    assert h.state.site == site
    assert (site.timezone, site.number_format, site.policy) == (
        "Asia/Jakarta",
        "{prefix}{seq:03d}",
        "arrival",
    )
    assert (site.priority_streak_max, site.transfer_keeps_arrival) == (3, True)
    assert h.state.day is None  # set-up opens no business day

    h.do(
        "set_up_site",
        site="mpp-jkt",
        name="MPP DKI Jakarta",
        timezone="Asia/Makassar",
        policy="target",
        priority_streak_max=5,
        transfer_keeps_arrival=False,
        number_format="{prefix}-{seq:04d}",
    )
    assert h.state.site == Site(
        id="mpp-jkt",
        name="MPP DKI Jakarta",
        timezone="Asia/Makassar",
        number_format="{prefix}-{seq:04d}",
        policy="target",
        priority_streak_max=5,
        transfer_keeps_arrival=False,
    )


def test_set_up_agency_and_rename_it() -> None:
    h = PureHall.standard()
    assert h.do("set_up_agency", agency="bpjs", name="BPJS") == [
        e.AgencyConfigured(agency=Agency("bpjs", "BPJS"), at=MONDAY)
    ]
    h.do("set_up_agency", agency="bpjs", name="BPJS Kesehatan")
    assert h.state.agencies["bpjs"] == Agency("bpjs", "BPJS Kesehatan")
    assert sorted(h.state.agencies) == ["bpjs", "dukcapil", "samsat"]


def test_set_up_service_and_update_it(pure_hall: PureHall) -> None:
    hours = {"open": "08:00", "close": "15:30", "weekdays": [0, 1, 2, 3, 4]}
    [ev] = pure_hall.do(
        "set_up_service",
        service="akta",
        agency="dukcapil",
        prefix="AK",
        name_id="Akta Kelahiran",
        name_en="Birth certificate",
        target_wait_min=25,
        daily_quota=40,
        hours=hours,
    )
    expected = Service(
        id="akta",
        agency="dukcapil",
        prefix="AK",
        name_id="Akta Kelahiran",
        name_en="Birth certificate",
        target_wait_min=25,
        daily_quota=40,
        hours=OpeningHours("08:00", "15:30", [0, 1, 2, 3, 4]),
        active=True,
    )
    assert ev == e.ServiceConfigured(service=expected, at=MONDAY)
    assert pure_hall.state.services["akta"] == expected
    # An update keeps its own prefix (not "taken" by itself) and replaces the rest.
    pure_hall.do(
        "set_up_service",
        service="akta",
        agency="dukcapil",
        prefix="AK",
        name_id="Akta",
        name_en="Certificate",
        target_wait_min=5,
    )
    s = pure_hall.state.services["akta"]
    assert (s.name_id, s.target_wait_min, s.daily_quota, s.hours) == (
        "Akta",
        5,
        0,
        OpeningHours(),
    )


def test_set_up_counter_and_update_it_keeps_its_state(pure_hall: PureHall) -> None:
    [ev] = pure_hall.do("set_up_counter", counter="L4", name="Loket 4", zone="B", services=["kk"])
    assert ev == e.CounterConfigured(
        counter="L4", name="Loket 4", zone="B", services=["kk"], at=MONDAY
    )
    assert pure_hall.c("L4") == Counter(id="L4", name="Loket 4", zone="B", services=["kk"])
    pure_hall.open("L4", "siti")
    pure_hall.do("set_up_counter", counter="L4", name="Loket 4A", services=["kk", "stnk"])
    c = pure_hall.c("L4")
    assert (c.name, c.zone, c.services, c.state, c.officer) == (
        "Loket 4A",
        "",
        ["kk", "stnk"],
        CounterState.OPEN,
        "siti",
    )


def test_issue_ticket_numbers_per_service_and_opens_the_day(pure_hall: PureHall) -> None:
    events = pure_hall.do("issue_ticket", service="ktp", token="secret-1")
    assert events == [
        e.DayOpened(day="2024-07-01", at=MONDAY),
        e.TicketIssued(
            ticket="2024-07-01-00001",
            number="A001",
            service="ktp",
            day="2024-07-01",
            seq=1,
            token="secret-1",
            priority=Priority.REGULAR,
            channel=Channel.KIOSK,
            at=MONDAY,
        ),
    ]
    assert pure_hall.state.day == "2024-07-01"
    pure_hall.tick(30)
    [second] = pure_hall.do("issue_ticket", service="ktp", priority="lansia", channel="online")
    assert isinstance(second, e.TicketIssued)
    assert (second.number, second.seq, second.ticket) == ("A002", 2, "2024-07-01-00002")
    assert (second.priority, second.channel) == (Priority.LANSIA, Channel.ONLINE)
    b1 = pure_hall.issue("kk")
    a3 = pure_hall.issue("ktp")
    assert (pure_hall.t(b1).number, pure_hall.t(a3).number) == ("B001", "A003")
    for _ in range(6):
        pure_hall.issue("ktp")
    assert [t.number for t in pure_hall.state.tickets.values() if t.service == "ktp"] == [
        f"A{n:03d}" for n in range(1, 10)
    ]
    a10 = pure_hall.issue("ktp")
    assert pure_hall.t(a10).number == "A010"
    ids = list(pure_hall.state.tickets)
    assert len(ids) == len(set(ids)) == 11
    assert pure_hall.state.seq == {"ktp": 10, "kk": 1}
    assert pure_hall.state.serial == 11
    t = pure_hall.t("2024-07-01-00002")
    assert (t.state, t.issued_at, t.arrival_at, t.token) == (
        TicketState.WAITING,
        MONDAY + 30,
        MONDAY + 30,
        "tok1",
    )
    assert [w.number for w in pure_hall.state.waiting_in("ktp")][:3] == ["A001", "A002", "A003"]


def test_issue_ticket_uses_the_site_number_format() -> None:
    h = PureHall.standard(number_format="{prefix}-{seq:04d}")
    assert h.t(h.issue("kk")).number == "B-0001"


def test_open_pause_resume_close_counter(pure_hall: PureHall) -> None:
    events = pure_hall.do("open_counter", counter="L1", officer="budi")
    assert events == [
        e.DayOpened(day="2024-07-01", at=MONDAY),
        e.CounterOpened(counter="L1", officer="budi", at=MONDAY),
    ]
    assert (pure_hall.c("L1").state, pure_hall.c("L1").officer) == (CounterState.OPEN, "budi")
    assert pure_hall.do("pause_counter", counter="L1") == [e.CounterPaused(counter="L1", at=MONDAY)]
    assert (pure_hall.c("L1").state, pure_hall.c("L1").officer) == (CounterState.PAUSED, "budi")
    pure_hall.issue("ktp")
    pure_hall.reject("counter_not_open", "call_next", counter="L1")
    # Resume from the pause, here by the officer who takes over.
    assert pure_hall.do("open_counter", counter="L1", officer="siti") == [
        e.CounterOpened(counter="L1", officer="siti", at=MONDAY)
    ]
    assert (pure_hall.c("L1").state, pure_hall.c("L1").officer) == (CounterState.OPEN, "siti")
    pure_hall.serve("L1")
    assert pure_hall.do("close_counter", counter="L1") == [e.CounterClosed(counter="L1", at=MONDAY)]
    c = pure_hall.c("L1")
    assert (c.state, c.officer, c.ticket, c.priority_streak) == (CounterState.CLOSED, None, None, 0)
    # A paused counter closes too.
    pure_hall.open("L2")
    pure_hall.do("pause_counter", counter="L2")
    pure_hall.do("close_counter", counter="L2")
    assert pure_hall.c("L2").state is CounterState.CLOSED


def test_set_counter_services_takes_effect_on_the_next_call(pure_hall: PureHall) -> None:
    pure_hall.open("L2")  # serves kk only
    a1 = pure_hall.issue("ktp")
    b1 = pure_hall.issue("kk")
    assert pure_hall.call("L2") == b1  # in hand while the services change
    assert pure_hall.do("set_counter_services", counter="L2", services=["ktp"]) == [
        e.CounterServicesSet(counter="L2", services=["ktp"], at=MONDAY)
    ]
    assert pure_hall.c("L2").services == ["ktp"]
    assert pure_hall.c("L2").ticket == b1  # the ticket in hand is not touched
    pure_hall.do("complete", counter="L2")
    b2 = pure_hall.issue("kk")
    assert pure_hall.call("L2") == a1
    pure_hall.do("complete", counter="L2")
    pure_hall.reject("no_ticket_waiting", "call_next", counter="L2")
    assert pure_hall.t(b2).state is TicketState.WAITING
    # An empty list is allowed: the counter then takes only tickets sent to it.
    pure_hall.do("set_counter_services", counter="L2", services=[])
    assert pure_hall.c("L2").services == []


def test_call_next_hands_the_ticket_to_the_counter(pure_hall: PureHall) -> None:
    pure_hall.open("L1", "budi")
    a1 = pure_hall.issue("ktp")
    a2 = pure_hall.issue("ktp")
    pure_hall.tick(90)
    assert pure_hall.do("call_next", counter="L1") == [
        e.TicketCalled(ticket=a1, counter="L1", officer="budi", at=MONDAY + 90)
    ]
    t = pure_hall.t(a1)
    assert (t.state, t.counter, t.officer, t.called_at) == (
        TicketState.CALLED,
        "L1",
        "budi",
        MONDAY + 90,
    )
    assert pure_hall.c("L1").ticket == a1
    assert [w.id for w in pure_hall.state.waiting_in("ktp")] == [a2]


def test_call_ticket_calls_that_ticket_out_of_turn(pure_hall: PureHall) -> None:
    pure_hall.open("L1", "budi")
    a1 = pure_hall.issue("ktp")
    a2 = pure_hall.issue("ktp")
    assert pure_hall.do("call_ticket", counter="L1", ticket=a2) == [
        e.TicketCalled(ticket=a2, counter="L1", officer="budi", at=MONDAY)
    ]
    assert pure_hall.t(a2).state is TicketState.CALLED
    pure_hall.do("complete", counter="L1")
    assert pure_hall.call("L1") == a1


def test_recall_counts_up(pure_hall: PureHall) -> None:
    tid = _called(pure_hall)
    pure_hall.tick(20)
    assert pure_hall.do("recall", counter="L1") == [
        e.TicketRecalled(ticket=tid, counter="L1", officer="budi", recalls=1, at=MONDAY + 20)
    ]
    [again] = pure_hall.do("recall", counter="L1")
    assert isinstance(again, e.TicketRecalled)
    assert again.recalls == 2
    t = pure_hall.t(tid)
    assert (t.recalls, t.state, t.called_at) == (2, TicketState.CALLED, MONDAY)
    assert [s.kind for s in t.steps] == ["issued", "called", "recalled", "recalled"]


def test_start_then_complete(pure_hall: PureHall) -> None:
    tid = _called(pure_hall)
    pure_hall.tick(60)
    assert pure_hall.do("start_service", counter="L1") == [
        e.ServiceStarted(ticket=tid, counter="L1", officer="budi", at=MONDAY + 60)
    ]
    assert (pure_hall.t(tid).state, pure_hall.t(tid).started_at) == (
        TicketState.SERVING,
        MONDAY + 60,
    )
    pure_hall.tick(300)
    assert pure_hall.do("complete", counter="L1") == [
        e.TicketCompleted(ticket=tid, counter="L1", officer="budi", at=MONDAY + 360)
    ]
    t = pure_hall.t(tid)
    assert (t.state, t.started_at, t.finished_at) == (
        TicketState.DONE,
        MONDAY + 60,
        MONDAY + 360,
    )
    assert pure_hall.c("L1").ticket is None
    assert [(s.kind, s.at, s.counter, s.officer) for s in t.steps] == [
        ("issued", MONDAY, None, None),
        ("called", MONDAY, "L1", "budi"),
        ("started", MONDAY + 60, "L1", "budi"),
        ("completed", MONDAY + 360, "L1", "budi"),
    ]


def test_complete_from_called_records_the_start_too(pure_hall: PureHall) -> None:
    tid = _called(pure_hall)
    pure_hall.tick(45)
    step: dict[str, Any] = {"ticket": tid, "counter": "L1", "officer": "budi", "at": MONDAY + 45}
    assert pure_hall.do("complete", counter="L1") == [
        e.ServiceStarted(**step),
        e.TicketCompleted(**step),
    ]
    t = pure_hall.t(tid)
    assert (t.state, t.started_at, t.finished_at) == (
        TicketState.DONE,
        MONDAY + 45,
        MONDAY + 45,
    )


def test_no_show_ends_the_ticket_and_frees_the_counter(pure_hall: PureHall) -> None:
    tid = _called(pure_hall)
    pure_hall.issue("ktp")
    assert pure_hall.do("no_show", counter="L1") == [
        e.TicketNoShow(ticket=tid, counter="L1", officer="budi", at=MONDAY)
    ]
    assert pure_hall.t(tid).state is TicketState.NO_SHOW
    assert pure_hall.t(tid).finished_at == MONDAY
    assert pure_hall.c("L1").ticket is None
    assert pure_hall.call("L1") != tid


def test_return_to_queue_keeps_its_original_place(pure_hall: PureHall) -> None:
    pure_hall.open("L1")
    a1 = pure_hall.issue("ktp")
    pure_hall.tick(60)
    a2 = pure_hall.issue("ktp")
    pure_hall.tick(60)
    assert pure_hall.call("L1") == a1
    assert pure_hall.do("return_to_queue", counter="L1") == [
        e.TicketReturned(ticket=a1, counter="L1", officer="budi", at=MONDAY + 120)
    ]
    t = pure_hall.t(a1)
    assert (t.state, t.arrival_at) == (TicketState.WAITING, MONDAY)
    assert pure_hall.c("L1").ticket is None
    assert pure_hall.call("L1") == a1  # still before A002
    # From serving as well.
    pure_hall.do("start_service", counter="L1")
    pure_hall.do("return_to_queue", counter="L1")
    assert pure_hall.t(a1).state is TicketState.WAITING
    assert pure_hall.drain("L1") == ["A001", "A002"]
    assert pure_hall.t(a2).state is TicketState.DONE


def test_transfer_to_a_service_keeps_arrival(pure_hall: PureHall) -> None:
    pure_hall.open("L1")
    pure_hall.open("L2", "siti")  # kk
    pure_hall.do("set_counter_services", counter="L1", services=["ktp"])
    a1 = pure_hall.issue("ktp")
    pure_hall.tick(60)
    b1 = pure_hall.issue("kk")
    pure_hall.tick(60)
    assert pure_hall.call("L1") == a1
    pure_hall.do("start_service", counter="L1")
    pure_hall.tick(60)
    assert pure_hall.do("transfer", ticket=a1, to_service="kk") == [
        e.TicketTransferred(
            ticket=a1,
            counter="L1",
            officer="budi",
            to_service="kk",
            to_counter=None,
            arrival_at=MONDAY,
            at=MONDAY + 180,
        )
    ]
    t = pure_hall.t(a1)
    assert (t.state, t.service, t.number, t.arrival_at) == (
        TicketState.WAITING,
        "kk",
        "A001",
        MONDAY,
    )
    assert pure_hall.c("L1").ticket is None
    assert pure_hall.call("L2") == a1  # arrived before B001
    pure_hall.do("complete", counter="L2")
    assert pure_hall.call("L2") == b1


def test_transfer_without_keeping_arrival_goes_to_the_back() -> None:
    h = PureHall.standard(transfer_keeps_arrival=False)
    h.open("L2")
    a1 = h.issue("ktp")
    h.tick(60)
    b1 = h.issue("kk")
    h.tick(60)
    [ev] = h.do("transfer", ticket=a1, to_service="kk")
    assert isinstance(ev, e.TicketTransferred)
    assert (ev.counter, ev.officer, ev.arrival_at) == (None, None, MONDAY + 120)
    assert h.t(a1).arrival_at == MONDAY + 120
    assert h.t(a1).issued_at == MONDAY
    assert h.drain("L2") == ["B001", "A001"]
    assert h.t(b1).state is TicketState.DONE


def test_transfer_to_a_counter(pure_hall: PureHall) -> None:
    pure_hall.open("L1", "budi")  # ktp, kk
    pure_hall.open("L2", "siti")  # kk
    b1 = pure_hall.issue("kk")
    pure_hall.tick(60)
    b2 = pure_hall.issue("kk")
    pure_hall.tick(60)
    b3 = pure_hall.issue("kk")
    assert pure_hall.do("transfer", ticket=b3, to_counter="L2") == [
        e.TicketTransferred(
            ticket=b3, to_service="kk", to_counter="L2", arrival_at=MONDAY + 120, at=MONDAY + 120
        )
    ]
    assert pure_hall.t(b3).target_counter == "L2"
    pure_hall.reject("service_not_served", "call_ticket", counter="L1", ticket=b3)
    assert pure_hall.drain("L1") == ["B001", "B002"]  # L1 never gets B003
    assert pure_hall.call("L2") == b3  # first there, though it came last
    assert pure_hall.t(b3).target_counter is None
    pure_hall.do("complete", counter="L2")
    # To a counter that lacks the service: only that counter calls it.
    a1 = pure_hall.issue("ktp")
    [ev] = pure_hall.do("transfer", ticket=a1, to_service="kk", to_counter="L2")
    assert isinstance(ev, e.TicketTransferred)
    assert (ev.to_service, ev.to_counter) == ("kk", "L2")
    pure_hall.reject("no_ticket_waiting", "call_next", counter="L1")
    assert pure_hall.call("L2") == a1
    assert {pure_hall.t(b1).state, pure_hall.t(b2).state} == {TicketState.DONE}


def test_transfer_a_directed_ticket_back_to_its_service_queue(pure_hall: PureHall) -> None:
    pure_hall.open("L1")
    b1 = pure_hall.issue("kk")
    pure_hall.do("transfer", ticket=b1, to_counter="L2")
    pure_hall.reject("no_ticket_waiting", "call_next", counter="L1")
    pure_hall.do("transfer", ticket=b1, to_service="kk")  # to_counter None: any kk counter
    assert pure_hall.t(b1).target_counter is None
    assert pure_hall.call("L1") == b1


def test_hold_and_unhold(pure_hall: PureHall) -> None:
    pure_hall.open("L1")
    a1 = pure_hall.issue("ktp")
    pure_hall.tick(60)
    a2 = pure_hall.issue("ktp")
    assert pure_hall.do("hold", ticket=a1) == [e.TicketHeld(ticket=a1, at=MONDAY + 60)]
    assert pure_hall.t(a1).state is TicketState.HELD
    assert pure_hall.serve("L1") == "A002"  # the held ticket is skipped
    pure_hall.reject("no_ticket_waiting", "call_next", counter="L1")
    pure_hall.tick(60)
    a3 = pure_hall.issue("ktp")
    assert pure_hall.do("unhold", ticket=a1) == [e.TicketUnheld(ticket=a1, at=MONDAY + 120)]
    assert (pure_hall.t(a1).state, pure_hall.t(a1).arrival_at) == (TicketState.WAITING, MONDAY)
    assert pure_hall.call("L1") == a1  # back at its place, before A003
    # Hold from the counter: the counter is free again.
    assert pure_hall.do("hold", ticket=a1) == [
        e.TicketHeld(ticket=a1, counter="L1", officer="budi", at=MONDAY + 120)
    ]
    assert pure_hall.c("L1").ticket is None
    assert pure_hall.call("L1") == a3
    assert pure_hall.t(a2).state is TicketState.DONE


def test_cancel_a_waiting_or_held_ticket(pure_hall: PureHall) -> None:
    pure_hall.open("L1")
    a1 = pure_hall.issue("ktp")
    a2 = pure_hall.issue("ktp")
    a3 = pure_hall.issue("ktp")
    assert pure_hall.do("cancel", ticket=a1, by="visitor") == [
        e.TicketCancelled(ticket=a1, at=MONDAY, by="visitor")
    ]
    pure_hall.do("hold", ticket=a2)
    pure_hall.do("cancel", ticket=a2)
    assert pure_hall.t(a1).state is pure_hall.t(a2).state is TicketState.CANCELLED
    assert pure_hall.t(a1).finished_at == MONDAY
    assert pure_hall.drain("L1") == ["A003"]
    assert pure_hall.t(a3).state is TicketState.DONE


def test_close_day_expires_unfinished_tickets_and_closes_counters(pure_hall: PureHall) -> None:
    pure_hall.open("L1")
    pure_hall.open("L3", "rina")
    waiting = pure_hall.issue("ktp")
    called = pure_hall.issue("ktp")
    done = pure_hall.issue("kk")
    held = pure_hall.issue("kk")
    assert pure_hall.call("L1") == waiting
    pure_hall.do("return_to_queue", counter="L1")
    pure_hall.do("call_ticket", counter="L1", ticket=done)
    pure_hall.do("complete", counter="L1")
    pure_hall.do("call_ticket", counter="L1", ticket=called)
    pure_hall.do("hold", ticket=held)
    pure_hall.tick(8 * 3600)
    assert pure_hall.do("close_day", by="supervisor") == [
        e.DayClosed(
            day="2024-07-01", expired=[waiting, called, held], at=MONDAY + 8 * 3600, by="supervisor"
        )
    ]
    for tid in (waiting, called, held):
        assert pure_hall.t(tid).state is TicketState.EXPIRED
        assert pure_hall.t(tid).finished_at == MONDAY + 8 * 3600
        assert pure_hall.t(tid).steps[-1].kind == "expired"
    assert pure_hall.t(done).state is TicketState.DONE
    for c in pure_hall.state.counters.values():
        assert (c.state, c.officer, c.ticket, c.priority_streak) == (
            CounterState.CLOSED,
            None,
            None,
            0,
        )
    assert pure_hall.state.day is None
    assert pure_hall.state.queues == {}


# =============================================================================
# 2. Every rejection code
# =============================================================================


def test_site_not_set_up() -> None:
    h = PureHall()
    h.reject("site_not_set_up", "set_up_agency", agency="dukcapil", name="Disdukcapil")
    h.reject("site_not_set_up", "issue_ticket", service="ktp")
    h.reject("site_not_set_up", "close_day")


def test_invalid_timezone() -> None:
    h = PureHall()
    rej = h.reject("invalid_timezone", "set_up_site", site="s", name="S", timezone="Mars/Olympus")
    assert rej.details == {"field": "timezone"}
    h.reject("invalid_timezone", "set_up_site", site="s", name="S", timezone="../../etc/passwd")
    h.reject("invalid_timezone", "set_up_site", site="s", name="S", timezone="")


def test_unknown_policy() -> None:
    rej = PureHall().reject("unknown_policy", "set_up_site", site="s", name="S", policy="lottery")
    assert rej.details == {"allowed": ["arrival", "preference", "target"]}


def test_unknown_agency(pure_hall: PureHall) -> None:
    rej = pure_hall.reject(
        "unknown_agency",
        "set_up_service",
        service="sertifikat",
        agency="bpn",
        prefix="S",
        name_id="Sertifikat",
        name_en="Land title",
    )
    assert rej.details == {"id": "bpn"}


def test_unknown_service(pure_hall: PureHall) -> None:
    assert pure_hall.reject("unknown_service", "issue_ticket", service="paspor").details == {
        "id": "paspor"
    }
    pure_hall.reject(
        "unknown_service", "set_up_counter", counter="L9", name="L9", services=["paspor"]
    )
    pure_hall.reject("unknown_service", "set_counter_services", counter="L1", services=["ktp", "x"])
    tid = pure_hall.issue("ktp")
    pure_hall.reject("unknown_service", "transfer", ticket=tid, to_service="paspor")


def test_unknown_counter(pure_hall: PureHall) -> None:
    assert pure_hall.reject(
        "unknown_counter", "open_counter", counter="L9", officer="x"
    ).details == {"id": "L9"}
    for kind in ("pause_counter", "close_counter", "call_next", "recall", "complete"):
        pure_hall.reject("unknown_counter", kind, counter="L9")
    pure_hall.reject("unknown_counter", "set_counter_services", counter="L9", services=[])
    tid = pure_hall.issue("ktp")
    pure_hall.reject("unknown_counter", "call_ticket", counter="L9", ticket=tid)
    pure_hall.reject("unknown_counter", "transfer", ticket=tid, to_counter="L9")


def test_unknown_ticket(pure_hall: PureHall) -> None:
    pure_hall.open("L1")
    assert pure_hall.reject("unknown_ticket", "cancel", ticket="nope").details == {"id": "nope"}
    for kind in ("hold", "unhold"):
        pure_hall.reject("unknown_ticket", kind, ticket="2024-07-01-00001")
    pure_hall.reject("unknown_ticket", "transfer", ticket="nope", to_service="kk")
    pure_hall.reject("unknown_ticket", "call_ticket", counter="L1", ticket="nope")


def test_prefix_taken(pure_hall: PureHall) -> None:
    rej = pure_hall.reject(
        "prefix_taken",
        "set_up_service",
        service="akta",
        agency="dukcapil",
        prefix="A",
        name_id="Akta",
        name_en="Deed",
    )
    assert rej.details == {"service": "ktp"}
    # Nor may an existing service take another's prefix.
    pure_hall.reject(
        "prefix_taken",
        "set_up_service",
        service="kk",
        agency="dukcapil",
        prefix="C",
        name_id="KK",
        name_en="KK",
    )


def test_a_prefix_used_today_stays_with_its_service_until_the_day_ends(pure_hall: PureHall) -> None:
    """A freed prefix taken by another service the same day would call a second A001."""
    a001 = pure_hall.issue("ktp")
    _set_service(pure_hall, "ktp", prefix="Z")  # moved: its next ticket is Z002
    rej = pure_hall.reject(
        "prefix_taken", "set_up_service", **_service_fields(pure_hall, "kk", prefix="A")
    )
    assert rej.details == {"service": "ktp"}
    # A service may take back a prefix of its own: the numbers go on.
    _set_service(pure_hall, "ktp", prefix="A")
    assert pure_hall.t(pure_hall.issue("ktp")).number == "A002"
    _set_service(pure_hall, "ktp", prefix="Z")
    # The next day the prefix is free: kk takes it, and numbering starts again.
    pure_hall.now = TUESDAY
    _set_service(pure_hall, "kk", prefix="A")
    assert pure_hall.t(pure_hall.issue("kk")).number == "A001"
    assert pure_hall.t(a001).number == "A001"  # yesterday's, expired


def _set_service(h: PureHall, service: str = "ktp", **changes: Any) -> None:
    h.do("set_up_service", **_service_fields(h, service, **changes))


def _service_fields(h: PureHall, service: str, **changes: Any) -> dict[str, Any]:
    """A service's set-up command as it stands, with `changes`."""
    s = h.state.services[service]
    fields: dict[str, Any] = {
        "service": s.id,
        "agency": s.agency,
        "prefix": s.prefix,
        "name_id": s.name_id,
        "name_en": s.name_en,
        "target_wait_min": s.target_wait_min,
        "daily_quota": s.daily_quota,
        "hours": {"open": s.hours.open, "close": s.hours.close, "weekdays": s.hours.weekdays},
        "active": s.active,
    }
    return fields | changes


def test_service_inactive(pure_hall: PureHall) -> None:
    pure_hall.open("L1")
    waiting = pure_hall.issue("ktp")
    b1 = pure_hall.issue("kk")
    _set_service(pure_hall, "ktp", active=False)
    assert pure_hall.reject("service_inactive", "issue_ticket", service="ktp").details == {
        "id": "ktp"
    }
    pure_hall.reject("service_inactive", "transfer", ticket=b1, to_service="ktp")
    # A ticket issued before still gets served.
    assert pure_hall.call("L1") == waiting
    pure_hall.do("complete", counter="L1")
    _set_service(pure_hall, "ktp", active=True)
    assert pure_hall.t(pure_hall.issue("ktp")).number == "A002"


def test_counter_not_open(pure_hall: PureHall) -> None:
    pure_hall.issue("ktp")
    assert pure_hall.reject("counter_not_open", "call_next", counter="L1").details == {"id": "L1"}
    pure_hall.reject("counter_not_open", "pause_counter", counter="L1")
    pure_hall.reject("counter_not_open", "call_ticket", counter="L1", ticket="2024-07-01-00001")
    pure_hall.open("L1")
    pure_hall.do("pause_counter", counter="L1")
    pure_hall.reject("counter_not_open", "call_next", counter="L1")
    pure_hall.reject("counter_not_open", "pause_counter", counter="L1")


def test_counter_busy(pure_hall: PureHall) -> None:
    tid = _called(pure_hall)
    other = pure_hall.issue("ktp")
    rej = pure_hall.reject("counter_busy", "call_next", counter="L1")
    assert rej.details == {"id": "L1", "ticket": tid}
    pure_hall.reject("counter_busy", "call_ticket", counter="L1", ticket=other)
    pure_hall.reject("counter_busy", "pause_counter", counter="L1")
    pure_hall.reject("counter_busy", "close_counter", counter="L1")
    pure_hall.do("start_service", counter="L1")
    pure_hall.reject("counter_busy", "call_next", counter="L1")


@pytest.mark.parametrize(
    "kind", ["recall", "start_service", "complete", "no_show", "return_to_queue"]
)
def test_counter_idle(pure_hall: PureHall, kind: str) -> None:
    pure_hall.open("L1")
    pure_hall.issue("ktp")
    assert pure_hall.reject("counter_idle", kind, counter="L1").details == {"id": "L1"}
    pure_hall.serve("L1")
    pure_hall.reject("counter_idle", kind, counter="L1")


def test_officer_required(pure_hall: PureHall) -> None:
    rej = pure_hall.reject("officer_required", "open_counter", counter="L1", officer="  ")
    assert rej.details == {"field": "officer"}
    pure_hall.reject("officer_required", "open_counter", counter="L1", officer="")


def test_no_ticket_waiting(pure_hall: PureHall) -> None:
    pure_hall.open("L1")
    assert pure_hall.reject("no_ticket_waiting", "call_next", counter="L1").details == {"id": "L1"}
    pure_hall.issue("stnk")  # not a service of L1
    pure_hall.reject("no_ticket_waiting", "call_next", counter="L1")


def test_service_not_served(pure_hall: PureHall) -> None:
    pure_hall.open("L3")  # stnk only
    a1 = pure_hall.issue("ktp")
    rej = pure_hall.reject("service_not_served", "call_ticket", counter="L3", ticket=a1)
    assert rej.details == {"id": a1, "service": "ktp"}


def test_invalid_state_of_counters(pure_hall: PureHall) -> None:
    pure_hall.open("L1")
    rej = pure_hall.reject("invalid_state", "open_counter", counter="L1", officer="siti")
    assert rej.details == {"id": "L1", "expected": "closed or paused", "got": "open"}
    assert pure_hall.c("L1").officer == "budi"
    pure_hall.reject("invalid_state", "close_counter", counter="L2")


def test_invalid_state_of_tickets(pure_hall: PureHall) -> None:
    tid = _called(pure_hall)
    waiting = pure_hall.issue("ktp")
    rej = pure_hall.reject("invalid_state", "cancel", ticket=tid)
    assert rej.details == {"id": tid, "expected": "waiting or held", "got": "called"}
    pure_hall.reject("invalid_state", "unhold", ticket=waiting)
    pure_hall.do("start_service", counter="L1")
    for kind in ("recall", "start_service", "no_show"):
        rej = pure_hall.reject("invalid_state", kind, counter="L1")
        assert rej.details == {"id": tid, "expected": "called", "got": "serving"}
    pure_hall.do("complete", counter="L1")
    for kind in ("hold", "cancel"):
        pure_hall.reject("invalid_state", kind, ticket=tid)
    pure_hall.reject("invalid_state", "transfer", ticket=tid, to_service="kk")
    pure_hall.do("hold", ticket=waiting)
    pure_hall.reject("invalid_state", "hold", ticket=waiting)
    pure_hall.reject("invalid_state", "transfer", ticket=waiting, to_service="kk")
    pure_hall.reject("invalid_state", "call_ticket", counter="L1", ticket=tid)
    # A parked visitor who is back is called by name, straight from held.
    pure_hall.do("call_ticket", counter="L1", ticket=waiting)
    assert pure_hall.state.tickets[waiting].state.value == "called"
    assert pure_hall.state.counters["L1"].ticket == waiting


def test_invalid_state_of_site_and_day(pure_hall: PureHall) -> None:
    rej = pure_hall.reject("invalid_state", "set_up_site", site="mpp-bdg", name="MPP Bandung")
    assert rej.details == {"id": "mpp-bdg", "expected": "mpp-jkt", "got": "mpp-bdg"}
    pure_hall.reject("invalid_state", "close_day")  # no day open yet
    pure_hall.issue("ktp")
    pure_hall.do("close_day")
    pure_hall.reject("invalid_state", "close_day")  # closed already


def test_same_destination(pure_hall: PureHall) -> None:
    a1 = pure_hall.issue("ktp")
    rej = pure_hall.reject("same_destination", "transfer", ticket=a1, to_service="ktp")
    assert rej.details == {"id": a1}
    pure_hall.do("transfer", ticket=a1, to_counter="L1")
    pure_hall.reject("same_destination", "transfer", ticket=a1, to_counter="L1")
    pure_hall.reject("same_destination", "transfer", ticket=a1, to_service="ktp", to_counter="L1")
    # A ticket in hand may be sent back to its own queue.
    pure_hall.open("L1")
    assert pure_hall.call("L1") == a1
    pure_hall.do("transfer", ticket=a1, to_service="ktp")
    assert pure_hall.t(a1).state is TicketState.WAITING


def test_ticket_expired_after_close_day(pure_hall: PureHall) -> None:
    pure_hall.open("L1")
    a1 = pure_hall.issue("ktp")
    pure_hall.do("close_day")
    pure_hall.tick(60)
    pure_hall.open("L1")  # the same date: the day opens again
    rej = pure_hall.reject("ticket_expired", "call_ticket", counter="L1", ticket=a1)
    assert rej.details == {"id": a1, "day": "2024-07-01"}
    pure_hall.reject("ticket_expired", "cancel", ticket=a1)


# --- invalid_command from decide (well-formed, but not acceptable) ----------------


SITE = {"site": "mpp-jkt", "name": "MPP Jakarta"}
SERVICE = {
    "service": "akta",
    "agency": "dukcapil",
    "prefix": "D",
    "name_id": "Akta",
    "name_en": "Deed",
}


@pytest.mark.parametrize(
    ("kind", "fields", "field"),
    [
        ("set_up_site", {**SITE, "site": "mpp jkt"}, "site"),
        ("set_up_site", {**SITE, "site": ""}, "site"),
        ("set_up_site", {**SITE, "site": "x" * 65}, "site"),
        ("set_up_site", {**SITE, "site": "mpp-jkt\n"}, "site"),
        ("set_up_site", {**SITE, "name": "   "}, "name"),
        ("set_up_site", {**SITE, "priority_streak_max": 0}, "priority_streak_max"),
        ("set_up_site", {**SITE, "priority_streak_max": 101}, "priority_streak_max"),
        ("set_up_site", {**SITE, "number_format": "{prefix}{nomor}"}, "number_format"),
        ("set_up_site", {**SITE, "number_format": "{prefix}{seq"}, "number_format"),
        ("set_up_site", {**SITE, "number_format": "{0}{seq}"}, "number_format"),
        ("set_up_site", {**SITE, "number_format": "{prefix:d}"}, "number_format"),
        ("set_up_site", {**SITE, "number_format": "{seq.real.x}"}, "number_format"),
        ("set_up_site", {**SITE, "number_format": "{seq[0]}"}, "number_format"),
        ("set_up_agency", {"agency": "bad/id", "name": "X"}, "agency"),
        ("set_up_agency", {"agency": "bpjs", "name": ""}, "name"),
        ("set_up_service", {**SERVICE, "service": "ak ta"}, "service"),
        ("set_up_service", {**SERVICE, "prefix": "d"}, "prefix"),
        ("set_up_service", {**SERVICE, "prefix": "ABC"}, "prefix"),
        ("set_up_service", {**SERVICE, "prefix": ""}, "prefix"),
        ("set_up_service", {**SERVICE, "prefix": "D\n"}, "prefix"),
        ("set_up_service", {**SERVICE, "name_id": " "}, "name_id"),
        ("set_up_service", {**SERVICE, "name_en": ""}, "name_en"),
        ("set_up_service", {**SERVICE, "target_wait_min": 0}, "target_wait_min"),
        ("set_up_service", {**SERVICE, "target_wait_min": 24 * 60 + 1}, "target_wait_min"),
        ("set_up_service", {**SERVICE, "daily_quota": -1}, "daily_quota"),
        ("set_up_service", {**SERVICE, "daily_quota": 10000}, "daily_quota"),
        ("set_up_service", {**SERVICE, "hours": {"open": "15:00", "close": "08:00"}}, "hours"),
        ("set_up_service", {**SERVICE, "hours": {"open": "8:00"}}, "hours.open"),
        ("set_up_service", {**SERVICE, "hours": {"close": "24:30"}}, "hours.close"),
        ("set_up_service", {**SERVICE, "hours": {"open": "08:60"}}, "hours.open"),
        ("set_up_service", {**SERVICE, "hours": {"close": "16:00\n"}}, "hours.close"),
        ("set_up_service", {**SERVICE, "hours": {"weekdays": [0, 7]}}, "hours.weekdays[1]"),
        ("set_up_counter", {"counter": "L 9", "name": "L9"}, "counter"),
        ("set_up_counter", {"counter": "L9", "name": ""}, "name"),
        ("set_up_counter", {"counter": "L9", "name": "L9", "services": ["kk", "kk"]}, "services"),
        ("set_counter_services", {"counter": "L1", "services": ["kk", "kk"]}, "services"),
        ("issue_ticket", {"service": "ktp", "token": ""}, "token"),
        ("transfer", {"ticket": "2024-07-01-00001"}, "to_service"),
    ],
)
def test_invalid_command_from_decide(kind: str, fields: dict[str, Any], field: str) -> None:
    h = PureHall.standard()
    if kind == "transfer":
        h.issue("ktp")
    rej = h.reject("invalid_command", kind, **fields)
    assert rej.details["field"] == field


# =============================================================================
# 3. Bad input through parse_command
# =============================================================================


def parse_refused(data: Any) -> Rejected:
    with pytest.raises(Rejected) as info:
        parse_command(data)
    assert info.value.code == "invalid_command"
    assert info.value.http_status == 422
    return info.value


@pytest.mark.parametrize("data", [None, [], "call_next", 5, [("type", "call_next")]])
def test_parse_refuses_a_non_mapping(data: Any) -> None:
    rej = parse_refused(data)
    assert rej.message == "a command is an object"


@pytest.mark.parametrize("data", [{}, {"type": "make_coffee"}, {"type": 5}, {"type": None}])
def test_parse_refuses_an_unknown_type(data: Any) -> None:
    rej = parse_refused(data)
    assert rej.details == {"field": "type", "allowed": sorted(COMMAND_TYPES)}


CALL = {"type": "call_next", "counter": "L1"}
ISSUE = {"type": "issue_ticket", "service": "ktp", "token": "t"}
SVC = {"type": "set_up_service", **SERVICE}


@pytest.mark.parametrize(
    ("data", "field"),
    [
        # missing required fields
        ({"type": "call_next"}, "counter"),
        ({"type": "open_counter", "counter": "L1"}, "officer"),
        ({"type": "set_up_service", "service": "x"}, "agency"),
        ({"type": "set_counter_services", "counter": "L1"}, "services"),
        ({"type": "transfer"}, "ticket"),
        # wrong types
        ({**CALL, "counter": 1}, "counter"),
        ({**CALL, "counter": None}, "counter"),
        ({**CALL, "counter": ["L1"]}, "counter"),
        ({**CALL, "by": 7}, "by"),
        ({**CALL, "command_id": {"id": 1}}, "command_id"),
        ({**SVC, "target_wait_min": "15"}, "target_wait_min"),
        ({**SVC, "target_wait_min": 15.0}, "target_wait_min"),
        ({**SVC, "target_wait_min": True}, "target_wait_min"),
        ({**SVC, "daily_quota": False}, "daily_quota"),
        ({**SVC, "active": 1}, "active"),
        ({**SVC, "active": "yes"}, "active"),
        ({"type": "call_ticket", "counter": "L1", "ticket": "t", "override": "true"}, "override"),
        ({"type": "set_up_site", **SITE, "transfer_keeps_arrival": 0}, "transfer_keeps_arrival"),
        ({"type": "set_counter_services", "counter": "L1", "services": "ktp"}, "services"),
        ({"type": "set_counter_services", "counter": "L1", "services": ["ktp", 5]}, "services[1]"),
        ({"type": "transfer", "ticket": "t", "to_service": 3}, "to_service"),
        # unknown fields
        ({**CALL, "colour": "red"}, "colour"),
        ({**CALL, "Counter": "L1"}, "Counter"),
        ({**ISSUE, "name": "Budi"}, "name"),
        # oversized
        ({**CALL, "counter": "x" * 201}, "counter"),
        ({**ISSUE, "token": "t" * 201}, "token"),
        ({**CALL, "by": "b" * 201}, "by"),
        ({"type": "set_up_site", **SITE, "number_format": "{seq}" * 41}, "number_format"),
        ({"type": "set_counter_services", "counter": "L1", "services": ["s"] * 65}, "services"),
        ({"type": "set_counter_services", "counter": "L1", "services": ["x" * 201]}, "services[0]"),
        # enums
        ({**ISSUE, "priority": "vip"}, "priority"),
        ({**ISSUE, "priority": "REGULAR"}, "priority"),
        ({**ISSUE, "priority": 1}, "priority"),
        ({**ISSUE, "priority": []}, "priority"),
        ({**ISSUE, "channel": "fax"}, "channel"),
        # nested hours
        ({**SVC, "hours": "08:00-16:00"}, "hours"),
        ({**SVC, "hours": ["08:00", "16:00"]}, "hours"),
        ({**SVC, "hours": {"open": 800}}, "hours.open"),
        ({**SVC, "hours": {"close": None}}, "hours.close"),
        ({**SVC, "hours": {"weekdays": "mon-fri"}}, "hours.weekdays"),
        ({**SVC, "hours": {"weekdays": [0, "tue"]}}, "hours.weekdays[1]"),
        ({**SVC, "hours": {"weekdays": [True]}}, "hours.weekdays[0]"),
        ({**SVC, "hours": {"weekdays": list(range(65))}}, "hours.weekdays"),
        ({**SVC, "hours": {"open": "08:00", "lunch": "12:00"}}, "hours.lunch"),
        ({**SVC, "hours": {"open": "0" * 201}}, "hours.open"),
    ],
)
def test_parse_refuses_bad_fields(data: dict[str, Any], field: str) -> None:
    rej = parse_refused(data)
    assert rej.details == {"field": field}
    assert rej.message.startswith(field + ": ")


def test_parse_accepts_the_limits_and_ignores_schema() -> None:
    cmd = parse_command({**CALL, "counter": "x" * 64, "schema": 1, "by": None})
    assert cmd == COMMAND_TYPES["call_next"](counter="x" * 64)  # type: ignore[call-arg]
    services = [f"s{i}" for i in range(64)]
    cmd = parse_command({"type": "set_counter_services", "counter": "L1", "services": services})
    assert len(cmd.services) == 64  # type: ignore[attr-defined]
    cmd = parse_command({**ISSUE, "priority": "ibu_hamil", "channel": "staff"})
    assert (cmd.priority, cmd.channel) == (Priority.IBU_HAMIL, Channel.STAFF)  # type: ignore[attr-defined]
    cmd = parse_command({**SVC, "hours": {"open": "07:30"}})
    assert cmd.hours == OpeningHours("07:30", "24:00", [0, 1, 2, 3, 4, 5, 6])  # type: ignore[attr-defined]


def test_command_to_dict_round_trips_every_normal_case() -> None:
    for kind in COMMAND_TYPES:
        h = PureHall.standard()
        fields, _ = NORMAL_CASES[kind](h)
        cmd = h.command(kind, command_id="c-1", by="someone", **fields)
        data = command_to_dict(cmd)
        assert data["type"] == kind
        assert parse_command(json.loads(json.dumps(data))) == cmd


# =============================================================================
# 4. The business day, in the site's timezone
# =============================================================================


def test_numbering_restarts_the_next_day() -> None:
    h = PureHall.standard()
    m1 = h.issue("ktp")
    m2 = h.issue("ktp")
    h.now = TUESDAY
    events = h.do("issue_ticket", service="ktp")
    assert kinds(events) == ["day_closed", "day_opened", "ticket_issued"]
    closed, opened, issued = events
    assert closed == e.DayClosed(day="2024-07-01", expired=[m1, m2], at=TUESDAY)
    assert opened == e.DayOpened(day="2024-07-02", at=TUESDAY)
    assert isinstance(issued, e.TicketIssued)
    assert (issued.ticket, issued.number, issued.day, issued.seq) == (
        "2024-07-02-00001",
        "A001",
        "2024-07-02",
        1,
    )
    assert h.state.day == "2024-07-02"
    assert h.state.seq == {"ktp": 1}


def test_the_day_turns_at_jakarta_midnight_not_utc() -> None:
    # 16:30 and 17:30 UTC on 1 July are 23:30 on 1 July and 00:30 on 2 July in Jakarta.
    h = PureHall.standard(now=utc(7, 1, 16, 30))
    assert h.t(h.issue("ktp")).number == "A001"
    assert h.state.day == "2024-07-01"
    h.now = utc(7, 1, 17, 30)
    tid = h.issue("ktp")
    assert (h.t(tid).number, h.t(tid).day) == ("A001", "2024-07-02")
    # 23:00 UTC on 2 July and 01:00 UTC on 3 July: one Jakarta day (3 July).
    h.now = utc(7, 2, 23)
    assert h.t(h.issue("ktp")).number == "A001"
    h.now = utc(7, 3, 1)
    tid = h.issue("ktp")
    assert (h.t(tid).number, h.t(tid).day) == ("A002", "2024-07-03")


def test_the_day_follows_the_site_timezone() -> None:
    # 15:30 UTC: 22:30 on 1 July in Jakarta, but 00:30 on 2 July in Jayapura (UTC+9).
    h = PureHall.standard(now=utc(7, 1, 15, 30), timezone="Asia/Jayapura")
    assert h.t(h.issue("ktp")).day == "2024-07-02"


def test_a_ticket_from_yesterday_cannot_be_called_today() -> None:
    h = PureHall.standard()
    h.open("L1")
    yesterday = h.issue("ktp")
    h.now = TUESDAY
    h.open("L1")
    h.issue("ktp")
    rej = h.reject("ticket_expired", "call_ticket", counter="L1", ticket=yesterday)
    assert rej.details == {"id": yesterday, "day": "2024-07-01"}
    h.reject("ticket_expired", "call_ticket", counter="L1", ticket=yesterday, override=True)
    h.reject("ticket_expired", "cancel", ticket=yesterday)
    h.reject("ticket_expired", "hold", ticket=yesterday)
    h.reject("ticket_expired", "transfer", ticket=yesterday, to_service="kk")
    assert h.drain("L1") == ["A001"]
    assert h.t(yesterday).day == "2024-07-01"


def test_the_roll_over_expires_yesterdays_unfinished_tickets() -> None:
    h = PureHall.standard()
    h.open("L1")
    h.open("L2", "siti")
    waiting = h.issue("ktp")
    in_hand = h.issue("kk")
    done = h.issue("ktp")
    assert h.call("L2") == in_hand
    h.do("call_ticket", counter="L1", ticket=done)
    h.do("complete", counter="L1")
    h.now = TUESDAY
    events = h.do("open_counter", counter="L1", officer="rina")
    assert events == [
        e.DayClosed(day="2024-07-01", expired=[waiting, in_hand], at=TUESDAY),
        e.DayOpened(day="2024-07-02", at=TUESDAY),
        e.CounterOpened(counter="L1", officer="rina", at=TUESDAY),
    ]
    assert h.t(waiting).state is h.t(in_hand).state is TicketState.EXPIRED
    assert h.t(done).state is TicketState.DONE
    assert (h.c("L2").state, h.c("L2").ticket, h.c("L2").officer) == (
        CounterState.CLOSED,
        None,
        None,
    )
    h.reject("no_ticket_waiting", "call_next", counter="L1")
    new = h.issue("ktp")
    assert h.call("L1") == new


def test_a_refused_command_does_not_roll_the_day() -> None:
    h = PureHall.standard()
    h.open("L1")
    h.issue("ktp")
    h.now = TUESDAY
    # The roll-over closes L1, so the call is refused, and the roll-over is not kept.
    h.reject("counter_not_open", "call_next", counter="L1")
    assert h.state.day == "2024-07-01"
    assert h.c("L1").state is CounterState.OPEN


def test_tickets_older_than_yesterday_are_forgotten() -> None:
    h = PureHall.standard()
    monday = h.issue("ktp")
    h.now = TUESDAY
    tuesday = h.issue("ktp")
    h.now = WEDNESDAY
    h.issue("ktp")
    assert sorted(h.state.tickets) == ["2024-07-02-00001", "2024-07-03-00001"]
    h.reject("unknown_ticket", "cancel", ticket=monday)
    h.reject("ticket_expired", "cancel", ticket=tuesday)


def test_close_day_on_a_later_date_closes_the_open_day() -> None:
    h = PureHall.standard()
    h.open("L1")
    monday = h.issue("ktp")
    h.now = TUESDAY + 60
    assert h.do("close_day") == [e.DayClosed(day="2024-07-01", expired=[monday], at=TUESDAY + 60)]
    assert h.state.day is None
    assert h.c("L1").state is CounterState.CLOSED
    h.reject("invalid_state", "close_day")


def test_reopening_the_same_day_goes_on_numbering() -> None:
    h = PureHall.standard()
    a1 = h.issue("ktp")
    h.issue("kk")
    h.do("close_day")
    h.tick(60)
    events = h.do("issue_ticket", service="ktp")
    assert kinds(events) == ["day_opened", "ticket_issued"]
    issued = events[1]
    assert isinstance(issued, e.TicketIssued)
    # Not a second A001, and not the id of the expired ticket.
    assert (issued.number, issued.ticket) == ("A002", "2024-07-01-00003")
    assert h.t(a1).state is TicketState.EXPIRED
    assert len(h.state.tickets) == 3


# =============================================================================
# 5. Opening hours and quota
# =============================================================================


def test_service_closed_outside_its_hours_and_days(pure_hall: PureHall) -> None:
    _set_service(
        pure_hall, "ktp", hours={"open": "08:00", "close": "15:00", "weekdays": [0, 1, 2, 3, 4]}
    )
    pure_hall.now = wib(7, 1, 7, 59, 59)
    rej = pure_hall.reject("service_closed", "issue_ticket", service="ktp")
    assert rej.details == {"id": "ktp"}
    assert pure_hall.state.day is None  # the refused issue did not open the day
    pure_hall.now = wib(7, 1, 8, 0)
    assert pure_hall.t(pure_hall.issue("ktp")).number == "A001"
    pure_hall.now = wib(7, 1, 14, 59, 59)
    assert pure_hall.t(pure_hall.issue("ktp")).number == "A002"
    pure_hall.now = wib(7, 1, 15, 0)
    pure_hall.reject("service_closed", "issue_ticket", service="ktp")
    assert pure_hall.t(pure_hall.issue("kk")).number == "B001"  # open all day
    pure_hall.now = SATURDAY
    pure_hall.reject("service_closed", "issue_ticket", service="ktp")
    pure_hall.now = wib(7, 5, 10)  # Friday
    pure_hall.issue("ktp")


def test_opening_hours_are_site_local() -> None:
    h = PureHall.standard(timezone="Asia/Jayapura")  # WIT, UTC+9
    _set_service(h, "ktp", hours={"open": "08:00", "close": "15:00"})
    h.now = wib(7, 1, 6, 30)  # 08:30 in Jayapura
    h.issue("ktp")
    h.now = wib(7, 1, 13, 30)  # 15:30 in Jayapura
    h.reject("service_closed", "issue_ticket", service="ktp")


def test_quota_reached(pure_hall: PureHall) -> None:
    _set_service(pure_hall, "ktp", daily_quota=2)
    pure_hall.issue("ktp")
    pure_hall.issue("ktp")
    rej = pure_hall.reject("quota_reached", "issue_ticket", service="ktp")
    assert rej.details == {"id": "ktp"}
    pure_hall.reject("quota_reached", "issue_ticket", service="ktp", priority="lansia")
    assert pure_hall.t(pure_hall.issue("kk")).number == "B001"
    pure_hall.now = TUESDAY
    assert pure_hall.t(pure_hall.issue("ktp")).number == "A001"  # a new day, a new quota


def test_quota_counts_the_whole_day_across_a_reopening(pure_hall: PureHall) -> None:
    _set_service(pure_hall, "ktp", daily_quota=2)
    pure_hall.issue("ktp")
    pure_hall.issue("ktp")
    pure_hall.do("close_day")
    pure_hall.reject("quota_reached", "issue_ticket", service="ktp")


# =============================================================================
# 7. Events and snapshots on the wire
# =============================================================================


def test_an_event_with_unknown_fields_still_loads() -> None:
    ev = e.TicketCalled(ticket="2024-07-01-00001", counter="L1", officer="budi", at=MONDAY)
    data = event_to_dict(ev)
    assert data == {
        "type": "ticket_called",
        "schema": 1,
        "at": MONDAY,
        "by": None,
        "ticket": "2024-07-01-00001",
        "counter": "L1",
        "officer": "budi",
    }
    assert event_from_dict({**data, "display_hint": "blink", "schema": 2}) == ev
    site = e.SiteConfigured(site=Site(id="s", name="S"), at=MONDAY)
    data = event_to_dict(site)
    data["site"] = {**data["site"], "logo": "mpp.png"}
    assert event_from_dict(data) == site


def test_an_event_missing_optional_fields_takes_defaults() -> None:
    data = {"type": "ticket_recalled", "at": MONDAY, "ticket": "x"}
    assert event_from_dict(data) == e.TicketRecalled(ticket="x", at=MONDAY)


def test_an_unreadable_event_is_refused() -> None:
    with pytest.raises(UnknownEvent):
        event_from_dict({"type": "ticket_teleported", "at": MONDAY})
    with pytest.raises(UnknownEvent):
        event_from_dict({"type": "ticket_called", "ticket": "x"})  # no `at`
    with pytest.raises(UnknownEvent):
        event_from_dict({"type": "ticket_called", "at": "noon", "ticket": "x"})


def busy_hall() -> PureHall:
    """A day with every kind of event, then the next day under way."""
    h = PureHall.standard()
    h.do("set_up_site", site="mpp-jkt", name="MPP Jakarta", policy="preference")
    h.open("L1")
    h.open("L2", "siti")
    h.open("L3", "rina")
    h.do("pause_counter", counter="L3")
    tickets = [h.issue(s, priority=p) for s in ("ktp", "kk") for p in ("regular", "lansia")]
    h.tick(60)
    h.call("L1")
    h.do("recall", counter="L1")
    h.do("start_service", counter="L1")
    h.do("transfer", ticket=h.c("L1").ticket, to_service="kk", to_counter="L2")
    rated = h.call("L2")
    h.do("complete", counter="L2")
    h.do("configure_survey", config={"suggestion_limit": 500})
    answers = {f"U{i}": 3 for i in range(1, 10)}
    h.do("skip_tablet_survey", ticket=rated, token=h.t(rated).token)  # on the tablet
    h.do("submit_survey", ticket=rated, token=h.t(rated).token, response={"answers": answers})
    h.do("write_survey_plan", plan={"period": "2026", "elements": ["U4"], "text": "Tarif"})
    h.call("L1")
    h.do("no_show", counter="L1")
    h.call("L1")
    h.do("return_to_queue", counter="L1")
    h.do("hold", ticket=tickets[2])
    h.do("unhold", ticket=tickets[2])
    h.do("cancel", ticket=tickets[2])
    h.do("broadcast", text="Selamat datang")
    h.do("set_counter_services", counter="L2", services=["kk", "ktp"])
    h.do("close_counter", counter="L3")
    h.tick(3600)
    h.do("close_day")
    h.now = TUESDAY
    h.open("L1")
    h.issue("ktp")
    h.issue("kk", priority="disabilitas")
    h.issue("stnk")
    h.call("L1")
    h.do("start_service", counter="L1")
    return h


def test_a_busy_day_produces_every_event_type_and_each_round_trips() -> None:
    h = busy_hall()
    assert {ev.TYPE for ev in h.events} == set(EVENT_TYPES)
    for ev in h.events:
        assert event_from_dict(event_to_dict(ev)) == ev


def test_state_snapshot_round_trips_after_a_busy_scenario() -> None:
    h = busy_hall()
    data = state_to_dict(h.state)
    assert "queues" not in data
    assert data["snapshot_schema"] == 2
    restored = state_from_dict(json.loads(json.dumps(data)))
    assert restored == h.state
    # The restored pure_hall decides exactly as the original one.
    assert restored is not None
    cmd = parse_command({"type": "complete", "counter": "L1"})
    assert decide(restored, cmd, h.now + 60) == decide(h.state, cmd, h.now + 60)
    for ev in decide(h.state, cmd, h.now + 60):
        evolve(restored, ev)
        evolve(h.state, ev)
    cmd = parse_command({"type": "call_next", "counter": "L1"})
    assert decide(restored, cmd, h.now + 90) == decide(h.state, cmd, h.now + 90)


def test_state_replays_from_its_events() -> None:
    h = busy_hall()
    replayed = HallState()
    for ev in h.events:
        evolve(replayed, event_from_dict(event_to_dict(ev)))
    assert replayed == h.state


def test_a_snapshot_of_another_shape_is_ignored() -> None:
    data = state_to_dict(PureHall.standard().state)
    assert state_from_dict({**data, "snapshot_schema": 0}) is None
    assert state_from_dict({k: v for k, v in data.items() if k != "snapshot_schema"}) is None


# =============================================================================
# Every rejection code is asserted somewhere
# =============================================================================


def test_every_rejection_code_is_asserted() -> None:
    here = Path(__file__).resolve().parent
    source = "".join(
        p.read_text()
        for p in (here / "test_core_commands.py", here / "test_core_policy.py")
        if p.exists()
    )
    asserted = set(re.findall(r'reject\(\s*"([a-z_]+)"', source))
    asserted |= {"invalid_command"} if "parse_refused(" in source else set()
    assert asserted <= set(CODES)
    assert sorted(set(CODES) - asserted) == []


@pytest.mark.parametrize(
    "fmt",
    [
        "{prefix}",
        "{seq:>99999999}",
        "{prefix}{seq.real}",
        "{seq[0]}",
        "{other}{seq}",
        "{seq:x}",
        "{prefix}-{prefix}-{prefix}-{prefix}-{prefix}-{prefix}{seq}",
        "{seq",
        "{seq:04}",  # no prefix: every service would call 0001
    ],
)
def test_number_format_must_fit_a_ticket(pure_hall: PureHall, fmt: str) -> None:
    rej = pure_hall.reject(
        "invalid_command", "set_up_site", site="mpp-jkt", name="MPP", number_format=fmt
    )
    assert rej.details == {"field": "number_format"}


@pytest.mark.parametrize(
    ("fmt", "number"),
    [("{prefix}{seq:03d}", "A007"), ("{prefix}-{seq}", "A-7"), ("{seq:04}{prefix}", "0007A")],
)
def test_number_format_accepted(pure_hall: PureHall, fmt: str, number: str) -> None:
    pure_hall.do("set_up_site", site="mpp-jkt", name="MPP", number_format=fmt)
    assert pure_hall.state.site is not None
    assert pure_hall.state.site.number_format.format(prefix="A", seq=7) == number


def test_broadcast_sets_and_clears_running_text_without_opening_a_day() -> None:
    h = PureHall.standard()
    h.do("broadcast", text="  Selamat datang di MPP  ")
    h.do("broadcast", text="Zona B: loket 5 istirahat", zone="B")
    assert h.state.messages == {"": "Selamat datang di MPP", "B": "Zona B: loket 5 istirahat"}
    assert h.state.day is None
    h.do("broadcast", text="", zone="B")
    assert h.state.messages == {"": "Selamat datang di MPP"}


# =============================================================================
# Names and texts: no control or bidi characters (issue 12)
# =============================================================================

FORGING = ["Loket 1\nLoket 9", "Loket\x1b[2J", "Loket \u202e9", "A\u2066B", "TV\u0085", "x\u2028y"]


@pytest.mark.parametrize("bad", FORGING)
def test_names_and_texts_with_control_characters_are_refused(bad: str) -> None:
    h = PureHall.standard()
    h.reject("invalid_text", "broadcast", text=f"Selamat datang {bad}")
    h.reject("invalid_text", "broadcast", text="Selamat datang", zone=bad)
    h.reject("invalid_text", "set_up_agency", agency="bpjs", name=bad)
    h.reject("invalid_text", "set_up_counter", counter="L9", name=bad)
    h.reject("invalid_text", "set_up_counter", counter="L9", name="Loket 9", zone=bad)
    h.reject("invalid_text", "set_up_site", site="mpp-jkt", name=bad)
    h.reject(
        "invalid_text",
        "set_up_service",
        service="sim",
        agency="samsat",
        prefix="S",
        name_id=bad,
        name_en="Driving licence",
    )
    h.reject("invalid_text", "open_counter", counter="L1", officer=f"budi{bad}")


def test_names_keep_their_letters_and_emoji() -> None:
    h = PureHall.standard()
    h.do("broadcast", text="Selamat datang 🙏 — Pelayanan KTP-el dibuka 08.00 👨‍👩‍👧")
    h.do("set_up_agency", agency="bpjs", name="BPJS Kesehatan · Cabang Bengkulu")
    assert h.state.agencies["bpjs"].name == "BPJS Kesehatan · Cabang Bengkulu"
