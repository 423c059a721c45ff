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
from qms.demo_history import DEFAULT_DAYS
from qms.display import voice_pack
from qms.engine import SiteEngine
from qms.eventlog import is_redis_url, open_log
from qms.reports import cli as reports_cli  # light: duckdb loads only when a report runs
from qms.server.settings import SettingError
from qms.simulate import next_workday, opening_time, run_day, summary


def private_data_dir(path: Path | str) -> Path:
    """The data directory, made 0700 (qms.server.app.private_data_dir)."""
    from qms.server.app import private_data_dir as make_private

    return make_private(path)


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


def _server_config(args: argparse.Namespace, **more: Any) -> Any:
    """The server's Config: QMS_* variables, overridden by the command line's options."""
    from qms.server.config import Config

    return Config.from_env(
        host=args.host, port=args.port, data_dir=args.data_dir, log_url=args.log_url, **more
    )


def _serve_demo(args: argparse.Namespace) -> int:
    from qms.demo import prepare

    config = _server_config(args, simulate=True if args.simulate else None)
    private_data_dir(config.data_dir)
    if args.history is not None:
        code = _demo_history(args, config)
        if code:
            return code
    for line in asyncio.run(prepare(config)):
        print(line)
    return _run_server(config)


def _demo_history(args: argparse.Namespace, config: Any) -> int:
    from qms.demo_history import fill_demo_history, site_today

    if args.history < 1:
        print("qms demo: --history takes a number of days >= 1", file=sys.stderr)
        return 2
    seed = args.seed if args.seed is not None else random.randrange(1_000_000)
    print(f"Riwayat / history: {args.history} hari / days before today, seed {seed}")
    started = time.monotonic()
    asyncio.run(
        fill_demo_history(
            config.effective_log_url,
            config.reports_path,
            args.history,
            seed,
            site_today(time.time()),
        )
    )
    print(f"Riwayat selesai / history done in {time.monotonic() - started:.1f} s")
    return 0


def _serve(args: argparse.Namespace) -> int:
    return _run_server(_server_config(args, workers=args.workers))


def _run_server(config: Any) -> int:
    import uvicorn

    from qms.server.http import KEEP_ALIVE_S, TimedHttpToolsProtocol

    if config.workers > 1 and not is_redis_url(config.effective_log_url):
        print(
            "qms serve: --workers > 1 needs a shared log: pass --log-url redis://HOST:PORT/DB "
            "(the embedded SQLite log serves one process)",
            file=sys.stderr,
        )
        return 2
    private_data_dir(config.data_dir)
    print(f"qms: log {config.effective_log_url}")
    base = config.base_url
    print(f"qms: pages    {base}/  console {base}/console  supervisor {base}/supervisor")
    print(f"qms:          admin {base}/admin  (displays and kiosks open their device links)")
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
        # Limits for a server a stranger can reach (docs/deploy.md): each request must
        # arrive within QMS_REQUEST_TIMEOUT s (qms.server.http), an idle kept-alive
        # connection is closed after 5 s, request line and headers are at most 16 KiB
        # (qms.server.http), and X-Forwarded-For is believed from QMS_FORWARDED_ALLOW_IPS only.
        http=TimedHttpToolsProtocol,
        # asyncio's own loop, whatever else is installed: uvicorn's "auto" would take
        # uvloop when present, whose transports qms.eventlog.resp does not accept.
        loop="asyncio",
        timeout_keep_alive=KEEP_ALIVE_S,
        limit_concurrency=config.limit_concurrency or None,
        proxy_headers=bool(config.forwarded_allow_ips),
        forwarded_allow_ips=config.forwarded_allow_ips or None,
        # Frames are encoded once per audience and shared; per-connection deflate
        # would compress each copy again and double the memory of an idle socket.
        ws_per_message_deflate=False,
        ws_max_size=16 * 1024,  # client frames are tiny (the stream refuses > 4 KiB)
        ws=config.ws_impl,  # QMS_WS_IMPL
    )
    return 0


# --- people and devices (`qms user …`, `qms device …`) ------------------------------------


def _read_password(prompt: str = "Password") -> str:
    """From stdin's first line when it is not a terminal; else prompted twice."""
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    import getpass

    first = getpass.getpass(f"{prompt}: ")
    if first != getpass.getpass(f"{prompt} (again): "):
        raise SystemExit("qms: the passwords differ; nothing was changed")
    return first


def _accounts_config(args: argparse.Namespace) -> Any:
    from qms.server.config import Config

    return Config.from_env(
        data_dir=args.data_dir, log_url=args.log_url, public_url=getattr(args, "public_url", None)
    )


def _table(rows: list[list[str]]) -> None:
    """Columns; control characters in old records are shown escaped, never printed."""
    from qms.core.text import printable

    rows = [[printable(cell) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


async def _accounts_command(args: argparse.Namespace, config: Any, password: str) -> int:
    from qms.accounts import DeviceKind, UserRole
    from qms.server.auth import device_link, open_accounts

    async with open_accounts(config) as store:
        action = (args.command, args.action)
        if action == ("user", "add"):
            role = UserRole(args.role)
            user = await store.add_user(
                args.username.lower(), role, args.site, password, by="cli", agencies=args.agency
            )
            print(f"user {user.username} added: {role.value} ({', '.join(user.sites) or 'all'})")
        elif action == ("user", "passwd"):
            user = await store.set_password(args.username.lower(), password, by="cli")
            print(f"password of {user.username} changed; their other sessions ended")
        elif action in (("user", "activate"), ("user", "deactivate")):
            active = args.action == "activate"
            user = await store.change_user(args.username.lower(), active=active, by="cli")
            print(f"user {user.username} {'active' if user.active else 'deactivated'}")
        elif action == ("user", "set"):
            if args.role is None and not args.site and not args.agency:
                raise SystemExit(
                    "qms user set: give --role, --site and/or --agency; nothing was changed"
                )
            user = await store.change_user(
                args.username.lower(),
                role=None if args.role is None else UserRole(args.role),
                sites=args.site or None,
                by="cli",
                agencies=args.agency or None,
            )
            print(f"user {user.username}: {user.role.value} ({', '.join(user.sites) or 'all'})")
        elif action == ("user", "list"):
            rows = [["USERNAME", "ROLE", "ACTIVE", "SITES"]]
            for u in store.users():
                active = "yes" if u.active else "no"
                rows.append([u.username, u.role.value, active, ",".join(u.sites) or "*"])
            _table(rows)
        elif action == ("device", "add"):
            kind, zone, name = DeviceKind(args.kind), args.zone or "", args.name or ""
            device, token = await store.add_device(
                kind, args.site, zone=zone, name=name, counter=args.counter or "", by="cli"
            )
            where = f", zone {device.zone}" if device.zone else ""
            where += f", counter {device.counter}" if device.counter else ""
            print(f"device {device.device}: {kind.value} at site {device.site}{where}")
            print(f"link: {device_link(config, device, token)}")
            print(f"(the token is shown only this once; revoke: qms device revoke {device.device})")
        elif action == ("device", "revoke"):
            device = await store.revoke_device(args.device, by="cli")
            print(f"device {device.device} revoked")
        elif action == ("device", "list"):
            rows = [["DEVICE", "KIND", "SITE", "ZONE", "COUNTER", "REVOKED", "NAME"]]
            for d in store.devices():
                revoked = "yes" if d.revoked else "no"
                at = [d.zone or "-", d.counter or "-"]
                rows.append([d.device, d.kind.value, d.site, *at, revoked, d.name])
            _table(rows)
    return 0


def _run_accounts(args: argparse.Namespace) -> int:
    from qms.accounts import AccountRejected

    password = ""
    if args.command == "user" and args.action in ("add", "passwd"):
        password = _read_password("Password" if args.action == "add" else "New password")
    config = _accounts_config(args)
    private_data_dir(config.data_dir)
    try:
        return asyncio.run(_accounts_command(args, config, password))
    except AccountRejected as exc:
        print(f"qms: {exc.code}: {exc.message}", file=sys.stderr)
        return 1


def _add_account_parsers(sub: Any) -> None:
    where = argparse.ArgumentParser(add_help=False)
    where.add_argument("--data-dir", default=None, help="default ./qms-data (QMS_DATA_DIR)")
    where.add_argument("--log-url", default=None, help="sqlite:///… or redis://… (QMS_LOG_URL)")
    user = sub.add_parser("user", help="people: add, passwd, set, activate, deactivate, list")
    users = user.add_subparsers(dest="action", required=True)
    add = users.add_parser(
        "add", parents=[where], help="add a user (password from stdin when it is not a terminal)"
    )
    add.add_argument("username")
    roles = ["admin", "supervisor", "officer", "viewer"]
    add.add_argument("--role", required=True, choices=roles)
    add.add_argument("--site", action="append", default=[], help="a site (repeat for more)")
    add.add_argument(
        "--agency", action="append", default=[], help="a viewer's agency (repeat; none: all)"
    )
    passwd = users.add_parser("passwd", parents=[where], help="set a user's password")
    passwd.add_argument("username")
    change = users.add_parser("set", parents=[where], help="give a user another role and/or sites")
    change.add_argument("username")
    change.add_argument("--role", default=None, choices=roles)
    change.add_argument(
        "--site", action="append", default=[], help="the user's sites, all of them (repeat)"
    )
    change.add_argument(
        "--agency", action="append", default=[], help="a viewer's agencies, all of them (repeat)"
    )
    for verb, text in (
        ("activate", "let a deactivated user sign in again"),
        ("deactivate", "stop a user signing in (their sessions end; never the last admin)"),
    ):
        users.add_parser(verb, parents=[where], help=text).add_argument("username")
    users.add_parser("list", parents=[where], help="list users")
    device = sub.add_parser("device", help="displays, kiosks and tablets: add, revoke, list")
    devices = device.add_subparsers(dest="action", required=True)
    dadd = devices.add_parser("add", parents=[where], help="add a device; prints its link once")
    dadd.add_argument("--kind", required=True, choices=["display", "kiosk", "tablet"])
    dadd.add_argument("--site", required=True)
    dadd.add_argument("--zone", default=None)
    dadd.add_argument("--counter", default=None, help="a tablet's counter (required for one)")
    dadd.add_argument("--name", default=None, help="a label, e.g. 'TV lobby'")
    dadd.add_argument("--public-url", default=None, help="base of the link (QMS_PUBLIC_URL)")
    revoke = devices.add_parser("revoke", parents=[where], help="revoke a device's token")
    revoke.add_argument("device")
    devices.add_parser("list", parents=[where], help="list devices (never their tokens)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="qms", description="Queue management for MPP halls")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the server")
    serve.add_argument("--host", default=None, help="default 127.0.0.1 (QMS_HOST)")
    serve.add_argument("--port", type=int, default=None, help="default 8000 (QMS_PORT)")
    serve.add_argument("--data-dir", default=None, help="default ./qms-data (QMS_DATA_DIR)")
    serve.add_argument("--log-url", default=None, help="sqlite:///… or redis://… (QMS_LOG_URL)")
    serve.add_argument("--workers", type=int, default=None, help="processes (QMS_WORKERS)")
    demo = sub.add_parser("demo", help="set up the demo hall (once) and serve it")
    demo.add_argument("--host", default=None, help="default 127.0.0.1 (QMS_HOST)")
    demo.add_argument("--port", type=int, default=None, help="default 8000 (QMS_PORT)")
    demo.add_argument("--data-dir", default=None, help="default ./qms-data (QMS_DATA_DIR)")
    demo.add_argument("--log-url", default=None, help="sqlite:///… or redis://… (QMS_LOG_URL)")
    demo.add_argument("--simulate", action="store_true", help="simulated visitors and officers")
    demo.add_argument("--terminal", action="store_true", help="play a day in the terminal only")
    demo.add_argument("--hours", type=float, default=2.0, help="--terminal: simulated hours")
    demo.add_argument("--delay", type=float, default=0.01, help="--terminal: s between calls")
    demo.add_argument("--seed", type=int, default=None)
    demo.add_argument(
        "--history",
        type=int,
        nargs="?",
        const=DEFAULT_DAYS,
        default=None,
        metavar="DAYS",
        help="first fill the DAYS (default 28) before today with simulated days (reports)",
    )
    _add_account_parsers(sub)
    reports_cli.add_parsers(sub)
    voice_pack.add_parser(sub)
    args = parser.parse_args(argv)
    try:
        return _run(args)
    except SettingError as exc:  # a QMS_* variable that cannot be used: say which
        print(f"qms: {exc}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    if args.command == "reports":
        return reports_cli.run(args)
    if args.command == "voice-pack":
        return voice_pack.run(args)
    if args.command in ("user", "device"):
        return _run_accounts(args)
    if args.command == "serve":
        return _serve(args)
    if args.command == "demo" and args.terminal and args.history is not None:
        print("qms demo: --history fills the served demo; leave out --terminal", file=sys.stderr)
        return 2
    if args.command == "demo" and args.terminal:
        data_dir = private_data_dir(Path(args.data_dir or "qms-data").resolve())
        return asyncio.run(_demo(args, data_dir))
    if args.command == "demo":
        return _serve_demo(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
