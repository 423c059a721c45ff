"""The hall's read-only views (qms.server.queries): pure, fixed times, no server."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from qms.core import HallState, decide, evolve, parse_command
from qms.core.model import TicketState
from qms.server import queries as q

MONDAY = datetime(2024, 7, 1, 9, 0, tzinfo=ZoneInfo("Asia/Jakarta")).timestamp()


class Hall:
    """A state moved by real commands through decide/evolve, with a settable clock."""

    def __init__(self) -> None:
        self.state = HallState()
        self.now = MONDAY
        self.version = 0
        self.tokens = 0

    def do(self, type: str, **fields: Any) -> list[Any]:
        if type == "issue_ticket" and "token" not in fields:
            self.tokens += 1
            fields["token"] = f"tok{self.tokens:04d}"
        events = decide(self.state, parse_command({"type": type, **fields}), self.now)
        for ev in events:
            evolve(self.state, ev)
            self.version += 1
        return events

    def issue(self, service: str, **fields: Any) -> str:
        events = self.do("issue_ticket", service=service, **fields)
        return str(events[-1].ticket)

    def later(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def hall() -> Hall:
    h = Hall()
    h.do("set_up_site", site="s1", name="MPP Test")
    h.do("set_up_agency", agency="dukcapil", name="Disdukcapil")
    h.do("set_up_agency", agency="samsat", name="Samsat")
    h.do(
        "set_up_service",
        service="ktp",
        agency="dukcapil",
        prefix="A",
        name_id="KTP-el",
        name_en="ID card",
        target_wait_min=10,
    )
    h.do(
        "set_up_service",
        service="pkb",
        agency="samsat",
        prefix="F",
        name_id="Pajak",
        name_en="Vehicle tax",
        target_wait_min=20,
    )
    h.do("set_up_counter", counter="L1", name="Loket 1", zone="A", services=["ktp"])
    h.do("set_up_counter", counter="L2", name="Loket 2", zone="A", services=["ktp", "pkb"])
    h.do("set_up_counter", counter="L3", name="Loket 3", zone="B", services=["pkb"])
    return h


def by_service(views: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {v["service"]: v for v in views}


def test_setup_lists_site_agencies_services_counters_and_messages(hall: Hall) -> None:
    hall.do("broadcast", text="Selamat datang")
    view = q.site_setup(hall.state)
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


def test_queue_counts_oldest_wait_and_estimate_without_history(hall: Hall) -> None:
    hall.issue("ktp")
    hall.later(60)
    hall.issue("ktp")
    hall.later(30)
    ktp = by_service(q.queues(hall.state, hall.now))["ktp"]
    assert ktp["waiting"] == 2 and ktp["oldest_wait_s"] == 90.0
    assert ktp["target_wait_s"] == 600 and not ktp["over_target"]
    # No counter open: no estimate.
    assert ktp["open_counters"] == 0 and ktp["estimated_wait_s"] is None
    hall.do("open_counter", counter="L1", officer="budi")
    hall.do("open_counter", counter="L2", officer="sari")
    ktp = by_service(q.queues(hall.state, hall.now))["ktp"]
    # No completion yet: the target (10 min) stands in for the service time.
    assert ktp["mean_service_s"] == 600.0
    assert ktp["estimated_wait_s"] == 2 * 600 / 2
    pkb = by_service(q.queues(hall.state, hall.now))["pkb"]
    assert pkb["waiting"] == 0 and pkb["oldest_wait_s"] is None and pkb["estimated_wait_s"] == 0.0


def test_paused_counters_do_not_count_and_overdue_is_flagged(hall: Hall) -> None:
    hall.issue("ktp")
    hall.do("open_counter", counter="L1", officer="budi")
    hall.do("open_counter", counter="L2", officer="sari")
    hall.do("pause_counter", counter="L2")
    hall.later(601)
    ktp = by_service(q.queues(hall.state, hall.now))["ktp"]
    assert ktp["open_counters"] == 1 and ktp["over_target"]


def test_mean_service_time_uses_recent_completions(hall: Hall) -> None:
    hall.do("open_counter", counter="L1", officer="budi")
    for minutes in (2, 4):
        hall.issue("ktp")
        hall.do("call_next", counter="L1")
        hall.do("start_service", counter="L1")
        hall.later(minutes * 60)
        hall.do("complete", counter="L1")
    assert q.mean_service_times(hall.state) == {"ktp": 180.0}
    assert q.mean_service_times(hall.state, recent=1) == {"ktp": 240.0}
    hall.issue("ktp")
    hall.issue("ktp", priority="lansia")
    ktp = by_service(q.queues(hall.state, hall.now))["ktp"]
    assert ktp["mean_service_s"] == 180.0 and ktp["estimated_wait_s"] == 360.0
    assert ktp["priority_waiting"] == 1


def test_tickets_transferred_to_one_counter_count_in_their_service(hall: Hall) -> None:
    t = hall.issue("ktp")
    hall.do("transfer", ticket=t, to_counter="L2")
    assert by_service(q.queues(hall.state, hall.now))["ktp"]["waiting"] == 1


def test_counters_show_ticket_in_hand_and_officer_only_to_staff(hall: Hall) -> None:
    hall.issue("ktp")
    hall.issue("pkb")
    hall.do("open_counter", counter="L1", officer="budi")
    hall.later(10)
    hall.do("call_next", counter="L1")
    hall.later(20)
    hall.do("start_service", counter="L1")
    staff = {c["counter"]: c for c in q.counters(hall.state, staff=True)}
    public = {c["counter"]: c for c in q.counters(hall.state, staff=False)}
    l1 = staff["L1"]
    assert l1["state"] == "open" and l1["officer"] == "budi"
    assert l1["ticket"]["number"] == "A001" and l1["ticket"]["state"] == "serving"
    assert l1["ticket"]["started_at"] == hall.now and l1["ticket"]["called_at"] == hall.now - 20
    assert l1["ticket"]["priority"] == "regular" and l1["ticket"]["officer"] == "budi"
    assert "officer" not in public["L1"] and "ticket" not in public["L1"]["ticket"]
    assert "priority" not in public["L1"]["ticket"] and "officer" not in public["L1"]["ticket"]
    assert staff["L3"]["ticket"] is None and staff["L3"]["waiting"] == 1
    assert staff["L2"]["waiting"] == 1  # pkb; A001 is in hand at L1
    assert [c["counter"] for c in q.counters(hall.state, staff=False, zone="B")] == ["L3"]


def test_a_counters_waiting_count_is_its_candidates(hall: Hall) -> None:
    """Counted from the queues' lengths (every command at a counter answers with it),
    it is what `candidates` lists: directed tickets, each service's, none held."""
    from qms.core.policy import candidates

    for service in ("ktp", "ktp", "pkb", "pkb", "pkb"):
        hall.issue(service)
    sent = hall.issue("ktp")
    hall.do("transfer", ticket=sent, to_counter="L3")
    held = hall.issue("pkb")
    hall.do("hold", ticket=held)
    views = {c["counter"]: c for c in q.counters(hall.state, staff=True)}
    counts = {c: len(candidates(hall.state, hall.state.counters[c])) for c in views}
    assert {c: v["waiting"] for c, v in views.items()} == counts == {"L1": 2, "L2": 5, "L3": 4}


def test_todays_tickets_filter_by_state_and_service(hall: Hall) -> None:
    a = hall.issue("ktp")
    hall.issue("pkb")
    hall.do("cancel", ticket=a)
    rows = q.todays_tickets(hall.state)
    assert [r["number"] for r in rows] == ["A001", "F001"]
    assert rows[0]["state"] == "cancelled" and "token" not in rows[0]
    assert [r["number"] for r in q.todays_tickets(hall.state, states=[TicketState.WAITING])] == [
        "F001"
    ]
    assert [r["number"] for r in q.todays_tickets(hall.state, service="ktp")] == ["A001"]


def test_todays_tickets_after_close_day_are_the_last_days(hall: Hall) -> None:
    hall.issue("ktp")
    hall.do("close_day")
    rows = q.todays_tickets(hall.state)
    assert [(r["number"], r["state"]) for r in rows] == [("A001", "expired")]


def test_people_ahead_follow_priority_then_arrival(hall: Hall) -> None:
    r1 = hall.issue("ktp")
    hall.later(1)
    r2 = hall.issue("ktp")
    hall.later(1)
    p1 = hall.issue("ktp", priority="disabilitas")
    hall.later(1)
    p2 = hall.issue("ktp", priority="lansia")
    t = hall.state.tickets
    assert q.people_ahead(hall.state, t[r1]) == 2  # both priority tickets
    assert q.people_ahead(hall.state, t[r2]) == 3
    assert q.people_ahead(hall.state, t[p1]) == 0
    assert q.people_ahead(hall.state, t[p2]) == 1


def test_ticket_status_is_public_and_estimates_its_wait(hall: Hall) -> None:
    hall.issue("ktp")
    hall.later(5)
    second = hall.issue("ktp")
    hall.do("open_counter", counter="L1", officer="budi")
    status = q.ticket_status(hall.state, hall.state.tickets[second], hall.now)
    assert status["number"] == "A002" and status["state"] == "waiting"
    assert status["people_ahead"] == 1 and status["estimated_wait_s"] == 600.0
    assert status["service_name_id"] == "KTP-el" and status["counter"] is None
    text = json.dumps(status)
    assert "tok" not in text and "budi" not in text and second not in text
    hall.do("call_next", counter="L1")
    hall.do("complete", counter="L1")
    hall.do("call_next", counter="L1")
    status = q.ticket_status(hall.state, hall.state.tickets[second], hall.now)
    assert status["state"] == "called" and status["people_ahead"] is None
    assert status["counter"] == {"counter": "L1", "name": "Loket 1"}
    assert status["called_at"] == hall.now and "budi" not in json.dumps(status)
    assert status["recalls"] == 0
    hall.do("recall", counter="L1")
    assert q.ticket_status(hall.state, hall.state.tickets[second], hall.now)["recalls"] == 1


def test_ticket_status_of_a_ticket_sent_to_one_counter(hall: Hall) -> None:
    t = hall.issue("ktp")
    hall.do("transfer", ticket=t, to_counter="L2")
    status = q.ticket_status(hall.state, hall.state.tickets[t], hall.now)
    assert status["people_ahead"] == 0 and status["estimated_wait_s"] is None  # L2 closed
    hall.do("open_counter", counter="L2", officer="sari")
    status = q.ticket_status(hall.state, hall.state.tickets[t], hall.now)
    assert status["estimated_wait_s"] == 0.0


def test_token_index_finds_tickets_and_follows_new_ones(hall: Hall) -> None:
    views = q.SiteViews()
    first = hall.issue("ktp")
    found = views.find_token(hall.state, hall.version, "tok0001")
    assert found is not None and found.id == first
    assert views.find_token(hall.state, hall.version, "nope") is None
    second = hall.issue("pkb")
    found = views.find_token(hall.state, hall.version, "tok0002")
    assert found is not None and found.id == second


def test_token_index_is_rebuilt_when_the_day_changes(hall: Hall) -> None:
    views = q.SiteViews()
    hall.issue("ktp")
    assert views.find_token(hall.state, hall.version, "tok0001") is not None
    hall.later(3 * 24 * 3600)  # two days later: the old tickets are forgotten
    hall.issue("ktp")
    hall.later(24 * 3600)
    hall.issue("ktp")
    assert views.find_token(hall.state, hall.version, "tok0001") is None
    assert views.find_token(hall.state, hall.version, "tok0003") is not None


def test_token_index_is_not_rebuilt_while_the_version_stands(hall: Hall) -> None:
    views = q.SiteViews()
    hall.issue("ktp")
    views.find_token(hall.state, hall.version, "tok0001")
    indexed = views._by_token
    views.find_token(hall.state, hall.version, "tok0001")
    assert views._by_token is indexed and len(indexed) == 1


def test_means_are_cached_per_version(hall: Hall) -> None:
    views = q.SiteViews()
    first = views.means(hall.state, hall.version)
    assert views.means(hall.state, hall.version) is first
    hall.issue("ktp")
    assert views.means(hall.state, hall.version) is not first
