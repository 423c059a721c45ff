"""Which ticket a counter calls next: the policies, priority, the starvation guard.

Uses the `PureHall` helper of test_core_commands (a HallState, a fixed clock, decide
then evolve, and rejections that must leave the state untouched).
"""

from __future__ import annotations

import copy

import pytest
from pure_hall import MONDAY, PureHall

from qms.core import events as e
from qms.core.model import CounterState, Priority, TicketState
from qms.core.policy import POLICIES

MIN = 60.0


def test_the_registered_policies() -> None:
    assert sorted(POLICIES) == ["arrival", "preference", "target"]


# --- arrival ---------------------------------------------------------------------


def test_arrival_order_across_the_counters_services() -> None:
    h = PureHall.standard(policy="arrival")
    h.open("L1")  # ktp, kk
    h.issue("kk")
    h.tick(MIN)
    h.issue("ktp")
    h.tick(MIN)
    h.issue("kk")
    h.tick(MIN)
    h.issue("stnk")  # not L1's
    h.tick(MIN)
    h.issue("ktp")
    assert h.drain("L1") == ["B001", "A001", "B002", "A002"]
    assert h.state.waiting_in("stnk")[0].number == "C001"


def test_arrival_ties_go_in_issue_order() -> None:
    h = PureHall.standard(policy="arrival")
    h.open("L1")
    h.issue("kk")
    h.issue("ktp")  # the same second
    h.issue("kk")
    assert h.drain("L1") == ["B001", "A001", "B002"]


# --- preference --------------------------------------------------------------------


def test_preference_order_follows_the_counters_list() -> None:
    h = PureHall.standard(policy="preference")
    h.open("L1")  # ktp first, then kk
    h.issue("kk")
    h.tick(MIN)
    h.issue("kk")
    h.tick(MIN)
    h.issue("ktp")
    h.tick(MIN)
    h.issue("ktp")
    branch = copy.deepcopy(h)
    assert h.drain("L1") == ["A001", "A002", "B001", "B002"]
    branch.do("set_counter_services", counter="L1", services=["kk", "ktp"])
    assert branch.drain("L1") == ["B001", "B002", "A001", "A002"]


# --- target ----------------------------------------------------------------------------


def test_target_picks_the_largest_fraction_of_its_target() -> None:
    # ktp's target is 10 minutes, kk's 20.
    h = PureHall.standard(policy="target")
    h.open("L1")
    b1 = h.issue("kk")
    h.tick(5 * MIN)
    a1 = h.issue("ktp")
    early, late, tie = copy.deepcopy(h), copy.deepcopy(h), copy.deepcopy(h)
    early.tick(3 * MIN)  # B001 8/20 = 0.4, A001 3/10 = 0.3
    assert early.call("L1") == b1
    late.tick(7 * MIN)  # B001 12/20 = 0.6, A001 7/10 = 0.7
    assert late.call("L1") == a1
    tie.tick(5 * MIN)  # both 0.5: the earlier arrival
    assert tie.call("L1") == b1


def test_target_ignores_the_counters_service_order() -> None:
    h = PureHall.standard(policy="target")
    h.open("L1")  # ktp listed first
    b1 = h.issue("kk")
    h.tick(30 * MIN)  # B001 30/20 = 1.5
    h.issue("ktp")
    h.tick(10 * MIN)  # A001 10/10 = 1.0
    assert h.call("L1") == b1


# --- priority and the starvation guard ----------------------------------------------------


@pytest.mark.parametrize("policy", sorted(POLICIES))
@pytest.mark.parametrize("priority", ["disabilitas", "lansia", "ibu_hamil"])
def test_priority_tickets_go_first(policy: str, priority: str) -> None:
    h = PureHall.standard(policy=policy)
    h.open("L1")
    h.issue("ktp")
    h.tick(MIN)
    h.issue("ktp")
    h.tick(MIN)
    p = h.issue("kk", priority=priority)
    assert h.t(p).priority is Priority(priority)
    assert h.drain("L1") == ["B001", "A001", "A002"]


def test_after_the_streak_a_regular_ticket_goes() -> None:
    h = PureHall.standard(priority_streak_max=2)
    h.open("L1")
    h.issue("ktp")  # A001 regular
    h.issue("ktp")  # A002 regular
    for _ in range(5):
        h.issue("ktp", priority="lansia")  # A003..A007
    order, streaks = [], []
    for _ in range(7):
        order.append(h.serve("L1"))
        streaks.append(h.c("L1").priority_streak)
    assert order == ["A003", "A004", "A001", "A005", "A006", "A002", "A007"]
    assert streaks == [1, 2, 0, 1, 2, 0, 1]


def test_the_streak_defaults_to_three() -> None:
    h = PureHall.standard()
    h.open("L1")
    h.issue("ktp")
    for _ in range(4):
        h.issue("ktp", priority="ibu_hamil")
    assert h.drain("L1") == ["A002", "A003", "A004", "A001", "A005"]


def test_the_streak_is_per_counter_and_counts_calls_by_name() -> None:
    h = PureHall.standard(priority_streak_max=2)
    h.open("L1")
    h.open("L2", "siti")  # kk
    p1 = h.issue("ktp", priority="lansia")
    h.do("call_ticket", counter="L1", ticket=p1)
    h.do("complete", counter="L1")
    h.issue("kk", priority="lansia")  # B001
    h.issue("kk")  # B002
    h.issue("kk", priority="lansia")  # B003
    assert h.serve("L2") == "B001"  # L2's streak is its own
    assert (h.c("L1").priority_streak, h.c("L2").priority_streak) == (1, 1)
    assert h.serve("L1") == "B003"  # L1: streak 2 now
    assert h.c("L1").priority_streak == 2
    h.issue("kk", priority="lansia")  # B004
    assert h.serve("L1") == "B002"
    assert h.serve("L1") == "B004"


def test_closing_the_counter_resets_the_streak() -> None:
    h = PureHall.standard(priority_streak_max=1)
    h.open("L1")
    h.issue("ktp")
    h.issue("ktp", priority="lansia")
    h.issue("ktp", priority="lansia")
    assert h.serve("L1") == "A002"
    h.do("close_counter", counter="L1")
    assert h.c("L1").priority_streak == 0
    h.open("L1")
    assert h.serve("L1") == "A003"


def test_only_priority_or_only_regular_tickets_follow_the_policy() -> None:
    h = PureHall.standard(priority_streak_max=1)
    h.open("L1")
    for _ in range(3):
        h.issue("ktp", priority="disabilitas")
    assert h.drain("L1") == ["A001", "A002", "A003"]  # no regular ticket to let through
    assert h.c("L1").priority_streak == 3
    h.issue("ktp")
    h.issue("ktp")
    assert h.drain("L1") == ["A004", "A005"]


def test_a_regular_ticket_past_its_target_goes_before_priority() -> None:
    h = PureHall.standard()  # ktp target 10 minutes
    h.open("L1")
    r = h.issue("ktp")
    h.tick(5 * MIN)
    p = h.issue("ktp", priority="lansia")
    before, at_target = copy.deepcopy(h), copy.deepcopy(h)
    before.tick(5 * MIN - 1)  # R waited 9:59
    assert before.call("L1") == p
    at_target.tick(5 * MIN)  # R waited exactly its target
    assert at_target.call("L1") == r
    assert at_target.c("L1").priority_streak == 0


def test_overdue_regular_tickets_are_ordered_by_the_policy() -> None:
    h = PureHall.standard(policy="target")
    h.open("L1")
    h.issue("kk")  # B001, target 20
    h.tick(MIN)
    h.issue("ktp")  # A001, target 10
    h.tick(MIN)
    h.issue("kk", priority="lansia")  # B002
    h.tick(24 * MIN)  # B001 26/20 = 1.3; A001 25/10 = 2.5
    assert [h.serve("L1") for _ in range(3)] == ["A001", "B001", "B002"]


# --- which tickets a counter may call ----------------------------------------------------------


def test_a_counter_calls_only_its_services() -> None:
    h = PureHall.standard()
    h.open("L3", "rina")  # stnk
    a1 = h.issue("ktp")
    h.reject("no_ticket_waiting", "call_next", counter="L3")
    rej = h.reject("service_not_served", "call_ticket", counter="L3", ticket=a1)
    assert rej.details == {"id": a1, "service": "ktp"}
    # A supervisor may send any ticket to any counter.
    assert h.do("call_ticket", counter="L3", ticket=a1, override=True, by="supervisor") == [
        e.TicketCalled(ticket=a1, counter="L3", officer="rina", at=MONDAY, by="supervisor")
    ]
    assert h.t(a1).state is TicketState.CALLED


def test_override_calls_a_ticket_sent_to_another_counter() -> None:
    h = PureHall.standard()
    h.open("L1")
    b1 = h.issue("kk")
    h.do("transfer", ticket=b1, to_counter="L2")
    h.reject("service_not_served", "call_ticket", counter="L1", ticket=b1)
    h.do("call_ticket", counter="L1", ticket=b1, override=True)
    assert h.t(b1).target_counter is None
    assert h.c("L1").ticket == b1


def test_a_ticket_sent_to_a_counter_comes_before_priority() -> None:
    h = PureHall.standard()
    h.open("L2", "siti")  # kk
    h.issue("kk", priority="lansia")  # B001
    h.issue("stnk")  # C001
    h.issue("ktp")  # A001
    h.do("transfer", ticket=h.state.waiting_in("stnk")[0].id, to_counter="L2")
    h.do("transfer", ticket=h.state.waiting_in("ktp")[0].id, to_counter="L2")
    assert h.drain("L2") == ["C001", "A001", "B001"]


def test_a_busy_counter_cannot_call() -> None:
    h = PureHall.standard()
    h.open("L1")
    h.issue("ktp")
    a1 = h.call("L1")
    a2 = h.issue("ktp")
    h.reject("counter_busy", "call_next", counter="L1")
    h.reject("counter_busy", "call_ticket", counter="L1", ticket=a2)
    h.reject("counter_busy", "call_ticket", counter="L1", ticket=a2, override=True)
    assert (h.c("L1").ticket, h.t(a2).state) == (a1, TicketState.WAITING)


def test_two_counters_never_get_the_same_ticket() -> None:
    h = PureHall.standard()
    h.open("L1")
    h.open("L2", "siti")
    for _ in range(3):
        h.issue("kk")
    called = {h.call("L1"), h.call("L2")}
    assert len(called) == 2
    h.do("complete", counter="L1")
    third = h.call("L1")
    assert third not in called
    h.do("complete", counter="L1")
    h.reject("no_ticket_waiting", "call_next", counter="L1")
    assert h.c("L2").state is CounterState.OPEN


def test_held_and_cancelled_tickets_are_not_candidates() -> None:
    h = PureHall.standard()
    h.open("L1")
    a1 = h.issue("ktp", priority="lansia")
    a2 = h.issue("ktp")
    h.do("hold", ticket=a1)
    h.do("cancel", ticket=a2)
    h.reject("no_ticket_waiting", "call_next", counter="L1")
    h.do("unhold", ticket=a1)
    assert h.call("L1") == a1
