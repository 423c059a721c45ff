"""Run every benchmark, one after the other, and keep the raw output.

    flock /tmp/qms-bench.lock .venv/bin/python bench/run_all.py            # the full set (~45 min)
    flock /tmp/qms-bench.lock .venv/bin/python bench/run_all.py --quick    # smaller sizes (~8 min)

Writes bench/results/<date>.md (or <date>-<HHMM>.md when that exists): the
machine, each exact command, its Markdown output and its progress lines.
Each benchmark runs in its own process with a time limit; nothing runs in
parallel with anything else (the machine has few cores: overlapping runs would
measure each other).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import load_average, machine_info

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

# (script, arguments, time limit in seconds)
FULL = [
    (
        "engine_throughput.py",
        ["--tickets", "1000,3000", "--procs", "1,2,4", "--sqlite-what-if", "--repeat", "3"],
        1200,
    ),
    (
        "engine_throughput.py",
        ["--tickets", "1000", "--procs", "1,4", "--no-follow", "--skip-sqlite", "--repeat", "2"],
        600,
    ),
    (
        "engine_throughput.py",
        ["--tickets", "1000", "--procs", "1", "--counters", "1", "--repeat", "3"],
        300,
    ),
    (
        "peer_postgres.py",
        ["--tickets", "1000,3000", "--procs", "1,2,4", "--audit", "--repeat", "3"],
        600,
    ),
    (
        "peer_postgres.py",
        ["--tickets", "1000", "--procs", "1", "--counters", "1", "--repeat", "3"],
        300,
    ),
    ("relay_floor.py", ["--procs", "1,2,4", "--rate", "250,500,1000,0", "--repeat", "2"], 600),
    ("open_site.py", ["--events", "1000000", "--repeat", "5"], 1200),
    ("core_costs.py", [], 600),
    # the first run also makes the year (~3.5 min, kept in /tmp/qms-reports-year)
    ("reports_year.py", ["--repeat", "5"], 1500),
    ("survey_index.py", [], 600),
    ("http_officers.py", ["--repeat", "2"], 600),
    # cProfile of every worker (slows the run ~2-3x: read it for shares, not rates)
    (
        "engine_throughput.py",
        ["--tickets", "1000", "--procs", "1,4", "--profile", "/tmp/qmsbench-profiles"],
        600,
    ),
]
QUICK = [
    ("engine_throughput.py", ["--tickets", "1000", "--procs", "1,4", "--duration", "5"], 300),
    ("peer_postgres.py", ["--tickets", "1000", "--procs", "1,4"], 120),
    ("open_site.py", ["--events", "100000", "--repeat", "3"], 300),
    ("core_costs.py", ["--sizes", "500,2000"], 300),
    ("reports_year.py", ["--days", "30", "--repeat", "3"], 600),
    ("survey_index.py", ["--responses", "10000", "--repeat", "5", "--folds", "1"], 300),
    ("http_officers.py", ["--tickets", "500", "--repeat", "1"], 300),
]


def wait_for_quiet(threshold: float, limit: float) -> float:
    """Wait (bounded) until other work on the machine has calmed down; seconds waited."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        try:
            if float(load_average().split()[0]) < threshold:
                break
        except ValueError:
            break
        time.sleep(5)
    return time.monotonic() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", help="comma-separated script names to run (default: all)")
    ap.add_argument(
        "--quiet-load",
        type=float,
        default=1.0,
        help="before each benchmark, wait until the 1-minute load average is below this",
    )
    ap.add_argument("--quiet-wait", type=float, default=120, help="... for at most this long (s)")
    args = ap.parse_args()
    plan = QUICK if args.quick else FULL
    if args.only:
        wanted = set(args.only.split(","))
        plan = [p for p in plan if p[0] in wanted or p[0].removesuffix(".py") in wanted]
    out_dir = HERE / "results"
    out_dir.mkdir(exist_ok=True)
    stamp = time.strftime("%Y-%m-%d")
    path = out_dir / f"{stamp}.md"
    if path.exists():
        path = out_dir / f"{stamp}-{time.strftime('%H%M')}.md"
    parts = [f"# Benchmark run {time.strftime('%Y-%m-%d %H:%M:%S %Z')}\n"]
    parts.append("## Machine\n")
    parts += [f"- {k}: {v}" for k, v in machine_info().items()]
    parts.append("")
    failed = 0
    for script, script_args, limit in plan:
        cmd = [sys.executable, str(HERE / script), *script_args]
        shown = " ".join([".venv/bin/python", f"bench/{script}", *script_args])
        waited = wait_for_quiet(args.quiet_load, args.quiet_wait)
        print(f"running: {shown} (limit {limit} s, waited {waited:.0f} s for quiet)", flush=True)
        load_before = load_average()
        t0 = time.monotonic()
        try:
            proc = subprocess.run(
                cmd, cwd=ROOT, capture_output=True, text=True, timeout=limit, check=False
            )
            stdout, stderr, rc = proc.stdout, proc.stderr, proc.returncode
        except subprocess.TimeoutExpired as exc:
            stdout = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
            stderr = exc.stderr.decode() if isinstance(exc.stderr, bytes) else (exc.stderr or "")
            stderr += f"\nTIMED OUT after {limit} s"
            rc = -1
        took = time.monotonic() - t0
        failed += rc != 0
        parts.append(
            f"---\n\n`{shown}` — exit {rc}, {took:.0f} s; load average before "
            f"{load_before}, after {load_average()}\n"
        )
        parts.append(stdout.rstrip() + "\n")
        if stderr.strip():
            parts.append("<details><summary>progress / errors</summary>\n\n```")
            parts.append(stderr.rstrip())
            parts.append("```\n</details>\n")
        print(f"  exit {rc} in {took:.0f} s", flush=True)
        path.write_text("\n".join(parts) + "\n")  # keep what we have if a later one hangs
    print(f"wrote {path.relative_to(ROOT)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
