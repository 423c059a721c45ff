"""The walk-up survey of a service in headless Chromium against `qms demo`: the admin
shows a service's QR code and link, a phone without a ticket opens it, answers and is
thanked; the answer is counted apart (docs/survey.md "Walk-up survey")."""

from __future__ import annotations

from typing import Any

from browser_support import PHONE, SITE, js_errors, shot, watch
from live_hall import LiveHall
from staff_pages import staff
from test_browser_admin import admin_page, tab


def test_the_admin_shows_a_services_qr_and_a_phone_answers_it(hall: LiveHall, browser: Any) -> None:
    page = admin_page(browser, hall)
    section = tab(page, "services")
    section.locator("tr[data-service=ktp]").get_by_role("button", name="QR survei").click()
    figure = section.locator(".walk-up-qr figure[data-service=ktp]")
    url = f"{hall.url}/skm/{SITE}/walk-up/ktp"
    assert figure.locator("svg").get_attribute("data-qr") == url
    assert figure.get_by_role("link").get_attribute("href") == url
    assert "dihitung terpisah" in figure.inner_text()
    assert js_errors(page.errors) == []

    before = staff(hall, "supervisor").get(f"/api/v1/sites/{SITE}/survey/results").body
    phone = browser.new_context(viewport=PHONE, has_touch=True).new_page()
    phone.errors = watch(phone)
    phone.goto(url)
    phone.wait_for_selector("section.survey[data-survey=open]")
    assert "tanpa nomor antrean" in phone.locator(".walk-up-note").inner_text().lower()
    assert phone.locator(".service").inner_text().startswith("Layanan: ")
    questions = phone.locator("#survey-form fieldset.question")
    assert questions.count() == 9
    for i in range(9):
        questions.nth(i).locator("label").nth(2).tap()
    phone.fill("#saran", "<i>Papan</i> petunjuk kurang jelas")
    shot(phone, "survey-walkup-phone")
    phone.get_by_role("button", name="Kirim penilaian").click()
    phone.wait_for_selector("section.survey[data-survey=answered]")
    assert "Terima kasih" in phone.locator(".thanks").inner_text()
    phone.get_by_role("button", name="English").click()
    assert "counted apart" in phone.locator(".walk-up-note").inner_text()
    assert js_errors(phone.errors) == []

    after = staff(hall, "supervisor").get(f"/api/v1/sites/{SITE}/survey/results").body
    assert after["respondents"] == before["respondents"] + 1
    # the published page flags that walk-up answers are in the figures
    phone.goto(f"{hall.url}/skm/{SITE}")
    phone.wait_for_selector("main[data-state] .walk-up-flag")
    assert "without a ticket" in phone.locator(".walk-up-flag").inner_text()
    unknown = browser.new_context(viewport=PHONE).new_page()
    unknown.goto(f"{hall.url}/skm/{SITE}/walk-up/nosuch")
    unknown.wait_for_selector("main[data-state=error] [role=alert]")
