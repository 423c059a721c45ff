"""The hall's HTTP API against a real `qms serve`: every route, its success and its errors.

One live server per module (`hall`); each test starts from a clean business day
(`fresh`: close-day expires every ticket and closes the counters, then the
officers sign in again). Errors are checked to change nothing (`unchanged`).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_client import API, Api, error, signed_in
from live_hall import OTHER_SITE, SITE, LiveHall, live_hall

from qms.core import COMMAND_TYPES
from qms.eventsourcing.schema import dataclass_schema
from qms.server.api_commands import COMMAND_ROUTES, SERVER_FIELDS
from qms.server.errors import MAX_BODY
from qms.server.throttle import TICKET_MISS

S = f"/api/v1/sites/{SITE}"


@pytest.fixture(scope="module")
def hall(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveHall]:
    with live_hall(tmp_path_factory.mktemp("api_hall")) as server:
        yield server


@pytest.fixture
def fresh(hall: LiveHall) -> LiveHall:
    """No ticket waiting or in hand; L1 open with the officer, L2 with the other officer."""
    reply = hall.admin.post(f"{S}/close-day")
    assert reply.status in (200, 409), reply
    hall.sign_in_counters()
    return hall


def snapshot(hall: LiveHall) -> dict[str, Any]:
    tickets = hall.admin.ok("GET", f"{S}/tickets")
    counters = hall.admin.ok("GET", f"{S}/counters")
    setup = hall.admin.ok("GET", S)
    counters.pop("now")
    return {"tickets": tickets, "counters": counters, "setup": setup}


@contextlib.contextmanager
def unchanged(hall: LiveHall) -> Iterator[None]:
    """The block's requests change nothing: same log version, same views."""
    before = snapshot(hall)
    yield
    assert snapshot(hall) == before


def issue(who: Api, service: str = "ktp", **body: Any) -> dict[str, Any]:
    reply = who.post(f"{S}/tickets", {"service": service, **body})
    assert reply.status == 201, reply
    return dict(reply.body["ticket"])


def waiting(hall: LiveHall, service: str = "ktp") -> int:
    queues = hall.admin.ok("GET", f"{S}/queues")["queues"]
    return int(next(q["waiting"] for q in queues if q["service"] == service))


# --- the route table ------------------------------------------------------------------------


def test_every_engine_command_has_a_route() -> None:
    # the survey's commands have routes of their own (qms/survey/routes*.py)
    survey = ["configure_survey", "submit_survey", "submit_walk_up_survey", "write_survey_plan",
              "skip_tablet_survey"]  # fmt: skip
    assert sorted([spec.command for spec in COMMAND_ROUTES] + survey) == sorted(COMMAND_TYPES)


def test_command_bodies_are_documented_from_the_commands() -> None:
    for spec in COMMAND_ROUTES:
        body = dataclass_schema(spec.command_class, exclude=SERVER_FIELDS | set(spec.ids))
        assert "by" not in body["properties"] and "command_id" not in body["properties"]
        for name in spec.ids:
            assert "{" + name + "}" in spec.path


def test_a_field_the_server_fills_in_is_not_required_of_the_caller(hall: LiveHall) -> None:
    """open_counter's officer defaults to the caller: the document must not require it,
    or schemathesis rightly calls the server's answer to `{}` a schema violation."""
    doc = hall.admin.ok("GET", "/api/v1/openapi.json")
    op = doc["paths"]["/api/v1/sites/{site}/counters/{counter}/open"]["post"]
    body = op["requestBody"]["content"]["application/json"]["schema"]
    assert "officer" in body["properties"] and "officer" not in body.get("required", [])


# --- set-up ------------------------------------------------------------------------------------


def test_set_up_routes_answer_the_resource(hall: LiveHall) -> None:
    site = hall.admin.ok("PUT", S, {"name": "MPP s1", "timezone": "Asia/Jakarta"})
    assert site["site"]["id"] == SITE and site["events"][0]["type"] == "site_configured"
    assert site["events"][0]["by"] == "admin" and site["repeated"] is False
    agency = hall.who["supervisor"].ok("PUT", f"{S}/agencies/dukcapil", {"name": "Disdukcapil"})
    assert agency["agency"] == {"id": "dukcapil", "name": "Disdukcapil"}
    service = hall.who["supervisor"].ok(
        "PUT",
        f"{S}/services/kk",
        {"agency": "dukcapil", "prefix": "B", "name_id": "Kartu Keluarga", "name_en": "Family"},
    )
    assert service["service"]["service"] == "kk" and service["service"]["prefix"] == "B"
    counter = hall.admin.ok(
        "PUT", f"{S}/counters/L3", {"name": "Loket 3", "zone": "B", "services": ["pkb"]}
    )
    assert counter["counter"]["counter"] == "L3" and counter["counter"]["services"] == ["pkb"]
    setup = hall.who["display"].ok("GET", S)
    assert setup["site"]["name"] == "MPP s1" and setup["version"] >= counter["version"]
    assert {s["service"] for s in setup["services"]} == {"ktp", "kk", "pkb"}


def test_set_up_errors_change_nothing(hall: LiveHall) -> None:
    with unchanged(hall):
        error(hall.who["supervisor"].put(S, {"name": "x"}), 403, "forbidden")
        error(hall.admin.put("/api/v1/sites/bad%20id", {"name": "x"}), 422, "invalid_command")
        error(hall.admin.put(S, {"name": "x", "timezone": "Mars/Base"}), 422, "invalid_timezone")
        error(hall.admin.put(S, {"name": "x", "policy": "random"}), 422, "unknown_policy")
        body: dict[str, Any] = {"agency": "nope", "prefix": "Z", "name_id": "Z", "name_en": "Z"}
        error(hall.admin.put(f"{S}/services/z", body), 404, "unknown_agency")
        body = {"agency": "dukcapil", "prefix": "A", "name_id": "Z", "name_en": "Z"}
        error(hall.admin.put(f"{S}/services/z", body), 409, "prefix_taken")
        body = {"agency": "dukcapil", "prefix": "Z", "name_id": "Z", "name_en": 5}
        error(hall.admin.put(f"{S}/services/z", body), 422, "invalid_command")
        body = {"name": "L9", "services": ["nope"]}
        error(hall.admin.put(f"{S}/counters/L9", body), 404, "unknown_service")
        error(
            hall.admin.put(f"{S}/agencies/x", {"name": "x", "site": "s9"}), 422, "invalid_command"
        )
        error(
            hall.admin.put(f"{S}/agencies/x", {"agency": "y", "name": "x"}), 422, "invalid_command"
        )
        error(hall.admin.put(f"{S}/agencies/x", {"name": "x", "by": "me"}), 422, "invalid_command")
        error(hall.who["officer"].put(f"{S}/agencies/x", {"name": "x"}), 403, "forbidden")
        error(hall.who["kiosk"].put(f"{S}/agencies/x", {"name": "x"}), 403, "forbidden")
        error(hall.who["anonymous"].put(f"{S}/agencies/x", {"name": "x"}), 401, "not_authenticated")


def test_reallocating_a_counters_services(fresh: LiveHall) -> None:
    hall = fresh
    done = hall.who["supervisor"].ok(
        "PUT", f"{S}/counters/L3/services", {"services": ["pkb", "kk"]}
    )
    assert done["counter"]["services"] == ["pkb", "kk"]
    assert done["events"][0]["type"] == "counter_services_set"
    with unchanged(hall):
        error(
            hall.who["officer"].put(f"{S}/counters/L1/services", {"services": []}), 403, "forbidden"
        )
        body = {"services": ["kk", "kk"]}
        error(hall.admin.put(f"{S}/counters/L3/services", body), 422, "invalid_command")
        error(hall.admin.put(f"{S}/counters/L9/services", {"services": []}), 404, "unknown_counter")
    hall.admin.ok("PUT", f"{S}/counters/L3/services", {"services": ["pkb"]})


# --- queries -----------------------------------------------------------------------------------


def test_queries_of_an_unknown_site_are_404(hall: LiveHall) -> None:
    for path in (
        "/api/v1/sites/nowhere",
        "/api/v1/sites/nowhere/queues",
        "/api/v1/sites/nowhere/counters",
    ):
        error(hall.admin.get(path), 404, "unknown_site")
    error(hall.admin.get("/api/v1/sites/nowhere/tickets"), 404, "unknown_site")
    error(hall.admin.get("/api/v1/sites/bad%20id"), 404, "unknown_site")
    error(hall.admin.get("/api/v1/sites/" + "x" * 65), 404, "unknown_site")


def test_commands_on_an_unknown_site_are_refused(hall: LiveHall) -> None:
    error(
        hall.admin.post("/api/v1/sites/nowhere/tickets", {"service": "ktp"}), 409, "site_not_set_up"
    )
    error(hall.admin.post("/api/v1/sites/nowhere/close-day"), 409, "site_not_set_up")
    error(hall.admin.post("/api/v1/sites/bad%20id/close-day"), 404, "unknown_site")
    error(hall.admin.get("/api/v1/sites/nowhere"), 404, "unknown_site")  # still unknown


def test_queues_count_waiting_and_estimate(fresh: LiveHall) -> None:
    hall = fresh
    issue(hall.who["kiosk"])
    issue(hall.who["kiosk"], priority="lansia")
    body = hall.who["display"].ok("GET", f"{S}/queues")
    ktp = next(q for q in body["queues"] if q["service"] == "ktp")
    assert ktp["waiting"] == 2 and ktp["priority_waiting"] == 1
    assert ktp["open_counters"] == 2 and ktp["oldest_wait_s"] >= 0
    assert ktp["estimated_wait_s"] == 2 * ktp["mean_service_s"] / 2
    assert body["version"] == hall.version() and body["now"] > 0


def test_counters_hide_officers_from_devices(fresh: LiveHall) -> None:
    hall = fresh
    staff = hall.who["officer"].ok("GET", f"{S}/counters")["counters"]
    public = hall.who["display"].ok("GET", f"{S}/counters")["counters"]
    assert staff[0]["officer"] == "budi" and "officer" not in public[0]
    assert "budi" not in json.dumps(public)
    zone_b = hall.who["kiosk"].ok("GET", f"{S}/counters?zone=B")["counters"]
    assert [c["counter"] for c in zone_b] == ["L3"]


def test_todays_tickets_for_staff(fresh: LiveHall) -> None:
    hall = fresh
    first = issue(hall.who["kiosk"])
    issue(hall.who["kiosk"], "pkb")
    rows = hall.who["officer"].ok("GET", f"{S}/tickets?state=waiting")["tickets"]
    assert [r["number"] for r in rows][-2:] == [first["number"], rows[-1]["number"]]
    assert all(r["state"] == "waiting" for r in rows) and "token" not in rows[0]
    pkb = hall.who["supervisor"].ok("GET", f"{S}/tickets?service=pkb&state=waiting")["tickets"]
    assert [r["service"] for r in pkb] == ["pkb"]
    both = hall.admin.ok("GET", f"{S}/tickets?state=waiting&state=expired")["tickets"]
    assert {r["state"] for r in both} == {"waiting", "expired"}
    error(hall.admin.get(f"{S}/tickets?state=lost"), 422, "invalid_request")
    error(hall.who["display"].get(f"{S}/tickets"), 403, "forbidden")
    error(hall.who["kiosk"].get(f"{S}/tickets"), 403, "forbidden")
    error(hall.who["supervisor_elsewhere"].get(f"{S}/tickets"), 403, "forbidden")
    error(hall.who["anonymous"].get(f"{S}/tickets"), 401, "not_authenticated")


# --- issuing tickets ------------------------------------------------------------------------------


def test_a_kiosk_issues_a_ticket_with_its_status_url(fresh: LiveHall) -> None:
    hall = fresh
    reply = hall.who["kiosk"].post(f"{S}/tickets", {"service": "ktp", "priority": "disabilitas"})
    assert reply.status == 201, reply
    ticket = reply.body["ticket"]
    assert ticket["number"].startswith("A") and ticket["channel"] == "kiosk"
    assert ticket["priority"] == "disabilitas"
    assert ticket["status_url"] == f"/t/{ticket['ref']}" and ticket["ref"].startswith(f"{SITE}.")
    assert reply.body["events"][-1]["type"] == "ticket_issued"
    me = hall.who["kiosk"].ok("GET", "/api/v1/device")["device"]["device"]
    assert reply.body["events"][-1]["by"] == me
    status = hall.who["anonymous"].ok("GET", ticket["status_api"])
    assert status["ticket"]["number"] == ticket["number"]


def test_staff_tickets_default_to_the_staff_channel(fresh: LiveHall) -> None:
    hall = fresh
    assert issue(hall.who["officer"])["channel"] == "staff"
    assert issue(hall.who["supervisor"], channel="online")["channel"] == "online"


def test_issue_errors_change_nothing(fresh: LiveHall) -> None:
    hall = fresh
    with unchanged(hall):
        error(hall.who["kiosk"].post(f"{S}/tickets", {"service": "nope"}), 404, "unknown_service")
        body = {"service": "ktp", "channel": "staff"}
        error(hall.who["kiosk"].post(f"{S}/tickets", body), 403, "forbidden")
        body = {"service": "ktp", "token": "my-own-token"}
        error(hall.who["kiosk"].post(f"{S}/tickets", body), 422, "invalid_command")
        body = {"service": "ktp", "priority": "vip"}
        error(hall.who["kiosk"].post(f"{S}/tickets", body), 422, "invalid_command")
        error(hall.who["kiosk"].post(f"{S}/tickets", {}), 422, "invalid_command")
        other = f"/api/v1/sites/{OTHER_SITE}/tickets"
        error(hall.who["kiosk"].post(other, {"service": "ktp"}), 403, "forbidden")
        error(hall.who["display"].post(f"{S}/tickets", {"service": "ktp"}), 403, "forbidden")
        error(
            hall.who["revoked"].post(f"{S}/tickets", {"service": "ktp"}), 401, "not_authenticated"
        )
        error(
            hall.who["anonymous"].post(f"{S}/tickets", {"service": "ktp"}), 401, "not_authenticated"
        )


def test_inactive_services_and_quotas_are_409(fresh: LiveHall) -> None:
    hall = fresh
    quota = {"agency": "samsat", "prefix": "Q", "name_id": "Q", "name_en": "Q", "daily_quota": 1}
    hall.admin.ok("PUT", f"{S}/services/quota1", quota)
    hall.admin.ok("PUT", f"{S}/services/quota1", {**quota, "active": False})
    with unchanged(hall):
        error(
            hall.who["kiosk"].post(f"{S}/tickets", {"service": "quota1"}), 409, "service_inactive"
        )
    hall.admin.ok("PUT", f"{S}/services/quota1", quota)
    setup = hall.admin.ok("GET", S)
    already = any(t["service"] == "quota1" for t in hall.admin.ok("GET", f"{S}/tickets")["tickets"])
    if not already:
        issue(hall.who["kiosk"], "quota1")
    assert setup["site"]["id"] == SITE
    with unchanged(hall):
        error(hall.who["kiosk"].post(f"{S}/tickets", {"service": "quota1"}), 409, "quota_reached")


def test_the_same_idempotency_key_makes_one_ticket(fresh: LiveHall) -> None:
    hall = fresh
    before = waiting(hall)
    headers = {"Idempotency-Key": "kiosk-press-0001"}
    first = hall.who["kiosk"].post(f"{S}/tickets", {"service": "ktp"}, headers=headers)
    second = hall.who["kiosk"].post(f"{S}/tickets", {"service": "ktp"}, headers=headers)
    assert first.status == 201 and second.status == 200, (first, second)
    assert first.body["repeated"] is False and second.body["repeated"] is True
    assert second.body["ticket"] == first.body["ticket"]
    assert second.body["events"] == first.body["events"]
    assert waiting(hall) == before + 1
    # The key is the caller's own: another caller's same key is another command.
    third = hall.who["officer"].post(f"{S}/tickets", {"service": "ktp"}, headers=headers)
    assert third.status == 201 and third.body["repeated"] is False
    assert third.body["ticket"]["number"] != first.body["ticket"]["number"]
    assert waiting(hall) == before + 2


def test_idempotent_counter_commands(fresh: LiveHall) -> None:
    hall = fresh
    issue(hall.who["kiosk"])
    issue(hall.who["kiosk"])
    key = {"Idempotency-Key": "next-press-1"}
    officer = hall.who["officer"]
    first = officer.ok("POST", f"{S}/counters/L1/call-next", headers=key)
    again = officer.ok("POST", f"{S}/counters/L1/call-next", headers=key)
    assert again["repeated"] is True and again["events"] == first["events"]
    assert waiting(hall) == 1


def test_bad_idempotency_keys_are_400(fresh: LiveHall) -> None:
    hall = fresh
    with unchanged(hall):
        for key in ("", "x" * 101, "with space", "ümlaut"):
            reply = hall.who["kiosk"].post(
                f"{S}/tickets", {"service": "ktp"}, headers={"Idempotency-Key": key}
            )
            error(reply, 400, "invalid_idempotency_key")


# --- counters -----------------------------------------------------------------------------------


def test_an_officers_day_at_the_counter(fresh: LiveHall) -> None:
    hall = fresh
    officer = hall.who["officer"]
    c = f"{S}/counters/L1"
    officer.ok("POST", f"{c}/close")
    opened = officer.ok("POST", f"{c}/open")
    assert opened["counter"]["officer"] == "budi" and opened["events"][0]["officer"] == "budi"
    a = issue(hall.who["kiosk"])
    b = issue(hall.who["kiosk"])
    called = officer.ok("POST", f"{c}/call-next")
    assert called["counter"]["ticket"]["number"] == a["number"]
    assert [e["type"] for e in called["events"]] == ["ticket_called"]
    assert officer.ok("POST", f"{c}/recall")["counter"]["ticket"]["recalls"] == 1
    assert officer.ok("POST", f"{c}/start")["counter"]["ticket"]["state"] == "serving"
    done = officer.ok("POST", f"{c}/complete")
    assert done["counter"]["ticket"] is None
    officer.ok("POST", f"{c}/call-next")
    back = officer.ok("POST", f"{c}/return")
    assert back["counter"]["ticket"] is None and waiting(hall) == 1
    officer.ok("POST", f"{c}/call", {"ticket": b["ticket"]})
    gone = officer.ok("POST", f"{c}/no-show")
    assert gone["events"][0]["type"] == "ticket_no_show"
    assert officer.ok("POST", f"{c}/pause")["counter"]["state"] == "paused"
    assert officer.ok("POST", f"{c}/open")["counter"]["state"] == "open"
    status = hall.who["anonymous"].ok("GET", f"/api/v1/tickets/{a['ref']}")["ticket"]
    assert status["state"] == "done"


def test_counter_command_errors_change_nothing(fresh: LiveHall) -> None:
    hall = fresh
    officer = hall.who["officer"]
    c = f"{S}/counters/L1"
    with unchanged(hall):
        error(officer.post(f"{c}/call-next"), 409, "no_ticket_waiting")
        error(officer.post(f"{c}/complete"), 409, "counter_idle")
        error(officer.post(f"{c}/recall"), 409, "counter_idle")
        error(officer.post(f"{c}/open"), 409, "invalid_state")
        error(officer.post(f"{S}/counters/L9/call-next"), 404, "unknown_counter")
        error(officer.post(f"{c}/call", {"ticket": "nope"}), 404, "unknown_ticket")
        error(officer.post(f"{c}/call", {}), 422, "invalid_command")
        error(officer.post(f"{c}/call-next", {"counter": "L2"}), 422, "invalid_command")
        error(officer.post(f"{c}/call-next", {"extra": 1}), 422, "invalid_command")
        # L3 is closed.
        error(hall.admin.post(f"{S}/counters/L3/call-next"), 409, "counter_not_open")
        error(hall.admin.post(f"{S}/counters/L3/close"), 409, "invalid_state")
    issue(hall.who["kiosk"])
    officer.ok("POST", f"{c}/call-next")
    with unchanged(hall):
        error(officer.post(f"{c}/call-next"), 409, "counter_busy")
        error(officer.post(f"{c}/pause"), 409, "counter_busy")
        error(officer.post(f"{c}/close"), 409, "counter_busy")


def test_an_officer_acts_only_at_their_own_counter(fresh: LiveHall) -> None:
    hall = fresh
    issue(hall.who["kiosk"])
    other = hall.who["officer_elsewhere"]
    with unchanged(hall):
        for verb in ("pause", "close", "call-next", "recall", "start", "complete", "no-show"):
            error(other.post(f"{S}/counters/L1/{verb}"), 403, "not_your_counter")
        error(other.post(f"{S}/counters/L1/return"), 403, "not_your_counter")
        error(other.post(f"{S}/counters/L1/call", {"ticket": "x"}), 403, "not_your_counter")
        # L1 is signed in to by budi: sari cannot take it over.
        error(other.post(f"{S}/counters/L1/open"), 403, "not_your_counter")
        # An officer opens a counter for themselves only.
        body = {"officer": "budi"}
        error(other.post(f"{S}/counters/L3/open", body), 403, "forbidden")
    # A supervisor may act at any counter of the site and name the officer.
    sup = hall.who["supervisor"]
    assert (
        sup.ok("POST", f"{S}/counters/L3/open", {"officer": "sari"})["counter"]["officer"] == "sari"
    )
    sup.ok("POST", f"{S}/counters/L3/close")


def test_call_with_override_is_for_supervisors(fresh: LiveHall) -> None:
    hall = fresh
    pkb = issue(hall.who["kiosk"], "pkb")  # L1 serves ktp and kk, not pkb
    officer = hall.who["officer"]
    with unchanged(hall):
        body = {"ticket": pkb["ticket"]}
        error(officer.post(f"{S}/counters/L1/call", body), 409, "service_not_served")
        body = {"ticket": pkb["ticket"], "override": True}
        error(officer.post(f"{S}/counters/L1/call", body), 403, "forbidden")
    called = hall.who["supervisor"].ok(
        "POST", f"{S}/counters/L1/call", {"ticket": pkb["ticket"], "override": True}
    )
    assert called["counter"]["ticket"]["number"] == pkb["number"]


# --- tickets ---------------------------------------------------------------------------------


def test_ticket_commands(fresh: LiveHall) -> None:
    hall = fresh
    officer = hall.who["officer"]
    t = issue(hall.who["kiosk"])
    tid = t["ticket"]
    officer.ok("POST", f"{S}/counters/L1/call-next")
    held = officer.ok("POST", f"{S}/tickets/{tid}/hold")
    assert held["ticket"]["state"] == "held" and hall.counter("L1")["ticket"] is None
    assert officer.ok("POST", f"{S}/tickets/{tid}/unhold")["ticket"]["state"] == "waiting"
    moved = officer.ok("POST", f"{S}/tickets/{tid}/transfer", {"to_service": "pkb"})
    assert moved["ticket"]["service"] == "pkb" and moved["ticket"]["state"] == "waiting"
    assert officer.ok("POST", f"{S}/tickets/{tid}/cancel")["ticket"]["state"] == "cancelled"
    other = issue(hall.who["kiosk"])
    sent = hall.who["supervisor"].ok(
        "POST", f"{S}/tickets/{other['ticket']}/transfer", {"to_counter": "L2"}
    )
    assert sent["ticket"]["target_counter"] == "L2"
    # The officer at L2 may act on a ticket sent to L2.
    hall.who["officer_elsewhere"].ok("POST", f"{S}/tickets/{other['ticket']}/hold")


def test_ticket_command_errors_change_nothing(fresh: LiveHall) -> None:
    hall = fresh
    officer = hall.who["officer"]
    t = issue(hall.who["kiosk"])
    tid = t["ticket"]
    officer.ok("POST", f"{S}/counters/L1/call-next")
    with unchanged(hall):
        error(officer.post(f"{S}/tickets/{tid}/unhold"), 409, "invalid_state")
        error(officer.post(f"{S}/tickets/{tid}/cancel"), 409, "invalid_state")
        error(officer.post(f"{S}/tickets/{tid}/transfer", {}), 422, "invalid_command")
        body = {"to_service": "nope"}
        error(officer.post(f"{S}/tickets/{tid}/transfer", body), 404, "unknown_service")
        error(officer.post(f"{S}/tickets/nope/hold"), 404, "unknown_ticket")
        error(hall.who["officer_elsewhere"].post(f"{S}/tickets/{tid}/hold"), 403, "not_your_ticket")
        error(hall.who["kiosk"].post(f"{S}/tickets/{tid}/hold"), 403, "forbidden")
        error(hall.who["supervisor_elsewhere"].post(f"{S}/tickets/{tid}/hold"), 403, "forbidden")
    waiting_ticket = issue(hall.who["kiosk"])["ticket"]
    with unchanged(hall):
        # Never at any counter: only supervisors and admins move it.
        error(officer.post(f"{S}/tickets/{waiting_ticket}/cancel"), 403, "not_your_ticket")
        body = {"to_service": "ktp"}
        error(
            hall.admin.post(f"{S}/tickets/{waiting_ticket}/transfer", body), 409, "same_destination"
        )
    hall.admin.ok("POST", f"{S}/tickets/{waiting_ticket}/cancel")


# --- the hall ------------------------------------------------------------------------------------


def test_broadcast_and_close_day(fresh: LiveHall) -> None:
    hall = fresh
    done = hall.who["supervisor"].ok(
        "POST", f"{S}/broadcast", {"text": "Istirahat 12.00", "zone": "A"}
    )
    assert done["messages"]["A"] == "Istirahat 12.00"
    assert hall.who["display"].ok("GET", S)["messages"]["A"] == "Istirahat 12.00"
    hall.admin.ok("POST", f"{S}/broadcast", {"text": "", "zone": "A"})
    with unchanged(hall):
        error(hall.who["officer"].post(f"{S}/broadcast", {"text": "x"}), 403, "forbidden")
        error(hall.admin.post(f"{S}/broadcast", {"text": "x" * 201}), 422, "invalid_command")
    t = issue(hall.who["kiosk"])
    closed = hall.who["supervisor"].ok("POST", f"{S}/close-day")
    assert closed["day"] is None and closed["events"][0]["type"] == "day_closed"
    assert t["ticket"] in closed["events"][0]["expired"]
    with unchanged(hall):
        error(hall.admin.post(f"{S}/close-day"), 409, "invalid_state")
        error(hall.who["officer"].post(f"{S}/close-day"), 403, "forbidden")


# --- request bodies -----------------------------------------------------------------------------


def test_bad_bodies_are_refused_before_anything_changes(fresh: LiveHall) -> None:
    hall = fresh
    kiosk = hall.who["kiosk"]
    path = f"{S}/tickets"
    json_type = {"Content-Type": "application/json"}
    with unchanged(hall):
        error(kiosk.post(path, raw=b"{not json", headers=json_type), 400, "invalid_json")
        error(kiosk.post(path, raw=b"\xff\xfe", headers=json_type), 400, "invalid_json")
        deep = b"[" * 100_000 + b"]" * 100_000
        error(kiosk.post(path, raw=deep[:MAX_BODY], headers=json_type), 400, "invalid_json")
        body = json.dumps({"service": "ktp"}).encode()
        error(
            kiosk.post(path, raw=body, headers={"Content-Type": "text/plain"}),
            415,
            "unsupported_media_type",
        )
        error(kiosk.post(path, raw=body), 415, "unsupported_media_type")
        error(kiosk.post(path, ["ktp"]), 422, "invalid_request")
        error(kiosk.post(path, "ktp"), 422, "invalid_request")
        big = {"service": "ktp", "pad": "x" * (MAX_BODY + 1)}
        error(kiosk.post(path, big), 413, "payload_too_large")
        chunks = (b"x" * 8192 for _ in range(MAX_BODY // 8192 + 2))
        error(kiosk.post(path, raw=chunks, headers=json_type), 413, "payload_too_large")
        lying = {**json_type, "Content-Length": "99999999"}
        error(kiosk.post(path, raw=b"{}", headers=lying), 413, "payload_too_large")


def test_lone_surrogates_are_bad_json(fresh: LiveHall) -> None:
    hall = fresh
    raw = b'{"text": "\\ud800 broken"}'
    with unchanged(hall):
        reply = hall.admin.post(
            f"{S}/broadcast", raw=raw, headers={"Content-Type": "application/json"}
        )
        error(reply, 400, "invalid_json")


def test_cookie_sessions_need_our_origin(fresh: LiveHall) -> None:
    hall = fresh
    admin = hall.admin
    with unchanged(hall):
        foreign = Api(hall.url, origin="http://evil.example", cookies=dict(admin.cookies))
        error(foreign.post(f"{S}/close-day"), 403, "bad_origin")
        missing = Api(hall.url, origin=None, cookies=dict(admin.cookies))
        error(missing.post(f"{S}/close-day"), 403, "bad_origin")
    assert (
        Api(hall.url, origin=None, cookies=dict(admin.cookies)).get(S).status == 200
    )  # reads need no Origin


IDS = {"{site}": SITE, "{counter}": "L1", "{agency}": "dukcapil", "{service}": "ktp"}


def _path(template: str, hall: LiveHall) -> str:
    for placeholder, value in {**IDS, "{ticket}": hall.ticket}.items():
        template = template.replace(placeholder, value)
    return API + template


@pytest.mark.parametrize("spec", COMMAND_ROUTES, ids=lambda s: f"{s.method} {s.path}")
def test_every_command_route_refuses_bad_requests(hall: LiveHall, spec: Any) -> None:
    path = _path(spec.path, hall)
    admin = hall.admin
    json_type = {"Content-Type": "application/json"}
    with unchanged(hall):
        error(admin.call(spec.method, path, raw=b"{bad", headers=json_type), 400, "invalid_json")
        too_big = b"{" + b" " * MAX_BODY + b"}"
        error(
            admin.call(spec.method, path, raw=too_big, headers=json_type), 413, "payload_too_large"
        )
        error(
            admin.call(spec.method, path, raw=b"{}", headers={"Content-Type": "text/plain"}),
            415,
            "unsupported_media_type",
        )
        error(admin.call(spec.method, path, [1]), 422, "invalid_request")
        error(admin.call(spec.method, path, {"by": "someone"}), 422, "invalid_command")
        error(admin.call(spec.method, path, {"no_such_field": 1}), 422, "invalid_command")
        bad_key = {"Idempotency-Key": " "}
        error(admin.call(spec.method, path, {}, headers=bad_key), 400, "invalid_idempotency_key")
        error(hall.who["anonymous"].call(spec.method, path, {}), 401, "not_authenticated")
        error(hall.who["revoked"].call(spec.method, path, {}), 401, "not_authenticated")
        error(hall.who["display"].call(spec.method, path, {}), 403, "forbidden")
        error(hall.who["supervisor_elsewhere"].call(spec.method, path, {}), 403, "forbidden")


@pytest.mark.parametrize("path", ["", "/queues", "/counters", "/tickets"])
def test_every_site_query_refuses_strangers_and_unknown_sites(hall: LiveHall, path: str) -> None:
    error(hall.admin.get(f"/api/v1/sites/nowhere{path}"), 404, "unknown_site")
    error(hall.who["anonymous"].get(f"{S}{path}"), 401, "not_authenticated")
    error(hall.who["revoked"].get(f"{S}{path}"), 401, "not_authenticated")
    error(hall.who["supervisor_elsewhere"].get(f"{S}{path}"), 403, "forbidden")
    assert hall.who["supervisor"].get(f"{S}{path}").status == 200


# --- the public ticket status --------------------------------------------------------------------


def test_ticket_status_is_public_and_personal_data_free(fresh: LiveHall) -> None:
    hall = fresh
    a = issue(hall.who["kiosk"])
    b = issue(hall.who["kiosk"])
    anon = Api(hall.url, forwarded_for="198.51.100.1")
    reply = anon.get(f"/api/v1/tickets/{b['ref']}")
    assert reply.status == 200, reply
    assert reply.headers["Cache-Control"] == "no-store"
    status = reply.body["ticket"]
    assert status["number"] == b["number"] and status["state"] == "waiting"
    assert status["people_ahead"] == 1 and status["estimated_wait_s"] is not None
    text = reply.raw.decode()
    token = b["ref"].split(".", 1)[1]
    assert token not in text and b["ticket"] not in text and "budi" not in text
    hall.who["officer"].ok("POST", f"{S}/counters/L1/call-next")
    hall.who["officer_elsewhere"].ok("POST", f"{S}/counters/L2/call-next")
    status = anon.ok("GET", f"/api/v1/tickets/{b['ref']}")["ticket"]
    assert status["state"] == "called" and status["counter"] == {"counter": "L2", "name": "Loket 2"}
    assert "sari" not in json.dumps(status)
    # A bare token (without its site) is found among the open sites.
    bare = a["ref"].split(".", 1)[1]
    assert anon.ok("GET", f"/api/v1/tickets/{bare}")["ticket"]["number"] == a["number"]


def test_every_unknown_ticket_gets_the_same_404(fresh: LiveHall) -> None:
    hall = fresh
    anon = Api(hall.url, forwarded_for="198.51.100.2")
    real = issue(hall.who["kiosk"])["ref"]
    site, _, token = real.partition(".")
    misses = [
        f"{site}.{token[:-1]}x" if not token.endswith("x") else f"{site}.{token[:-1]}y",
        f"{OTHER_SITE}.{token}",
        f"nowhere.{token}",
        f"bad%20site.{token}",
        "x" * 300,
        "short",
        f"{site}.",
        f".{token}",
        f"_accounts.{token}",  # the log of users and devices is no hall
    ]
    bodies = set()
    for ref in misses:
        reply = anon.get(f"/api/v1/tickets/{ref}")
        error(reply, 404, "unknown_ticket")
        bodies.add(reply.raw)
    assert len(bodies) == 1
    ready = anon.get("/readyz")
    assert ready.status == 200 and "_accounts" not in ready.body["sites"], ready


def test_misses_are_rate_limited_per_address(fresh: LiveHall) -> None:
    hall = fresh
    real = issue(hall.who["kiosk"])["ref"]
    guesser = Api(hall.url, forwarded_for="203.0.113.7")
    for i in range(TICKET_MISS.rule.count):
        error(guesser.get(f"/api/v1/tickets/{SITE}.guess{i:04d}"), 404, "unknown_ticket")
    limited = guesser.get(f"/api/v1/tickets/{SITE}.guess-more")
    error(limited, 429, "too_many_requests")
    assert int(limited.headers["Retry-After"]) >= 1
    # While limited, even a real ref gets 429: guessing cannot go on.
    error(guesser.get(f"/api/v1/tickets/{real}"), 429, "too_many_requests")
    # Another address is not affected.
    assert Api(hall.url, forwarded_for="203.0.113.8").get(f"/api/v1/tickets/{real}").status == 200


# --- never a 500 -----------------------------------------------------------------------------

JUNK_VALUES: list[Any] = [None, True, -1, 10**30, 1.5, "", "x" * 1000, "\u0000", [], {}, [{}] * 100]
JUNK_IDS = ["%00", "x" * 300, "%C3%BC", "..", "%20", "a.b", "%FF", "-"]


def junk_requests(route: Any, hall: LiveHall) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(method, path, call kwargs): junk bodies, junk ids, junk query strings."""
    import re

    good = {
        "site": SITE,
        "counter": "L1",
        "ticket": hall.ticket,
        "ref": hall.ref,
        "agency": "dukcapil",
        "service": "ktp",
        "username": "victim",
        "device": "nonexistent",
    }
    names = re.findall(r"{(\w+)}", route.path)
    path = API + route.path
    for name in names:
        path = path.replace("{" + name + "}", good.get(name, "x"))
    json_type = {"Content-Type": "application/json"}
    yield route.method, path, {"raw": b"{not json", "headers": json_type}
    yield route.method, path, {"raw": b"[1,2]", "headers": json_type}
    yield route.method, path, {"raw": b"\x00\x01", "headers": {"Content-Type": "text/plain"}}
    yield route.method, path, {"raw": b"[" * 20_000, "headers": json_type}
    yield route.method, path, {"raw": b'{"a": "\\udfff"}', "headers": json_type}
    yield route.method, path, {"raw": b"x" * (MAX_BODY + 10), "headers": json_type}
    yield route.method, path + "?state=%00&zone=%FF&site=..&service=" + "x" * 500, {}
    for name in names:
        for junk in JUNK_IDS:
            yield (
                route.method,
                API + route.path.replace("{" + name + "}", junk).replace("{", "").replace("}", ""),
                {},
            )
    properties = (route.body or {}).get("properties", {})
    for prop in properties:
        for value in JUNK_VALUES:
            yield route.method, path, {"body": {prop: value}}


@pytest.fixture(scope="module")
def junk_hall(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveHall]:
    with live_hall(tmp_path_factory.mktemp("junk")) as server:
        yield server


def _all_routes() -> list[Any]:
    from qms.server.api import ROUTES

    return list(ROUTES)


@pytest.mark.parametrize("route", _all_routes(), ids=lambda r: f"{r.method} {r.path}")
def test_junk_never_gives_a_500(junk_hall: LiveHall, route: Any) -> None:
    admin = junk_hall.admin
    if (route.method, route.path) == ("DELETE", "/session"):
        admin = signed_in(junk_hall.url, "admin")  # signing out ends that session: its own
    before = junk_hall.version()
    succeeded = False
    for method, path, kw in junk_requests(route, junk_hall):
        body = kw.pop("body", None)
        if body is not None:
            reply = admin.call(method, path, body, **kw)
        else:
            reply = admin.call(method, path, **kw)
        assert reply.status < 500, f"{method} {path} {body!r}: {reply!r}"
        if reply.status >= 400:
            assert reply.code is not None, f"{method} {path}: not the error shape: {reply!r}"
        else:
            succeeded = True
    if not succeeded and route.method != "GET":
        assert junk_hall.version() == before, "a refused request changed the log"


def test_junk_from_anonymous_and_devices_never_gives_a_500(junk_hall: LiveHall) -> None:
    for who in ("anonymous", "display", "kiosk", "revoked"):
        api = junk_hall.who[who]
        for route in _all_routes():
            for method, path, kw in list(junk_requests(route, junk_hall))[:12]:
                reply = api.call(method, path, **kw)
                assert reply.status < 500, f"{who} {method} {path}: {reply!r}"


def test_missing_routes_and_methods_keep_the_error_shape(hall: LiveHall) -> None:
    error(hall.admin.get("/nowhere"), 404, "not_found")
    error(hall.admin.call("PATCH", f"{S}/tickets"), 405, "method_not_allowed")
    error(hall.admin.call("DELETE", S), 405, "method_not_allowed")


def test_the_server_log_has_no_unhandled_errors(hall: LiveHall, junk_hall: LiveHall) -> None:
    for server in (hall, junk_hall):
        assert "Traceback" not in server.server.output(), server.server.output()


# --- two processes on one Redis log -----------------------------------------------------------


@pytest.mark.redis
@pytest.mark.slow
def test_two_processes_share_counters_and_idempotency(tmp_path: Path, redis_log_url: str) -> None:
    env = {"QMS_SECRET_KEY": "k" * 64}  # one session key: a cookie works on both
    with live_hall(tmp_path, log_url=redis_log_url, env=env, servers=2) as a:
        b = a.servers[1]
        officer_b = a.who["officer"].at(b.url)
        kiosk_b = a.who["kiosk"].at(b.url)
        assert officer_b.get(f"{S}/counters").status == 200  # B follows SITE now
        officer_a = a.who["officer"]
        officer_a.ok("POST", f"{S}/counters/L1/complete")
        officer_a.ok("POST", f"{S}/counters/L1/close")
        officer_a.ok("POST", f"{S}/counters/L1/open")  # signed in through A ...
        issue(a.who["kiosk"])
        called = officer_b.ok("POST", f"{S}/counters/L1/call-next")  # ... acts through B
        assert called["counter"]["officer"] == "budi"
        key = {"Idempotency-Key": "press-across-processes"}
        first = a.who["kiosk"].post(f"{S}/tickets", {"service": "kk"}, headers=key)
        again = kiosk_b.post(f"{S}/tickets", {"service": "kk"}, headers=key)
        assert (first.status, again.status) == (201, 200), (first, again)
        assert again.body["ticket"] == first.body["ticket"] and again.body["repeated"]
        status = Api(b.url).ok("GET", f"/api/v1/tickets/{first.body['ticket']['ref']}")
        assert status["ticket"]["number"] == first.body["ticket"]["number"]
