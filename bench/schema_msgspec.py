"""Should qms's converters give way to msgspec? The same dataclasses, both ways.

qms turns plain mappings into its typed commands and events with its own compiled
converters (`qms/eventsourcing/schema.py`); msgspec (a C extension) converts into
the same dataclasses with `msgspec.convert` and back with `msgspec.to_builtins`.
Issue 13 §4 asks to adopt it only if it is at least as fast. One process, the
conversions every process makes per event or command, median of 5 x 20,000 calls.

msgspec here checks types only: it does not know qms's `Constraint`s (bounds,
patterns, MAX_STR/MAX_LIST), which qms checks in the same call; its numbers are
therefore a floor for what a port would cost.

    .venv/bin/pip install -e '.[bench]'   # msgspec is in the bench extra only
    .venv/bin/python bench/schema_msgspec.py
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import msgspec
from _common import md_table
from core_costs import COMMAND, EVENT

from qms.core import parse_command
from qms.core.commands import COMMAND_TYPES
from qms.core.events import EVENT_TYPES, event_from_dict
from qms.core.model import Step, Ticket
from qms.eventsourcing.schema import to_dict

N = 20_000

ISSUED = {
    "type": "ticket_issued",
    "schema": 1,
    "ticket": "2026-11-27-0001",
    "service": "ktp",
    "number": "A001",
    "day": "2026-11-27",
    "seq": 1,
    "token": "x" * 16,
    "channel": "kiosk",
    "priority": "regular",
    "at": 1.0,
    "by": "kiosk-1",
}
ISSUE = {"type": "issue_ticket", "service": "ktp", "priority": "regular", "channel": "kiosk"}


def per_call_us(fn: Callable[[], Any]) -> float:
    times = []
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(N):
            fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) / N * 1e6


def _fields(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in ("type", "schema")}


def main() -> None:
    called_cls = EVENT_TYPES["ticket_called"]
    issued_cls = EVENT_TYPES["ticket_issued"]
    call_cls, issue_cls = COMMAND_TYPES["call_next"], COMMAND_TYPES["issue_ticket"]
    ticket = Ticket(
        id="t1",
        number="A001",
        service="ktp",
        day="2026-11-27",
        seq=1,
        token="x" * 16,
        steps=[Step("issued", 1.0), Step("called", 2.0, "L1", "budi"), Step("done", 3.0, "L1")],
    )
    # Both must build equal objects, or the comparison means nothing.
    for ours, theirs in (
        (event_from_dict(EVENT), msgspec.convert(_fields(EVENT), called_cls)),
        (event_from_dict(ISSUED), msgspec.convert(_fields(ISSUED), issued_cls)),
        (parse_command(COMMAND), msgspec.convert(_fields(COMMAND), call_cls)),
        (parse_command(ISSUE), msgspec.convert(_fields(ISSUE), issue_cls)),
    ):
        assert ours == theirs, (ours, theirs)
    assert to_dict(ticket) == msgspec.to_builtins(ticket)
    cases = [
        ("event: ticket_called", lambda: event_from_dict(EVENT),
         lambda: msgspec.convert(_fields(EVENT), called_cls)),
        ("event: ticket_issued", lambda: event_from_dict(ISSUED),
         lambda: msgspec.convert(_fields(ISSUED), issued_cls)),
        ("command: call_next (strict)", lambda: parse_command(COMMAND),
         lambda: msgspec.convert(_fields(COMMAND), call_cls)),
        ("command: issue_ticket (strict)", lambda: parse_command(ISSUE),
         lambda: msgspec.convert(_fields(ISSUE), issue_cls)),
        ("ticket to plain data (3 steps)", lambda: to_dict(ticket),
         lambda: msgspec.to_builtins(ticket)),
    ]  # fmt: skip
    rows = []
    for name, ours, theirs in cases:
        a, b = per_call_us(ours), per_call_us(theirs)
        rows.append((name, f"{a:.2f}", f"{b:.2f}", f"{a / b:.2f}"))
    print(f"msgspec {msgspec.__version__}; µs per call, median of 5 x {N:,}")
    print(md_table(["conversion", "qms µs", "msgspec µs", "qms / msgspec"], rows))


if __name__ == "__main__":
    main()
