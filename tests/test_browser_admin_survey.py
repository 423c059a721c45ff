"""The admin app's survey tab, "Survei (SKM)" (static/js/admin-survey.js), in headless
Chromium against `qms demo`: the admin changes the survey's window, minimum group,
question texts and the site's own questions, sees a bad value refused by the server
at its field with nothing recorded, and writes a period's follow-up plan for its
weakest elements, which the public page /skm/<site> then shows."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from api_client import Api
from axe_check import assert_accessible
from browser_support import PHONE, SITE, js_errors, keep_screenshot, shot
from live_hall import LiveHall
from staff_pages import served, staff
from test_browser_admin import admin_page, saved, tab

from qms.survey.periods import quarter_start

S = f"/api/v1/sites/{SITE}"


def survey_tab(browser: Any, hall: LiveHall) -> tuple[Any, Any]:
    page = admin_page(browser, hall)
    return page, tab(page, "survey")


def instrument(admin: Api) -> dict[str, Any]:
    return dict(admin.ok("GET", f"{S}/survey")["instrument"])


def test_the_admin_sets_the_survey_up(hall: LiveHall, browser: Any) -> None:
    admin = staff(hall, "admin")
    page, section = survey_tab(browser, hall)
    settings = section.locator("form[data-form=survey]")
    assert settings.locator("[name=window]").input_value() == "1"  # 24 hours: one day
    assert settings.locator("[name=unit]").input_value() == "days"
    assert_accessible(page, what="the admin app's survey tab")

    # a window of three days, groups of seven at least, U3 reworded, a question of its own
    settings.locator("[name=window]").fill("3")
    settings.locator("[name=min_group]").fill("7")
    settings.locator("[name=U3_id]").fill("Cepatkah pelayanan kami?")
    settings.locator("[name=U3_en]").fill("Were we fast?")
    settings.get_by_role("button", name="Tambah pertanyaan").click()
    settings.locator("[name=X1_title_id]").fill("Parkir")
    settings.locator("[name=X1_title_en]").fill("Parking")
    settings.locator("[name=X1_text_id]").fill("Bagaimana tempat parkirnya?")
    settings.locator("[name=X1_text_en]").fill("How was the parking?")
    settings.get_by_role("button", name="Simpan").click()
    saved(page)
    now = instrument(admin)
    assert (now["valid_hours"], now["min_group"]) == (72, 7)
    assert now["elements"][2]["text"] == ["Cepatkah pelayanan kami?", "Were we fast?"]
    assert [(x["key"], x["title"]) for x in now["extras"]] == [("X1", ["Parkir", "Parking"])]
    assert len(now["elements"]) == 9  # the IKM's nine, unchanged in number
    settings = page.locator("form[data-form=survey]")  # the tab shows the server's state again
    assert settings.locator("[name=window]").input_value() == "3"
    assert_accessible(page, what="the survey tab, after a change")
    page.evaluate("() => window.scrollTo(0, 0)")
    shot(page, "admin-survey")
    keep_screenshot("admin-survey")

    # the window in hours; U3 back to the regulation's text; the own question removed
    settings.locator("[name=unit]").select_option("hours")
    settings.locator("[name=window]").fill("36")
    settings.locator("fieldset[data-element=U3]").get_by_role("button").click()
    settings.get_by_role("button", name="Hapus X1").click()
    settings.get_by_label("Survei aktif").uncheck()
    settings.get_by_role("button", name="Simpan").click()
    saved(page)
    now = instrument(admin)
    default = admin.ok("GET", f"{S}/survey")["default"]
    assert now["valid_hours"] == 36 and now["extras"] == [] and now["enabled"] is False
    assert now["elements"][2]["text"] == default["elements"][2]["text"]
    page.locator("form[data-form=survey]").get_by_label("Survei aktif").check()
    page.locator("form[data-form=survey]").get_by_role("button", name="Simpan").click()
    saved(page)
    assert instrument(admin)["enabled"] is True
    assert js_errors(page.errors) == []


def test_a_bad_value_is_refused_at_its_field(hall: LiveHall, browser: Any) -> None:
    admin = staff(hall, "admin")
    page, section = survey_tab(browser, hall)
    before = (instrument(admin), admin.ok("GET", f"{S}")["version"])
    settings = section.locator("form[data-form=survey]")
    settings.locator("[name=unit]").select_option("days")
    settings.locator("[name=window]").fill("8")  # 192 hours: more than a week
    settings.get_by_role("button", name="Simpan").click()
    error = settings.locator("[data-field=valid_hours] .field-error")
    error.wait_for()
    assert "1 jam sampai 7 hari" in error.inner_text()
    assert settings.locator("[name=window]").get_attribute("aria-invalid") == "true"
    banner = page.locator("[data-banner][data-kind=error]")
    assert "Kuesioner tidak sah" in banner.inner_text()  # the server's refusal, in words
    assert (instrument(admin), admin.ok("GET", f"{S}")["version"]) == before  # nothing recorded

    settings.locator("[name=window]").fill("2")
    settings.locator("[name=min_group]").fill("2")
    settings.get_by_role("button", name="Simpan").click()
    error = settings.locator("[data-field=min_group] .field-error")
    error.wait_for()
    assert "3 sampai 100" in error.inner_text()
    assert settings.locator("[data-field=valid_hours] .field-error").count() == 0
    settings.locator("[name=min_group]").fill("5")
    settings.locator("[name=U5_en]").fill("")  # the server names one field at a time
    settings.get_by_role("button", name="Simpan").click()
    settings.locator("[data-field=U5] .field-error").wait_for()
    assert settings.locator("[name=U5_en]").get_attribute("aria-invalid") == "true"
    assert_accessible(page, what="the survey tab, showing refusals")
    page.get_by_role("button", name="English").click()
    section = tab(page, "survey")
    settings = section.locator("form[data-form=survey]")
    settings.locator("[name=min_group]").fill("101")
    settings.get_by_role("button", name="Save").click()
    error = settings.locator("[data-field=min_group] .field-error")
    error.wait_for()
    assert "a whole number from 3 to 100" in error.inner_text()
    settings.locator("[name=min_group]").fill("5")
    settings.get_by_role("button", name="Add a question").click()  # and leaves it empty
    settings.get_by_role("button", name="Save").click()
    error = settings.locator('[data-field="extras[0]"] .field-error')
    error.wait_for()
    assert "Fill in both texts" in error.inner_text()
    assert settings.locator("[name=X1_title_id]").get_attribute("aria-invalid") == "true"
    assert (instrument(admin), admin.ok("GET", f"{S}")["version"]) == before
    page.get_by_role("button", name="Bahasa Indonesia").click()
    assert js_errors(page.errors) == []


def test_a_plan_for_the_weakest_elements_is_published(hall: LiveHall, browser: Any) -> None:
    admin = staff(hall, "admin")
    assert admin.put(f"{S}/survey", {"min_group": 3}).status == 200
    answers = {"answers": {f"U{i}": 2 if i == 4 else 3 for i in range(1, 10)}}
    for _ in range(3):
        reply = Api(hall.url).post(f"/api/v1/tickets/{served(hall)['ref']}/survey", answers)
        assert reply.status == 201, reply.body
    page, section = survey_tab(browser, hall)
    plan = section.locator("form[data-form=plan]")
    rows = plan.locator("tbody tr")
    assert rows.count() == 9
    shown = [str(rows.nth(i).get_attribute("data-element")) for i in range(9)]
    first_day, last_day = quarter_days(date.today())
    quarter = admin.ok("GET", f"{S}/survey/results?first={first_day}&last={last_day}")
    weakest = quarter["index"]["lowest"]  # the weakest element(s) come first
    assert set(shown[: len(weakest)]) == set(weakest) and "U4" in weakest
    assert "terendah" in rows.first.inner_text()
    first = shown[0]
    plan.get_by_label(f"Tindakan untuk {first}", exact=False).fill("Tarif diumumkan di loket.")
    plan.get_by_label("Tindakan untuk U9", exact=False).fill("Menambah kursi tunggu.")
    plan.get_by_role("button", name="Simpan rencana").click()
    saved(page)
    label = page.locator(".published-plans li").first.get_attribute("data-period")
    assert label is not None and "-Q" in label
    public = Api(hall.url).get(f"/api/v1/survey/{SITE}").body["plans"]
    assert public[0]["period"] == label and set(public[0]["elements"]) == {first, "U9"}
    # the tab reads its own plan back into the element's action
    section = page.locator("#section")
    assert section.locator("[name=action_U9]").input_value() == "Menambah kursi tunggu."
    assert_accessible(page, what="the survey tab's plan editor")
    page.locator("form[data-form=plan]").scroll_into_view_if_needed()
    shot(page, "admin-survey-plan")

    # an empty plan is said, not sent
    for key in (first, "U9"):
        section.locator(f"[name=action_{key}]").fill("")
    section.get_by_role("button", name="Simpan rencana").click()
    section.get_by_text("Tulis tindakan untuk paling sedikit satu unsur").wait_for()
    assert Api(hall.url).get(f"/api/v1/survey/{SITE}").body["plans"] == public

    link = section.get_by_role("link", name=f"/skm/{SITE}")
    assert link.get_attribute("href") == f"/skm/{SITE}"
    visitor = browser.new_context().new_page()
    visitor.goto(f"{hall.url}/skm/{SITE}")
    latest = visitor.locator("section.plans > article.plan")
    latest.wait_for()
    assert latest.get_attribute("data-period") == label
    assert "Menambah kursi tunggu." in latest.locator(".plan-text").inner_text()
    assert js_errors(page.errors) == []

    phone = admin_page(browser, hall, PHONE)
    tab(phone, "survey")
    assert_accessible(phone, what="the survey tab on a phone")
    shot(phone, "admin-survey-phone")
    assert js_errors(phone.errors) == []


def quarter_days(day: date) -> tuple[str, str]:
    """The first and last day of `day`'s quarter (the period the tab picks by default)."""
    start = quarter_start(day)
    after = date(start.year + start.month // 10, (start.month + 2) % 12 + 1, 1)
    return start.isoformat(), (after - timedelta(days=1)).isoformat()
