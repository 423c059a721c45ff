"""`qms reports …`: the closed days' files, rebuilt from the log."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from qms.reports.errors import ReportError
from qms.reports.period import parse_day


def add_parsers(sub: Any) -> None:
    reports = sub.add_parser("reports", help="report files of closed days: rebuild")
    actions = reports.add_subparsers(dest="action", required=True)
    rebuild = actions.add_parser(
        "rebuild", help="write again the files of closed days from the log (docs/reports.md)"
    )
    rebuild.add_argument("--site", action="append", default=[], help="a site (repeat for more)")
    rebuild.add_argument("--from", dest="first", default=None, help="first day, YYYY-MM-DD")
    rebuild.add_argument("--to", dest="last", default=None, help="last day, YYYY-MM-DD")
    rebuild.add_argument("--data-dir", default=None, help="default ./qms-data (QMS_DATA_DIR)")
    rebuild.add_argument("--log-url", default=None, help="sqlite:///… or redis://… (QMS_LOG_URL)")


def run(args: argparse.Namespace) -> int:
    from qms.server.config import Config

    try:
        for day in (args.first, args.last):
            if day is not None:
                parse_day(day)
    except ReportError as exc:
        print(f"qms: {exc.code}: {exc.message}", file=sys.stderr)
        return 2
    config = Config.from_env(data_dir=args.data_dir, log_url=args.log_url)
    return asyncio.run(_rebuild(config, args.site, args.first, args.last))


async def _rebuild(config: Any, sites: list[str], first: str | None, last: str | None) -> int:
    from qms.eventlog import check_site, open_log
    from qms.reports.store import built_sites, rebuild

    root = config.reports_path
    sites = sites or built_sites(root)
    if not sites:
        print("qms: name the site(s) to rebuild with --site", file=sys.stderr)
        return 2
    for site in sites:
        try:
            check_site(site)
        except ValueError as exc:
            print(f"qms: {exc}", file=sys.stderr)
            return 2
    url = config.effective_log_url
    log = open_log(url)
    try:
        for site in sites:
            days = await rebuild(log, site, root, first, last, log_url=url)
            span = f"{days[0]} .. {days[-1]}" if days else "no closed day"
            print(f"site {site}: {len(days)} day(s) written ({span}) under {root}")
    finally:
        await log.close()
    return 0
