"""Accessibility of every survey page, checked with axe-core in headless Chromium
(tests/axe_check.py: no serious or critical violation): the visitor's survey on a
completed ticket's page (open, a question left out, thanked), the walk-up survey
(open, thanked, an unknown service), the public result /skm/<site> (too few answers,
the figures with follow-up plans, in English, its printed A4 poster, an unknown site;
the plans are published there: no page of their own) and the admin's
walk-up QR panel. And the check itself fails on a page with known violations."""

from __future__ import annotations

from typing import Any

import pytest
from api_client import Api
from axe_check import assert_accessible
from browser_support import HD, PHONE, SITE, js_errors, watch
from live_hall import LiveHall
from staff_pages import served, staff
from test_browser_admin import admin_page, tab

SCORES = {"answers": {f"U{i}": 3 if i != 9 else 2 for i in range(1, 10)}}


def phone(browser: Any) -> Any:
    page = browser.new_context(viewport=PHONE, has_touch=True).new_page()
    page.errors = watch(page)
    return page


def test_the_check_fails_on_known_violations(browser: Any) -> None:
    page = browser.new_context().new_page()
    page.set_content(
        "<!doctype html><html><head><title>x</title></head><body><main>"
        "<img src='data:,'><button></button>"
        "<p style='color:#bbb;background:#fff'>pale text</p>"
        "<input type='text'></main></body></html>"
    )
    with pytest.raises(AssertionError) as failed:
        assert_accessible(page, what="a page with known violations")
    report = str(failed.value)
    for rule in ("image-alt", "button-name", "color-contrast", "label", "html-has-lang"):
        assert rule in report, report
    # the same page made right passes, and a part of a page can be checked alone
    page.set_content(
        "<!doctype html><html lang='id'><head><title>x</title></head><body><main>"
        "<h1>Judul</h1><img src='data:,' alt='logo'><button>Kirim</button>"
        "<p style='color:#555;background:#fff'>teks</p>"
        "<label>Nama <input type='text'></label></main></body></html>"
    )
    assert_accessible(page)
    page.set_content(
        "<!doctype html><html lang='id'><body><main><h1>a</h1>"
        "<div id='ok'><p>ok</p></div><button></button></main></body></html>"
    )
    assert_accessible(page, within="#ok")
    with pytest.raises(AssertionError):
        assert_accessible(page)


def test_the_visitors_survey(hall: LiveHall, browser: Any) -> None:
    ticket = served(hall)
    page = phone(browser)
    page.goto(hall.url + ticket["status_url"])
    page.wait_for_selector("section.survey[data-survey=open]")
    assert_accessible(page, what="visitor survey, open")
    form = page.locator("#survey-form")
    form.get_by_role("button", name="Kirim penilaian").click()
    form.get_by_role("alert").wait_for()
    assert_accessible(page, what="visitor survey, a question left out")
    page.get_by_role("button", name="English").click()
    assert_accessible(page, what="visitor survey, in English")
    page.get_by_role("button", name="Bahasa Indonesia").click()
    questions = form.locator("fieldset.question")
    for i in range(9):
        questions.nth(i).locator("label").nth(2).tap()
    form.get_by_role("button", name="Kirim penilaian").click()
    page.wait_for_selector("section.survey[data-survey=answered]")
    assert_accessible(page, what="visitor survey, thanked")
    assert js_errors(page.errors) == []


def test_the_walk_up_survey(hall: LiveHall, browser: Any) -> None:
    page = phone(browser)
    page.goto(f"{hall.url}/skm/{SITE}/walk-up/ktp")
    page.wait_for_selector("section.survey[data-survey=open]")
    assert_accessible(page, what="walk-up survey, open")
    questions = page.locator("#survey-form fieldset.question")
    for i in range(9):
        questions.nth(i).locator("label").nth(3).tap()
    page.get_by_role("button", name="Kirim penilaian").click()
    page.wait_for_selector("section.survey[data-survey=answered]")
    assert_accessible(page, what="walk-up survey, thanked")
    assert js_errors(page.errors) == []
    page.goto(f"{hall.url}/skm/{SITE}/walk-up/nosuch")
    page.wait_for_selector("main[data-state=error] [role=alert]")
    assert_accessible(page, what="walk-up survey, unknown service")


def test_the_public_result_its_plans_and_its_poster(hall: LiveHall, browser: Any) -> None:
    page = phone(browser)
    page.goto(f"{hall.url}/skm/{SITE}")
    page.wait_for_selector("main[data-state]")
    if page.locator("main").get_attribute("data-state") == "too_few":
        assert_accessible(page, what="result page, too few answers")
    for _ in range(5):
        ref = served(hall)["ref"]
        assert Api(hall.url).post(f"/api/v1/tickets/{ref}/survey", SCORES).status == 201
    admin = staff(hall, "admin")
    for plan in (
        {"period": "2030-Q4", "elements": ["U4"], "text": "Biaya diumumkan di loket."},
        {"period": "2031-Q1", "elements": ["U9"], "text": "Menambah kursi tunggu."},
    ):
        assert admin.put(f"/api/v1/sites/{SITE}/survey/plan", plan).status == 200
    page.reload()
    page.wait_for_selector("main[data-state=shown] section.plans")
    assert page.locator(".plans-past article.plan").count() >= 1
    assert_accessible(page, what="result page with plans")
    page.get_by_role("button", name="English").click()
    assert_accessible(page, what="result page, in English")
    wide = browser.new_context(viewport=HD).new_page()
    wide.goto(f"{hall.url}/skm/{SITE}")
    wide.wait_for_selector("main[data-state=shown]")
    wide.emulate_media(media="print")
    assert_accessible(wide, what="result page, printed A4 poster")
    assert js_errors(page.errors) == []
    page.goto(f"{hall.url}/skm/nosuch")
    page.wait_for_selector("main[data-state=error]")
    assert_accessible(page, what="result page, unknown site")


def test_the_admins_walk_up_qr_panel(hall: LiveHall, browser: Any) -> None:
    page = admin_page(browser, hall)
    section = tab(page, "services")
    section.locator("tr[data-service=ktp]").get_by_role("button", name="QR survei").click()
    page.wait_for_selector(".walk-up-qr figure[data-service=ktp]")
    assert_accessible(page, within=".walk-up-qr", what="admin: a service's walk-up QR code")
