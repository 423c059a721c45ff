"""The `qms` command line."""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from pathlib import Path
from typing import Any

from qms.core.calendar import local_time
from qms.demo_hall import SITE, setup_commands
from qms.engine import SiteEngine
from qms.eventlog import open_log
from qms.simulate import next_workday, opening_time, run_day, summary


async def _demo(args: argparse.Namespace, data_dir: Path) -> int:
    log = open_log(f"sqlite:///{data_dir / 'qms.db'}")
    try:
        engine = await SiteEngine(log, SITE["site"]).open()
        for cmd in setup_commands():
            await engine.execute(cmd)
        state = engine.state
        print(
            f"== {SITE['name']} ==  ({len(state.agencies)} instansi, "
            f"{len(state.services)} layanan, {len(state.counters)} loket)"
        )
        print(f"log: {data_dir / 'qms.db'} (versi / version {engine.version})\n")
        # Simulate the next working day after today and after anything already in the log.
        last = max((t.issued_at for t in engine.state.tickets.values()), default=0.0)
        day = next_workday(max(time.time(), last), SITE["timezone"])

        def show(kind: str, ev: dict[str, Any]) -> None:
            if kind != "called":
                return
            t = engine.state.tickets[ev["ticket"]]
            clock = local_time(ev["at"], SITE["timezone"]).strftime("%H:%M")
            loket = engine.state.counters[ev["counter"]].name
            print(f"{clock}  Nomor antrean {t.number:>5}  ->  {loket:<9} ({t.service})")
            if args.delay:
                time.sleep(args.delay)

        start = opening_time(day, SITE["timezone"])
        stats = await run_day(engine, start, args.hours, random.Random(args.seed), show)
        print("\n" + summary(stats))
        print(f"log version {engine.version}; every step is in the event log.")
    finally:
        await log.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="qms", description="Queue management for MPP halls")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run a scripted demo hall day in the terminal")
    demo.add_argument("--data-dir", default="qms-data")
    demo.add_argument("--hours", type=float, default=2.0, help="simulated hours (default 2)")
    demo.add_argument("--delay", type=float, default=0.01, help="seconds between printed calls")
    demo.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    if args.command == "demo":
        data_dir = Path(args.data_dir).resolve()
        data_dir.mkdir(parents=True, exist_ok=True)
        return asyncio.run(_demo(args, data_dir))
    return 2


if __name__ == "__main__":
    sys.exit(main())
