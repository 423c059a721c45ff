"""One measured run of the stream benchmarks: a server, its fleet of clients, the presses.

`measure` starts a target (stream_targets.py), opens the clients
(stream_fleet.py), warms up, sets the pause from the warm-up's slowest drain,
waits for a quiet machine, then times the presses and gathers every arrival into
a `RunResult`: latencies, first and last arrival per press, the HTTP round trip,
CPU of the server and of the clients, other work on the machine, heartbeat
bursts and (--gc-log) the server's full garbage collections met by a press.
"""

from __future__ import annotations

import argparse
import bisect
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _common import cpu_s, log, percentile, rss_kib, stop_child
from stream_fleet import ClientFleet

ROOT = Path(__file__).resolve().parent.parent


def code_hash() -> str:
    """A short hash of the qms sources as they are on disk when a server starts (the
    stream may be changed while benchmarks run: each result says which code it had)."""
    h = hashlib.sha256()
    for path in sorted((ROOT / "qms").rglob("*.py")):
        h.update(path.relative_to(ROOT).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:10]


@dataclass
class RunResult:
    system: str
    n: int
    presses: int
    latencies_ms: list[float] = field(default_factory=list)
    first_ms: list[float] = field(default_factory=list)  # first arrival of each press
    last_ms: list[float] = field(default_factory=list)  # last arrival of each press
    http_ms: list[float] = field(default_factory=list)  # the press's HTTP round trip
    press_t0: list[float] = field(default_factory=list)  # time.monotonic() of each press
    expected: int = 0
    missing: int = 0
    gaps: int = 0
    closed: dict[str, int] = field(default_factory=dict)
    connect_errors: dict[str, int] = field(default_factory=dict)
    ready: int = 0
    connect_s: float = 0.0
    server_cpu_ms: float = 0.0  # per press cycle (both messages)
    client_cpu_ms: float = 0.0  # per press cycle, all client processes together
    rss_mib: float = 0.0
    frame_bytes: int = 0
    gap_s: float = 0.0
    warm_drain_ms: float = float("nan")
    busy_before: float = float("nan")  # machine busy fraction just before the timed presses
    other_cpu_pct: float = float("nan")  # CPU not ours during the timed presses, % of one core
    metrics: dict[str, Any] = field(default_factory=dict)
    repeats: int = 1
    code: str = ""  # code_hash() of the qms sources at the server's start
    p50_range: str = ""  # over the repeats
    p99_range: str = ""
    gc_count: int = 0  # (--gc-log) full collections of the server during the timed presses
    gc_ms: list[float] = field(default_factory=list)
    gc_hit: int = 0  # presses whose delivery overlapped one
    pings: int = 0  # heartbeat pings received by clients during the timed phase
    ping_hit: int = 0  # presses during whose delivery pings were arriving too
    clean_latencies_ms: list[float] = field(default_factory=list)  # the other presses
    error: str = ""

    def pct(self, p: float) -> float:
        return percentile(sorted(self.latencies_ms), p)


GC_HOOK = """# Written by bench/stream_latency.py --gc-log / --gc-freeze (a what-if, not qms code):
# logs each full garbage collection; calls gc.freeze() every QMS_GC_FREEZE_S seconds.
import gc, os, threading, time
_every = float(os.environ.get("QMS_GC_FREEZE_S") or 0)
if _every > 0:
    def _freezer():
        while True:
            time.sleep(_every)
            gc.freeze()
    threading.Thread(target=_freezer, daemon=True, name="gc-freezer").start()
_path = os.environ.get("QMS_GC_LOG")
if _path:
    _start = [0.0]
    def _hook(phase, info):
        if info.get("generation") != 2:
            return
        if phase == "start":
            _start[0] = time.monotonic()
        else:
            with open(_path, "a") as f:
                f.write(f"{_start[0]:.4f} {time.monotonic() - _start[0]:.4f} {os.getpid()}\\n")
    gc.callbacks.append(_hook)
"""


def gc_overlaps(res: RunResult, path: Path) -> None:
    """Full collections of the server (from --gc-log) during the timed presses."""
    if not path.exists() or not res.press_t0:
        return
    gcs = []
    for line in path.read_text().splitlines():
        start, took, _ = line.split()
        gcs.append((float(start), float(took)))
    lo, hi = res.press_t0[0] - 1.0, res.press_t0[-1] + 2.0
    during = [(s, d) for s, d in gcs if lo <= s <= hi]
    res.gc_count = len(during)
    res.gc_ms = [1000 * d for _, d in during]
    for t0, last in zip(res.press_t0, res.last_ms, strict=False):
        end = t0 + last / 1000
        res.gc_hit += any(s < end and s + d > t0 for s, d in during)


def warm_gap(n: int) -> float:
    """The pause during the warm-up: generous (50 ms + 0.4 ms per client)."""
    return 0.05 + n * 0.0004


def machine_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    parts = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = parts[3] + (parts[4] if len(parts) > 4 else 0)
    return sum(parts) - idle, sum(parts)


def wait_for_quiet(limit: float, busy_max: float = 0.15) -> float:
    """Wait (at most `limit` s) until the machine is idle (other work skews every number).

    Returns the busy fraction of the last second looked at."""
    t_end = time.monotonic() + limit
    while True:
        b0, t0 = machine_jiffies()
        time.sleep(1.0)
        b1, t1 = machine_jiffies()
        busy = (b1 - b0) / max(1, t1 - t0)
        if busy <= busy_max or time.monotonic() > t_end:
            return busy


def measure(target: Any, n: int, args: argparse.Namespace, deadline: float) -> RunResult:
    res = RunResult(target.label, n, args.n_presses)
    warm = args.warmup
    fleet: ClientFleet | None = None
    profiler: subprocess.Popen[bytes] | None = None
    try:
        log(f"{target.label} N={n}: starting the server")
        res.code = code_hash()
        target.start(args.n_presses + warm + 5)
        spec = target.client_spec(n, args)
        spec.connect_timeout = max(30.0, min(300.0, deadline - time.monotonic() - 60))
        fleet = ClientFleet(spec, args.client_procs)
        log(f"{target.label} N={n}: opening {n} clients in {fleet.procs} processes")
        ready = fleet.start()
        res.ready, res.connect_errors, res.connect_s = (
            ready["ready"],
            ready["errors"],
            ready["connect_s"],
        )
        log(
            f"{target.label} N={n}: {res.ready} ready in {res.connect_s:.1f} s {res.connect_errors}"
        )
        if res.ready == 0:
            raise RuntimeError("no client connected")
        time.sleep(1.0)  # let the connect burst settle (logs, GC)
        # Warm-up with a generous pause; then the pause is set from how long the
        # warm-up's messages took to reach every client, so the system drains
        # between messages (unless --gap-ms says otherwise).
        slow = warm_gap(n)
        fleet.mark()
        warm_keys = []
        for i in range(warm):
            warm_keys.append((target.before_press(-1 - i), time.monotonic()))
            time.sleep(slow)
            t0 = time.monotonic()
            warm_keys.append((target.press(-1 - i), t0))
            time.sleep(slow)
        time.sleep(slow)
        seen = fleet.collect()["arrivals"]
        drains = [max(seen[k]) - t for k, t in warm_keys[2:] if seen.get(k)]
        res.warm_drain_ms = 1000 * max(drains) if drains else float("nan")
        if args.gap_ms is not None:
            res.gap_s = args.gap_ms / 1000
        else:
            res.gap_s = max(0.02, min(2 * slow, 2 * max(drains, default=slow) + 0.01))
        log(
            f"{target.label} N={n}: warm-up drain {res.warm_drain_ms:.1f} ms -> pause "
            f"{1000 * res.gap_s:.0f} ms"
        )
        quiet = wait_for_quiet(args.quiet_wait) if args.quiet_wait > 0 else float("nan")
        res.busy_before = quiet
        target.touch()
        fleet.mark()
        if args.profile:
            profiler = start_profile(target, n, args)
        presses: list[tuple[Any, float, float]] = []
        srv0, me0, (busy0, all0) = cpu_s(target.pid), time.process_time(), machine_jiffies()
        for i in range(args.n_presses):
            if time.monotonic() > deadline:
                res.error = f"time limit: stopped after {i} presses"
                break
            target.before_press(i)
            time.sleep(res.gap_s)
            t0 = time.monotonic()
            key = target.press(i)
            t1 = time.monotonic()
            presses.append((key, t0, t1))
            time.sleep(res.gap_s)
        time.sleep(max(1.0, 2 * res.gap_s))  # drain
        srv1, me1, (busy1, all1) = cpu_s(target.pid), time.process_time(), machine_jiffies()
        res.rss_mib = rss_kib(target.pid) / 1024
        if profiler is not None:
            stop_profile(profiler)
            profiler = None
        got = fleet.collect()
        res.presses = len(presses)
        res.server_cpu_ms = 1000 * (srv1 - srv0) / max(1, len(presses))
        res.client_cpu_ms = 1000 * sum(got["client_cpu_s"]) / max(1, len(presses))
        # The machine's busy CPU over the timed phase, and the share not ours (other
        # work on the machine, plus redis-server when it is used).
        ticks = os.sysconf("SC_CLK_TCK")
        machine_busy_s = (busy1 - busy0) / ticks
        ours_s = (srv1 - srv0) + sum(got["client_cpu_s"]) + (me1 - me0)
        res.other_cpu_pct = (
            100
            * max(0.0, machine_busy_s - ours_s)
            / max(1e-9, (all1 - all0) / ticks / (os.cpu_count() or 1))
        )
        res.gaps, res.closed = got["gaps"], got["closed"]
        target.samples = got["samples"]
        arrivals = got["arrivals"]
        pings = sorted(arrivals.get("ping", []))
        res.pings = len(pings)
        for key, t0, t1 in presses:
            times = arrivals.get(key, [])
            res.expected += res.ready
            res.missing += max(0, res.ready - len(times))
            res.http_ms.append(1000 * (t1 - t0))
            res.press_t0.append(t0)
            if times:
                lat = [1000 * (t - t0) for t in times]
                res.latencies_ms.extend(lat)
                res.first_ms.append(min(lat))
                res.last_ms.append(max(lat))
                # Was a heartbeat burst on its way while this press was? (A burst
                # keeps the server busy after its last ping went out: the clients'
                # pongs come back, so the window opens a second before the press.)
                end = max(times)
                i = bisect.bisect_left(pings, t0 - 1.0)
                if i < len(pings) and pings[i] <= end:
                    res.ping_hit += 1
                else:
                    res.clean_latencies_ms.extend(lat)
        if target.system == "qms":
            sample = got["samples"].get("ticket_called", "")
        else:
            sample = got["samples"].get("call", "")
        res.frame_bytes = len(sample.encode())
        res.metrics = target.server_metrics()
        if args.gc_log and target.system == "qms":
            gc_overlaps(res, Path(args.gc_log))
    except Exception as exc:
        res.error = f"{type(exc).__name__}: {exc}"
        log(f"{target.label} N={n}: FAILED {res.error}\n{traceback.format_exc()}")
    finally:
        if profiler is not None:
            stop_profile(profiler)
        if fleet is not None:
            fleet.stop()
        target.stop()
    return res


# --- py-spy -------------------------------------------------------------------------


def start_profile(target: Any, n: int, args: argparse.Namespace) -> subprocess.Popen[bytes] | None:
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        log("py-spy not found: no profile")
        return None
    out = Path(args.profile) / f"{target.label.replace(' ', '_')}-{n}.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = [spy, "record", "--pid", str(target.pid), "--format", "raw", "--rate", "250"]
    cmd += ["--output", str(out), "--nonblocking"]
    log("profiling: " + " ".join(cmd))
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_profile(proc: subprocess.Popen[bytes]) -> None:
    stop_child(proc, signal.SIGINT, 30)


def least_disturbed(runs: list[RunResult]) -> RunResult:
    """Of repeated runs, the one during which other work on the machine used the
    least CPU (the machine is shared: other load only ever slows a run down), with
    the range of p50 and p99 over all of them; a failed run always counts."""
    failed = [r for r in runs if r.error or r.missing or r.closed]
    pool = failed or runs

    def other(r: RunResult) -> float:
        return r.other_cpu_pct if r.other_cpu_pct == r.other_cpu_pct else 1e9

    best = min(pool, key=other)
    ok = [r for r in runs if r.latencies_ms]
    best.repeats = len(runs)
    if len(ok) > 1:
        best.p50_range = f"{min(r.pct(50) for r in ok):.1f}-{max(r.pct(50) for r in ok):.1f}"
        best.p99_range = f"{min(r.pct(99) for r in ok):.1f}-{max(r.pct(99) for r in ok):.1f}"
    return best
