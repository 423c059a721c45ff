"""The walk-up survey of a service (a QR code for visitors without a ticket) over HTTP
against a real `qms serve`: answers counted apart, limited per address, refused ones
record nothing (docs/survey.md "Walk-up survey")."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from api_client import error
from live_hall import SITE, LiveHall, live_hall, served

from qms.survey.instrument import ELEMENT_KEYS

S = f"/api/v1/sites/{SITE}"
W = f"/api/v1/survey/{SITE}/walk-up"
ANSWERS = {"answers": {k: 2 for k in ELEMENT_KEYS}}


@pytest.fixture(scope="module")
def hall(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveHall]:
    with live_hall(tmp_path_factory.mktemp("api_survey_walkup"), ticket_in_hand=False) as server:
        yield server


def test_the_walk_up_page_shows_the_questions(hall: LiveHall) -> None:
    anon = hall.who["anonymous"]
    shown = anon.ok("GET", f"{W}/ktp")
    assert shown["status"] == "open" and shown["site"] == SITE
    assert shown["service"]["id"] == "ktp" and len(shown["service"]["name"]) == 2
    assert [q["key"] for q in shown["instrument"]["elements"]] == list(ELEMENT_KEYS)
    error(anon.get(f"{W}/nosuch"), 404, "survey_unknown_service")
    error(anon.get("/api/v1/survey/nosite/walk-up/ktp"), 404, "unknown_site")


def test_a_switched_off_survey_refuses_walk_ups(hall: LiveHall) -> None:
    hall.admin.ok("PUT", f"{S}/survey", {"enabled": False})
    try:
        anon = hall.who["anonymous"]
        assert anon.ok("GET", f"{W}/ktp")["status"] == "off"
        error(anon.post(f"{W}/ktp", ANSWERS), 409, "survey_off")
    finally:
        hall.admin.ok("PUT", f"{S}/survey", {"enabled": True})


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        ("ktp", {"answers": {**ANSWERS["answers"], "U1": 5}}, 422, "invalid_answer"),
        ("ktp", {"answers": {"U1": 4}}, 422, "missing_answer"),
        ("ktp", {**ANSWERS, "suggestion": "a\x1b[2Jb"}, 422, "invalid_text"),
        ("ktp", {**ANSWERS, "suggestion": "x" * 1001}, 422, "text_too_long"),
        ("ktp", {**ANSWERS, "ticket": "A001"}, 422, "invalid_response"),
        ("nosuch", ANSWERS, 404, "survey_unknown_service"),
    ],
)
def test_bad_walk_up_answers_record_nothing(
    hall: LiveHall, path: str, body: Any, status: int, code: str
) -> None:
    before = hall.version()
    error(hall.who["anonymous"].post(f"{W}/{path}", body), status, code)
    assert hall.version() == before


def test_walk_up_answers_are_limited_per_address_and_counted_apart(hall: LiveHall) -> None:
    anon = hall.who["anonymous"]
    # the refused answers above did not count: five are accepted from this address
    for _ in range(5):
        reply = anon.post(f"{W}/ktp", ANSWERS)
        assert reply.status == 201 and reply.body == {"answered": True}, reply
    before = hall.version()
    limited = anon.post(f"{W}/ktp", ANSWERS)
    error(limited, 429, "too_many_requests")
    assert int(limited.headers["Retry-After"]) > 0
    assert hall.version() == before
    # five served visits rated 4, five walk-ups rated 2: the index holds both, the
    # sources tell them apart, the channel cut names the walk-ups
    for _ in range(5):
        ref = served(hall)["ref"]
        rated = anon.post(
            f"/api/v1/tickets/{ref}/survey", {"answers": dict.fromkeys(ELEMENT_KEYS, 4)}
        )
        assert rated.status == 201, rated
    figures = hall.who["supervisor"].ok("GET", f"{S}/survey/results?by=channel")
    assert figures["respondents"] == 10
    sources = {g["key"]: g for g in figures["sources"]}
    assert sources["walk_up"]["respondents"] == 5
    assert sources["walk_up"]["index"]["converted"] == "50.00"
    assert sources["visit"]["index"]["converted"] == "100.00"
    channels = {g["key"]: g["respondents"] for g in figures["cut"]["groups"]}
    assert channels == {"kiosk": 5, "walk_up": 5}
    public = anon.ok("GET", f"/api/v1/survey/{SITE}")
    assert {g["key"]: g["respondents"] for g in public["sources"]} == {"visit": 5, "walk_up": 5}
    # the export's channel and answered_on columns say walk_up, never a ticket
    csv = hall.who["supervisor"].get(f"{S}/survey/export?format=csv")
    assert csv.raw.decode().count(",walk_up,walk_up,") == 5
