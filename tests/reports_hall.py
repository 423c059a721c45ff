"""A hall driven through the real pure core (`decide`/`evolve`) for the reports' tests.

`ReportsHall.run` decides a command at the hall's clock and keeps every event as the
log stores it (msgpack round trip). `ReportsHall.act` plays one random action: it picks
a command that fits the state (a counter with a ticket in hand for "complete",
a waiting ticket for "cancel", ...) from a number the caller draws, so that
hypothesis or a seeded random source can play whole days. Refused commands are
simply not logged.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import msgpack  # type: ignore[import-untyped]

from qms.core import HallState, Rejected, decide, event_to_dict, evolve
from qms.core import commands as c
from qms.core.model import FINAL_STATES, IN_HAND_STATES, Channel, CounterState, Priority
from qms.core.model import TicketState as T
from qms.eventlog import EventLog, open_log

SITE = "mpp-uji"
TZ = "Asia/Jakarta"
SERVICES = {"ktp": ("dukcapil", "A", 10), "kk": ("dukcapil", "B", 15), "nib": ("dpmptsp", "C", 20)}
COUNTERS = {"L1": ["ktp", "kk"], "L2": ["kk", "nib"], "L3": ["nib", "ktp"]}
OFFICERS = ["budi", "siti", "andi", "dewi"]
ACTIONS = [
    "issue",
    "issue",
    "issue",
    "open",
    "pause",
    "close",
    "call_next",
    "call_next",
    "call_ticket",
    "recall",
    "start",
    "complete",
    "complete",
    "no_show",
    "return",
    "transfer",
    "hold",
    "unhold",
    "cancel",
    "retarget",
    "reassign",
    "rename_agency",
    "close_day",
    "wait",
]


def local(day: str, hhmm: str, tz: str = TZ) -> float:
    return datetime.fromisoformat(f"{day}T{hhmm}").replace(tzinfo=ZoneInfo(tz)).timestamp()


def wire(event: Any) -> dict[str, Any]:
    data: dict[str, Any] = msgpack.unpackb(msgpack.packb(event_to_dict(event)))
    return data


class ReportsHall:
    def __init__(self, start: float, *, tz: str = TZ, site: str = SITE) -> None:
        self.state = HallState()
        self.now = start
        self.site = site
        self.tz = tz
        self.entries: list[tuple[int, dict[str, Any]]] = []

    def run(self, cmd: c.Command, dt: float = 0.0) -> bool:
        self.now += dt
        try:
            events = decide(self.state, cmd, self.now)
        except Rejected:
            return False
        for event in events:
            evolve(self.state, event)
            self.entries.append((len(self.entries) + 1, wire(event)))
        return True

    def must(self, cmd: c.Command, dt: float = 0.0) -> None:
        if not self.run(cmd, dt):
            raise AssertionError(f"refused: {cmd}")

    def busy(self, day: str, tickets: int = 5) -> None:
        """A morning at L1 from 08:00: `tickets` issued, all but one served."""
        self.now = local(day, "08:00")
        self.must(c.OpenCounter(counter="L1", officer="budi"))
        for i in range(tickets):
            self.must(c.IssueTicket(service="ktp", token=f"{day}-{i}"), 60.0)
        for _ in range(tickets - 1):
            self.must(c.CallNext(counter="L1"), 120.0)
            self.must(c.Complete(counter="L1"), 300.0)

    def set_up(self, keeps_arrival: bool = True, policy: str = "arrival") -> ReportsHall:
        self.must(
            c.SetUpSite(
                site=self.site,
                name="MPP Uji",
                timezone=self.tz,
                transfer_keeps_arrival=keeps_arrival,
                policy=policy,
            )
        )
        for agency in sorted({a for a, _, _ in SERVICES.values()}):
            self.must(c.SetUpAgency(agency=agency, name=agency.upper()))
        for sid, (agency, prefix, target) in SERVICES.items():
            self.must(service_set_up(sid, agency, prefix, target))
        for cid, services in COUNTERS.items():
            self.must(c.SetUpCounter(counter=cid, name=f"Loket {cid[1:]}", services=services))
        return self

    # -- random play -------------------------------------------------------------------

    def act(self, action: str, pick: int, dt: float) -> bool:
        """Play `action`, choosing its subject with `pick`; advance the clock by `dt` first."""
        self.now += dt
        s = self.state
        counters = sorted(s.counters.values(), key=lambda k: k.id)
        today = [t for t in s.tickets.values() if t.day == s.day]

        def choose(items: Sequence[Any]) -> Any:
            return items[pick % len(items)] if items else None

        def holding(*states: T) -> str | None:
            k = choose([k for k in counters if k.ticket and s.tickets[k.ticket].state in states])
            return None if k is None else str(k.id)

        cmd: c.Command | None = None
        if action == "issue":
            service = choose(sorted(SERVICES))
            priority = list(Priority)[pick // 7 % 4] if pick % 5 == 0 else Priority.REGULAR
            channel = list(Channel)[pick // 3 % 3]
            cmd = c.IssueTicket(
                service=service, priority=priority, channel=channel, token=f"t{len(self.entries)}"
            )
        elif action == "open":
            k = choose([k for k in counters if k.state is not CounterState.OPEN])
            if k is not None:
                cmd = c.OpenCounter(counter=k.id, officer=OFFICERS[pick // 3 % len(OFFICERS)])
        elif action in ("pause", "close"):
            fit = CounterState.OPEN if action == "pause" else None
            k = choose(
                [
                    k
                    for k in counters
                    if not k.ticket and k.state is not CounterState.CLOSED
                    if fit is None or k.state is fit
                ]
            )
            if k is not None:
                kind = c.PauseCounter if action == "pause" else c.CloseCounter
                cmd = kind(counter=k.id)
        elif action == "call_next":
            k = choose([k for k in counters if k.state is CounterState.OPEN and not k.ticket])
            if k is not None:
                cmd = c.CallNext(counter=k.id)
        elif action == "call_ticket":
            k = choose([k for k in counters if k.state is CounterState.OPEN and not k.ticket])
            t = choose([t for t in today if t.state in (T.WAITING, T.HELD)])
            if k is not None and t is not None:
                cmd = c.CallTicket(counter=k.id, ticket=t.id, override=True)
        elif action in ("recall", "start", "no_show"):
            cid = holding(T.CALLED)
            kinds = {"recall": c.Recall, "start": c.StartService, "no_show": c.NoShow}
            if cid is not None:
                cmd = kinds[action](counter=cid)
        elif action in ("complete", "return"):
            cid = holding(*IN_HAND_STATES)
            if cid is not None:
                cmd = (c.Complete if action == "complete" else c.ReturnToQueue)(counter=cid)
        elif action == "transfer":
            t = choose([t for t in today if t.state in (T.WAITING, *IN_HAND_STATES)])
            if t is not None:
                to_service = sorted(SERVICES)[pick // 5 % len(SERVICES)]
                to_counter = sorted(COUNTERS)[pick // 2 % 3] if pick % 2 == 0 else None
                cmd = c.Transfer(ticket=t.id, to_service=to_service, to_counter=to_counter)
        elif action == "hold":
            t = choose([t for t in today if t.state in (T.WAITING, *IN_HAND_STATES)])
            if t is not None:
                cmd = c.Hold(ticket=t.id)
        elif action == "unhold":
            t = choose([t for t in today if t.state is T.HELD])
            if t is not None:
                cmd = c.Unhold(ticket=t.id)
        elif action == "cancel":
            t = choose([t for t in today if t.state in (T.WAITING, T.HELD)])
            if t is not None:
                cmd = c.Cancel(ticket=t.id)
        elif action == "retarget":
            sid = choose(sorted(SERVICES))
            agency = s.services[sid].agency
            cmd = service_set_up(sid, agency, s.services[sid].prefix, 1 + pick % 40)
        elif action == "reassign":
            k = choose(counters)
            services = [x for i, x in enumerate(sorted(SERVICES)) if (pick >> i) & 1]
            cmd = c.SetCounterServices(counter=k.id, services=services)
        elif action == "rename_agency":
            sid = choose(sorted(SERVICES))
            now = s.services[sid]
            agency = "dukcapil" if now.agency != "dukcapil" else "dpmptsp"
            cmd = service_set_up(sid, agency, now.prefix, now.target_wait_min)
        elif action == "close_day":
            cmd = c.CloseDay()
        elif action == "wait":
            self.now += 60 * (1 + pick % 90)
        return cmd is not None and self.run(cmd)

    def unfinished(self) -> list[str]:
        return [t.id for t in self.state.tickets.values() if t.state not in FINAL_STATES]


def service_set_up(sid: str, agency: str, prefix: str, target_min: int) -> c.SetUpService:
    return c.SetUpService(
        service=sid,
        agency=agency,
        prefix=prefix,
        name_id=f"Layanan {sid}",
        name_en=f"Service {sid}",
        target_wait_min=target_min,
    )


async def store(log: EventLog, hall: ReportsHall, after: int = 0) -> int:
    """Append the hall's entries after `after` to the real log (in pieces, as an engine would)."""
    version = after
    pending = [event for v, event in hall.entries if v > after]
    for i in range(0, len(pending), 50):
        version = await log.append(hall.site, version, pending[i : i + 50])
    return version


async def store_at(log_url: str, *halls: ReportsHall) -> None:
    """Append every hall's entries to the log at `log_url`, opened and closed here."""
    log = open_log(log_url)
    try:
        for hall in halls:
            await store(log, hall)
    finally:
        await log.close()
