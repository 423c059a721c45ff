"""What a survey window of days costs (docs/survey.md "For a stated time, up to a week"):
the older days' completed visits kept in `HallState.rateable` are part of every
snapshot's head, converted at once on the command path (`LiveSnapshot`), and are
rebuilt when a business day opens (`evolve` of `day_opened`).

    flock /tmp/qms-bench.lock .venv/bin/python bench/survey_window.py [--sizes 0,3000,7000]

A busy hall serving 1,000 visitors a day, a quarter of them rating, with a 7-day window
keeps about 5,000-7,000; at the default 24 hours it keeps none.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from qms.core import events as e
from qms.core.evolve import evolve
from qms.core.model import HallState, Site, Step, Ticket, TicketState
from qms.core.snapshot import LiveSnapshot

DAY = 86400.0


def ticket(i: int, day: str, finished: float) -> Ticket:
    return Ticket(
        id=f"t{day}-{i}",
        number=f"A{i:03d}",
        service="ktp",
        day=day,
        seq=i,
        token=f"tok-{day}-{i:06d}-abcdefghij",
        state=TicketState.DONE,
        issued_at=finished - 1200,
        arrival_at=finished - 1200,
        counter="L1",
        officer="budi",
        called_at=finished - 600,
        started_at=finished - 590,
        finished_at=finished,
        steps=[Step("issued", finished - 1200), Step("completed", finished)],
    )


def state_with(rateable: int, per_day: int = 1000, hours: int = 168) -> HallState:
    state = HallState(site=Site(id="s", name="S"), survey={"valid_hours": hours})
    now = 10 * DAY
    for i in range(rateable):
        t = ticket(i, f"old{i // per_day}", now - 3 * DAY)
        t.steps = []
        state.rateable[t.id] = t
    for i in range(per_day):  # today's and yesterday's tickets, as a busy hall's
        for day, at in (("d9", now - DAY), ("d10", now)):
            t = ticket(i, day, at)
            state.tickets[t.id] = t
    state.day = "d10"
    return state


def timed(fn: object, repeat: int) -> float:
    """The median of `repeat` runs, in milliseconds."""
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        runs.append((time.perf_counter() - start) * 1000)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="0,1000,3000,7000")
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()
    print("| window | rateable | snapshot head (ms) | day opening (ms) |")
    print("|---:|---:|---:|---:|")
    for n, hours in [(0, 24), *((int(x), 168) for x in args.sizes.split(","))]:
        state = state_with(n, hours=hours)
        head = timed(lambda: LiveSnapshot(state), args.repeat)  # noqa: B023

        def open_day() -> None:
            s = state_with(n, hours=hours)  # noqa: B023
            begin = time.perf_counter()
            evolve(s, e.DayOpened(at=10 * DAY + 3600, day="d11"))
            opened.append((time.perf_counter() - begin) * 1000)  # noqa: B023

        opened: list[float] = []
        for _ in range(args.repeat):
            open_day()
        print(f"| {hours} h | {n:,} | {head:.2f} | {statistics.median(opened):.2f} |")


if __name__ == "__main__":
    main()
