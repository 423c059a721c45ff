"""Memory per idle websocket connection: qms's stream and python-socketio, side by side.

For each system (a real `qms serve` on the embedded SQLite log with the test hall,
and bench/peer_socketio.py with AsyncRedisManager), with the clients and servers
of bench/stream_latency.py:

1. start the server; warm it up: 50 clients connect, two messages are broadcast,
   the clients leave (so lazily loaded code and first-use caches are not counted);
2. read the server process's VmRSS (/proc/PID/status) = the baseline;
3. open display connections in steps up to N (default 1,000 / 2,500 / 5,000),
   each step in its own client processes; after each step wait until every
   client is past its hello (qms: welcome + snapshot; socketio: connected to "/"),
   let the server settle 3 s, read VmRSS;
4. broadcast one message to all N, wait, read VmRSS again (connections that have
   sent a frame: websocket buffers and, with permessage-deflate, the compressor
   state are touched).

Reported: RSS growth / N at each step (KiB per connection, 1 KiB = 1,024 bytes)
and the slope between steps. The clients send a browser's handshake headers
(the server keeps them for the connection's lifetime). --deflate makes them offer
permessage-deflate as a browser does: `qms serve` declines it; uvicorn under
socketio accepts it and then keeps a zlib compressor and decompressor per
connection.

    .venv/bin/python bench/stream_memory.py                     # N up to 5,000, both systems
    .venv/bin/python bench/stream_memory.py --deflate
    .venv/bin/python bench/stream_memory.py --steps 1000 --systems qms

Bounded: deadlines on every wait, --time-limit for the run; everything stopped in
`finally`; Redis keys deleted. Talks only to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REDIS_URL, load_average, log, machine_info, md_table, rss_kib, stop_on_sigterm
from stream_fleet import ClientFleet
from stream_targets import FALLBACK, QmsTarget, SioTarget

TARGET_KIB = 30


def settle_rss(pid: int, seconds: float = 3.0) -> int:
    """VmRSS after `seconds` of quiet (the last of a few readings)."""
    time.sleep(seconds)
    return rss_kib(pid)


def measure(target: Any, steps: list[int], args: argparse.Namespace) -> dict[str, Any]:
    row: dict[str, Any] = {"system": target.label, "steps": [], "error": ""}
    fleets: list[ClientFleet] = []
    try:
        log(f"{target.label}: starting the server")
        target.start(5)
        # warm-up
        warm = ClientFleet(target.client_spec(50, args), 1)
        fleets.append(warm)
        warm.start()
        for i in range(2):
            target.before_press(-1 - i)
            time.sleep(0.2)
            target.press(-1 - i)
            time.sleep(0.2)
        warm.stop()
        fleets.remove(warm)
        row["base_kib"] = base = settle_rss(target.pid)
        log(f"{target.label}: baseline RSS {base / 1024:.1f} MiB")
        opened = 0
        for n in steps:
            more = n - opened
            fleet = ClientFleet(target.client_spec(more, args), args.client_procs)
            fleets.append(fleet)
            ready = fleet.start()
            opened += ready["ready"]
            if ready["errors"] or ready["closed"]:
                row["error"] += f"at N={n}: {ready['errors']} {ready['closed']}; "
            rss = settle_rss(target.pid)
            row["steps"].append((opened, rss))
            log(
                f"{target.label}: {opened} open, RSS {rss / 1024:.1f} MiB, "
                f"{(rss - base) / max(1, opened):.1f} KiB/connection"
            )
        target.touch()
        target.before_press(0)
        time.sleep(1.0)
        target.press(0)
        row["after_kib"] = settle_rss(target.pid)
        row["open"] = opened
        closed: dict[str, int] = {}
        for fleet in fleets:
            got = fleet.collect()
            for k, v in got["closed"].items():
                closed[k] = closed.get(k, 0) + v
        if closed:
            row["error"] += f"clients closed by the server: {closed}; "
    except Exception as exc:
        row["error"] += f"{type(exc).__name__}: {exc}"
        log(f"{target.label}: FAILED {row['error']}")
    finally:
        for fleet in fleets:
            with contextlib.suppress(Exception):
                fleet.stop()
        target.stop()
    return row


def main() -> int:
    stop_on_sigterm()
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", default="1000,2500,5000", help="connections open at each step")
    ap.add_argument("--systems", default="qms,socketio",
                    help="qms, socketio, socketio-local (no Redis manager)")  # fmt: skip
    ap.add_argument("--client-procs", type=int, default=2)
    ap.add_argument("--clients", choices=["raw", "lean", "library"], default="raw")
    ap.add_argument("--deflate", action="store_true", help="clients offer permessage-deflate")
    ap.add_argument("--time-limit", type=float, default=900)
    args = ap.parse_args()
    steps = [int(s) for s in args.steps.split(",")]
    deadline = time.monotonic() + args.time_limit
    rows = []
    print(f"load average before: {load_average()}", file=sys.stderr)
    print("Machine: " + "; ".join(f"{k} {v}" for k, v in machine_info().items()) + "\n")
    print("Command: " + " ".join([".venv/bin/python", *sys.argv]) + "\n")
    with tempfile.TemporaryDirectory(prefix="qmsbench-mem-") as tmp:
        for system in args.systems.split(","):
            if time.monotonic() > deadline:
                log("time limit reached")
                break
            workdir = Path(tmp) / system
            if system == "qms":
                target: Any = QmsTarget(workdir, None, "qms")
            else:
                redis = REDIS_URL if system == "socketio" else None
                target = SioTarget(workdir, redis, system, dict(FALLBACK))
            rows.append(measure(target, steps, args))
    table = []
    for row in rows:
        base = row.get("base_kib", 0)
        prev_n, prev_rss = 0, base
        for n, rss in row["steps"]:
            slope = (rss - prev_rss) / max(1, n - prev_n)
            table.append(
                [
                    row["system"], n, base / 1024, rss / 1024, (rss - base) / max(1, n), slope,
                    "met" if (rss - base) / max(1, n) <= TARGET_KIB else "not met",
                ]
            )  # fmt: skip
            prev_n, prev_rss = n, rss
        if "after_kib" in row:
            n = row["open"]
            after = row["after_kib"]
            table.append(
                [f"{row['system']} after 1 broadcast", n, base / 1024, after / 1024,
                 (after - base) / max(1, n), float("nan"), ""]
            )  # fmt: skip
    headers = [
        "system", "open connections", "baseline MiB", "RSS MiB", "KiB / connection",
        "KiB / connection since previous step", f"target <= {TARGET_KIB} KiB",
    ]  # fmt: skip
    print(md_table(headers, table))
    print()
    print(
        f"Clients: {args.clients}, {args.client_procs} processes per step, permessage-deflate "
        + ("offered" if args.deflate else "not offered")
        + "."
    )
    errors = [f"- {r['system']}: {r['error']}" for r in rows if r["error"]]
    print("\nFailures and warnings:\n\n" + ("\n".join(errors) if errors else "- none"))
    print(f"load average after: {load_average()}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
