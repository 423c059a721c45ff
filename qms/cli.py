"""The `qms` command line."""

from __future__ import annotations

import argparse
import asyncio
import os
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


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from qms.server.config import Config

    config = Config.from_env(
        host=args.host,
        port=args.port,
        data_dir=args.data_dir,
        log_url=args.log_url,
        workers=args.workers,
    )
    if config.workers > 1 and not config.effective_log_url.startswith(("redis", "unix")):
        print(
            "qms serve: --workers > 1 needs a shared log: pass --log-url redis://HOST:PORT/DB "
            "(the embedded SQLite log serves one process)",
            file=sys.stderr,
        )
        return 2
    Path(config.data_dir).mkdir(parents=True, exist_ok=True)
    print(f"qms: log {config.effective_log_url}")
    print(
        f"qms: API      {config.base_url}/api/v1  (OpenAPI: {config.base_url}/api/v1/openapi.json)"
    )
    print(f"qms: health   {config.base_url}/healthz  {config.base_url}/readyz", flush=True)
    os.environ.update(config.to_env())  # workers rebuild the config from QMS_*
    uvicorn.run(
        "qms.server.app:app_from_env",
        factory=True,
        host=config.host,
        port=config.port,
        workers=config.workers if config.workers > 1 else None,
        log_level="info",
        timeout_graceful_shutdown=5,
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="qms", description="Queue management for MPP halls")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the server")
    serve.add_argument("--host", default=None, help="default 127.0.0.1 (QMS_HOST)")
    serve.add_argument("--port", type=int, default=None, help="default 8000 (QMS_PORT)")
    serve.add_argument("--data-dir", default=None, help="default ./qms-data (QMS_DATA_DIR)")
    serve.add_argument("--log-url", default=None, help="sqlite:///… or redis://… (QMS_LOG_URL)")
    serve.add_argument("--workers", type=int, default=None, help="processes (QMS_WORKERS)")
    demo = sub.add_parser("demo", help="run a scripted demo hall day in the terminal")
    demo.add_argument("--data-dir", default="qms-data")
    demo.add_argument("--hours", type=float, default=2.0, help="simulated hours (default 2)")
    demo.add_argument("--delay", type=float, default=0.01, help="seconds between printed calls")
    demo.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    if args.command == "demo":
        data_dir = Path(args.data_dir).resolve()
        data_dir.mkdir(parents=True, exist_ok=True)
        return asyncio.run(_demo(args, data_dir))
    return 2


if __name__ == "__main__":
    sys.exit(main())
