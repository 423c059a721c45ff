"""What every page shares, in a real headless Chromium against `qms demo`:
the language switch, and the stream client (static/js/stream.js) following a
site live and resuming across a dropped connection without a gap or a repeat."""

from __future__ import annotations

from typing import Any

from api_client import Api
from browser_support import SITE, watch
from live_hall import LiveHall

STREAM_PROBE = """async ([token, site]) => {
  const css = document.querySelector("link[rel=stylesheet]").href;
  const build = css.split("/static/")[1].split("/")[0];
  const { Stream } = await import(`/static/${build}/js/stream.js`);
  window.seen = []; window.snapshots = []; window.states = [];
  window.stream = new Stream({
    site, audience: "display", token,
    onSnapshot: (view, version) => window.snapshots.push(version),
    onEvent: (msg) => window.seen.push(msg.version),
    onStatus: (s) => window.states.push(s.state),
  }).start();
}"""


def test_language_switch(hall: LiveHall, browser: Any) -> None:
    page = browser.new_page()
    errors = watch(page)
    page.goto(hall.url + "/")
    assert page.locator("html").get_attribute("lang") == "id"
    assert page.get_by_text("Pilih aplikasi:").is_visible()
    page.get_by_role("button", name="English").click()
    assert page.get_by_text("Choose an app:").is_visible()
    assert page.locator("html").get_attribute("lang") == "en"
    page.reload()  # the choice is remembered
    assert page.get_by_text("Choose an app:").is_visible()
    assert errors == []
    page.close()


def test_stream_client_resumes_without_gap_or_repeat(hall: LiveHall, browser: Any) -> None:
    page = browser.new_page()
    errors = watch(page)
    page.goto(hall.url + "/")
    page.evaluate(STREAM_PROBE, [hall.tokens["display"], SITE])
    page.wait_for_function("() => window.states.at(-1) === 'live'")
    assert page.evaluate("window.snapshots.length") == 1

    kiosk = Api(hall.url, token=hall.tokens["kiosk"], origin=None)
    path = f"/api/v1/sites/{SITE}/tickets"
    first = kiosk.post(path, {"service": "ktp"}).body["version"]
    page.wait_for_function(f"() => window.seen.includes({first})")

    # Drop the socket under the client's feet; events written meanwhile arrive
    # after the resume, each exactly once, in order.
    page.evaluate("window.stream.ws.close(4000, 'test drop')")
    versions = [kiosk.post(path, {"service": "kk"}).body["version"] for _ in range(3)]
    page.wait_for_function(f"() => window.seen.includes({versions[-1]})")
    seen = page.evaluate("window.seen")
    assert seen == list(range(seen[0], seen[0] + len(seen)))
    assert page.evaluate("window.snapshots.length") == 1  # a replay, not a new snapshot
    assert "reconnecting" in page.evaluate("window.states") or "offline" in page.evaluate(
        "window.states"
    )
    assert errors == []
    page.close()
