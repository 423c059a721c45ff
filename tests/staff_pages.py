"""Helpers for the staff pages' browser tests (counter console, supervisor):
people and the kiosk through the API, a reset hall, signing in on a page, and a
stream socket routed through the test so that it can hold back events."""

from __future__ import annotations

import json
from typing import Any

from api_client import PASSWORD, Api
from browser_support import HD, SITE, watch
from live_hall import LiveHall

TICKETS = f"/api/v1/sites/{SITE}/tickets"
COUNTERS = f"/api/v1/sites/{SITE}/counters"
L1 = f"{COUNTERS}/L1"


def staff(hall: LiveHall, name: str) -> Api:
    client = Api(hall.url)
    assert client.sign_in(name, hall.passwords[name]).status == 200
    return client


def issue(hall: LiveHall, service: str = "ktp") -> dict[str, Any]:
    kiosk = Api(hall.url, token=hall.tokens["kiosk"], origin=None)
    reply = kiosk.post(TICKETS, {"service": service})
    assert reply.status == 201, reply.body
    return dict(reply.body["ticket"])


def counter(boss: Api, counter_id: str = "L1") -> dict[str, Any]:
    return dict(next(c for c in boss.get(COUNTERS).body["counters"] if c["counter"] == counter_id))


def reset_hall(hall: LiveHall) -> Api:
    """A quiet hall: L1 closed, free and serving ktp and kk; no ticket waiting or held.
    Answers the supervisor's client."""
    boss = staff(hall, "supervisor")
    l1 = counter(boss)
    if l1["ticket"]:
        assert boss.post(L1 + "/complete").status == 200
    if l1["state"] != "closed":
        assert boss.post(L1 + "/close").status == 200
    assert boss.put(L1 + "/services", {"services": ["ktp", "kk"]}).status == 200
    for t in boss.get(TICKETS + "?state=waiting&state=held").body["tickets"]:
        assert boss.post(f"{TICKETS}/{t['ticket']}/cancel").status == 200
    return boss


def served(hall: LiveHall) -> dict[str, Any]:
    """A ktp ticket called, served and completed at L1 by petugas1."""
    reset_hall(hall)
    ticket = issue(hall, "ktp")
    officer = staff(hall, "petugas1")
    assert officer.post(L1 + "/open").status == 200
    assert officer.post(L1 + "/call", {"ticket": ticket["ticket"]}).status == 200
    assert officer.post(L1 + "/start").status == 200
    assert officer.post(L1 + "/complete").status == 200
    return ticket


def press_until_answered(page: Any, button: Any) -> None:
    """Click `button`, which sends a command, and return once the page has taken in
    the command's answer. An accepted command clears the page's error banner (act()
    in console.js and supervisor.js), so a banner put up before the press is hidden
    by then: whatever the page does with the answer alone, it has done."""
    page.evaluate(
        """() => { const b = document.querySelector('[data-banner]');
                   b.textContent = 'test: before the answer'; b.hidden = false; }"""
    )
    button.click()
    page.locator("[data-banner]").wait_for(state="hidden")


def sign_in(page: Any, user: str, password: str) -> None:
    page.locator("#signin input[name=username]").fill(user)
    page.locator("#signin input[name=password]").fill(password)
    page.locator("#signin button[type=submit]").click()


class HeldStream:
    """Routes the page's stream socket through the test, which may hold back events
    or play a server that is down (new connections closed at once)."""

    def __init__(self, page: Any) -> None:
        self.holding = False
        self.held: list[str] = []
        self.ws: Any = None
        self.down = False
        page.route_web_socket("**/stream", self.route)

    def route(self, ws: Any) -> None:
        if self.down:
            ws.close(code=1011, reason="test: server down")
            return
        server = ws.connect_to_server()
        self.ws = ws

        def down(message: str | bytes) -> None:
            is_event = isinstance(message, str) and json.loads(message).get("type") == "event"
            if self.holding and is_event:
                self.held.append(str(message))
            else:
                ws.send(message)

        server.on_message(down)

    def release(self) -> None:
        self.holding = False
        for message in self.held:
            self.ws.send(message)
        self.held.clear()


def reports_page(browser: Any, url: str, query: str) -> tuple[Any, Any, list[str]]:
    """The reports page at `url/reports?query`, signed in as the admin and loaded: its
    context, the page and the page's errors (browser_support.watch)."""
    context = browser.new_context(viewport=HD)
    page = context.new_page()
    errors = watch(page)
    page.goto(f"{url}/reports?{query}")
    page.locator("#signin input[name=username]").fill("admin")
    page.locator("#signin input[name=password]").fill(PASSWORD)
    page.locator("#signin button[type=submit]").click()
    page.locator("#kpi-visits").wait_for()
    page.locator("body[data-loading]").wait_for(state="detached")
    return context, page, errors
