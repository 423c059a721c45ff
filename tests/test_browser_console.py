"""The counter console (static/console.html) in a real headless Chromium against
`qms demo`: an officer signs in, opens L1 and works tickets with buttons and
keys; buttons follow the engine's rules; a press shows "pending" until its event
arrives on the stream; refusals, a taken counter, an ended session and a server
that is down each show a clear message."""

from __future__ import annotations

from typing import Any

import pytest
from api_client import Api
from browser_support import (
    HD,
    PHONE,
    js_errors,
    keep_screenshot,
    open_with_server_down,
    shot,
    watch,
    without_server_down,
)
from live_hall import LiveHall
from staff_pages import (
    L1,
    TICKETS,
    HeldStream,
    counter,
    issue,
    press_until_answered,
    reset_hall,
    sign_in,
    staff,
)

ACTIONS = ("next", "recall", "start", "complete", "noshow", "return", "transfer", "hold")

pytestmark = pytest.mark.timeout(90)


def open_console(
    hall: LiveHall, browser: Any, user: str = "petugas1", **ctx: Any
) -> tuple[Any, Any, list[str], HeldStream]:
    """The console signed in as `user`: its context, the page, the page's errors and its
    stream, routed through the test (passing every message until told to hold)."""
    context = browser.new_context(viewport=HD, **ctx)
    page = context.new_page()
    errors = watch(page)
    stream = HeldStream(page)
    page.goto(hall.url + "/console")
    sign_in(page, user, hall.passwords[user])
    return context, page, errors, stream


@pytest.fixture
def clean(hall: LiveHall) -> Api:
    return reset_hall(hall)


def open_l1(page: Any) -> None:
    page.locator(".counter-choice[data-counter=L1]").click()
    page.locator("[data-action=open]").click()
    wait_state(page, "open")


def wait_state(page: Any, state: str) -> None:
    page.locator(f"#counter-state[data-state={state}]").wait_for()
    page.locator("[data-conn=live]").wait_for()


def in_hand(page: Any, number: str, state: str = "called") -> None:
    page.locator("#hand-number", has_text=number).wait_for()
    page.locator(f"#hand-state[data-state={state}]").wait_for()
    page.locator("#pending").wait_for(state="hidden")


def hand_empty(page: Any) -> None:
    page.locator("#hand-number", has_text="—").wait_for()
    page.locator("#pending").wait_for(state="hidden")


def enabled(page: Any) -> set[str]:
    page.locator("#pending").wait_for(state="hidden")
    return {a for a in ACTIONS if page.locator(f"#actions [data-action={a}]").is_enabled()}


def row(page: Any, where: str, number: str) -> Any:
    return page.locator(f"{where} .ticket-row[data-number={number}]")


def test_officer_works_tickets_with_buttons_and_keys(
    hall: LiveHall, browser: Any, clean: Api
) -> None:
    a, b, c = (issue(hall)["number"] for _ in range(3))
    context, page, errors, _ = open_console(hall, browser)
    open_l1(page)
    for number in (a, b, c):
        row(page, "#waiting", number).wait_for()
    assert enabled(page) == {"next"}
    assert page.locator("[data-action=open]").is_disabled()
    assert page.locator("#actions kbd", has_text="N").is_visible()  # shortcuts on screen

    page.locator("[data-action=next]").click()  # the button
    in_hand(page, a)
    assert row(page, "#waiting", a).count() == 0
    assert enabled(page) == {"recall", "start", "complete", "noshow", "return", "transfer", "hold"}
    assert page.locator("[data-action=pause]").is_disabled()  # not with a ticket in hand
    assert page.locator("[data-action=close]").is_disabled()
    shot(page, "console-called-1920")
    keep_screenshot("console-called-1920", "console")

    page.keyboard.press("r")  # recall
    page.get_by_text("Dipanggil ulang 1").wait_for()
    page.keyboard.press("s")  # start
    in_hand(page, a, "serving")
    assert enabled(page) == {"complete", "return", "transfer", "hold"}
    page.keyboard.press("c")  # complete
    hand_empty(page)

    page.keyboard.press("n")  # next, by key
    in_hand(page, b)
    page.keyboard.press("x")  # no-show
    hand_empty(page)

    page.keyboard.press("n")
    in_hand(page, c)
    page.keyboard.press("k")  # back to the queue (kembali), at its place
    hand_empty(page)
    row(page, "#waiting", c).wait_for()

    row(page, "#waiting", c).get_by_role("button", name="Panggil").click()  # by name
    in_hand(page, c)
    page.keyboard.press("t")  # transfer to another service this counter serves
    dialog = page.locator("#transfer")
    dialog.wait_for()
    dialog.locator("select[name=service]").select_option("kk")
    dialog.get_by_role("button", name="Alihkan").click()
    hand_empty(page)
    row(page, "[data-queue=kk]", c).wait_for()

    row(page, "#waiting", c).get_by_role("button", name="Panggil").click()
    in_hand(page, c)
    page.keyboard.press("h")  # hold: parked, listed apart
    hand_empty(page)
    row(page, "#held", c).wait_for()
    row(page, "#held", c).get_by_role("button", name="Kembalikan").click()
    row(page, "#waiting", c).wait_for()
    assert row(page, "#held", c).count() == 0

    states = {t["number"]: t["state"] for t in clean.get(TICKETS).body["tickets"]}
    assert (states[a], states[b], states[c]) == ("done", "no_show", "waiting")
    page.keyboard.press("p")  # pause, then resume with O
    wait_state(page, "paused")
    assert enabled(page) == set()
    page.keyboard.press("o")
    wait_state(page, "open")
    assert errors == []
    context.close()


def l1_ticket(boss: Api) -> Any:
    return counter(boss)["ticket"]


def test_pending_until_the_event_arrives(hall: LiveHall, browser: Any, clean: Api) -> None:
    number = issue(hall)["number"]
    context, page, errors, stream = open_console(hall, browser)
    open_l1(page)
    row(page, "#waiting", number).wait_for()

    stream.holding = True
    press_until_answered(page, page.locator("[data-action=next]"))
    pending = page.locator("#pending")
    assert "Menunggu konfirmasi" in pending.inner_text()
    assert page.locator("[data-action=next][data-pending]").count() == 1
    # The engine did it (the API says so) and the console has its answer, but it has
    # not seen the event: it does not claim the call, and offers nothing that needs it.
    assert l1_ticket(clean)["number"] == number
    assert page.locator("#hand-number").inner_text() == "—"
    assert page.locator("#pending").is_visible()
    assert page.locator("[data-action=complete]").is_disabled()

    stream.release()
    in_hand(page, number)
    assert js_errors(errors) == []
    context.close()


def test_a_refused_press_shows_the_error_and_changes_nothing(
    hall: LiveHall, browser: Any, clean: Api
) -> None:
    ticket = issue(hall)
    context, page, errors, stream = open_console(hall, browser)
    open_l1(page)
    row(page, "#waiting", ticket["number"]).wait_for()

    # The supervisor cancels the ticket; the page has not heard yet and still lists it.
    stream.holding = True
    assert clean.post(f"{TICKETS}/{ticket['ticket']}/cancel").status == 200
    row(page, "#waiting", ticket["number"]).get_by_role("button", name="Panggil").click()
    page.locator("[data-banner]", has_text="tidak dalam keadaan yang tepat").wait_for()
    page.locator("#pending").wait_for(state="hidden")
    assert page.locator("#hand-number").inner_text() == "—"
    assert l1_ticket(clean) is None  # nothing happened

    stream.release()  # the cancellation arrives: the row goes
    row(page, "#waiting", ticket["number"]).wait_for(state="detached")
    assert enabled(page) == set()  # nothing waits: next is disabled too
    assert js_errors(errors) == []
    context.close()


def test_taken_counter_and_ended_session(hall: LiveHall, browser: Any, clean: Api) -> None:
    context, page, errors, _ = open_console(hall, browser)
    open_l1(page)
    # The supervisor closes L1 and another officer opens it: this console stops (4403).
    assert clean.post(L1 + "/close").status == 200
    wait_state(page, "closed")
    other = staff(hall, "petugas2")
    assert other.post(L1 + "/open").status == 200
    page.locator("[data-banner]", has_text="dipegang oleh petugas2").wait_for()
    page.locator("#counter-state[data-state=taken]").wait_for()
    assert page.locator("[data-action=open]").is_disabled()
    assert enabled(page) == set()
    assert other.post(L1 + "/close").status == 200

    # The session ends (cookie gone): the next press goes back to sign-in, saying why.
    page.locator("[data-action=change]").click()
    page.locator(".counter-choice[data-counter=L1]").click()
    context.clear_cookies()
    page.locator("[data-action=open]").click()
    page.locator("#signin").wait_for()
    page.locator("[data-banner]", has_text="Sesi Anda berakhir").wait_for()
    sign_in(page, "petugas1", hall.passwords["petugas1"])
    page.locator("#counter-state").wait_for()  # back at the remembered counter
    assert page.locator("#counter-title").inner_text().endswith("Loket 1")
    page.locator("#sign-out").click()  # sign out: the form again, and the cookie is gone
    page.locator("#signin").wait_for()
    assert not [c for c in context.cookies() if c["name"] == "qms_session"]
    assert js_errors(errors) == []
    context.close()


def test_bad_credentials_server_down_and_phone(hall: LiveHall, browser: Any, clean: Api) -> None:
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    errors = watch(page)
    stream = HeldStream(page)
    # The server is down (every API call and the stream fail), then comes back.
    open_with_server_down(page, hall.url + "/console", "console-server-down-phone")

    sign_in(page, "petugas1", "not-the-password")
    page.locator("[data-banner]", has_text="Nama pengguna atau kata sandi salah").wait_for()
    assert page.locator("#signin").is_visible()
    sign_in(page, "petugas1", hall.passwords["petugas1"])
    number = issue(hall)["number"]
    open_l1(page)
    page.locator("[data-action=next]").click()
    in_hand(page, number)
    page.evaluate("() => window.scrollTo(0, 0)")
    shot(page, "console-called-phone")
    keep_screenshot("console-called-phone", "console-phone")

    # The server goes away mid-shift: the indicator says so, what is shown is
    # dimmed as maybe stale, and no button can be pressed until it is back.
    stream.down = True
    stream.ws.close(code=1011, reason="test: server down")
    page.locator("[data-conn=offline], [data-conn=reconnecting]").first.wait_for()
    assert page.locator("body[data-stale]").count() == 1
    assert page.locator("[data-action=complete]").is_disabled()
    shot(page, "console-offline-phone")
    stream.down = False
    page.locator("[data-conn=live]").wait_for(timeout=40_000)
    in_hand(page, number)
    assert page.locator("[data-action=complete]").is_enabled()
    assert without_server_down(js_errors(errors)) == []
    context.close()


def test_a_press_whose_answer_was_lost_is_sent_again_as_the_same_command(
    hall: LiveHall, browser: Any, clean: Api
) -> None:
    """The answer to call-next is lost on the way back (the engine called the first
    ticket) and the stream has not told yet: pressed again, the console sends the same
    Idempotency-Key (staff.js Commands), so the server answers that call again instead
    of calling the next ticket too."""
    first, second = issue(hall)["number"], issue(hall)["number"]
    context, page, errors, stream = open_console(hall, browser)
    open_l1(page)
    row(page, "#waiting", second).wait_for()
    keys: list[str] = []

    def lose_the_first_answer(route: Any) -> None:
        keys.append(route.request.headers["idempotency-key"])
        if len(keys) == 1:
            route.fetch()  # the server does it
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/call-next", lose_the_first_answer)
    stream.holding = True
    page.locator("[data-action=next]").click()
    page.locator("[data-banner]", has_text="Server tidak dapat dihubungi").wait_for()
    press_until_answered(page, page.locator("[data-action=next]"))
    assert len(keys) == 2 and keys[0] == keys[1]
    stream.release()
    in_hand(page, first)
    assert l1_ticket(clean)["number"] == first
    row(page, "#waiting", second).wait_for()  # still waiting: called once, not twice
    assert js_errors(errors) == []
    context.close()
