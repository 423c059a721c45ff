"""The counter tablet over HTTP (docs/survey.md "The counter tablet", docs/api.md): it sees
only the visit last completed at its own counter, for 10 minutes, until it is rated
(here or on the visitor's phone), and nothing else anywhere.

The server runs in this process (uvicorn in a thread, the real app) so that the test
can move the hall's clock: the 10 minutes pass without waiting for them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from api_client import Api, error
from live_hall import OTHER_SITE, SITE, LiveHall, live_hall, served
from stream_client import StreamClient
from test_stream import refused

from qms.accounts import DeviceKind
from qms.eventlog import open_log
from qms.server.config import Config
from qms.server.stream.wire import Close
from qms.survey.instrument import ELEMENT_KEYS

S = f"/api/v1/sites/{SITE}"
ANSWERS = {k: 3 for k in ELEMENT_KEYS}
IDLE_KEYS = {"status", "closes_at", "instrument", "counter"}


class Clock:
    """time.time(), moved on by the test."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@dataclass
class TabletHall:
    hall: LiveHall
    clock: Clock
    tablets: dict[str, Api]  # "L1", "L2", "other-site" (a tablet of OTHER_SITE at L1)
    data_dir: Path

    def answers(self) -> list[dict[str, Any]]:
        """The site's survey_answered events, read from its log beside the server."""

        async def read() -> list[dict[str, Any]]:
            log = open_log(Config(data_dir=self.data_dir).effective_log_url)
            try:
                return [d for _, d in await log.read(SITE, 0, 100_000)]
            finally:
                await log.close()

        return [d for d in asyncio.run(read()) if d["type"] == "survey_answered"]

    @property
    def tablet(self) -> Api:
        return self.tablets["L1"]


@pytest.fixture(scope="module")
def tablets(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TabletHall]:
    clock = Clock()
    more = (
        ("L2", DeviceKind.TABLET, SITE, "L2", ""),
        ("other-site", DeviceKind.TABLET, OTHER_SITE, "L1", ""),
    )
    root = tmp_path_factory.mktemp("api_tablet")
    with live_hall(root, clock=clock, more_devices=more, ticket_in_hand=False) as hall:
        by_counter = {
            "L1": hall.who["tablet"],
            "L2": Api(hall.url, token=hall.tokens["L2"]),
            "other-site": Api(hall.url, token=hall.tokens["other-site"]),
        }
        yield TabletHall(hall, clock, by_counter, root / "data")


def _open(api: Api) -> dict[str, Any]:
    shown = api.ok("GET", "/api/v1/tablet/survey")
    assert shown["status"] == "open", shown
    assert set(shown) == IDLE_KEYS
    return dict(shown)


def _idle(api: Api) -> None:
    shown = api.ok("GET", "/api/v1/tablet/survey")
    assert shown["status"] == "idle" and shown["instrument"] is None, shown
    assert shown["closes_at"] is None


def _answer(shown: dict[str, Any], **answers: int) -> dict[str, Any]:
    return {"closes_at": shown["closes_at"], "answers": {**ANSWERS, **answers}}


def test_the_tablet_sees_only_its_counters_last_completion(tablets: TabletHall) -> None:
    hall, tablet = tablets.hall, tablets.tablet
    _idle(tablets.tablets["L2"])
    first = served(hall)  # at L1
    shown = _open(tablet)
    assert shown["counter"] == "Loket 1"
    assert shown["instrument"]["elements"][0]["key"] == "U1"
    text = str(shown)
    for secret in (first["ticket"], first["number"], first["ref"].split(".")[1]):
        assert secret not in text  # nothing names the ticket or its visitor
    # The tablet of another counter, and of another site's L1, see nothing of it.
    _idle(tablets.tablets["L2"])
    _idle(tablets.tablets["other-site"])
    # The next completion at L1 replaces it: the first visitor's survey is gone for good.
    second = served(hall)
    again = _open(tablet)
    assert again["closes_at"] > shown["closes_at"]
    error(tablet.post("/api/v1/tablet/survey", _answer(shown)), 409, "survey_closed")
    before = hall.version()
    reply = tablet.post("/api/v1/tablet/survey", _answer(again, U1=4))
    assert reply.status == 201 and reply.body == {"answered": True}  # no score comes back
    assert hall.version() == before + 1
    recorded = tablets.answers()[-1]
    assert recorded["ticket"] == second["ticket"] and recorded["tablet"] is True
    assert recorded["response"]["scores"][:2] == [4, 3] and recorded["channel"] == "kiosk"
    _idle(tablet)
    # The first visitor may still rate their own visit on their phone; the second may not.
    anon = hall.who["anonymous"]
    assert anon.ok("GET", f"/api/v1/tickets/{first['ref']}/survey")["status"] == "open"
    assert anon.ok("GET", f"/api/v1/tickets/{second['ref']}/survey")["status"] == "answered"
    error(anon.post(f"/api/v1/tickets/{second['ref']}/survey", {"answers": ANSWERS}), 409,
          "survey_already_answered")  # fmt: skip
    assert hall.version() == before + 1


def test_the_tablet_answer_is_the_visits_one_answer(tablets: TabletHall) -> None:
    """Once per served visit, across the tablet and the phone: the phone first."""
    hall, tablet, anon = tablets.hall, tablets.tablet, tablets.hall.who["anonymous"]
    ticket = served(hall)
    shown = _open(tablet)
    assert anon.post(f"/api/v1/tickets/{ticket['ref']}/survey", {"answers": ANSWERS}).status == 201
    assert tablets.answers()[-1]["tablet"] is False  # answered on the phone
    _idle(tablet)
    before = hall.version()
    error(tablet.post("/api/v1/tablet/survey", _answer(shown)), 409, "survey_already_answered")
    assert hall.version() == before


def test_the_next_visitor_being_served_closes_it(tablets: TabletHall) -> None:
    hall, tablet = tablets.hall, tablets.tablet
    served(hall)
    shown = _open(tablet)
    nxt = hall.who["kiosk"].ok("POST", f"{S}/tickets", {"service": "ktp"})["ticket"]
    officer = hall.who["officer"]
    officer.ok("POST", f"{S}/counters/L1/call", {"ticket": nxt["ticket"]})
    _open(tablet)  # called, still walking up: the last visitor may finish
    officer.ok("POST", f"{S}/counters/L1/start")
    _idle(tablet)  # someone else sits at the counter now
    before = hall.version()
    error(tablet.post("/api/v1/tablet/survey", _answer(shown)), 409, "survey_closed")
    assert hall.version() == before
    officer.ok("POST", f"{S}/counters/L1/complete")
    _open(tablet)


def test_nothing_after_ten_minutes(tablets: TabletHall) -> None:
    hall, tablet = tablets.hall, tablets.tablet
    ticket = served(hall)
    shown = _open(tablet)
    tablets.clock.offset += 9 * 60 + 50
    _open(tablet)
    tablets.clock.offset += 15
    try:
        _idle(tablet)
        before = hall.version()
        error(tablet.post("/api/v1/tablet/survey", _answer(shown)), 409, "survey_closed")
        assert hall.version() == before
        # The visitor's phone keeps its own 24 hours.
        anon = hall.who["anonymous"]
        assert anon.ok("GET", f"/api/v1/tickets/{ticket['ref']}/survey")["status"] == "open"
    finally:
        tablets.clock.offset -= 9 * 60 + 65


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"answers": ANSWERS}, 422, "invalid_request"),  # which visit: missing
        ({"closes_at": "soon", "answers": ANSWERS}, 422, "invalid_request"),
        ({"closes_at": True, "answers": ANSWERS}, 422, "invalid_request"),
        ("shown", 409, "survey_closed"),  # not the visit shown (another number)
        ({"answers": {**ANSWERS, "U1": 5}}, 422, "invalid_answer"),
        ({"answers": {"U1": 4}}, 422, "missing_answer"),
        ({"answers": ANSWERS, "ticket": "A001"}, 422, "invalid_response"),
        ({"answers": ANSWERS, "instrument": 99}, 409, "instrument_mismatch"),
    ],
)
def test_bad_answers_record_nothing(tablets: TabletHall, body: Any, status: int, code: str) -> None:
    hall, tablet = tablets.hall, tablets.tablet
    served(hall)
    shown = _open(tablet)
    if body == "shown":
        body = {"closes_at": shown["closes_at"] + 1, "answers": ANSWERS}
    elif "closes_at" not in body and code != "invalid_request":
        body = {"closes_at": shown["closes_at"], **body}
    before = hall.version()
    error(tablet.post("/api/v1/tablet/survey", body), status, code)
    assert hall.version() == before
    _open(tablet)
    # not JSON, or not an object
    json_type = {"Content-Type": "application/json"}
    error(tablet.post("/api/v1/tablet/survey", raw=b"{", headers=json_type), 400, "invalid_json")
    error(tablet.post("/api/v1/tablet/survey", [1]), 422, "invalid_request")
    assert hall.version() == before


def test_a_skip_closes_the_tablets_survey_of_that_visit(tablets: TabletHall) -> None:
    """Lewati is remembered by the server (a `survey_skipped` event), not only by the open
    page: no page of the tablet asks about that visit again; the phone still may."""
    hall, tablet, anon = tablets.hall, tablets.tablet, tablets.hall.who["anonymous"]
    ticket = served(hall)
    shown = _open(tablet)
    before = hall.version()
    for bad in ({}, {"closes_at": "soon"}, {"closes_at": shown["closes_at"], "answers": {}}):
        error(tablet.post("/api/v1/tablet/survey/skip", bad), 422, "invalid_request")
    error(tablet.post("/api/v1/tablet/survey/skip", {"closes_at": shown["closes_at"] + 1}), 409,
          "survey_closed")  # fmt: skip  # not the visit shown
    assert hall.version() == before  # nothing recorded
    reply = tablet.post("/api/v1/tablet/survey/skip", {"closes_at": shown["closes_at"]})
    assert reply.status == 200 and reply.body == {"skipped": True}
    assert hall.version() == before + 1
    _idle(tablet)  # whatever page asks now
    error(tablet.post("/api/v1/tablet/survey", _answer(shown)), 409, "survey_closed")
    error(tablet.post("/api/v1/tablet/survey/skip", {"closes_at": shown["closes_at"]}), 409,
          "survey_closed")  # fmt: skip
    assert hall.version() == before + 1
    assert anon.ok("GET", f"/api/v1/tickets/{ticket['ref']}/survey")["status"] == "open"
    assert anon.post(f"/api/v1/tickets/{ticket['ref']}/survey", {"answers": ANSWERS}).status == 201
    # the next completion at the counter brings the next survey
    served(hall)
    _open(tablet)
    error(
        hall.who["officer"].post("/api/v1/tablet/survey/skip", {"closes_at": 1}), 403, "forbidden"
    )


def test_refused_everywhere_else(tablets: TabletHall) -> None:
    """Its token opens nothing but its two routes: not the hall's, not the public ones,
    not another site's (tests/test_authz_matrix.py has every route)."""
    hall, tablet = tablets.hall, tablets.tablet
    ticket = served(hall)
    for method, path in (
        ("GET", f"{S}"),
        ("GET", f"/api/v1/sites/{OTHER_SITE}"),
        ("POST", f"{S}/counters/L1/call-next"),
        ("GET", f"/api/v1/tickets/{ticket['ref']}"),
        ("GET", f"/api/v1/tickets/{ticket['ref']}/survey"),
        ("GET", "/api/v1/device"),
        ("GET", "/api/v1/session"),
        ("GET", f"/api/v1/survey/{SITE}"),
    ):
        error(tablet.call(method, path), 403, "forbidden")
    error(tablet.post(f"/api/v1/tickets/{ticket['ref']}/survey", {"answers": ANSWERS}), 403,
          "forbidden")  # fmt: skip
    assert (
        hall.who["anonymous"].ok("GET", f"/api/v1/tickets/{ticket['ref']}/survey")["status"]
        == "open"
    )


def test_a_tablet_is_registered_with_a_counter_of_the_site(tablets: TabletHall) -> None:
    admin = tablets.hall.admin
    added = admin.ok("POST", "/api/v1/devices", {"kind": "tablet", "site": SITE, "counter": "L3"})
    assert added["device"]["kind"] == "tablet" and added["device"]["counter"] == "L3"
    assert "/tablet?token=" in added["link"]
    listed = admin.ok("GET", f"/api/v1/devices?site={SITE}")["devices"]
    assert {d["counter"] for d in listed if d["kind"] == "tablet"} >= {"L1", "L2", "L3"}
    assert all(d["counter"] is None for d in listed if d["kind"] != "tablet")
    l3 = Api(admin.base_url, token=added["token"])
    _idle(l3)
    before = len(listed)
    for body, status, code in (
        ({"kind": "tablet", "site": SITE}, 422, "counter_required"),
        ({"kind": "tablet", "site": SITE, "counter": ""}, 422, "counter_required"),
        ({"kind": "tablet", "site": SITE, "counter": "L9"}, 404, "unknown_counter"),
        ({"kind": "tablet", "site": "nowhere", "counter": "L1"}, 404, "unknown_site"),
        ({"kind": "kiosk", "site": SITE, "counter": "L1"}, 422, "counter_for_tablets"),
        ({"kind": "tablet", "site": SITE, "counter": 1}, 422, "invalid_command"),
    ):
        error(admin.post("/api/v1/devices", body), status, code)
    assert len(admin.ok("GET", f"/api/v1/devices?site={SITE}")["devices"]) == before
    # Revoked, it is anyone: 401 on its own routes.
    admin.ok("DELETE", f"/api/v1/devices/{added['device']['device']}")
    error(l3.get("/api/v1/tablet/survey"), 401, "not_authenticated")


@pytest.mark.parametrize(
    "hello",
    [{"audience": "display"}, {"audience": "console", "counter": "L1"}, {"audience": "supervisor"}],
    ids=lambda h: h["audience"],
)
def test_the_tablet_may_not_listen_to_the_stream(
    tablets: TabletHall, hello: dict[str, str]
) -> None:
    ws_url = tablets.hall.url.replace("http://", "ws://")
    client = StreamClient(ws_url, SITE, hello["audience"], token=tablets.tablet.token)
    assert asyncio.run(refused(client, type="hello", **hello)) == Close.FORBIDDEN
