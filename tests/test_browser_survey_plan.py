"""The follow-up plan (rencana tindak lanjut) on the public result page /skm/<site> in
headless Chromium: the latest period's plan under the figures, shown as text, with the
plans of past periods on screen; the printed A4 poster keeps the latest only."""

from __future__ import annotations

from typing import Any

from browser_support import PHONE, SITE, js_errors, shot, watch
from live_hall import LiveHall
from staff_pages import staff


def test_the_plans_are_published_with_their_history(hall: LiveHall, browser: Any) -> None:
    admin = staff(hall, "admin")
    plans = [
        {"period": "2030-Q4", "elements": ["U4"], "text": "Biaya diumumkan di loket."},
        {"period": "2031-Q1", "elements": ["U9", "U3"], "text": "<b>Kursi</b> tunggu\nLoket 5"},
    ]
    for plan in plans:
        reply = admin.put(f"/api/v1/sites/{SITE}/survey/plan", plan)
        assert reply.status == 200, reply.body
    page = browser.new_context(viewport=PHONE).new_page()
    page.errors = watch(page)
    page.goto(f"{hall.url}/skm/{SITE}")
    page.wait_for_selector("section.plans")
    latest = page.locator("section.plans > article.plan")
    assert latest.get_attribute("data-period") == "2031-Q1"
    assert "Rencana tindak lanjut" in page.locator("section.plans > h3").inner_text()
    # elements named in the instrument's order; the text is text, its line break kept
    assert "U3 Waktu penyelesaian, U9 Sarana dan prasarana" in latest.inner_text()
    text = latest.locator(".plan-text")
    assert text.inner_text() == "<b>Kursi</b> tunggu\nLoket 5"
    assert page.locator("section.plans b").count() == 0
    past = page.locator(".plans-past article.plan")
    assert past.first.get_attribute("data-period") == "2030-Q4"
    assert past.first.is_visible()
    shot(page, "survey-plan-phone")
    page.get_by_role("button", name="English").click()
    assert page.get_by_role("heading", name="Follow-up plan").is_visible()
    # the A4 poster: the latest plan printed, the past ones left to the screen
    page.emulate_media(media="print")
    assert latest.is_visible() and not past.first.is_visible()
    assert js_errors(page.errors) == []
