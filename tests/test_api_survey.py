"""The satisfaction survey over HTTP against a real `qms serve`: the visitor answers once,
staff see figures and never a ticket (docs/survey.md, docs/api.md "Survey")."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from api_client import Api, error
from live_hall import SITE, LiveHall, live_hall, served

from qms.survey.instrument import ELEMENT_KEYS

S = f"/api/v1/sites/{SITE}"
ANSWERS = {"answers": {k: 4 for k in ELEMENT_KEYS}}


@pytest.fixture(scope="module")
def hall(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveHall]:
    with live_hall(tmp_path_factory.mktemp("api_survey"), ticket_in_hand=False) as server:
        yield server


def test_the_visitor_answers_once(hall: LiveHall) -> None:
    anon = hall.who["anonymous"]
    waiting = hall.who["kiosk"].ok("POST", f"{S}/tickets", {"service": "kk"})["ticket"]
    assert anon.ok("GET", f"/api/v1/tickets/{waiting['ref']}/survey") == {
        "status": "not_open",
        "closes_at": None,
        "instrument": None,
    }
    error(anon.post(f"/api/v1/tickets/{waiting['ref']}/survey", ANSWERS), 409, "survey_not_open")

    ticket = served(hall)
    ref = ticket["ref"]
    shown = anon.ok("GET", f"/api/v1/tickets/{ref}/survey")
    assert shown["status"] == "open" and shown["closes_at"] > 0
    assert shown["instrument"]["elements"][0]["text"][0].startswith("Bagaimana")
    before = hall.version()
    reply = anon.post(f"/api/v1/tickets/{ref}/survey", {**ANSWERS, "suggestion": "<b>cepat</b>"})
    assert reply.status == 201 and reply.body == {"answered": True}
    assert hall.version() == before + 1
    second = anon.post(f"/api/v1/tickets/{ref}/survey", ANSWERS)
    error(second, 409, "survey_already_answered")
    assert anon.ok("GET", f"/api/v1/tickets/{ref}/survey")["status"] == "answered"
    assert hall.version() == before + 1


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"answers": {**ANSWERS["answers"], "U1": 5}}, 422, "invalid_answer"),
        ({"answers": {**ANSWERS["answers"], "U1": True}}, 422, "invalid_answer"),
        ({"answers": {"U1": 4}}, 422, "missing_answer"),
        ({"answers": {**ANSWERS["answers"], "X9": 2}}, 422, "unknown_question"),
        ({**ANSWERS, "profile": {"usia": "12"}}, 422, "invalid_profile"),
        ({**ANSWERS, "suggestion": "x" * 1001}, 422, "text_too_long"),
        ({**ANSWERS, "suggestion": "a\x1b[2Jb"}, 422, "invalid_text"),
        ({**ANSWERS, "ticket": "A001"}, 422, "invalid_response"),
        ({**ANSWERS, "instrument": 99}, 409, "instrument_mismatch"),
        ({}, 422, "invalid_response"),
    ],
)
def test_bad_answers_record_nothing(
    hall: LiveHall, body: dict[str, Any], status: int, code: str
) -> None:
    ref = served(hall)["ref"]
    before = hall.version()
    error(hall.who["anonymous"].post(f"/api/v1/tickets/{ref}/survey", body), status, code)
    assert hall.version() == before
    assert hall.who["anonymous"].ok("GET", f"/api/v1/tickets/{ref}/survey")["status"] == "open"


def test_unknown_refs_are_404(hall: LiveHall) -> None:
    anon = Api(hall.url)
    error(anon.get(f"/api/v1/tickets/{SITE}.nosuchtoken/survey"), 404, "unknown_ticket")
    error(anon.post(f"/api/v1/tickets/{SITE}.nosuchtoken/survey", ANSWERS), 404, "unknown_ticket")
    error(anon.post("/api/v1/tickets/nosite.x/survey", ANSWERS), 404, "unknown_ticket")


def test_results_are_anonymous_and_grouped(hall: LiveHall) -> None:
    anon = hall.who["anonymous"]
    refs = []
    for score in (4, 3, 3, 4, 2, 3):
        ticket = served(hall)
        refs.append(ticket)
        body = {"answers": {k: score for k in ELEMENT_KEYS}, "profile": {"usia": "30-39"}}
        assert anon.post(f"/api/v1/tickets/{ticket['ref']}/survey", body).status == 201
    reply = hall.who["supervisor"].get(f"{S}/survey/results?by=officer")
    assert reply.status == 200, reply
    result = reply.body
    assert result["respondents"] >= 6 and result["index"] is not None
    assert result["index"]["grade"]["letter"] in "ABCD"
    assert result["progress"]["target"] == 384  # nothing served in the previous period
    groups = result["cut"]["groups"]
    assert [g["key"] for g in groups] == ["budi"]  # every answer here was served at L1
    text = json.dumps(result)
    for ticket in refs:  # no ticket, number or token anywhere in what staff see
        for secret in (ticket["ticket"], ticket["ref"].split(".")[1], ticket["number"]):
            assert secret not in text
    by_usia = hall.admin.ok("GET", f"{S}/survey/results?by=usia")["cut"]["groups"]
    assert {g["key"] for g in by_usia} >= {"30-39"}
    # a group under five is hidden (with its complement)
    small = hall.admin.ok("GET", f"{S}/survey/results?by=channel")["cut"]
    assert all(g["suppressed"] or g["respondents"] >= 5 for g in small["groups"])


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("?by=ticket", "invalid_cut"),
        ("?first=yesterday", "invalid_period"),
        ("?first=2026-05-01&last=2026-04-01", "invalid_period"),
        ("?first=2000-01-01&last=2026-01-01", "invalid_period"),
    ],
)
def test_bad_result_queries(hall: LiveHall, query: str, code: str) -> None:
    error(hall.admin.get(f"{S}/survey/results{query}"), 422, code)


def test_who_may_see_and_change_the_survey(hall: LiveHall) -> None:
    error(hall.who["officer"].get(f"{S}/survey/results"), 403, "forbidden")
    error(hall.who["anonymous"].get(f"{S}/survey/results"), 401, "not_authenticated")
    error(hall.who["supervisor"].put(f"{S}/survey", {"enabled": False}), 403, "forbidden")
    error(hall.who["supervisor_elsewhere"].get(f"{S}/survey"), 403, "forbidden")
    assert hall.who["supervisor"].ok("GET", f"{S}/survey")["instrument"]["basis"]


def test_the_site_switches_the_survey_off_and_rewords_it(hall: LiveHall) -> None:
    ticket = served(hall)
    anon = hall.who["anonymous"]
    off = hall.admin.ok("PUT", f"{S}/survey", {"enabled": False})["instrument"]
    assert off["enabled"] is False
    assert anon.ok("GET", f"/api/v1/tickets/{ticket['ref']}/survey")["status"] == "off"
    error(anon.post(f"/api/v1/tickets/{ticket['ref']}/survey", ANSWERS), 409, "survey_off")
    config = {"enabled": True, "questions": {"U3": {"text": ["Cepatkah?", "Fast?"]}}}
    on = hall.admin.ok("PUT", f"{S}/survey", config)["instrument"]
    assert on["version"] == off["version"] + 1 and on["elements"][2]["text"] == [
        "Cepatkah?",
        "Fast?",
    ]
    shown = anon.ok("GET", f"/api/v1/tickets/{ticket['ref']}/survey")
    assert shown["instrument"]["elements"][2]["text"][0] == "Cepatkah?"
    # the default questionnaire comes with it: the admin app's "restore default"
    got = hall.admin.ok("GET", f"{S}/survey")
    assert got["instrument"]["elements"][2]["text"] == ["Cepatkah?", "Fast?"]
    assert got["default"]["elements"][2]["text"][0].startswith("Bagaimana pendapat")
    error(hall.admin.put(f"{S}/survey", {"valid_hours": 169}), 422, "invalid_instrument")
    body = {**ANSWERS, "instrument": on["version"]}
    assert anon.post(f"/api/v1/tickets/{ticket['ref']}/survey", body).status == 201


def test_export_has_one_row_per_response_and_never_the_ticket(hall: LiveHall) -> None:
    ticket = served(hall)
    body = {**ANSWERS, "suggestion": '=HYPERLINK("x")', "profile": {"jenis_kelamin": "P"}}
    assert hall.who["anonymous"].post(f"/api/v1/tickets/{ticket['ref']}/survey", body).status == 201
    total = hall.admin.ok("GET", f"{S}/survey/results")["respondents"]
    reply = hall.who["supervisor"].get(f"{S}/survey/export?format=csv")
    assert reply.status == 200, reply
    assert reply.headers["content-type"].startswith("text/csv")
    assert "attachment" in reply.headers["content-disposition"]
    text = reply.raw.decode("utf-8-sig")
    lines = text.strip().split("\r\n")
    assert lines[0].startswith("period,service,agency,channel,answered_on,U1,")
    assert lines[1:] and all(",kiosk,phone," in line for line in lines[1:])  # on the phone
    assert len(lines) == 1 + total
    assert "'=HYPERLINK" in text  # a formula is kept as text
    for secret in (ticket["ticket"], ticket["ref"].split(".")[1], "budi", "L1"):
        assert secret not in text
    xlsx = hall.admin.get(f"{S}/survey/export?format=xlsx")
    assert xlsx.status == 200 and xlsx.raw[:2] == b"PK"
    error(hall.admin.get(f"{S}/survey/export?format=pdf"), 422, "invalid_request")
    error(hall.who["officer"].get(f"{S}/survey/export"), 403, "forbidden")


def test_public_result_for_anyone(hall: LiveHall) -> None:
    for _ in range(5):
        ref = served(hall)["ref"]
        assert hall.who["anonymous"].post(f"/api/v1/tickets/{ref}/survey", ANSWERS).status == 201
    public = hall.who["anonymous"].ok("GET", f"/api/v1/survey/{SITE}")
    assert public["site"] == SITE and public["respondents"] >= 5
    assert public["index"]["grade"]["letter"] in "ABCD"
    assert len(public["index"]["elements"]) == 9
    assert public["history"] and all("key" in g for g in public["history"])
    assert "officer" not in json.dumps(public) and "budi" not in json.dumps(public)
    error(hall.who["anonymous"].get("/api/v1/survey/nosite"), 404, "unknown_site")
