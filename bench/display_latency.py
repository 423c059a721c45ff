"""Time from an officer's HTTP call to the number painted on the hall display,
with 1 and with 50 displays open (50 pages in one headless Chromium).

A `qms demo` hall (embedded SQLite log) on 127.0.0.1; officer petugas1 at L1 on
one keep-alive HTTP connection. Each press: issue a ticket (kiosk), complete the
ticket in hand, a pause (2 s: the previous call's flash animation is over
and every page is idle), then the timed `call-next`, stamped with time.time()
just before the request is written; each page stamps the moment the number was
painted (the test hook's `paints[].paintedAt`: performance.timeOrigin + now,
after the frame that shows it). The page's clock is put against this process's
clock once per page (the tightest of five round trips; the uncertainty is
reported). Latency = painted - press, over every page and timed press
(--warmup presses excluded). The pages run silent (`voice=none`): sound plays
after the number is on screen and has no part in this time.

    .venv/bin/python bench/display_latency.py                 # 1 and 50 displays
    .venv/bin/python bench/display_latency.py --displays 1,10,50 --presses 50

Bounded: --time-limit s (default 600); the server and Chromium are stopped in
`finally`; talks only to 127.0.0.1; the hall's data is a temporary directory.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path
from typing import Any

from _common import md_table, percentile, revision
from display_common import Desk, clock_offset_ms, hall_and_browser, machine, open_display

RESULTS = Path(__file__).resolve().parent / "results"
FIND = "(v) => window.qmsDisplay.paints.find((p) => p.version === v) || null"
PAUSE_S = 2.0  # between presses: the last call's flash (1.8 s) is over, every page idle


def run(
    hall: Any, browser: Any, desk: Desk, n: int, presses: int, warmup: int, deadline: float
) -> list[Any]:
    pages = [open_display(browser, hall, "&voice=none") for _ in range(n)]
    try:
        offsets = [clock_offset_ms(p) for p in pages]
        latencies: list[float] = []
        received: list[float] = []
        firsts: list[float] = []  # per press, the first page to get the event
        replies: list[float] = []
        for i in range(warmup + presses):
            if time.monotonic() > deadline:
                raise TimeoutError("--time-limit reached")
            desk.issue("ktp")
            desk.complete()
            time.sleep(PAUSE_S)
            pressed = time.time() * 1000
            version, _ = desk.press("call-next")
            replies.append(time.time() * 1000 - pressed)
            painted, got = [], []
            waiting = list(zip(pages, offsets, strict=True))
            until = time.monotonic() + 10
            while waiting:  # read the pages after the fact: polling would load them
                time.sleep(0.3)
                if time.monotonic() > until:
                    raise TimeoutError(f"{len(waiting)} pages never painted {version}")
                for page, offset in list(waiting):
                    paint = page.evaluate(FIND, version)
                    if paint:
                        painted.append(paint["paintedAt"] - offset - pressed)
                        got.append(paint["receivedAt"] - offset - pressed)
                        waiting.remove((page, offset))
            if i >= warmup:
                latencies += painted
                received += got
                firsts.append(min(got))
        latencies.sort()
        received.sort()
        timed = sorted(replies[warmup:])
        return [
            n,
            len(latencies),
            percentile(latencies, 50),
            percentile(latencies, 90),
            percentile(latencies, 99),
            latencies[-1],
            percentile(received, 50),
            percentile(received, 99),
            percentile(sorted(firsts), 50),
            percentile(timed, 50),
        ]
    finally:
        for page in pages:
            page.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--displays", default="1,50", help="comma-separated page counts")
    ap.add_argument("--presses", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--time-limit", type=float, default=600.0)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    deadline = time.monotonic() + args.time_limit
    rows = []
    with sync_playwright() as pw:
        hall, browser, tmp = hall_and_browser(pw)
        try:
            desk = Desk(hall)
            probe = open_display(browser, hall, "&voice=none")
            spread = min(_round_trip(probe) for _ in range(5))
            probe.close()
            for n in (int(x) for x in args.displays.split(",")):
                rows.append(run(hall, browser, desk, n, args.presses, args.warmup, deadline))
                print(rows[-1])
        finally:
            browser.close()
            hall.server.stop()
            shutil.rmtree(tmp, ignore_errors=True)
    table = md_table(
        [
            *("displays", "samples", "painted p50 ms", "p90", "p99", "max"),
            *("event in page p50 ms", "p99", "first page's event p50 ms", "HTTP reply p50 ms"),
        ],
        rows,
    )
    report = (
        f"# Officer's call -> number on the hall display ({time.strftime('%Y-%m-%d %H:%M')})\n\n"
        f"qms {revision()}; {machine()}; `bench/display_latency.py --displays {args.displays}"
        f" --presses {args.presses} --warmup {args.warmup}`\n\n"
        "From just before the officer's `call-next` request is written to the frame that shows"
        " the number, on every page (embedded SQLite log: the call is committed with fsync"
        ' first); "event in page": to the moment the page\'s stream handed the event over.'
        f" Clock comparison uncertainty: +-{spread / 2:.2f} ms.\n\n{table}\n"
    )
    print(report)
    out = args.out or RESULTS / f"{time.strftime('%Y-%m-%d')}-display-latency.md"
    out.write_text(report)
    print(f"written to {out}")


def _round_trip(page: Any) -> float:
    t0 = time.time()
    page.evaluate("() => performance.now()")
    return (time.time() - t0) * 1000


if __name__ == "__main__":
    main()
