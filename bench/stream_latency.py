"""Press-to-display latency of the live server, side by side with python-socketio.

For each N (number of display connections) and each system, in this order:

- **qms** (`qms serve`, a real process started by tests/live_server.py, embedded
  SQLite log; with --redis-log also the Redis log): a hall set up over the HTTP
  API (tests/live_hall.py `live_hall`), officer "budi" signed in and holding
  counter L1; N display websockets (device token, audience display) in
  --client-procs other processes, each past its hello and snapshot. The officer
  presses on ONE keep-alive HTTP connection: `complete`, a pause, then
  `call-next` (the timed press), a pause (see below). The press is stamped with
  `time.monotonic()` just before the request is written; every client stamps the
  arrival of the `ticket_called` event of that version with `time.monotonic()`
  (CLOCK_MONOTONIC, one clock for every process on Linux) as soon as its socket
  is known to be readable, before it parses anything.
- **socketio** (bench/peer_socketio.py: `socketio.AsyncServer` +
  `AsyncRedisManager` on the same Redis, ASGI under uvicorn with the same uvicorn
  settings as qms): the same N clients in the same number of processes; the
  trigger is one keep-alive HTTP POST /emit that makes the server `emit` to every
  client, twice per cycle like qms (a "done" message, the pause, the timed "call"
  message, the pause). The payloads are qms's own display frames of that run
  (`ticket_completed` and `ticket_called`), so the JSON is the same size.

Latency = arrival - press, over every client and every timed press (warm-up
presses excluded); p50/p90/p99/max, the first arrival per press (min), the HTTP
round trip of the press, CPU of the server and of the clients per press, and
every failure: missing deliveries, gaps, disconnects with their close codes.

Clients (--clients): by default `raw`: one epoll loop per client process, no
asyncio and no websocket library (the handshake with a browser's headers, then
unmasked server frames parsed by hand); every socket that one poll reports
readable is stamped with the time that poll returned, so an arrival is not
delayed by the processing of the others of its batch, and the client side costs
less per message than the server side. `lean` is websockets' sans-I/O protocol on
asyncio (used for --deflate, which needs a decompressor); `library` uses the
libraries' own clients (`websockets.asyncio.client` for qms, `socketio.AsyncClient`
with the websocket transport for socketio) and stamps when the library hands the
message over. --deflate makes the clients offer permessage-deflate as a browser
does (`qms serve` declines it; uvicorn under socketio accepts it). The pause
after each message is twice the slowest drain of the warm-up (+10 ms), so the
system is idle when the next press comes; presses whose delivery overlapped a
heartbeat burst are counted.

    .venv/bin/python bench/stream_latency.py                          # N = 100,1000,5000
    .venv/bin/python bench/stream_latency.py --sizes 100 --presses 50 --systems qms
    .venv/bin/python bench/stream_latency.py --redis-log --deflate
    .venv/bin/python bench/stream_latency.py --systems qms --gc-log gc.txt   # full GCs vs presses
    .venv/bin/python bench/stream_latency.py --sizes 1000 --profile prof/   # py-spy the servers

Diagnostics and what-ifs: --gc-log and --gc-freeze put a sitecustomize of the
benchmark's own on the qms servers' PYTHONPATH (logging every full garbage
collection; calling gc.freeze() every S seconds); --qms-env passes settings
such as QMS_STREAM_HEARTBEAT_S; --profile runs `py-spy record` on the server
during the timed presses (raw collapsed stacks).

Bounded: every wait has a deadline, the whole run stops after --time-limit s;
servers and client processes are stopped in `finally`; Redis keys (qms's log
prefix) are deleted; socketio uses a pub/sub channel of its own (no keys).
Talks only to 127.0.0.1.

The parts: ws_frames.py (the one websocket frame parser), stream_clients.py (what
every client kind shares), stream_raw_client.py and stream_asyncio_clients.py
(the client kinds), stream_fleet.py (the client processes), stream_targets.py
(the servers and their press), stream_measure.py (one measured run); this file
is the command line and the report.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for p in (HERE, ROOT / "tests"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from _common import (  # noqa: E402
    REDIS_URL,
    delete_prefix,
    load_average,
    log,
    machine_info,
    md_table,
    percentile,
    redis_url,
    stop_on_sigterm,
    unique,
)
from stream_measure import GC_HOOK, RunResult, least_disturbed, measure  # noqa: E402
from stream_targets import FALLBACK, QmsTarget, SioTarget  # noqa: E402


def report(results: list[RunResult], args: argparse.Namespace) -> str:
    out = []
    headers = [
        "system", "N", "presses", "p50 ms", "p90 ms", "p99 ms", "max ms", "first p50 ms",
        "last p50 ms", "HTTP p50 ms", "delivered", "server CPU ms/cycle",
        "client CPU ms/cycle", "server RSS MiB",
    ]  # fmt: skip
    rows = []
    for r in results:
        first, last, httpm = sorted(r.first_ms), sorted(r.last_ms), sorted(r.http_ms)
        delivered = f"{r.expected - r.missing:,}/{r.expected:,}" if r.expected else "-"
        rows.append(
            [
                r.system, r.n, r.presses, r.pct(50), r.pct(90), r.pct(99),
                max(r.latencies_ms) if r.latencies_ms else float("nan"),
                percentile(first, 50), percentile(last, 50), percentile(httpm, 50),
                delivered, r.server_cpu_ms, r.client_cpu_ms, r.rss_mib,
            ]
        )  # fmt: skip
    out.append(md_table(headers, rows))
    out.append("")
    hb_rows = []
    for r in results:
        if not r.latencies_ms:
            continue
        clean = sorted(r.clean_latencies_ms)
        hb_rows.append(
            [
                r.system, r.n, f"{r.ping_hit}/{r.presses}", percentile(clean, 50),
                percentile(clean, 99), r.warm_drain_ms, 1000 * r.gap_s, r.other_cpu_pct,
                r.repeats, r.p50_range or "-", r.p99_range or "-",
            ]
        )  # fmt: skip
    if hb_rows:
        out.append(
            md_table(
                [
                    "system", "N", "presses met by a heartbeat burst",
                    "p50 ms without those", "p99 ms without those", "warm-up drain ms",
                    "pause ms", "other work on the machine, % of a core", "runs",
                    "p50 range ms", "p99 range ms",
                ],
                hb_rows,
            )
        )  # fmt: skip
        out.append("")
    # socketio / qms ratios at each N
    by = {(r.system, r.n): r for r in results}
    ratio_rows = []
    for r in results:
        if r.system.startswith("qms"):
            peer = by.get(("socketio", r.n))
            if peer is None or not peer.latencies_ms or not r.latencies_ms:
                continue
            ratio_rows.append([r.system, r.n, r.pct(50) / peer.pct(50), r.pct(99) / peer.pct(99)])
    if ratio_rows:
        out.append(md_table(["qms variant", "N", "p50 qms/socketio", "p99 qms/socketio"],
                            ratio_rows))  # fmt: skip
        out.append("")
    problems = []
    for r in results:
        notes = []
        if r.error:
            notes.append(f"error: {r.error}")
        if r.connect_errors:
            notes.append(f"connect errors: {r.connect_errors}")
        if r.ready and r.ready < r.n:
            notes.append(f"only {r.ready}/{r.n} clients connected")
        if r.missing:
            notes.append(f"{r.missing:,} of {r.expected:,} deliveries missing")
        if r.gc_count:
            notes.append(
                f"{r.gc_count} full (generation 2) garbage collections of the server during "
                f"the timed presses, {min(r.gc_ms):.0f}-{max(r.gc_ms):.0f} ms each; "
                f"{r.gc_hit} presses overlapped one"
            )
        if r.gaps:
            notes.append(f"{r.gaps} version gaps seen by clients")
        if r.closed:
            notes.append(f"clients closed by the server: {r.closed}")
        slow = r.metrics.get("slow_consumers")
        if slow:
            notes.append(f"server counted {slow} slow consumers")
        if r.last_ms and max(r.last_ms) > 1000 * r.gap_s:
            notes.append(
                f"the slowest press took {max(r.last_ms):.0f} ms to reach every client, "
                f"more than the {1000 * r.gap_s:.0f} ms pause: presses overlapped"
            )
        if notes:
            problems.append(f"- {r.system} N={r.n}: " + "; ".join(notes))
    out.append("Failures and warnings:\n")
    out.append("\n".join(problems) if problems else "- none: every client got every press, "
               "no gap, no disconnect")  # fmt: skip
    out.append("")
    codes = sorted({r.code for r in results if r.code})
    out.append(
        "qms sources (sha256 of qms/**/*.py, first 10 hex digits) when the servers started: "
        + ", ".join(codes)
        + ("" if len(codes) <= 1 else " (the code changed during the run)")
        + "\n"
    )
    sizes = {r.system: r.frame_bytes for r in results if r.frame_bytes}
    pauses = ", ".join(f"{r.system} N={r.n}: {1000 * r.gap_s:.0f} ms" for r in results)
    others = ", ".join(f"{r.system} N={r.n}: {r.other_cpu_pct:.0f}%" for r in results)
    out.append(
        "Frame of the timed message (bytes on the wire, before websocket framing): "
        + ", ".join(f"{k} {v}" for k, v in sizes.items())
        + f". Pause between messages: {pauses}. Clients: {args.clients}, "
        + f"{args.client_procs} processes, permessage-deflate "
        + ("offered" if args.deflate else "not offered")
        + ". CPU used by other work on the machine during the timed presses (% of one "
        + f"core): {others}."
    )
    return "\n".join(out)


def main() -> int:
    stop_on_sigterm()
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="100,1000,5000", help="numbers of clients N")
    ap.add_argument("--presses", default="100,100,50",
                    help="timed presses per run: one number, or one per size")  # fmt: skip
    ap.add_argument("--warmup", type=int, default=5, help="untimed presses first")
    ap.add_argument("--gap-ms", type=float, default=None,
                    help="pause after each message (default: twice the warm-up's slowest "
                    "drain + 10 ms)")  # fmt: skip
    ap.add_argument(
        "--quiet-wait",
        type=float,
        default=60,
        help="before timing, wait up to this long for the machine to be idle",
    )
    ap.add_argument("--systems", default="qms,socketio",
                    help="qms, socketio, socketio-local (no Redis manager)")  # fmt: skip
    ap.add_argument("--redis-log", action="store_true", help="also qms on the Redis log")
    ap.add_argument("--client-procs", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=1,
                    help="runs of each system and N; the least disturbed is reported")  # fmt: skip
    ap.add_argument("--clients", choices=["raw", "lean", "library"], default="raw")
    ap.add_argument("--deflate", action="store_true", help="clients offer permessage-deflate")
    ap.add_argument("--time-limit", type=float, default=1800, help="for the whole run (s)")
    ap.add_argument("--profile", default=None, help="py-spy the server into this directory")
    ap.add_argument("--json", default=None, help="also write the raw results here")
    ap.add_argument("--tmp-dir", default=None,
                    help="where the servers' data go (e.g. /dev/shm: no fsync cost)")  # fmt: skip
    ap.add_argument("--gc-log", default=None,
                    help="log the qms servers' full GCs here; report presses they hit")  # fmt: skip
    ap.add_argument("--gc-freeze", type=float, default=0, metavar="S",
                    help="what-if: the qms servers call gc.freeze() every S seconds")  # fmt: skip
    ap.add_argument("--qms-env", action="append", default=[], metavar="NAME=VALUE",
                    help="environment of `qms serve` (QMS_STREAM_HEARTBEAT_S=3600)")  # fmt: skip
    args = ap.parse_args()
    qms_env = dict(kv.split("=", 1) for kv in args.qms_env)
    if args.gc_log or args.gc_freeze:  # a sitecustomize of our own in the qms servers
        gc_dir = tempfile.mkdtemp(prefix="qmsbench-gc-")
        atexit.register(shutil.rmtree, gc_dir, True)
        Path(gc_dir, "sitecustomize.py").write_text(GC_HOOK)
        qms_env["PYTHONPATH"] = gc_dir
        if args.gc_log:
            qms_env["QMS_GC_LOG"] = str(Path(args.gc_log).resolve())
            Path(args.gc_log).unlink(missing_ok=True)
        if args.gc_freeze:
            qms_env["QMS_GC_FREEZE_S"] = str(args.gc_freeze)
    args.sizes = [int(s) for s in args.sizes.split(",")]
    counts = [int(p) for p in str(args.presses).split(",")]
    presses_for = {n: counts[min(i, len(counts) - 1)] for i, n in enumerate(args.sizes)}
    systems = args.systems.split(",")
    deadline = time.monotonic() + args.time_limit
    results: list[RunResult] = []
    payloads = dict(FALLBACK)
    print(f"load average before: {load_average()}\n", file=sys.stderr)
    print("Machine: " + "; ".join(f"{k} {v}" for k, v in machine_info().items()) + "\n")
    print("Command: " + " ".join([".venv/bin/python", *sys.argv]) + "\n")
    with tempfile.TemporaryDirectory(prefix="qmsbench-stream-", dir=args.tmp_dir) as tmp:
        for n in args.sizes:
            plan: list[tuple[str, Any]] = []
            for system in systems:
                if system == "qms":
                    plan.append(("qms", None))
                    if args.redis_log:
                        plan.append(("qms-redis", None))
                elif system in ("socketio", "socketio-local"):
                    plan.append((system, None))
            for label, _ in plan:
                runs: list[RunResult] = []
                for rep in range(args.repeat):
                    if time.monotonic() > deadline:
                        log("time limit reached: stopping")
                        break
                    workdir = Path(tmp) / f"{label}-{n}-{rep}"
                    prefix = None
                    if label == "qms":
                        target: Any = QmsTarget(workdir, None, "qms", qms_env)
                    elif label == "qms-redis":
                        prefix = unique("stream")
                        url = redis_url(prefix, REDIS_URL)
                        target = QmsTarget(workdir, url, "qms-redis", qms_env)
                    else:
                        redis = REDIS_URL if label == "socketio" else None
                        target = SioTarget(workdir, redis, label, payloads)
                    try:
                        args.n_presses = presses_for[n]
                        res = measure(target, n, args, deadline)
                    finally:
                        if prefix is not None:
                            asyncio.run(delete_prefix(prefix, REDIS_URL))
                    runs.append(res)
                    if label.startswith("qms") and "ticket_called" in target.samples:
                        payloads["call"] = json.loads(target.samples["ticket_called"])
                        if "ticket_completed" in target.samples:
                            payloads["done"] = json.loads(target.samples["ticket_completed"])
                    log(
                        f"{label} N={n}: p50 {res.pct(50):.2f} ms p99 {res.pct(99):.2f} ms "
                        f"missing {res.missing} closed {res.closed} {res.error} "
                        f"(other work {res.other_cpu_pct:.0f}% of a core)"
                    )
                if runs:
                    results.append(least_disturbed(runs))
    print(report(results, args))
    if args.json:
        Path(args.json).write_text(
            json.dumps([{k: v for k, v in r.__dict__.items()} for r in results], indent=1)
        )
    print(f"\nload average after: {load_average()}", file=sys.stderr)
    return 1 if any(r.error for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
