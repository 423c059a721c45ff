"""The survey's site settings and cuts over HTTP, on a clock the test moves
(docs/survey.md): the minimum group size a site sets, the figures cut by where the
answer was given (phone, counter tablet, walk-up QR), and a window of days: the
visitor's page of a visit served days ago still asks, once.

The server is the one of tests/test_api_tablet.py (the real app in this process, its
clock moved by the test); this module has its own. The tests run in order: the last
one moves the clock by days.
"""

from __future__ import annotations

import time as _time
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from api_client import error
from live_hall import SITE, served
from test_api_tablet import ANSWERS, TabletHall, _answer, _open, tablets  # noqa: F401

from qms.survey.periods import quarter_start

S = f"/api/v1/sites/{SITE}"
DAY = 24 * 3600


def _move_to(t: TabletHall, day: date) -> None:
    """The hall's clock to noon of `day` in Jakarta, its business day rolled over."""
    noon = datetime.combine(day, time(12), ZoneInfo("Asia/Jakarta")).timestamp()
    t.clock.offset = noon - _time.time()
    t.hall.who["kiosk"].ok("POST", f"{S}/tickets", {"service": "pkb"})  # rolls the day
    t.hall.sign_in_counters()


def _next_quarter(day: date) -> date:
    start = quarter_start(day)
    return date(start.year + start.month // 10, (start.month + 2) % 12 + 1, 1)


def _phone_answers(t: TabletHall, n: int) -> None:
    for _ in range(n):
        ref = served(t.hall)["ref"]
        reply = t.hall.who["anonymous"].post(f"/api/v1/tickets/{ref}/survey", {"answers": ANSWERS})
        assert reply.status == 201, reply


def test_the_minimum_group_is_a_site_setting(tablets: TabletHall) -> None:  # noqa: F811
    hall, admin = tablets.hall, tablets.hall.admin
    # the middle of the next quarter: every answer of this module falls in one quarter
    _move_to(tablets, _next_quarter(date.today()) + timedelta(days=40))
    _phone_answers(tablets, 3)
    results = admin.ok("GET", f"{S}/survey/results?by=officer")
    assert results["respondents"] == 3 and results["min_group"] == 5
    assert results["index"] is None and results["cut"]["total"]["suppressed"]
    public = hall.who["anonymous"].ok("GET", f"/api/v1/survey/{SITE}")
    assert public["index"] is None and public["min_group"] == 5
    before = hall.version()
    for bad in (2, 101, "5", 4.5, True):
        error(admin.put(f"{S}/survey", {"min_group": bad}), 422, "invalid_instrument")
    error(hall.who["supervisor"].put(f"{S}/survey", {"min_group": 3}), 403, "forbidden")
    assert hall.version() == before  # nothing recorded
    instrument = admin.ok("PUT", f"{S}/survey", {"min_group": 3})["instrument"]
    assert instrument["min_group"] == 3 and hall.version() == before + 1  # an event
    assert admin.ok("GET", f"{S}/survey")["instrument"]["min_group"] == 3
    # every view of the figures now shows a group of three
    results = admin.ok("GET", f"{S}/survey/results?by=officer")
    assert results["min_group"] == 3 and results["index"] is not None
    assert [g["respondents"] for g in results["cut"]["groups"]] == [3]
    public = hall.who["anonymous"].ok("GET", f"/api/v1/survey/{SITE}")
    assert public["min_group"] == 3 and public["index"]["converted"] == "75.00"
    report = admin.ok("GET", f"{S}/reports/survey?period=today&by=officer")
    assert report["min_group"] == 3 and not report["total"]["suppressed"]
    assert [g["respondents"] for g in report["groups"]] == [3]


def test_answers_are_cut_by_where_they_were_given(tablets: TabletHall) -> None:  # noqa: F811
    hall, admin = tablets.hall, tablets.hall.admin
    phone = admin.ok("GET", f"{S}/survey/results")["respondents"]
    for _ in range(3):
        served(hall)
        reply = tablets.tablet.post("/api/v1/tablet/survey", _answer(_open(tablets.tablet), U1=1))
        assert reply.status == 201, reply
    cut = admin.ok("GET", f"{S}/survey/results?by=answered_on")["cut"]
    groups = {g["key"]: g for g in cut["groups"]}
    assert set(groups) == {"phone", "tablet"}
    assert groups["phone"]["respondents"] == phone and groups["tablet"]["respondents"] == 3
    assert groups["tablet"]["index"]["elements"][0]["nrr"] == "1.000"
    report = admin.ok("GET", f"{S}/reports/survey?period=today&by=answered_on")
    assert {g["key"]: g["respondents"] for g in report["groups"]} == {"phone": phone, "tablet": 3}
    # with the minimum at 5, the three tablet answers are hidden, and the phone's with them
    admin.ok("PUT", f"{S}/survey", {"min_group": 5})
    hidden = admin.ok("GET", f"{S}/survey/results?by=answered_on")["cut"]["groups"]
    assert all(g["suppressed"] and g["respondents"] is None for g in hidden)
    error(admin.get(f"{S}/survey/results?by=where"), 422, "invalid_cut")


def test_a_visit_is_rated_on_the_phone_days_later(tablets: TabletHall) -> None:  # noqa: F811
    hall, anon = tablets.hall, tablets.hall.who["anonymous"]
    hall.admin.ok("PUT", f"{S}/survey", {"valid_hours": 72})
    ticket = served(hall)
    ref = ticket["ref"]
    kiosk = hall.who["kiosk"]
    for _ in range(2):  # two business days on: its day is no longer among the tickets
        tablets.clock.offset += DAY
        kiosk.ok("POST", f"{S}/tickets", {"service": "kk"})
    status = anon.ok("GET", f"/api/v1/tickets/{ref}")["ticket"]
    assert status["state"] == "done" and status["number"] == ticket["number"]
    shown = anon.ok("GET", f"/api/v1/tickets/{ref}/survey")
    assert shown["status"] == "open" and shown["closes_at"] > tablets.clock()
    before = hall.version()
    assert anon.post(f"/api/v1/tickets/{ref}/survey", {"answers": ANSWERS}).status == 201
    recorded = tablets.answers()[-1]
    assert recorded["ticket"] == ticket["ticket"] and recorded["tablet"] is False
    error(anon.post(f"/api/v1/tickets/{ref}/survey", {"answers": ANSWERS}), 409,
          "survey_already_answered")  # fmt: skip
    assert anon.ok("GET", f"/api/v1/tickets/{ref}/survey")["status"] == "answered"
    assert hall.version() == before + 1
    # past the window, the next day's opening forgets it: the ref is unknown again
    tablets.clock.offset += 2 * DAY
    kiosk.ok("POST", f"{S}/tickets", {"service": "kk"})
    error(anon.get(f"/api/v1/tickets/{ref}/survey"), 404, "unknown_ticket")


def test_the_public_page_shows_the_last_complete_quarter(tablets: TabletHall) -> None:  # noqa: F811
    """In the first days of a quarter the published page shows the quarter before (the
    year so far would be a handful of answers), with the site's minimum."""
    anon = tablets.hall.who["anonymous"]
    now = anon.ok("GET", f"/api/v1/survey/{SITE}")
    first = date.fromisoformat(now["period"]["first"])
    assert first == quarter_start(first) and now["respondents"] >= 5  # the quarter so far
    ends = _next_quarter(first) + timedelta(days=4)
    _move_to(tablets, ends)
    later = anon.ok("GET", f"/api/v1/survey/{SITE}")
    assert later["period"]["first"] == now["period"]["first"]
    assert date.fromisoformat(later["period"]["last"]) == ends.replace(day=1) - timedelta(days=1)
    assert later["respondents"] == now["respondents"] and later["index"] is not None
