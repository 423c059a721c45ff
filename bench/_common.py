"""Helpers shared by the benchmark scripts in bench/ (not a test module).

Every benchmark talks only to 127.0.0.1, is bounded in time, and cleans up the
Redis keys, SQLite files and PostgreSQL tables it made, in `finally` blocks.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing as mp
import os
import platform
import queue
import random
import shutil
import signal
import subprocess
import sys
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

REDIS_URL = "redis://127.0.0.1:6379/0"
PG_DSN = "postgresql://postgres@127.0.0.1:5432/test"
SITE = "bench-hall"
# The 8 competing counters all serve these services, in this order of preference.
SHARED_SERVICES = ["ktp", "kk", "akta"]
COUNTERS = [f"L{i}" for i in range(1, 9)]


def unique(tag: str) -> str:
    """A name no other run (or other user of the shared Redis) has: ``qmsbench-<tag>-…``."""
    return f"qmsbench-{tag}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def redis_url(prefix: str, base: str = REDIS_URL) -> str:
    return f"{base}?prefix={prefix}"


async def delete_prefix(prefix: str, base: str = REDIS_URL) -> int:
    """UNLINK every key under `prefix` (what `drop` missed, e.g. after a crash)."""
    import redis.asyncio as aioredis

    r = aioredis.Redis.from_url(base)
    n = 0
    try:
        batch: list[bytes] = []
        async for key in r.scan_iter(match=f"{prefix}:*", count=1000):
            batch.append(key)
            if len(batch) >= 500:
                n += await r.unlink(*batch)
                batch = []
        if batch:
            n += await r.unlink(*batch)
    finally:
        await r.aclose()
    return n


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of an already sorted list (NaN when empty)."""
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, round(p / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[k]


def md_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    def cell(v: Any) -> str:
        if isinstance(v, float):
            if v != v:  # NaN
                return "-"
            if abs(v) >= 100:
                return f"{v:,.0f}"
            if abs(v) >= 10:
                return f"{v:.1f}"
            return f"{v:.2f}"
        if isinstance(v, int):
            return f"{v:,}"
        return str(v)

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


Column = tuple[str, str | Callable[[dict[str, Any]], Any]]  # a header, and a key or a getter


def stop_child(proc: subprocess.Popen[Any], sig: int = signal.SIGTERM, wait_s: float = 15) -> None:
    """Stop a child process: `sig`, up to `wait_s` seconds to exit, then SIGKILL."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(wait_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


START_TIMEOUT = 60.0  # s for every worker process to be ready
JOIN_TIMEOUT = 15.0  # s past a run's end for workers to report and exit


Work = Callable[..., Awaitable[dict[str, Any]]]  # a worker's coroutine function


def worker_process(results: Any, work: Work, *args: Any) -> None:
    """A benchmark's worker process: ``asyncio.run(work(*args))`` (`args[0]` is its
    index), its result or its failure put on `results`, so the parent never hangs."""
    try:
        res = asyncio.run(work(*args))
    except BaseException as exc:
        res = {"proc": args[0], "error": f"{exc!r}\n{traceback.format_exc()}"}
    results.put(res)


async def ready_then_go(ready: Any, go: Any, idx: int) -> None:
    """In a worker: say it is set up, then wait for the go of `Workers.run`."""
    ready.put(idx)
    loop = asyncio.get_running_loop()
    if not await loop.run_in_executor(None, go.wait, START_TIMEOUT):
        raise TimeoutError("no go signal")


class Workers:
    """Worker processes started together: each runs ``work(idx, *args, ready, go)``,
    puts its index on `ready` when set up, waits for `go`, then reports one result."""

    def __init__(self) -> None:
        self.ctx = mp.get_context("spawn")
        self.ready, self.go, self.results = self.ctx.Queue(), self.ctx.Event(), self.ctx.Queue()
        self.procs: list[Any] = []

    def start(self, work: Work, idx: int, *args: Any) -> None:
        p = self.ctx.Process(
            target=worker_process,
            args=(self.results, work, idx, *args, self.ready, self.go),
            daemon=True,
        )
        p.start()
        self.procs.append(p)

    def wait_ready(self) -> None:
        """Until every worker is ready (one that failed reports on `results` instead)."""
        deadline = time.monotonic() + START_TIMEOUT
        for _ in self.procs:
            try:
                self.ready.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                outs = []
                with contextlib.suppress(queue.Empty):
                    outs.append(self.results.get_nowait())
                raise RuntimeError(f"workers not ready in {START_TIMEOUT} s: {outs}") from None

    def run(self, duration: float) -> list[dict[str, Any]]:
        """Go; every worker's result (RuntimeError naming the failures, if any)."""
        self.go.set()
        outs: list[dict[str, Any]] = []
        deadline = time.monotonic() + duration + JOIN_TIMEOUT
        while len(outs) < len(self.procs):
            try:
                outs.append(self.results.get(timeout=max(0.1, deadline - time.monotonic())))
            except queue.Empty:
                raise RuntimeError(
                    f"only {len(outs)} of {len(self.procs)} workers reported"
                ) from None
        errors = [o["error"] for o in outs if "error" in o]
        if errors:
            raise RuntimeError("worker failed:\n" + "\n".join(errors))
        return outs

    def join(self) -> None:
        for p in self.procs:
            p.join(timeout=JOIN_TIMEOUT)
            if p.is_alive():
                p.terminate()
                p.join(timeout=5)


def runs_cell(r: dict[str, Any]) -> str:
    """The "pairs/s range (runs)" cell of a best-of-runs row (`best_run`)."""
    return f"{r['range']} ({r['runs']})"


def check_cell(r: dict[str, Any]) -> str:
    """The "check" cell: the run's check, and whether the time cap ended it."""
    return str(r["check"]) + (" (time cap hit)" if r["timed_out"] else "")


# The columns every best-of-runs table of the engine and its PostgreSQL peer shares:
# what ran (after the backend's column), and how long one command took.
RUN_COLUMNS: list[Column] = [
    ("counters", "counters"),
    ("processes", "procs"),
    ("tickets waiting at start", "tickets"),
    ("pairs", "pairs"),
    ("elapsed s", "elapsed"),
    ("pairs/s", "pairs_s"),
    ("pairs/s range (runs)", runs_cell),
]
LATENCY_COLUMNS: list[Column] = [
    ("p50 ms", "p50"),
    ("p99 ms", "p99"),
    ("max ms", "max"),
    ("check", check_cell),
]


def md_records(columns: Sequence[Column], records: Iterable[dict[str, Any]]) -> str:
    """`md_table` of dicts: each column's header beside the key (or getter) of its cells."""
    return md_table(
        [header for header, _ in columns],
        [[get(r) if callable(get) else r[get] for _, get in columns] for r in records],
    )


def add_run_options(ap: argparse.ArgumentParser, procs: str) -> None:
    """The options qms's engine benchmark and its peers share, so both run alike:
    --tickets, --counters, --procs (`procs`: its help), --repeat, --duration."""
    ap.add_argument(
        "--tickets",
        default="1000,3000",
        help="waiting tickets at start, comma-separated (one run each)",
    )
    ap.add_argument(
        "--counters", type=int, default=8, help="counters pressing (1-8; 1 = no contention)"
    )
    ap.add_argument("--procs", default="1,2,4", help=procs)
    ap.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="runs per configuration; the best (by pairs/s) is shown, with the range",
    )
    ap.add_argument("--duration", type=float, default=10.0, help="time cap per run, seconds")


def hall_commands() -> list[dict[str, Any]]:
    """The demo hall, with counters L1-L8 all serving SHARED_SERVICES, open."""
    from qms.demo_hall import setup_commands

    cmds = setup_commands()
    for c in COUNTERS:
        cmds.append({"type": "set_counter_services", "counter": c, "services": SHARED_SERVICES})
        cmds.append({"type": "open_counter", "counter": c, "officer": f"petugas-{c}"})
    return cmds


def ticket_services(n: int, seed: int = 1) -> list[str]:
    """The service of each of `n` pre-issued tickets (the same list for qms and the peer)."""
    rng = random.Random(seed)
    return [rng.choice(SHARED_SERVICES) for _ in range(n)]


def split_counters(procs: int, counters: Sequence[str] = COUNTERS) -> list[list[str]]:
    """Counters dealt round-robin over `procs` processes."""
    return [list(counters[i::procs]) for i in range(procs)]


class HallClock:
    """A clock at a fixed weekday afternoon plus the real time elapsed since `t0`.

    Real seconds pass (waits and durations are real), but the business day never
    rolls over mid-run, whatever the hour the benchmark is started.
    """

    BASE = 1_795_000_000.0  # a Wednesday, 14:26 in Asia/Jakarta: every service is open

    def __init__(self, t0: float | None = None) -> None:
        self.t0 = time.time() if t0 is None else t0

    def __call__(self) -> float:
        return self.BASE + (time.time() - self.t0)


def _first_line(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10, check=False)
        return (out.stdout or out.stderr).strip().splitlines()[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        return "?"


def revision() -> str:
    """The qms code measured: git commit (+ "dirty" when qms/ has local changes)."""
    marker = ROOT / "REVISION"  # written by whoever exported a tree without .git
    if marker.exists():
        return marker.read_text().strip()
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "log", "-1", "--format=%h %ci"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--", "qms"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"
    return head + (" + uncommitted changes in qms/" if dirty else "")


def machine_info() -> dict[str, str]:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    info = {
        "qms revision": revision(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "memory": mem,
        "kernel": platform.release(),
        "python": sys.version.split()[0],
    }
    if shutil.which("redis-cli"):
        try:
            out = subprocess.run(
                ["redis-cli", "-h", "127.0.0.1", "INFO", "server"],
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            ).stdout
            info["redis"] = next(
                (
                    ln.split(":", 1)[1].strip()
                    for ln in out.splitlines()
                    if ln.startswith("redis_version")
                ),
                "?",
            )
            persist = subprocess.run(
                ["redis-cli", "-h", "127.0.0.1", "CONFIG", "GET", "appendonly"],
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            ).stdout.split()
            info["redis appendonly"] = persist[1] if len(persist) > 1 else "?"
        except (OSError, subprocess.SubprocessError):
            pass
    if shutil.which("psql"):
        psql = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-Atc"]
        for setting in ("server_version", "synchronous_commit"):
            name = "postgresql" if setting == "server_version" else f"postgresql {setting}"
            info[name] = _first_line([*psql, f"show {setting}"])
    return info


def progress(msg: str) -> None:
    """A line of progress on stderr, at once (stdout carries the report)."""
    print(msg, file=sys.stderr, flush=True)


def log(msg: str) -> None:
    """`progress` with the time of day."""
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def stop_on_sigterm() -> None:
    """SIGTERM (e.g. from `timeout`) unwinds like Ctrl-C, so every `finally` runs."""

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, handler)


def load_average() -> str:
    """The 1/5/15-minute load averages: other work on the machine skews every number."""
    try:
        return " / ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def print_machine() -> None:
    print("### Machine\n")
    for k, v in machine_info().items():
        print(f"- {k}: {v}")
    print()


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def best_run(runs: list[dict[str, Any]], key: str = "pairs_s") -> dict[str, Any]:
    """The run with the highest `key` of several, with the range of `key` over all of them.

    Best-of-N: on a small shared machine the other load only ever slows a run down,
    so the fastest run is the one least disturbed (the range shows how much).
    """
    ordered = sorted(runs, key=lambda r: r[key])
    best = dict(ordered[-1])
    best["runs"] = len(runs)
    best["range"] = (
        f"{ordered[0][key]:,.0f}-{ordered[-1][key]:,.0f}" if len(runs) > 1 else f"{best[key]:,.0f}"
    )
    if any(r["check"] != "ok" for r in runs):
        best["check"] = "; ".join(sorted({r["check"] for r in runs}))
    return best


# --- CPU of a process tree (a server and its workers) -----------------------------------------

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, utime + stime in s) of a live process."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / CLK_TCK


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a live process (from /proc, no psutil needed)."""
    st = _stat(pid)
    if st is None:
        raise ProcessLookupError(pid)
    return st[1]


def rss_kib(pid: int) -> int:
    """VmRSS of a process, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def tree_cpu(root: int) -> dict[int, float]:
    """CPU seconds of `root` and all its descendants, by pid (each process's own)."""
    stats = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (st := _stat(int(entry))) is not None:
            stats[int(entry)] = st
    tree, todo = {}, [root]
    while todo:
        pid = todo.pop()
        if pid in stats:
            tree[pid] = stats[pid][1]
            todo += [p for p, (ppid, _) in stats.items() if ppid == pid]
    return tree


def cpu_of(pids: list[int]) -> dict[int, float]:
    return {pid: st[1] for pid in pids if (st := _stat(pid)) is not None}


def used(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU s spent between two readings (a process that ended in between counts as 0)."""
    return sum(after[pid] - before.get(pid, 0.0) for pid in after)
