"""The satisfaction survey on the visitor's phone (/t/<ref>, static/js/survey.js) in a
phone-sized headless Chromium against `qms demo`: the completed ticket's page turns
into the survey (Bahasa Indonesia first), refuses to send with a question unanswered,
sends once and thanks; a reload shows the thanks, not the form again."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from api_client import Api
from browser_support import PHONE, SITE, js_errors, keep_screenshot, shot, watch
from live_hall import LiveHall
from staff_pages import issue, served, staff

from qms.survey.instrument import DEFAULT

SURVEY = "section.survey"


def phone(browser: Any) -> Any:
    page = browser.new_context(viewport=PHONE, has_touch=True).new_page()
    page.errors = watch(page)
    return page


def test_the_completed_ticket_turns_into_the_survey(hall: LiveHall, browser: Any) -> None:
    waiting = issue(hall, "kk")
    page = phone(browser)
    page.goto(hall.url + waiting["status_url"])
    page.wait_for_selector("main[data-state=waiting]")
    assert page.locator(SURVEY).count() == 0  # nothing of the survey while waiting
    loaded = page.evaluate("() => performance.getEntriesByType('resource').map(e => e.name)")
    assert not any("survey.js" in name for name in loaded)  # a waiting phone loads none of it

    ticket = served(hall)
    page.goto(hall.url + ticket["status_url"])
    page.wait_for_selector("section.survey[data-survey=open]")
    form = page.locator("#survey-form")
    assert form.get_by_role("heading", name="Survei Kepuasan Masyarakat").is_visible()
    questions = form.locator("fieldset.question")
    assert questions.count() == 9
    first = questions.nth(0)
    assert "Persyaratan" in first.locator("legend").inner_text()
    assert first.get_by_text("Sangat sesuai").is_visible()
    # each question is a group of radio buttons named by its legend
    assert form.get_by_role("group", name="Biaya/tarif *").get_by_role("radio").count() == 4
    # answering 8 of 9 and sending: told, and focus goes to the question left
    for i in range(8):
        questions.nth(i).locator("label").nth(3).tap()
    form.get_by_role("button", name="Kirim penilaian").click()
    assert form.get_by_role("alert").inner_text().startswith("Mohon jawab semua")
    assert page.evaluate("() => document.activeElement.name") == "U9"
    # a language switch keeps the answers and shows the English texts
    page.get_by_role("button", name="English").click()
    assert form.get_by_role("heading", name="Satisfaction survey").is_visible()
    assert questions.nth(0).locator("input[value='4']").is_checked()
    page.get_by_role("button", name="Bahasa Indonesia").click()
    questions.nth(8).locator("label").nth(2).tap()
    page.select_option("#p-usia", "30-39")
    page.fill("#saran", "<b>Antrean</b> rapi, terima kasih")
    page.evaluate("() => window.scrollTo(0, 0)")
    shot(page, "visitor-survey-phone")
    keep_screenshot("visitor-survey-phone")
    form.get_by_role("button", name="Kirim penilaian").click()
    page.wait_for_selector("section.survey[data-survey=answered]")
    assert "Terima kasih atas penilaian Anda" in page.locator(".thanks").inner_text()
    shot(page, "visitor-survey-thanks-phone")

    # the answer is in the figures (fewer than five answers: no index yet), never twice
    boss = staff(hall, "supervisor")
    results = boss.get(f"/api/v1/sites/{SITE}/survey/results").body
    assert results["respondents"] >= 1
    again = page.context.new_page()
    again.goto(hall.url + ticket["status_url"])
    again.wait_for_selector("section.survey[data-survey=answered]")
    assert again.locator("#survey-form").count() == 0
    assert js_errors(page.errors) == []


def test_html_in_questions_is_shown_as_text(hall: LiveHall, browser: Any) -> None:
    admin = staff(hall, "admin")
    config = {"questions": {"U1": {"text": ["<img src=x onerror=alert(1)>Syarat?", "Req?"]}}}
    assert admin.put(f"/api/v1/sites/{SITE}/survey", config).status == 200
    try:
        ticket = served(hall)
        page = phone(browser)
        page.goto(hall.url + ticket["status_url"])
        page.wait_for_selector("section.survey[data-survey=open]")
        legend = page.locator("fieldset.question").nth(0).locator("legend")
        assert "<img src=x onerror=alert(1)>Syarat?" in legend.inner_text()
        assert page.locator("fieldset.question img").count() == 0
        assert js_errors(page.errors) == []
    finally:
        reset = {"questions": {"U1": {"text": DEFAULT.elements[0].text.to_list()}}}
        assert admin.put(f"/api/v1/sites/{SITE}/survey", reset).status == 200


def test_the_public_result_page(hall: LiveHall, browser: Any) -> None:
    page = phone(browser)
    page.goto(f"{hall.url}/skm/{SITE}")
    page.wait_for_selector("main[data-state]")
    # fewer than five answers so far in this hall: says so, shows no index
    if page.locator("main").get_attribute("data-state") == "too_few":
        assert "Belum cukup responden" in page.locator(".too-few").inner_text()
    anon_answers = {"answers": {f"U{i}": 3 if i != 4 else 2 for i in range(1, 10)}}
    for _ in range(5):
        ticket = served(hall)
        ref = ticket["ref"]
        reply = Api(hall.url).post(f"/api/v1/tickets/{ref}/survey", anon_answers)
        assert reply.status == 201, reply.body
    page.reload()
    page.wait_for_selector("main[data-state=shown]")
    assert page.locator(".ikm").inner_text().replace(".", "").isdigit()
    assert page.locator(".grade").inner_text() in "ABCD"
    assert page.locator("table.elements tbody tr").count() == 9
    lowest = page.locator("tr.lowest")
    assert "Biaya/tarif" in lowest.first.inner_text() and "terendah" in lowest.first.inner_text()
    assert page.locator(".history tbody tr").count() >= 1
    # by default the last complete quarter, here (no answer before) the quarter so far
    today = datetime.now(ZoneInfo("Asia/Jakarta")).date()
    quarter = ["I", "II", "III", "IV"][(today.month - 1) // 3]
    named = page.locator("p.period-name").inner_text()
    assert named == f"Triwulan {quarter} {today.year} (berjalan)", named
    assert page.locator("section.plans").count() == 0  # no plan written: nothing, not "null"
    assert "null" not in page.locator("main").inner_text()
    shot(page, "survey-results-phone")
    page.get_by_role("button", name="English").click()
    assert page.get_by_role("heading", name="Citizen satisfaction survey results").is_visible()
    assert js_errors(page.errors) == []
