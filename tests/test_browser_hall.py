"""The whole hall as one scenario, on browsers alone (issue 4's acceptance test).

The kiosk issues a ticket -> a signed-in officer (another browser context)
presses Next -> the hall display shows the number within a second and its
announcement queue said the call exactly once -> recall -> said again -> the
server restarts -> the display reconnects, catches up and replays nothing ->
the supervisor reallocates the counter and the console's next call follows the
new services -> the visitor page of that ticket shows "called".

Every step goes through a page; the API is only read to check what the pages
claim. The hall is a real `qms demo` server of its own (it is restarted).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from browser_support import HD, PHONE, SITE, js_errors, watch
from live_hall import LiveHall, demo_hall
from staff_pages import sign_in, staff

pytestmark = pytest.mark.timeout(120)

LIVE = "() => document.querySelector('[data-conn]')?.dataset.conn === 'live'"


@pytest.fixture
def own_hall(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveHall]:
    with demo_hall(tmp_path_factory.mktemp("whole-hall") / "data") as hall:
        yield hall


def new_page(browser: Any, viewport: dict[str, int] = HD) -> tuple[Any, list[str]]:
    page = browser.new_context(viewport=viewport).new_page()
    return page, watch(page)


def kiosk_ticket(kiosk: Any, agency: str, service: str) -> tuple[str, str]:
    """Take a ticket on the kiosk's screens; its number and its visitor link (the QR's)."""
    kiosk.click(f"[data-agency={agency}]")
    kiosk.click(f"[data-service={service}]")
    kiosk.click("[data-priority=regular]")
    kiosk.wait_for_selector("main[data-screen=ticket][data-ready]")
    ticket = kiosk.locator(".ticket")
    number, link = ticket.locator(".number").inner_text(), ticket.locator(".link").inner_text()
    assert ticket.locator(".qr svg").count() == 1
    kiosk.locator(".done").click()  # back to the start screen for the next visitor
    kiosk.wait_for_selector("main[data-screen=agencies]")
    return number, link


def announced(display: Any) -> list[tuple[int, str]]:
    entries = display.evaluate("() => window.qmsDisplay.announced")
    return [(e["version"], e["number"]) for e in entries]


def quiet(errors: list[str]) -> list[str]:
    """JS errors, without the browser's log of failed loads while the server restarts."""
    return [e for e in js_errors(errors) if "WebSocket" not in e]


def test_the_whole_hall_on_browsers(own_hall: LiveHall, browser: Any) -> None:
    hall = own_hall
    kiosk, kiosk_errors = new_page(browser)
    kiosk.goto(f"{hall.url}/kiosk?token={hall.tokens['kiosk']}")
    kiosk.wait_for_selector("main[data-screen=agencies]")

    display, display_errors = new_page(browser)
    display.goto(f"{hall.url}/display?token={hall.tokens['display']}")
    display.wait_for_function(LIVE)

    console, console_errors = new_page(browser)
    console.goto(hall.url + "/console")
    sign_in(console, "petugas1", hall.passwords["petugas1"])
    console.locator(".counter-choice[data-counter=L1]").click()
    console.locator("[data-action=open]").click()
    console.locator("#counter-state[data-state=open]").wait_for()

    # 1. The kiosk issues a ticket; the officer presses Next.
    first, _ = kiosk_ticket(kiosk, "disdukcapil", "ktp")
    console.locator("#waiting .ticket-row", has_text=first).wait_for()
    console.locator("[data-action=next]").click()
    console.locator("#hand-number", has_text=first).wait_for()
    confirmed = time.monotonic()

    # 2. The display shows it within a second of the officer's screen confirming it,
    #    and says it exactly once.
    display.locator("#latest-number", has_text=first).wait_for(timeout=1_000)
    assert time.monotonic() - confirmed < 1.0
    display.wait_for_function("() => window.qmsDisplay.count >= 1 && !window.qmsDisplay.queued")
    (call,) = announced(display)
    assert call[1] == first

    # 3. Recall: said again, once more.
    console.keyboard.press("r")
    display.wait_for_function("() => window.qmsDisplay.count >= 2 && !window.qmsDisplay.queued")
    recall = announced(display)[1]
    assert recall[1] == first and recall[0] > call[0]

    # 4. The server restarts: the display reconnects, catches up, replays nothing:
    #    once it counts a ticket the kiosk issues next, a replayed call would have
    #    been queued (events come in order).
    hall.server.stop()
    display.wait_for_function(f"() => !({LIVE})()")
    hall.server.start()
    display.wait_for_function(LIVE, timeout=60_000)
    console.locator("[data-conn=live]").wait_for(timeout=60_000)
    waiting = display.locator("#queues tr[data-service=ktp] .d-num")
    before = int(waiting.inner_text())
    older_ktp, _ = kiosk_ticket(kiosk, "disdukcapil", "ktp")
    waiting.filter(has_text=re.compile(f"^{before + 1}$")).wait_for()
    assert announced(display) == [call, recall]
    assert display.evaluate("() => window.qmsDisplay.queued") == 0
    assert display.locator("#latest-number").inner_text() == first

    # 5. The supervisor gives Loket 1 the kk service only; the console's next call
    #    follows: the kk ticket, though an older ktp ticket waits.
    supervisor, supervisor_errors = new_page(browser)
    supervisor.goto(hall.url + "/supervisor")
    sign_in(supervisor, "supervisor", hall.passwords["supervisor"])
    supervisor.locator("[data-conn=live]").wait_for()
    kk, kk_link = kiosk_ticket(kiosk, "disdukcapil", "kk")
    l1 = supervisor.locator("#counters tr[data-counter=L1]")
    l1.get_by_role("button", name="Ubah layanan").click()
    supervisor.locator("#ask input[value=ktp]").uncheck()
    supervisor.locator("#ask input[value=kk]").check()
    supervisor.locator("#ask").get_by_role("button", name="Simpan").click()
    l1.locator("td[data-services=kk]").wait_for()

    # The visitor follows the kk ticket on a phone, from the kiosk's QR link.
    assert kk_link.startswith(hall.url + "/t/")
    visitor, visitor_errors = new_page(browser, PHONE)
    visitor.goto(kk_link)
    visitor.locator(".number", has_text=kk).wait_for()

    console.keyboard.press("c")  # complete the first ticket
    console.locator("#hand-number", has_text="—").wait_for()
    console.locator("[data-action=next]").click()
    console.locator("#hand-number", has_text=kk).wait_for()
    display.locator("#latest-number", has_text=kk).wait_for(timeout=5_000)
    display.wait_for_function("() => window.qmsDisplay.count >= 3 && !window.qmsDisplay.queued")
    assert [n for _, n in announced(display)] == [first, first, kk]

    # 6. The visitor page shows "called", with the counter.
    alert = visitor.get_by_role("alert")
    alert.wait_for(timeout=15_000)
    assert "dipanggil" in alert.inner_text().lower()
    assert "Loket 1" in alert.inner_text()

    # What the pages showed is what the hall's log holds.
    boss = staff(hall, "supervisor")
    tickets = {t["number"]: t for t in boss.get(f"/api/v1/sites/{SITE}/tickets").body["tickets"]}
    assert tickets[first]["state"] == "done" and tickets[first]["recalls"] == 1
    assert tickets[kk]["state"] == "called" and tickets[kk]["counter"] == "L1"
    assert tickets[older_ktp]["state"] == "waiting"
    for errors in (kiosk_errors, console_errors, supervisor_errors, visitor_errors):
        assert quiet(errors) == []
    assert quiet(display_errors) == []
