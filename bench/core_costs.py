"""Where one process's time goes: the costs that grow with the size of a day.

Two parts, both in one process:

1. Per-step costs of the pure core against the number of tickets in the state
   (all waiting, counters L1-L8 on the same three services, as in
   bench/engine_throughput.py): one `decide(call_next)`, a whole snapshot
   (`state_to_dict` + msgpack; the engine spreads that over turns of the event
   loop), restoring it (`state_from_dict`), the first command of a new
   business day (`decide` deep-copies the state to roll the day over), and what
   taking a snapshot costs the command path (`LiveSnapshot`: the ticket ids);
   and the conversions every process makes per event or command.
2. One `SiteEngine` on each backend with 8 counters pressing call_next +
   complete, with the engine's collaborators wrapped in timers (the wrappers
   cost about a microsecond each): ms per command spent in decide, in the log's
   append (encode + I/O), in snapshots, in apply.

    .venv/bin/python bench/core_costs.py
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    COUNTERS,
    SITE,
    HallClock,
    delete_prefix,
    hall_commands,
    load_average,
    md_table,
    redis_url,
    ticket_services,
    unique,
)

import qms.engine as engine_module
from qms.core import decide, parse_command, state_from_dict, state_to_dict
from qms.core.events import event_from_dict
from qms.core.snapshot import LiveSnapshot, ticket_to_dict
from qms.eventlog import codec

# The event and the command every process converts most (a call at a counter).
EVENT = {
    "type": "ticket_called",
    "schema": 1,
    "ticket": "2026-11-27-0001",
    "counter": "L1",
    "at": 1.0,
    "officer": "budi",
    "by": "budi",
    "cid": "officer:budi:k1",
    "cn": 1,
}
COMMAND = {"type": "call_next", "counter": "L1", "command_id": "officer:budi:k1"}


def best_of(fn: Callable[[], Any], n: int) -> float:
    """The median of `n` timings of `fn()` in milliseconds."""
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e3


def measure(state: Any, now: float) -> tuple[float, ...]:
    """decide(call_next), snapshot, its size, restore, a day roll-over, and what taking a
    snapshot costs the command path (`LiveSnapshot`), in ms / MB."""
    call = parse_command({"type": "call_next", "counter": "L1"})
    t_decide = best_of(lambda: decide(state, call, now), 21)
    snap: dict[str, Any] = {}

    def snapshot() -> None:
        snap["d"] = state_to_dict(state)
        snap["b"] = codec.encode_state({"state": snap["d"], "commands": []})

    t_snap = best_of(snapshot, 5)
    t_restore = best_of(lambda: state_from_dict(snap["d"]), 5)
    open_l1 = parse_command({"type": "open_counter", "counter": "L1", "officer": "petugas"})
    t_roll = best_of(lambda: decide(state, open_l1, now + 86_400), 5)
    t_take = best_of(lambda: LiveSnapshot(state), 21)
    return t_decide, t_snap, len(snap["b"]) / 1e6, t_restore, t_roll, t_take


async def core_costs(sizes: list[int]) -> str:
    from qms.engine import SiteEngine
    from qms.eventlog import open_log

    rows = []
    for n in sizes:
        log = open_log("sqlite:///:memory:")
        try:
            clock = HallClock()
            engine = await SiteEngine(log, SITE, clock=clock, snapshot_every=10**9).open()
            for cmd in hall_commands():
                await engine.execute(cmd)
            for service in ticket_services(n):
                await engine.execute({"type": "issue_ticket", "service": service})
            rows.append((n, *measure(engine.state, clock())))
        finally:
            await log.close()
    return md_table(
        [
            "tickets in state (waiting)",
            "decide(call_next) ms",
            "snapshot: state_to_dict + msgpack ms",
            "snapshot MB",
            "state_from_dict ms",
            "first command of a new day ms",
            "taking a snapshot (LiveSnapshot) ms",
        ],
        rows,
    )


def conversion_costs() -> str:
    """Microseconds per call of the conversions every process makes per event or command."""
    from qms.core.model import Step, Ticket

    steps = [Step("issued", 1.0), Step("called", 2.0, "L1", "budi"), Step("done", 3.0, "L1")]
    ticket = Ticket(
        id="t1", number="A001", service="ktp", day="2026-11-27", seq=1, token="x" * 16, steps=steps
    )
    n = 20_000
    rows = [
        (name, best_of(lambda fn=fn: [fn() for _ in range(n)], 5) * 1e3 / n)
        for name, fn in (
            ("event_from_dict (a ticket_called)", lambda: event_from_dict(EVENT)),
            ("parse_command (call_next)", lambda: parse_command(COMMAND)),
            ("ticket_to_dict (3 steps)", lambda: ticket_to_dict(ticket)),
        )
    ]
    return md_table(["conversion", "us per call (median of 5 x 20,000)"], rows)


T: dict[str, float] = {}


def timed(name: str, fn: Any, is_async: bool) -> Any:
    if is_async:

        async def wrapper_async(*a: Any, **k: Any) -> Any:
            t = time.perf_counter()
            try:
                return await fn(*a, **k)
            finally:
                T[name] = T.get(name, 0.0) + time.perf_counter() - t

        return wrapper_async

    def wrapper(*a: Any, **k: Any) -> Any:
        t = time.perf_counter()
        try:
            return fn(*a, **k)
        finally:
            T[name] = T.get(name, 0.0) + time.perf_counter() - t

    return wrapper


async def engine_phases(backend: str, tickets: int, follow: bool) -> list[tuple[Any, ...]]:
    """ms per command spent in each collaborator of `SiteEngine.execute`, one process."""
    import engine_throughput as et

    from qms.engine import SiteEngine, following
    from qms.eventlog import open_log

    prefix = unique("phase")
    tmp = tempfile.mkdtemp(prefix="qmsbench-")
    url = redis_url(prefix) if backend == "redis" else f"sqlite://{tmp}/qms.db"
    log = open_log(url)
    saved = {
        name: getattr(engine_module, name)
        for name in ("decide", "parse_command", "event_to_dict", "event_from_dict", "evolve")
    }
    T.clear()
    try:
        t0 = time.time()
        await et.set_up(log, tickets, t0)
        engine = await SiteEngine(log, SITE, clock=HallClock(t0)).open()
        engine_module.decide = timed("decide", saved["decide"], False)
        engine_module.parse_command = timed("parse_command", saved["parse_command"], False)
        engine_module.event_to_dict = timed("event_to_dict", saved["event_to_dict"], False)
        engine_module.event_from_dict = timed(
            "apply: event_from_dict", saved["event_from_dict"], False
        )
        engine_module.evolve = timed("apply: evolve", saved["evolve"], False)
        log.append = timed("log.append (encode + I/O)", log.append, True)  # type: ignore[method-assign]
        engine._save_live = timed(  # type: ignore[method-assign]
            "snapshot task (to_dict + encode + I/O, spread over turns)", engine._save_live, True
        )
        async with contextlib.AsyncExitStack() as stack:
            if follow:
                await stack.enter_async_context(following(engine))
            start = time.perf_counter()
            out = await et.press(engine, COUNTERS, start + 20, "x", True)
            wall = time.perf_counter() - start
            await engine.snapshot_saved()  # before the site is dropped below
        n = len(out["latencies"])
        label = f"{backend}{' + follow' if follow else ''}, {tickets} tickets"
        rows = [(label, "wall time per command", wall * 1e3 / n, f"{n / wall:,.0f} commands/s")]
        for k, v in sorted(T.items(), key=lambda kv: -kv[1]):
            rows.append((label, k, v * 1e3 / n, ""))
        return rows
    finally:
        for name, fn in saved.items():
            setattr(engine_module, name, fn)
        with contextlib.suppress(Exception):
            await log.drop(SITE)
        await log.close()
        await delete_prefix(prefix)
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="500,1000,2000,5000")
    ap.add_argument("--tickets", type=int, default=1000, help="pool for the engine phases")
    args = ap.parse_args()
    print("## Core costs against the size of the day\n")
    print(f"(load average at start {load_average()})\n")
    print(asyncio.run(core_costs([int(x) for x in args.sizes.split(",")])))
    print("\n## Conversions per event or command\n")
    print(conversion_costs())
    print("\n## Engine phases, one process, 8 counters (ms per command)\n")
    rows: list[tuple[Any, ...]] = []
    for backend, follow in (("redis", False), ("redis", True), ("sqlite", False)):
        rows += asyncio.run(engine_phases(backend, args.tickets, follow))
    print(md_table(["run", "phase", "ms per command", ""], rows))
    print(
        "\n(phases overlap nothing but may include event-loop time of other tasks; "
        "'wall time per command' is the run's elapsed time / commands)\n"
    )


if __name__ == "__main__":
    main()
