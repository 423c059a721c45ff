"""The hall display after 10,000 calls: memory growth and call-to-screen time.

One display page (static/display.html, default voice pack, rate 4 so the
announcement queue keeps playing) in headless Chromium follows a `qms demo`
hall; officer petugas1 at counter L1 makes the calls over one keep-alive HTTP
connection: per ticket, issue (kiosk), complete, call-next, then --recalls
recalls (a recall is a call to the display: shown, logged and queued for
announcing like the first). Every --every calls the benchmark forces a garbage
collection in the page (CDP HeapProfiler.collectGarbage) and reads
Performance.getMetrics: JS heap used, DOM nodes, event listeners; and the
call-to-screen times of the calls since the last checkpoint, measured in the
page (the test hook's `paints`: event received -> number rendered ->
requestAnimationFrame -> the task after it, i.e. after the frame was painted).

Pass: JS heap growth from the first checkpoint to the last <= 20 MB, and the p50
call-to-screen time of the last window not above the first window's by more
than 25% (+2 ms, the frame grain's noise).

    .venv/bin/python bench/display_memory.py                 # 10,000 calls
    .venv/bin/python bench/display_memory.py --calls 2000 --every 500

Bounded: --time-limit s (default 600); the server and Chromium are stopped in
`finally`; talks only to 127.0.0.1; the hall's data is a temporary directory.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from pathlib import Path

from _common import md_table, percentile, revision
from display_common import Desk, hall_and_browser, machine, open_display

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=10_000)
    ap.add_argument("--every", type=int, default=1_000, help="calls between checkpoints")
    ap.add_argument("--recalls", type=int, default=4, help="recalls per ticket called")
    ap.add_argument("--time-limit", type=float, default=600.0)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    deadline = time.monotonic() + args.time_limit
    with sync_playwright() as pw:
        hall, browser, tmp = hall_and_browser(pw)
        try:
            page = open_display(browser, hall, "&rate=4")
            cdp = page.context.new_cdp_session(page)
            cdp.send("Performance.enable")
            desk = Desk(hall)

            def checkpoint(calls: int, seen: int) -> list[object]:
                page.wait_for_function(f"() => window.qmsDisplay.version >= {last_version}")
                page.wait_for_timeout(100)  # the last frames are painted
                paints = page.evaluate("() => window.qmsDisplay.paints")[-(calls - seen) :]
                window = sorted(p["ms"] for p in paints)
                render = sorted(p["renderMs"] for p in paints)
                cdp.send("HeapProfiler.collectGarbage")
                metrics = {
                    m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]
                }
                heap_mb = metrics["JSHeapUsedSize"] / 2**20
                row = [calls, heap_mb, int(metrics["Nodes"]), int(metrics["JSEventListeners"])]
                row += [percentile(window, 50), percentile(window, 99), max(window or [0])]
                row += [percentile(render, 50), percentile(render, 99)]
                print(" ".join(str(round(v, 2)) if isinstance(v, float) else str(v) for v in row))
                return row

            rows: list[list[object]] = []
            calls = seen = 0
            last_version = 0
            services = ["ktp", "kk"]
            started = time.monotonic()
            while calls < args.calls and time.monotonic() < deadline:
                desk.issue(services[calls % 2])
                desk.complete()
                last_version, _ = desk.press("call-next")
                calls += 1
                for _ in range(args.recalls):
                    if calls % args.every == 0 or calls >= args.calls:
                        break
                    last_version, _ = desk.press("recall")
                    calls += 1
                if calls % args.every == 0 or calls >= args.calls:
                    rows.append(checkpoint(calls, seen))
                    seen = calls
            elapsed = time.monotonic() - started
            announced = page.evaluate("() => window.qmsDisplay.count")
            page.close()
        finally:
            browser.close()
            hall.server.stop()
            shutil.rmtree(tmp, ignore_errors=True)

    growth = float(rows[-1][1]) - float(rows[0][1])  # type: ignore[arg-type]
    # Windows are noisy (a frame is 16.7 ms): compare the first three with the last three.
    p50s = [float(r[4]) for r in rows]  # type: ignore[arg-type]
    first_p50, last_p50 = statistics.median(p50s[:3]), statistics.median(p50s[-3:])
    slower = last_p50 > first_p50 * 1.25 + 2
    ok = growth <= 20 and not slower and calls >= args.calls
    table = md_table(
        [
            *("calls", "JS heap MB (after GC)", "DOM nodes", "listeners"),
            *("to screen p50 ms", "p99", "max", "render p50 ms", "p99"),
        ],
        rows,
    )
    report = (
        f"# Hall display after {calls:,} calls ({time.strftime('%Y-%m-%d %H:%M')})\n\n"
        f"qms {revision()}; {machine()}; `bench/display_memory.py --calls {args.calls}"
        f" --every {args.every} --recalls {args.recalls}`\n\n"
        f"{calls:,} calls in {elapsed:.0f} s ({calls / elapsed:.0f}/s); announcements played"
        f" meanwhile: {announced} (the queue keeps the latest 20).\n"
        "Call-to-screen: event received in the page -> number painted, per window of calls;"
        " render: the synchronous DOM update alone.\n\n"
        f"{table}\n\n"
        f"JS heap growth {growth:+.2f} MB (limit 20); p50 call-to-screen, first three"
        f" windows {first_p50:.2f} ms, last three {last_p50:.2f} ms (limit +25% +2 ms)"
        f": {'PASS' if ok else 'FAIL'}\n"
    )
    print(report)
    out = args.out or RESULTS / f"{time.strftime('%Y-%m-%d')}-display-memory.md"
    out.write_text(report)
    print(f"written to {out}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
