"""The kiosk (static/kiosk.html) in headless Chromium against `qms demo`: issuing
a ticket through the touch screens, one ticket per double tap or retried press,
the return to the start screen, the thermal-roll print layout, and clear
messages for a missing or revoked link and an unreachable server."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from api_client import Api
from browser_support import HD, PHONE, SITE, js_errors, keep_screenshot, shot, watch
from live_hall import LiveHall
from staff_pages import staff

MM = 96 / 25.4  # CSS pixels per millimetre
PT = 72 / 25.4  # PDF points per millimetre
# window.print, counted (with --kiosk-printing it prints without a dialog; here it only counts).
COUNT_PRINTS = "window.prints = 0; window.print = () => { window.prints += 1; };"


def tickets(hall: LiveHall, service: str) -> list[dict[str, Any]]:
    reply = staff(hall, "supervisor").get(f"/api/v1/sites/{SITE}/tickets?service={service}")
    assert reply.status == 200, reply.body
    return list(reply.body["tickets"])


def open_kiosk(
    browser: Any, hall: LiveHall, query: str = "", viewport: dict[str, int] = HD, init: str = ""
) -> Any:
    page = browser.new_context(viewport=viewport).new_page()
    if init:
        page.add_init_script(init)
    page.errors = watch(page)
    page.goto(f"{hall.url}/kiosk?token={hall.tokens['kiosk']}{query}")
    page.wait_for_selector("main[data-screen=agencies]")
    return page


def choose(page: Any, agency: str, service: str) -> None:
    page.click(f"[data-agency={agency}]")
    page.click(f"[data-service={service}]")
    page.wait_for_selector("main[data-screen=priority]")


def issue(page: Any, agency: str, service: str, priority: str = "regular") -> None:
    choose(page, agency, service)
    page.click(f"[data-priority={priority}]")
    page.wait_for_selector("main[data-screen=ticket][data-ready]")


def test_kiosk_issues_a_ticket_with_position_wait_and_qr(hall: LiveHall, browser: Any) -> None:
    page = open_kiosk(browser, hall)
    assert page.url == f"{hall.url}/kiosk"  # the token left the address bar
    assert page.get_by_text("Pilih instansi").is_visible()
    shot(page, "kiosk-start-1920")
    before = len(tickets(hall, "ktp"))
    issue(page, "disdukcapil", "ktp", "lansia")
    shot(page, "kiosk-ticket-1920")
    keep_screenshot("kiosk-ticket-1920")

    issued = tickets(hall, "ktp")
    assert len(issued) == before + 1
    mine = issued[-1]
    assert (mine["priority"], mine["channel"]) == ("lansia", "kiosk")
    ticket = page.locator(".ticket")
    assert ticket.locator(".number").inner_text() == mine["number"]
    assert "KTP-el" in ticket.inner_text() and "Lansia" in ticket.inner_text()

    # The QR and the printed link carry the visitor page's absolute URL, and
    # that URL's ref is this very ticket.
    link = ticket.locator(".link").inner_text()
    assert re.fullmatch(re.escape(hall.url) + rf"/t/{SITE}\.[\w-]+", link), link
    svg = ticket.locator(".qr svg")
    assert svg.get_attribute("data-qr") == link
    assert svg.locator("path").get_attribute("d").count("h1v1h-1z") > 200
    ref = link.rsplit("/t/", 1)[1]
    status = Api(hall.url).get(f"/api/v1/tickets/{quote(ref)}").body["ticket"]
    assert status["number"] == mine["number"]
    assert ticket.locator(".ahead").inner_text() == f"{status['people_ahead']} orang"
    wait = ticket.locator(".wait").inner_text()
    assert wait == "belum ada loket buka" if status["estimated_wait_s"] is None else "mnt" in wait

    page.get_by_role("button", name="English").click()  # the ticket re-renders in English
    assert ticket.locator(".label").inner_text().lower() == "queue number"
    assert ticket.locator(".ahead").inner_text() == f"{status['people_ahead']} people"
    page.get_by_role("button", name="Bahasa Indonesia").click()

    phone = open_kiosk(browser, hall, viewport=PHONE)
    issue(phone, "samsat", "pkb")
    shot(phone, "kiosk-ticket-phone")
    assert js_errors(page.errors) == [] and js_errors(phone.errors) == []


def test_a_double_tap_or_a_retried_press_makes_one_ticket(hall: LiveHall, browser: Any) -> None:
    page = open_kiosk(browser, hall)
    before = len(tickets(hall, "kk"))
    choose(page, "disdukcapil", "kk")
    page.dblclick("[data-priority=regular]")
    page.wait_for_selector("main[data-screen=ticket][data-ready]")
    assert len(tickets(hall, "kk")) == before + 1

    # The answer is lost on the way back (the ticket was made): the kiosk says
    # so, the visitor presses again, and the same key answers the same ticket.
    page.click(".done")
    choose(page, "disdukcapil", "kk")
    lost: list[int] = []

    def lose_answer(route: Any) -> None:
        if not lost:
            lost.append(route.fetch().status)
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/api/v1/sites/*/tickets", lose_answer)
    page.click("[data-priority=regular]")
    page.wait_for_selector("[data-banner]:not([hidden]) >> text=Server tidak dapat dihubungi")
    assert lost == [201]
    assert len(tickets(hall, "kk")) == before + 2
    page.click("[data-priority=regular]")
    page.wait_for_selector("main[data-screen=ticket][data-ready]")
    numbers = [t["number"] for t in tickets(hall, "kk")]
    assert len(numbers) == before + 2
    assert page.locator(".ticket .number").inner_text() == numbers[-1]
    assert js_errors(page.errors) == []


def test_back_to_start_after_the_ticket_and_when_idle(hall: LiveHall, browser: Any) -> None:
    page = open_kiosk(browser, hall, "&reset=1&idle=2")
    issue(page, "bpjs", "jkn")
    page.wait_for_selector("main[data-screen=agencies]", timeout=4000)
    page.click("[data-agency=bpjs]")
    assert page.locator("main").get_attribute("data-screen") == "services"
    page.wait_for_selector("main[data-screen=agencies]", timeout=5000)
    assert js_errors(page.errors) == []


def test_unavailable_services_and_the_engines_reason(hall: LiveHall, browser: Any) -> None:
    admin = staff(hall, "supervisor")
    base = f"/api/v1/sites/{SITE}/services"
    roya = {"agency": "bpn", "prefix": "L", "name_id": "Roya", "name_en": "Mortgage release"}
    assert admin.put(f"{base}/roya", {**roya, "active": False}).status == 200
    cek = {"agency": "bpn", "prefix": "K", "name_id": "Pengecekan Sertifikat", "name_en": "Check"}
    assert admin.put(f"{base}/sertifikat", {**cek, "daily_quota": 1}).status == 200
    kiosk = Api(hall.url, token=hall.tokens["kiosk"], origin=None)
    assert kiosk.post(f"/api/v1/sites/{SITE}/tickets", {"service": "sertifikat"}).status == 201

    page = open_kiosk(browser, hall)
    page.click("[data-agency=bpn]")
    roya_tile = page.locator("[data-service=roya]")
    assert roya_tile.is_disabled() and "Tidak tersedia" in roya_tile.inner_text()
    page.click("[data-service=sertifikat]")
    page.click("[data-priority=regular]")
    page.wait_for_selector("main[data-screen=services]")
    assert "Kuota antrean hari ini sudah habis" in page.locator("[data-banner]").inner_text()
    assert page.locator("[data-service=sertifikat]").is_disabled()
    shot(page, "kiosk-unavailable-1920")
    assert js_errors(page.errors) == []


def test_print_layout_for_58_and_80_mm_rolls(hall: LiveHall, browser: Any) -> None:
    for paper in (58, 80):
        page = open_kiosk(browser, hall, f"&paper={paper}&print=1", init=COUNT_PRINTS)
        issue(page, "dpmptsp", "info")
        assert page.evaluate("() => window.prints") == 1  # ?print=1: printed once, when ready
        page.emulate_media(media="print")
        box = page.locator(".ticket").bounding_box()
        assert abs(box["width"] - paper * MM) < 1, (paper, box)
        assert page.locator(".topbar").is_hidden() and page.locator(".done").is_hidden()
        shot(page, f"kiosk-print-{paper}mm")
        pdf = page.pdf(prefer_css_page_size=True)
        media_box = re.search(rb"/MediaBox \[0 0 ([\d.]+) ([\d.]+)\]", pdf)
        assert media_box and abs(float(media_box.group(1)) - paper * PT) < 1, media_box
        assert js_errors(page.errors) == []


def test_missing_or_revoked_link_and_server_down_say_so(hall: LiveHall, browser: Any) -> None:
    page = browser.new_context(viewport=HD).new_page()
    errors = watch(page)
    page.goto(hall.url + "/kiosk")
    page.wait_for_selector("main[data-screen=blocked]")
    assert page.get_by_text("Tautan ini tidak memuat token perangkat").is_visible()

    admin = staff(hall, "admin")
    added = admin.post("/api/v1/devices", {"kind": "kiosk", "site": SITE}).body
    assert admin.delete(f"/api/v1/devices/{added['device']['device']}").status == 200
    page.goto(f"{hall.url}/kiosk?token={added['token']}")
    page.wait_for_selector("main[data-screen=blocked]")
    assert page.get_by_text("Tautan kios ini tidak berlaku lagi").is_visible()
    shot(page, "kiosk-revoked-1920")

    page.route("**/api/v1/**", lambda route: route.abort())
    page.goto(f"{hall.url}/kiosk?token={hall.tokens['kiosk']}")
    page.wait_for_selector("main[data-screen=offline]")
    assert page.get_by_text("Server tidak dapat dihubungi").is_visible()
    shot(page, "kiosk-offline-1920")
    page.unroute("**/api/v1/**")
    page.get_by_role("button", name="Coba lagi").click()
    page.wait_for_selector("main[data-screen=agencies]")
    assert js_errors(errors) == []
