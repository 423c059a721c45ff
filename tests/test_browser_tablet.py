"""The counter tablet (/tablet?token=…, static/js/tablet.js) in a tablet-sized headless
Chromium against `qms demo`: an admin registers it for Loket 1 in the admin app; it
waits on a thank-you screen, shows the survey of the visit just completed at L1, goes
back without a trace after Lewati, after an answer (showing no score) and after 90 s
untouched (on Chromium's fake clock), and never brings a put-away survey back."""

from __future__ import annotations

import re
from typing import Any

from api_client import Api
from axe_check import assert_accessible
from browser_support import SITE, js_errors, keep_screenshot, shot, watch
from live_hall import LiveHall
from staff_pages import reset_hall, served, staff
from test_browser_admin import open_admin, sign_in, tab

TABLET = {"width": 820, "height": 1180}  # a 10-inch tablet, upright, facing the visitor
MAIN = "main#app"
POLLED = "**/api/v1/tablet/survey"


def register_tablet(hall: LiveHall, browser: Any) -> str:
    """The admin app registers a counter tablet for Loket 1: its link, shown once."""
    page = open_admin(browser, hall)
    sign_in(page, "admin", hall.passwords["admin"])
    page.wait_for_selector("main[data-screen=app]")
    section = tab(page, "devices")
    form = section.locator("form[data-form=device]")
    form.locator("[name=kind]").select_option("tablet")
    form.locator("[name=counter]").select_option("L1")
    form.locator("[name=name]").fill("Tablet Loket 1")
    form.get_by_role("button", name="Buat").click()
    link = section.locator(".once input.link")
    link.wait_for()
    url = str(link.input_value())
    assert url.startswith(hall.url + "/tablet?token=qmsd_"), url
    row = section.locator("tr", has_text="Tablet Loket 1")
    assert "L1" in row.inner_text() and "Tablet loket" in row.inner_text()
    assert js_errors(page.errors) == []
    page.context.close()
    return url


def wait_polls(page: Any, count: int = 2) -> None:
    """Let the idle tablet ask `count` times more (each answer waited for, no sleep)."""
    for _ in range(count):
        with page.expect_response(POLLED, timeout=10_000):
            pass


def answer_all(page: Any, score: int) -> None:
    questions = page.locator("fieldset.question")
    for i in range(questions.count()):
        questions.nth(i).locator("label").nth(score - 1).tap()


def test_the_tablet_flow(hall: LiveHall, browser: Any) -> None:
    reset_hall(hall)
    link = register_tablet(hall, browser)
    context = browser.new_context(viewport=TABLET, has_touch=True)
    page = context.new_page()
    page.errors = watch(page)
    page.clock.install()  # time flows as usual; the test jumps over the 90 s below
    page.goto(link)
    page.wait_for_selector(f"{MAIN}[data-screen=idle]")
    assert "token" not in page.url  # out of the address bar the visitor faces
    idle = page.locator("section.idle")
    assert "Terima kasih atas kunjungan Anda" in idle.inner_text()
    idle.get_by_text("Loket 1").wait_for()
    shot(page, "tablet-idle")
    assert_accessible(page, what="tablet: idle")

    # A visit completed at L1: its survey comes up by itself (the page asks every 3 s).
    first = served(hall)
    page.wait_for_selector("section.survey[data-survey=open]", timeout=10_000)
    assert page.locator("fieldset.question").count() == 9
    assert first["number"] not in page.locator(MAIN).inner_text()  # nothing of the visitor
    # Lewati: no answer is sent, the thank-you screen is back, and this survey stays away:
    # the server is told (survey_skipped), so a reload does not bring it back either.
    before = staff(hall, "supervisor").get(f"/api/v1/sites/{SITE}/survey/results").body
    with page.expect_response(lambda r: r.url.endswith("/api/v1/tablet/survey/skip")) as skip:
        page.get_by_role("button", name="Lewati").click()
    assert skip.value.status == 200
    page.wait_for_selector(f"{MAIN}[data-screen=idle]")
    wait_polls(page)
    assert page.locator(MAIN).get_attribute("data-screen") == "idle"
    page.reload()  # the page's own memory is gone
    page.wait_for_selector(f"{MAIN}[data-screen=idle]")
    wait_polls(page)
    assert page.locator(MAIN).get_attribute("data-screen") == "idle"
    phone = Api(hall.url).get(f"/api/v1/tickets/{first['ref']}/survey").body
    assert phone["status"] == "open"  # skipped on the tablet: the phone may still answer

    # The next visit: answered on the tablet, thanked, no score shown, back to idle.
    second = served(hall)
    page.wait_for_selector("section.survey[data-survey=open]", timeout=10_000)
    answer_all(page, 4)
    page.evaluate("() => window.scrollTo(0, 0)")
    shot(page, "tablet-survey")
    keep_screenshot("tablet-survey")
    assert_accessible(page, what="tablet: the survey")
    page.get_by_role("button", name="Kirim penilaian").click()
    page.wait_for_selector(f"{MAIN}[data-screen=thanks]")
    thanks = page.locator(MAIN).inner_text()
    assert "Terima kasih atas penilaian Anda" in thanks
    assert not re.search(r"\d", thanks)  # no score, no figure: the officer sees this screen
    shot(page, "tablet-thanks")
    assert_accessible(page, what="tablet: thanks")
    page.clock.run_for(6_000)
    page.wait_for_selector(f"{MAIN}[data-screen=idle]")
    answered = Api(hall.url).get(f"/api/v1/tickets/{second['ref']}/survey").body
    assert answered["status"] == "answered"  # the visit's one answer: the phone is done too
    after = staff(hall, "supervisor").get(f"/api/v1/sites/{SITE}/survey/results").body
    assert after["respondents"] == before["respondents"] + 1

    # 90 s without a touch: put away, every choice forgotten, and it does not come back.
    third = served(hall)
    page.wait_for_selector("section.survey[data-survey=open]", timeout=10_000)
    page.locator("fieldset.question").nth(0).locator("label").nth(1).tap()
    page.get_by_role("button", name="English").click()  # the visitor reads English
    page.clock.run_for(91_000)
    page.wait_for_selector(f"{MAIN}[data-screen=idle]")
    assert page.locator("section.idle h2").inner_text() == "Terima kasih atas kunjungan Anda"
    wait_polls(page)
    assert page.locator(MAIN).get_attribute("data-screen") == "idle"
    assert page.locator("input:checked").count() == 0
    assert Api(hall.url).get(f"/api/v1/tickets/{third['ref']}/survey").body["status"] == "open"
    served(hall)
    page.wait_for_selector("section.survey[data-survey=open]", timeout=10_000)
    assert page.locator("input:checked").count() == 0  # the last visitor's choice is gone
    assert js_errors(page.errors) == []
    context.close()


def test_a_revoked_or_missing_link(hall: LiveHall, browser: Any) -> None:
    page = browser.new_context(viewport=TABLET).new_page()
    page.errors = watch(page)
    page.goto(hall.url + "/tablet")
    page.wait_for_selector(f"{MAIN}[data-screen=error]")
    assert "token perangkat" in page.locator(MAIN).inner_text()
    page.goto(hall.url + "/tablet?token=qmsd_not-a-real-token")
    page.wait_for_selector(".tablet-error")
    assert "tautan perangkat tidak berlaku" in page.locator(".tablet-error").inner_text()
    assert_accessible(page, what="tablet: a link that does not work")
