"""The pure_hall's read-only views (qms.server.queries): pure, fixed times, no server."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pure_hall import PureHall

from qms.core import HallState
from qms.core.model import TicketState
from qms.server import queries as q

MONDAY = datetime(2024, 7, 1, 9, 0, tzinfo=ZoneInfo("Asia/Jakarta")).timestamp()


@pytest.fixture
def pure_hall() -> PureHall:
    h = PureHall(MONDAY)
    h.do("set_up_site", site="s1", name="MPP Test")
    h.set_up(
        {"dukcapil": "Disdukcapil", "samsat": "Samsat"},
        [
            ("ktp", "dukcapil", "A", "KTP-el", "ID card", 10),
            ("pkb", "samsat", "F", "Pajak", "Vehicle tax", 20),
        ],
        [("L1", "A", ["ktp"]), ("L2", "A", ["ktp", "pkb"]), ("L3", "B", ["pkb"])],
    )
    return h


def by_service(views: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {v["service"]: v for v in views}


def test_setup_lists_site_agencies_services_counters_and_messages(pure_hall: PureHall) -> None:
    pure_hall.do("broadcast", text="Selamat datang")
    view = q.site_setup(pure_hall.state)
    assert view["site"]["id"] == "s1" and view["site"]["timezone"] == "Asia/Jakarta"
    assert [a["id"] for a in view["agencies"]] == ["dukcapil", "samsat"]
    ktp = view["services"][0]
    assert ktp["service"] == "ktp" and ktp["prefix"] == "A" and ktp["hours"]["open"] == "00:00"
    assert view["counters"][1] == {
        "counter": "L2",
        "name": "Loket 2",
        "zone": "A",
        "services": ["ktp", "pkb"],
    }
    assert view["messages"] == {"": "Selamat datang"}
    json.dumps(view)  # plain data


def test_setup_of_an_empty_state_has_no_site() -> None:
    assert q.site_setup(HallState())["site"] is None


def test_queue_counts_oldest_wait_and_estimate_without_history(pure_hall: PureHall) -> None:
    pure_hall.issue("ktp")
    pure_hall.tick(60)
    pure_hall.issue("ktp")
    pure_hall.tick(30)
    ktp = by_service(q.queues(pure_hall.state, pure_hall.now))["ktp"]
    assert ktp["waiting"] == 2 and ktp["oldest_wait_s"] == 90.0
    assert ktp["target_wait_s"] == 600 and not ktp["over_target"]
    # No counter open: no estimate.
    assert ktp["open_counters"] == 0 and ktp["estimated_wait_s"] is None
    pure_hall.do("open_counter", counter="L1", officer="budi")
    pure_hall.do("open_counter", counter="L2", officer="sari")
    ktp = by_service(q.queues(pure_hall.state, pure_hall.now))["ktp"]
    # No completion yet: the target (10 min) stands in for the service time.
    assert ktp["mean_service_s"] == 600.0
    assert ktp["estimated_wait_s"] == 2 * 600 / 2
    pkb = by_service(q.queues(pure_hall.state, pure_hall.now))["pkb"]
    assert pkb["waiting"] == 0 and pkb["oldest_wait_s"] is None and pkb["estimated_wait_s"] == 0.0


def test_paused_counters_do_not_count_and_overdue_is_flagged(pure_hall: PureHall) -> None:
    pure_hall.issue("ktp")
    pure_hall.do("open_counter", counter="L1", officer="budi")
    pure_hall.do("open_counter", counter="L2", officer="sari")
    pure_hall.do("pause_counter", counter="L2")
    pure_hall.tick(601)
    ktp = by_service(q.queues(pure_hall.state, pure_hall.now))["ktp"]
    assert ktp["open_counters"] == 1 and ktp["over_target"]


def test_mean_service_time_uses_recent_completions(pure_hall: PureHall) -> None:
    pure_hall.do("open_counter", counter="L1", officer="budi")
    for minutes in (2, 4):
        pure_hall.issue("ktp")
        pure_hall.do("call_next", counter="L1")
        pure_hall.do("start_service", counter="L1")
        pure_hall.tick(minutes * 60)
        pure_hall.do("complete", counter="L1")
    assert q.mean_service_times(pure_hall.state) == {"ktp": 180.0}
    assert q.mean_service_times(pure_hall.state, recent=1) == {"ktp": 240.0}
    pure_hall.issue("ktp")
    pure_hall.issue("ktp", priority="lansia")
    ktp = by_service(q.queues(pure_hall.state, pure_hall.now))["ktp"]
    assert ktp["mean_service_s"] == 180.0 and ktp["estimated_wait_s"] == 360.0
    assert ktp["priority_waiting"] == 1


def test_tickets_transferred_to_one_counter_wait_in_its_queue(pure_hall: PureHall) -> None:
    """A ticket sent to one counter waits in that counter's queue ("@L2", staff only),
    as the engine and the stream count it, not in its service's."""
    t = pure_hall.issue("ktp")
    pure_hall.issue("ktp")
    pure_hall.do("transfer", ticket=t, to_counter="L2")
    pure_hall.tick(30)
    views = {v["queue"]: v for v in q.queues(pure_hall.state, pure_hall.now)}
    assert views["ktp"]["waiting"] == 1
    l2 = views["@L2"]
    assert l2["counter"] == "L2" and l2["service"] is None and l2["waiting"] == 1
    assert l2["oldest_wait_s"] == 30.0 and l2["open_counters"] == 0
    assert l2["estimated_wait_s"] is None  # L2 is closed
    pure_hall.do("open_counter", counter="L2", officer="sari")
    l2 = {v["queue"]: v for v in q.queues(pure_hall.state, pure_hall.now)}["@L2"]
    assert l2["open_counters"] == 1 and l2["estimated_wait_s"] == l2["mean_service_s"] == 600.0
    public = q.queues(pure_hall.state, pure_hall.now, public=True)
    assert [v["queue"] for v in public] == list(pure_hall.state.services)


def test_counters_show_ticket_in_hand_and_officer_only_to_staff(pure_hall: PureHall) -> None:
    pure_hall.issue("ktp")
    pure_hall.issue("pkb")
    pure_hall.do("open_counter", counter="L1", officer="budi")
    pure_hall.tick(10)
    pure_hall.do("call_next", counter="L1")
    pure_hall.tick(20)
    pure_hall.do("start_service", counter="L1")
    staff = {c["counter"]: c for c in q.counters(pure_hall.state, staff=True)}
    public = {c["counter"]: c for c in q.counters(pure_hall.state, staff=False)}
    l1 = staff["L1"]
    assert l1["state"] == "open" and l1["officer"] == "budi"
    assert l1["ticket"]["number"] == "A001" and l1["ticket"]["state"] == "serving"
    assert (
        l1["ticket"]["started_at"] == pure_hall.now
        and l1["ticket"]["called_at"] == pure_hall.now - 20
    )
    assert l1["ticket"]["priority"] == "regular" and l1["ticket"]["officer"] == "budi"
    assert "officer" not in public["L1"] and "ticket" not in public["L1"]["ticket"]
    assert "priority" not in public["L1"]["ticket"] and "officer" not in public["L1"]["ticket"]
    assert staff["L3"]["ticket"] is None and staff["L3"]["waiting"] == 1
    assert staff["L2"]["waiting"] == 1  # pkb; A001 is in hand at L1
    assert [c["counter"] for c in q.counters(pure_hall.state, staff=False, zone="B")] == ["L3"]


def test_a_counters_waiting_count_is_its_candidates(pure_hall: PureHall) -> None:
    """Counted from the queues' lengths (every command at a counter answers with it),
    it is what `candidates` lists: directed tickets, each service's, none held."""
    from qms.core.policy import candidates

    for service in ("ktp", "ktp", "pkb", "pkb", "pkb"):
        pure_hall.issue(service)
    sent = pure_hall.issue("ktp")
    pure_hall.do("transfer", ticket=sent, to_counter="L3")
    held = pure_hall.issue("pkb")
    pure_hall.do("hold", ticket=held)
    views = {c["counter"]: c for c in q.counters(pure_hall.state, staff=True)}
    counts = {c: len(candidates(pure_hall.state, pure_hall.state.counters[c])) for c in views}
    assert {c: v["waiting"] for c, v in views.items()} == counts == {"L1": 2, "L2": 5, "L3": 4}


def test_todays_tickets_filter_by_state_and_service(pure_hall: PureHall) -> None:
    a = pure_hall.issue("ktp")
    pure_hall.issue("pkb")
    pure_hall.do("cancel", ticket=a)
    rows = q.todays_tickets(pure_hall.state)
    assert [r["number"] for r in rows] == ["A001", "F001"]
    assert rows[0]["state"] == "cancelled" and "token" not in rows[0]
    assert [
        r["number"] for r in q.todays_tickets(pure_hall.state, states=[TicketState.WAITING])
    ] == ["F001"]
    assert [r["number"] for r in q.todays_tickets(pure_hall.state, service="ktp")] == ["A001"]


def test_todays_tickets_after_close_day_are_the_last_days(pure_hall: PureHall) -> None:
    pure_hall.issue("ktp")
    pure_hall.do("close_day")
    rows = q.todays_tickets(pure_hall.state)
    assert [(r["number"], r["state"]) for r in rows] == [("A001", "expired")]


def test_people_ahead_follow_priority_then_arrival(pure_hall: PureHall) -> None:
    r1 = pure_hall.issue("ktp")
    pure_hall.tick(1)
    r2 = pure_hall.issue("ktp")
    pure_hall.tick(1)
    p1 = pure_hall.issue("ktp", priority="disabilitas")
    pure_hall.tick(1)
    p2 = pure_hall.issue("ktp", priority="lansia")
    t = pure_hall.state.tickets
    assert q.people_ahead(pure_hall.state, t[r1]) == 2  # both priority tickets
    assert q.people_ahead(pure_hall.state, t[r2]) == 3
    assert q.people_ahead(pure_hall.state, t[p1]) == 0
    assert q.people_ahead(pure_hall.state, t[p2]) == 1


def test_ticket_status_is_public_and_estimates_its_wait(pure_hall: PureHall) -> None:
    pure_hall.issue("ktp")
    pure_hall.tick(5)
    second = pure_hall.issue("ktp")
    pure_hall.do("open_counter", counter="L1", officer="budi")
    status = q.ticket_status(pure_hall.state, pure_hall.state.tickets[second], pure_hall.now)
    assert status["number"] == "A002" and status["state"] == "waiting"
    assert status["people_ahead"] == 1 and status["estimated_wait_s"] == 600.0
    assert status["service_name_id"] == "KTP-el" and status["counter"] is None
    text = json.dumps(status)
    assert "tok" not in text and "budi" not in text and second not in text
    pure_hall.do("call_next", counter="L1")
    pure_hall.do("complete", counter="L1")
    pure_hall.do("call_next", counter="L1")
    status = q.ticket_status(pure_hall.state, pure_hall.state.tickets[second], pure_hall.now)
    assert status["state"] == "called" and status["people_ahead"] is None
    assert status["counter"] == {"counter": "L1", "name": "Loket 1"}
    assert status["called_at"] == pure_hall.now and "budi" not in json.dumps(status)
    assert status["recalls"] == 0
    pure_hall.do("recall", counter="L1")
    assert (
        q.ticket_status(pure_hall.state, pure_hall.state.tickets[second], pure_hall.now)["recalls"]
        == 1
    )


def test_ticket_status_of_a_ticket_sent_to_one_counter(pure_hall: PureHall) -> None:
    t = pure_hall.issue("ktp")
    pure_hall.do("transfer", ticket=t, to_counter="L2")
    status = q.ticket_status(pure_hall.state, pure_hall.state.tickets[t], pure_hall.now)
    assert status["people_ahead"] == 0 and status["estimated_wait_s"] is None  # L2 closed
    pure_hall.do("open_counter", counter="L2", officer="sari")
    status = q.ticket_status(pure_hall.state, pure_hall.state.tickets[t], pure_hall.now)
    assert status["estimated_wait_s"] == 0.0


def test_token_index_finds_tickets_and_follows_new_ones(pure_hall: PureHall) -> None:
    views = q.SiteViews()
    first = pure_hall.issue("ktp")
    found = views.find_token(pure_hall.state, pure_hall.version, "tok1")
    assert found is not None and found.id == first
    assert views.find_token(pure_hall.state, pure_hall.version, "nope") is None
    second = pure_hall.issue("pkb")
    found = views.find_token(pure_hall.state, pure_hall.version, "tok2")
    assert found is not None and found.id == second


def test_token_index_is_rebuilt_when_the_day_changes(pure_hall: PureHall) -> None:
    views = q.SiteViews()
    pure_hall.issue("ktp")
    assert views.find_token(pure_hall.state, pure_hall.version, "tok1") is not None
    pure_hall.tick(3 * 24 * 3600)  # two days later: the old tickets are forgotten
    pure_hall.issue("ktp")
    pure_hall.tick(24 * 3600)
    pure_hall.issue("ktp")
    assert views.find_token(pure_hall.state, pure_hall.version, "tok1") is None
    assert views.find_token(pure_hall.state, pure_hall.version, "tok3") is not None


def test_token_index_is_not_rebuilt_while_the_version_stands(pure_hall: PureHall) -> None:
    views = q.SiteViews()
    pure_hall.issue("ktp")
    views.find_token(pure_hall.state, pure_hall.version, "tok1")
    indexed = views._by_token
    views.find_token(pure_hall.state, pure_hall.version, "tok1")
    assert views._by_token is indexed and len(indexed) == 1


def test_means_are_cached_per_version(pure_hall: PureHall) -> None:
    views = q.SiteViews()
    first = views.means(pure_hall.state, pure_hall.version)
    assert views.means(pure_hall.state, pure_hall.version) is first
    pure_hall.issue("ktp")
    assert views.means(pure_hall.state, pure_hall.version) is not first
