"""What a counter tablet's poll costs the server: `qms.core.survey.tablet_visit`, the
scan for its counter's latest completion, against the tickets the state keeps (today's
and the previous business day's), all completed across 20 counters.

    flock /tmp/qms-bench.lock .venv/bin/python bench/tablet_poll.py [--sizes 1000,6000,20000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from qms.core.model import Counter, HallState, Ticket, TicketState
from qms.core.survey import tablet_visit

COUNTERS = 20
POLL_S = 3.0  # static/js/tablet.js: POLL_MS


def state_of(tickets: int) -> HallState:
    state = HallState()
    state.counters = {f"L{i}": Counter(id=f"L{i}", name=f"Loket {i}") for i in range(1, 21)}
    for i in range(tickets):
        state.tickets[f"t{i}"] = Ticket(
            id=f"t{i}",
            number=f"A{i:03d}",
            service="ktp",
            day="2026-12-05",
            seq=i,
            token=f"x{i}",
            state=TicketState.DONE,
            counter=f"L{i % COUNTERS + 1}",
            finished_at=1000.0 + i,
        )
    return state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,6000,20000")
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    for size in (int(s) for s in args.sizes.split(",")):
        state = state_of(size)
        started = time.perf_counter()
        for _ in range(args.repeat):
            tablet_visit(state, "L7")
        each = (time.perf_counter() - started) / args.repeat
        share = each * COUNTERS / POLL_S * 100
        print(
            f"{size:>6} tickets: {each * 1e6:7.0f} µs a poll; a tablet at each of "
            f"{COUNTERS} counters every {POLL_S:.0f} s: {share:.2f} % of a core"
        )


if __name__ == "__main__":
    main()
