"""The hall display (static/display.html) in a real headless Chromium against `qms demo`.

What a hall needs from it: a call on screen within a second; each call chimed and
spoken once, in order, never over another; a recall said again; a reload or a
reconnect never replaying old calls; zone and agency boards; clear messages for a
missing or revoked token and a server that is down; the "Aktifkan suara" prompt
when the browser blocks sound. The announcements are read through the page's
documented test hook (`window.qmsDisplay`, docs/deploy-display.md).
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_client import Api
from browser_support import (
    ARGS,
    CHROMIUM,
    HD,
    PHONE,
    SITE,
    keep_screenshot,
    shot,
    watch,
    without_server_down,
)
from live_hall import LiveHall, demo_hall

TV720 = {"width": 1280, "height": 720}
RATE = 3  # clips played three times as fast: the same queue, shorter tests
LIVE = "() => document.querySelector('[data-conn]').dataset.conn === 'live'"
P = f"/api/v1/sites/{SITE}"


# --- driving the hall -----------------------------------------------------------------


class Desk:
    """The kiosk and the staff of a hall, over HTTP."""

    def __init__(self, hall: LiveHall) -> None:
        self.hall = hall
        self.kiosk = Api(hall.url, token=hall.tokens["kiosk"], origin=None)
        self.people: dict[str, Api] = {}

    def person(self, name: str) -> Api:
        if name not in self.people:
            client = Api(self.hall.url)
            assert client.sign_in(name, self.hall.passwords[name]).status == 200
            self.people[name] = client
        return self.people[name]

    def issue(self, service: str) -> str:
        reply = self.kiosk.post(f"{P}/tickets", {"service": service})
        assert reply.status == 201, reply.body
        return str(reply.body["ticket"]["number"])

    def marker(self) -> int:
        """Issue a ticket as a marker; its event's version. Every display sees a
        ticket issued (its waiting counts change) and none says it."""
        reply = self.kiosk.post(f"{P}/tickets", {"service": "ktp"})
        assert reply.status == 201, reply.body
        return int(reply.body["version"])

    def counter(self, officer: str, counter: str, action: str) -> Any:
        reply = self.person(officer).post(f"{P}/counters/{counter}/{action}", {})
        assert reply.status == 200, reply.body
        return reply.body

    def open(self, officer: str, counter: str) -> None:
        # the module's hall is shared: a counter may be open from an earlier test
        self.person(officer).post(f"{P}/counters/{counter}/open", {})

    def call(self, officer: str, counter: str, service: str) -> tuple[str, int]:
        """Issue a ticket and call the next one at `counter` (after finishing the one in hand).

        The hall is shared by the module's tests: the ticket called may be an older one."""
        self.issue(service)
        self.person(officer).post(f"{P}/counters/{counter}/complete", {})
        done = self.counter(officer, counter, "call-next")
        return str(done["counter"]["ticket"]["number"]), int(done["version"])

    def broadcast(self, text: str, zone: str = "") -> int:
        reply = self.person("supervisor").post(f"{P}/broadcast", {"text": text, "zone": zone})
        assert reply.status == 200, reply.body
        return int(reply.body["version"])


@pytest.fixture(scope="module")
def desk(hall: LiveHall) -> Desk:
    return Desk(hall)


def display(browser: Any, hall: LiveHall, viewport: dict[str, int] = HD, **params: Any) -> Any:
    query = "&".join(f"{k}={v}" for k, v in {"token": hall.tokens["display"], **params}.items())
    page = browser.new_page(viewport=viewport)
    page.errors = watch(page)
    page.goto(f"{hall.url}/display?{query}")
    page.wait_for_function(LIVE)
    return page


def announced(page: Any) -> list[dict[str, Any]]:
    return list(page.evaluate("() => window.qmsDisplay.announced"))


def wait_announced(page: Any, count: int, timeout: float = 20_000) -> list[dict[str, Any]]:
    page.wait_for_function(f"() => window.qmsDisplay.count >= {count}", timeout=timeout)
    return announced(page)


def taken_in(page: Any, version: int) -> None:
    """Wait until the display has taken in the event of `version`. Events come in
    version order and a call is queued as its event is taken in, so a call wrongly
    said before it is counted in `count + queued` by then."""
    page.wait_for_function(f"() => window.qmsDisplay.version >= {version}")


def said(page: Any) -> int:
    """The calls said, being said or waiting to be said."""
    return int(page.evaluate("() => window.qmsDisplay.count + window.qmsDisplay.queued"))


def latest(page: Any) -> str:
    return str(page.locator("#latest-number").text_content())


def assert_in_order_never_overlapping(entries: list[dict[str, Any]]) -> None:
    for entry in entries:
        assert entry.get("error") is None, entry
        assert entry["played"][0] == "chime", entry  # the chime first, then the words
        assert entry["played"][1] == "nomor antrean", entry
    for a, b in itertools.pairwise(entries):
        assert a["version"] < b["version"]
        assert a["endedAt"] <= b["startedAt"], (a, b)


# --- tests ------------------------------------------------------------------------------


def test_call_on_screen_within_a_second_and_said_once(
    hall: LiveHall, desk: Desk, browser: Any
) -> None:
    page = display(browser, hall, rate=RATE)
    assert page.url == f"{hall.url}/display?rate={RATE}"  # the token left the address bar
    desk.open("petugas1", "L1")
    desk.open("petugas2", "L2")

    number, version = desk.call("petugas1", "L1", "ktp")
    start = time.monotonic()
    page.wait_for_function(
        "(n) => document.querySelector('#latest-number')?.textContent === n", arg=number
    )
    assert time.monotonic() - start < 1.0
    assert page.locator("#latest-counter").text_content() == "Loket 1"
    assert number in str(page.locator("#live-region").text_content())  # ARIA live region

    [first] = wait_announced(page, 1)
    digits = {"0": "nol", "1": "satu", "2": "dua", "3": "tiga", "4": "empat", "5": "lima"}
    digits |= {"6": "enam", "7": "tujuh", "8": "delapan", "9": "sembilan"}
    words = [number[0], *(digits[d] for d in number[1:])]
    assert first["version"] == version
    assert first["played"] == ["chime", "nomor antrean", *words, "silakan menuju", "loket", "satu"]
    assert first["text"] == f"nomor antrean {' '.join(words)}, silakan menuju loket satu"

    # Two quick calls queue behind each other; a recall is said again.
    _, v2 = desk.call("petugas1", "L1", "ktp")
    number3, v3 = desk.call("petugas2", "L2", "kk")
    recall = desk.counter("petugas2", "L2", "recall")
    entries = wait_announced(page, 4)
    assert [e["version"] for e in entries] == [version, v2, v3, recall["version"]]
    assert entries[3]["number"] == number3 and entries[3]["counter"] == "L2"
    assert_in_order_never_overlapping(entries)
    assert page.locator("body").get_attribute("data-announced") == " ".join(
        str(e["version"]) for e in entries
    )
    shot(page, "display-1920x1080")

    # A reload (its token now in local storage) replays nothing: the board is redrawn,
    # not one call is said.
    page.reload()
    page.wait_for_function(LIVE)
    assert latest(page) == number3
    taken_in(page, desk.marker())
    assert said(page) == 0
    assert page.errors == []
    page.close()


def test_number_speller(hall: LiveHall, browser: Any) -> None:
    page = display(browser, hall)
    result = page.evaluate(
        """async () => {
      const base = new URL('..', document.querySelector('script[type=module]').src).pathname;
      const s = await import(base + 'js/speech_id.js');
      const manifest = await (await fetch(base + 'voice/id/manifest.json')).json();
      const cases = [0, 1, 9, 10, 11, 12, 19, 20, 21, 45, 99, 100, 101, 110, 111, 115, 120,
                     200, 999, 1000, 1001, 1100, 2024, 12345];
      const missing = [];  // every word of every number up to 9999 has a clip
      for (let n = 0; n < 10000; n++)
        for (const w of s.numberWords(n)) if (!(w in manifest.clips)) missing.push([n, w]);
      return {
        numbers: Object.fromEntries(cases.map((n) => [n, s.numberWords(n).join(' ')])),
        digits: s.ticketWords('A001').join(' '),
        asNumber: s.ticketWords('A001', 'number').join(' '),
        ten: s.ticketWords('B010', 'number').join(' '),
        dashed: s.ticketWords('ab-12').join(' '),
        counter: s.counterWords('Loket 10', 'L10').join(' '),
        unnumbered: s.counterWords('Meja Informasi', 'MI').join(' '),
        call: s.sentence(s.callWords('A001', 'Loket 3', 'L3')),
        letters: 'ABCDEFGHIJKLMNOPQRSTUVWXYZ'.split('').every((l) => l in manifest.clips),
        missing,
      };
    }"""
    )
    assert result["numbers"] == {
        "0": "nol",
        "1": "satu",
        "9": "sembilan",
        "10": "sepuluh",
        "11": "sebelas",
        "12": "dua belas",
        "19": "sembilan belas",
        "20": "dua puluh",
        "21": "dua puluh satu",
        "45": "empat puluh lima",
        "99": "sembilan puluh sembilan",
        "100": "seratus",
        "101": "seratus satu",
        "110": "seratus sepuluh",
        "111": "seratus sebelas",
        "115": "seratus lima belas",
        "120": "seratus dua puluh",
        "200": "dua ratus",
        "999": "sembilan ratus sembilan puluh sembilan",
        "1000": "seribu",
        "1001": "seribu satu",
        "1100": "seribu seratus",
        "2024": "dua ribu dua puluh empat",
        "12345": "dua belas ribu tiga ratus empat puluh lima",
    }
    assert result["digits"] == "A nol nol satu"
    assert result["asNumber"] == "A satu"
    assert result["ten"] == "B sepuluh"
    assert result["dashed"] == "A B satu dua"
    assert result["counter"] == "sepuluh"
    assert result["unnumbered"] == "M I"
    assert result["call"] == "nomor antrean A nol nol satu, silakan menuju loket tiga"
    assert result["letters"] is True
    assert result["missing"] == []
    page.close()


def test_read_as_number(hall: LiveHall, desk: Desk, browser: Any) -> None:
    # voice=browser: headless Chromium has no Indonesian voice, so the clips speak
    page = display(browser, hall, rate=RATE, read="number", voice="browser")
    desk.open("petugas2", "L2")
    number, _ = desk.call("petugas2", "L2", "akta")
    [entry] = wait_announced(page, 1)
    spoken = page.evaluate(
        """async (n) => {
      const base = new URL('..', document.querySelector('script[type=module]').src).pathname;
      return (await import(base + 'js/speech_id.js')).ticketWords(n, 'number');
    }""",
        number,
    )
    assert page.evaluate("() => speechSynthesis.getVoices().length") == 0
    assert entry["played"][:2] == ["chime", "nomor antrean"]
    assert entry["played"][2:-3] == spoken
    assert "nol" not in spoken  # "C satu", not "C nol nol satu"
    assert page.errors == []
    page.close()


def test_zone_and_agency_boards(hall: LiveHall, desk: Desk, browser: Any) -> None:
    zone_a = display(browser, hall, rate=RATE, zone="A")
    samsat = display(browser, hall, rate=RATE, agency="samsat", lang="en")
    desk.open("petugas1", "L1")
    desk.open("petugas3", "L6")  # zone C, Samsat

    samsat_number, v_samsat = desk.call("petugas3", "L6", "pkb")
    ktp_number, v_ktp = desk.call("petugas1", "L1", "ktp")
    everywhere = desk.broadcast("Loket Samsat buka sampai 15.00")  # after both calls
    desk.broadcast("Zona A: antrean KTP-el dipercepat", zone="A")

    zone_a.wait_for_function(
        "(n) => window.qmsDisplay.announced.at(-1)?.number === n", arg=ktp_number
    )
    samsat.wait_for_function("(n) => window.qmsDisplay.count >= 1", arg=samsat_number)
    taken_in(zone_a, everywhere)
    taken_in(samsat, everywhere)
    assert said(zone_a) == 1 and said(samsat) == 1
    assert [e["version"] for e in announced(zone_a)] == [v_ktp]
    assert [e["version"] for e in announced(samsat)] == [v_samsat]
    assert latest(zone_a) == ktp_number and latest(samsat) == samsat_number

    rows = zone_a.locator("#counters li").evaluate_all("rs => rs.map(r => r.dataset.counter)")
    assert "L1" in rows and "L6" not in rows
    services = zone_a.locator("#queues tr").evaluate_all("rs => rs.map(r => r.dataset.service)")
    assert set(services) == {"ktp", "kk", "akta"}
    assert zone_a.locator("#scope").text_content() == "Zona A"

    rows = samsat.locator("#counters li").evaluate_all("rs => rs.map(r => r.dataset.counter)")
    assert rows == ["L6"]
    services = samsat.locator("#queues tr").evaluate_all("rs => rs.map(r => r.dataset.service)")
    assert set(services) == {"pkb", "bbn"}
    assert samsat.get_by_text("Now calling").is_visible()  # ?lang=en

    zone_a.wait_for_function(
        "() => document.querySelector('#marquee-text').textContent.includes('Zona A:')"
    )
    marquee = str(zone_a.locator("#marquee-text").text_content())
    assert "Samsat buka" in marquee and "Zona A:" in marquee
    marquee = str(samsat.locator("#marquee-text").text_content())
    assert "Samsat buka" in marquee and "Zona A:" not in marquee
    shot(samsat, "display-agency-en-1920x1080")
    desk.broadcast("")
    desk.broadcast("", zone="A")
    zone_a.wait_for_function("() => document.querySelector('#marquee').hidden")
    assert zone_a.errors == [] and samsat.errors == []
    zone_a.close()
    samsat.close()


def test_layouts(hall: LiveHall, desk: Desk, browser: Any) -> None:
    desk.open("petugas1", "L1")
    desk.open("petugas2", "L2")
    for _ in range(3):
        desk.call("petugas1", "L1", "ktp")
        desk.call("petugas2", "L2", "kk")
    for service in ("ktp", "kk", "akta", "nib", "paspor"):
        desk.issue(service)
    desk.broadcast("Selamat datang di Mal Pelayanan Publik Kota Bengkulu")
    for name, viewport in (("1920x1080", HD), ("1280x720", TV720), ("phone", PHONE)):
        page = display(browser, hall, viewport=viewport, voice="none")
        page.wait_for_function("() => !document.querySelector('#marquee').hidden")
        box = page.locator("#latest-number").bounding_box()
        assert box and box["y"] + box["height"] <= viewport["height"]
        if viewport is not PHONE:  # a TV shows everything on one screen, no scrolling
            assert (
                page.evaluate("() => document.documentElement.scrollHeight") <= viewport["height"]
            )
            assert page.locator("#counters li").count() >= 2
            clipped = """() => [...document.querySelectorAll('#counters li, #queues tr')].filter(
                (el) => el.getBoundingClientRect().bottom >
                        el.closest('.d-panel').getBoundingClientRect().bottom + 1).length"""
            assert page.evaluate(clipped) == 0  # every counter and service in sight
            assert page.locator("#recent li").count() >= 2
        shot(page, f"display-layout-{name}")
        if name != "1280x720":
            keep_screenshot(
                f"display-layout-{name}", "display" + ("-phone" if name == "phone" else "")
            )
        assert page.errors == []
        page.close()
    desk.broadcast("")


def test_missing_and_bad_token(hall: LiveHall, browser: Any) -> None:
    page = browser.new_page(viewport=HD)
    errors = watch(page)
    page.goto(f"{hall.url}/display")
    banner = page.locator("[data-banner]")
    banner.get_by_text("belum punya token perangkat").wait_for()
    assert page.locator("#board").is_hidden()
    shot(page, "display-no-token")
    page.goto(f"{hall.url}/display?token=qmsd_not-a-real-token")
    banner.get_by_text("tidak berlaku").wait_for()
    assert page.locator("[data-conn]").get_attribute("data-conn") == "unauthorised"
    shot(page, "display-bad-token")
    # a 401 is an answer, not a page error; nothing else may have gone wrong
    assert [e for e in errors if "401" not in e] == []
    page.close()


def test_server_down_at_load_then_back(hall: LiveHall, browser: Any) -> None:
    page = browser.new_page(viewport=HD)
    errors = watch(page)
    # The page came from the server, then the server stopped answering.
    page.route("**/api/v1/device", lambda route: route.abort())
    page.goto(f"{hall.url}/display?token={hall.tokens['display']}")
    page.locator("[data-banner]").get_by_text("tidak dapat dihubungi").wait_for()
    shot(page, "display-server-down")
    page.unroute("**/api/v1/device")
    page.wait_for_function(LIVE, timeout=10_000)
    assert page.locator("[data-banner]").is_hidden()
    assert [e for e in errors if "ERR_FAILED" not in e] == []
    page.close()


@pytest.fixture(scope="module")
def own_hall(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveHall]:
    """A hall of this module's own, to restart and to revoke devices in (re-checked each second)."""
    with demo_hall(
        tmp_path_factory.mktemp("own") / "data", env={"QMS_STREAM_REAUTH_S": "1"}
    ) as hall:
        yield hall


def test_reconnects_after_restart_and_network_loss_without_replay(
    own_hall: LiveHall, browser: Any
) -> None:
    hall, desk = own_hall, Desk(own_hall)
    page = display(browser, hall, rate=RATE)
    desk.open("petugas1", "L1")
    _, v1 = desk.call("petugas1", "L1", "ktp")
    wait_announced(page, 1)

    # The server restarts: the board says it is stale, then catches up by itself.
    hall.server.stop()
    page.wait_for_function("() => document.body.hasAttribute('data-stale')")
    page.locator("[data-banner]").get_by_text("Terputus dari server").wait_for()
    shot(page, "display-offline")
    hall.server.start()
    desk.people.clear()  # sessions survive a restart, but be plain about it
    number2, v2 = desk.call("petugas1", "L1", "ktp")  # likely before the display is back
    page.wait_for_function(LIVE, timeout=40_000)
    page.wait_for_function(
        "(n) => document.querySelector('#latest-number')?.textContent === n", arg=number2
    )
    assert not page.evaluate("() => document.body.hasAttribute('data-stale')")

    # The network drops; calls made meanwhile come back as a replay...
    page.evaluate("() => window.qmsDisplay.stream.stop()")
    _, v3 = desk.call("petugas1", "L1", "ktp")
    page.evaluate("() => window.qmsDisplay.stream.start()")
    # ...or as a snapshot (as after the log was recreated): its missed calls only.
    wait_announced(page, 3)
    page.evaluate("() => window.qmsDisplay.stream.stop()")
    _, v4 = desk.call("petugas1", "L1", "ktp")
    recall = desk.counter("petugas1", "L1", "recall")
    page.evaluate("() => { const s = window.qmsDisplay.stream; s.epoch = 'gone'; s.start(); }")
    entries = wait_announced(page, 4)
    taken_in(page, desk.marker())
    assert said(page) == 4
    # A004 was called and recalled while the display was away: said once, as recalled.
    assert [e["version"] for e in announced(page)] == [v1, v2, v3, recall["version"]]
    assert v4 in page.evaluate("() => window.qmsDisplay.calls.map((c) => c.version)")
    assert_in_order_never_overlapping(announced(page))
    assert without_server_down(page.errors) == []
    assert entries
    page.close()


def test_revoked_display_says_so(own_hall: LiveHall, browser: Any) -> None:
    hall = own_hall
    admin = Desk(hall).person("admin")
    added = admin.post("/api/v1/devices", {"kind": "display", "site": SITE, "zone": "B"})
    assert added.status == 201, added.body
    token, device = added.body["token"], added.body["device"]["device"]
    page = browser.new_page(viewport=HD)
    errors = watch(page)
    page.goto(f"{hall.url}/display?token={token}")
    page.wait_for_function(LIVE)
    assert page.locator("#scope").text_content() == "Zona B"  # the device's zone

    assert admin.delete(f"/api/v1/devices/{device}").status == 200
    page.wait_for_function(
        "() => document.querySelector('[data-conn]').dataset.conn === 'unauthorised'",
        timeout=10_000,
    )
    page.locator("[data-banner]").get_by_text("tidak berlaku").wait_for()
    page.reload()  # and after a reload too: the device check refuses it
    page.locator("[data-banner]").get_by_text("tidak berlaku").wait_for()
    assert [e for e in errors if "401" not in e] == []
    page.close()


def test_autoplay_blocked_prompt(hall: LiveHall, desk: Desk, browser: Any, tmp_path: Path) -> None:
    env = {**os.environ, "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "c")}
    env["XDG_CACHE_HOME"] = str(tmp_path / "k")
    args = [a for a in ARGS if not a.startswith("--autoplay-policy")]
    # Chromium as a desktop starts it: sound waits for a user gesture.
    strict = browser.browser_type.launch(executable_path=CHROMIUM, args=args, env=env)
    try:
        page = strict.new_page(viewport=HD)
        errors = watch(page)
        page.goto(f"{hall.url}/display?token={hall.tokens['display']}&rate={RATE}")
        page.wait_for_function(LIVE)
        prompt = page.get_by_role("button", name="Aktifkan suara")
        prompt.wait_for()  # shown by the page's own script: nothing was clicked yet
        shot(page, "display-enable-sound")
        desk.open("petugas1", "L1")
        number, version = desk.call("petugas1", "L1", "kk")
        page.wait_for_function(
            "(n) => document.querySelector('#latest-number')?.textContent === n", arg=number
        )
        # Held, not lost: queued, and not being played (a play starts as the call is
        # queued, which was done when it was drawn).
        held = "() => ((a) => [a.count, a.queue.length, a.busy])(window.qmsDisplay.announcer)"
        assert page.evaluate(held) == [0, 1, False]
        prompt.click()
        [entry] = wait_announced(page, 1)
        assert entry["version"] == version and entry["played"][0] == "chime"
        assert page.locator("#sound").is_hidden()
        assert errors == []
    finally:
        strict.close()


def test_set_up_change_refreshes_the_board_without_replaying(
    hall: LiveHall, desk: Desk, browser: Any
) -> None:
    """A set-up event (here a counter renamed) makes the display take a fresh
    snapshot: the board shows the new name at once, and no call is said again."""
    page = display(browser, hall, rate=RATE)
    desk.open("petugas1", "L1")
    desk.call("petugas1", "L1", "ktp")
    wait_announced(page, 1)
    boss = desk.person("supervisor")
    l1 = next(c for c in boss.get(f"{P}").body["counters"] if c["counter"] == "L1")
    renamed = {"name": "Loket Satu", "zone": l1.get("zone", ""), "services": l1["services"]}
    try:
        assert boss.put(f"{P}/counters/L1", renamed).status == 200
        page.get_by_text("Loket Satu").first.wait_for(timeout=10_000)
        page.wait_for_function(LIVE)
        taken_in(page, desk.marker())
        assert said(page) == 1
    finally:
        assert boss.put(f"{P}/counters/L1", {**renamed, "name": l1["name"]}).status == 200
    assert page.errors == []


def test_after_a_disconnect_every_missed_call_is_shown_and_only_the_still_called_said(
    hall: LiveHall, desk: Desk, browser: Any
) -> None:
    """Issue 12 §1: a display that was away shows every call it missed, says only
    those whose ticket is still called (oldest first), and says when it resynced."""
    page = display(browser, hall, rate=RATE)
    desk.open("petugas1", "L1")
    desk.call("petugas1", "L1", "ktp")
    spoken = len(wait_announced(page, 1))

    def away_then_back(resume: str) -> tuple[list[str], int]:
        page.evaluate("() => window.qmsDisplay.stream.stop()")
        made = [desk.call("petugas1", "L1", "ktp") for _ in range(3)]  # the first two end done
        if resume == "snapshot":
            page.evaluate("() => { window.qmsDisplay.stream.wantSnapshot = true; }")
        page.evaluate("() => window.qmsDisplay.stream.start()")
        page.wait_for_function(LIVE)
        page.wait_for_function(f"() => window.qmsDisplay.version >= {made[-1][1]}")
        return [n for n, _ in made], made[-1][1]

    for resume in ("replay", "snapshot"):
        numbers, still_called = away_then_back(resume)
        entries = wait_announced(page, spoken + 1)
        taken_in(page, desk.marker())
        assert said(page) == spoken + 1
        assert [e["version"] for e in entries[spoken:]] == [still_called], resume
        spoken += 1
        missed = page.locator("#missed li .d-num").all_text_contents()
        assert missed == numbers, resume  # every missed call is on the board
        assert page.locator("#missed-box").is_visible()
        history = page.evaluate("() => window.qmsDisplay.calls.map((c) => c.number)")
        assert history[-3:] == numbers
        assert page.locator("#resynced").is_hidden()
    shot(page, "display-missed-calls")

    # History the server could not recover (another incarnation of the log): said so.
    page.evaluate("() => window.qmsDisplay.stream.stop()")
    page.evaluate("() => { const s = window.qmsDisplay.stream; s.epoch = 'gone'; s.start(); }")
    page.locator("#resynced").wait_for(state="visible", timeout=10_000)
    assert "disinkronkan ulang" in str(page.locator("#resynced").text_content())
    assert page.errors == []
    page.close()
