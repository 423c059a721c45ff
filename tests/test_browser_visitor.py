"""The visitor's page /t/<ref> (static/visitor.html) on a phone-sized headless
Chromium against `qms demo`: waiting with position and wait, then the call with
its counter (and a vibration) once an officer calls it, the final state, a
clear message for an unknown ticket without hammering the throttled lookup,
and recovery when the server is out of reach."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from api_client import Api
from browser_support import HD, PHONE, SITE, js_errors, keep_screenshot, shot, watch
from live_hall import LiveHall
from staff_pages import issue

# navigator.vibrate, recorded (headless Chromium has nothing to vibrate).
RECORD_VIBRATIONS = (
    "window.vibrations = []; navigator.vibrate = (p) => (window.vibrations.push(p), true);"
)

PAGE_WEIGHT = """() => [...performance.getEntriesByType('navigation'),
                        ...performance.getEntriesByType('resource')]
                       .reduce((bytes, e) => bytes + e.decodedBodySize, 0)"""


# Longer than any wait between two polls (visitor-model.js: MAX_BACKOFF_MS).
LONGEST_PAUSE_MS = 61_000


def phone(browser: Any, viewport: dict[str, int] = PHONE) -> Any:
    page = browser.new_context(viewport=viewport, has_touch=True).new_page()
    page.clock.install()  # time flows as usual; `calls_after_longest_pause` jumps it ahead
    page.add_init_script(RECORD_VIBRATIONS)
    page.errors = watch(page)
    page.api_calls = []
    page.on(
        "request",
        lambda r: (
            ("/api/v1/" in r.url or r.url.endswith("/healthz")) and page.api_calls.append(r.url)
        ),
    )
    return page


def calls_after_longest_pause(page: Any) -> list[str]:
    """The requests the page makes while its clock runs past any poll it could have
    scheduled, then a marker (/healthz, fetched by the test afterwards): a wrong poll
    is initiated before the marker, so it is seen before it."""
    calls = len(page.api_calls)
    page.clock.run_for(LONGEST_PAUSE_MS)
    with page.expect_request("**/healthz"):
        page.evaluate("() => fetch('/healthz')")
    return [urlsplit(url).path for url in page.api_calls[calls:]]


def test_visitor_follows_the_ticket_until_called_and_done(hall: LiveHall, browser: Any) -> None:
    earlier = issue(hall, "ktp")
    mine = issue(hall, "ktp")
    page = phone(browser)
    page.goto(hall.url + mine["status_url"])
    page.wait_for_selector("main[data-state=waiting]")
    assert page.locator(".number").inner_text() == mine["number"]
    assert page.locator(".service").inner_text() == "KTP-el"
    assert page.locator(".ahead").inner_text() == "1 orang"
    assert page.locator(".wait").inner_text() == "belum ada loket buka"  # no counter open yet
    assert page.locator("[data-conn]").get_attribute("data-conn") == "live"
    shot(page, "visitor-waiting-phone")
    # Light for a cheap phone on a slow network: everything it loaded, the first answer included.
    assert page.evaluate(PAGE_WEIGHT) < 40_000

    officer = Api(hall.url)
    assert officer.sign_in("petugas1", hall.passwords["petugas1"]).status == 200
    counter = f"/api/v1/sites/{SITE}/counters/L1"
    assert officer.post(counter + "/open").status == 200
    page.wait_for_function("() => document.querySelector('.wait').textContent.includes('mnt')")

    called = officer.post(counter + "/call-next").body["counter"]["ticket"]["number"]
    assert called == earlier["number"]
    assert officer.post(counter + "/complete").status == 200
    page.wait_for_function("() => document.querySelector('.ahead').textContent === '0 orang'")
    assert page.evaluate("() => window.vibrations.length") == 0

    assert (
        officer.post(counter + "/call-next").body["counter"]["ticket"]["number"] == mine["number"]
    )
    page.wait_for_selector("main[data-state=called]", timeout=10_000)
    alert = page.get_by_role("alert").filter(has_text="dipanggil")
    assert "Silakan menuju Loket 1" in alert.inner_text()
    assert page.evaluate("() => window.vibrations.length") == 1
    shot(page, "visitor-called-phone")
    keep_screenshot("visitor-called-phone")

    # A recall vibrates again; then the service ends and the page says so and stops.
    assert officer.post(counter + "/recall").status == 200
    page.wait_for_function("() => window.vibrations.length === 2", timeout=10_000)
    assert officer.post(counter + "/start").status == 200
    assert officer.post(counter + "/complete").status == 200
    page.wait_for_selector("main[data-state=done]", timeout=10_000)
    assert "Terima kasih" in page.locator(".explain").inner_text()
    assert calls_after_longest_pause(page) == ["/healthz"]  # a final state is not polled again

    wide = phone(browser, HD)
    wide.goto(hall.url + mine["status_url"])
    wide.wait_for_selector("main[data-state=done]")
    shot(wide, "visitor-done-1920")
    assert js_errors(page.errors) == [] and js_errors(wide.errors) == []


def test_unknown_ticket_says_so_and_asks_once(hall: LiveHall, browser: Any) -> None:
    page = phone(browser)
    page.goto(hall.url + f"/t/{SITE}.no-such-ticket-token")
    page.wait_for_selector("main[data-state=not_found]")
    assert page.get_by_role("heading", name="Tiket tidak ditemukan").is_visible()
    shot(page, "visitor-not-found-phone")
    assert len(page.api_calls) == 1
    # Each miss counts against the address: never repeated.
    assert calls_after_longest_pause(page) == ["/healthz"]
    page.get_by_role("button", name="English").click()
    assert page.get_by_role("heading", name="Ticket not found").is_visible()
    assert js_errors(page.errors) == []


def test_server_out_of_reach_then_back(hall: LiveHall, browser: Any) -> None:
    mine = issue(hall, "kk")
    page = phone(browser)
    page.route("**/api/v1/**", lambda route: route.abort())
    page.goto(hall.url + mine["status_url"])
    problem = page.locator("#problem")
    problem.get_by_text("Server tidak dapat dihubungi").wait_for()
    assert page.locator("[data-conn]").get_attribute("data-conn") == "offline"
    shot(page, "visitor-offline-phone")
    page.unroute("**/api/v1/**")
    problem.get_by_role("button", name="Coba lagi").click()
    page.wait_for_selector("main[data-state=waiting]")
    assert problem.is_hidden()
    assert page.locator("[data-conn]").get_attribute("data-conn") == "live"
    assert page.locator(".number").inner_text() == mine["number"]
    assert js_errors(page.errors) == []
