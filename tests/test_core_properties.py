"""Property-based tests of the pure core (`qms.core`).

`HallMachine` drives a hall with two agencies, four services and four counters
(plus one that only exists once set up) through random sequences of every
command the core knows, from several kiosks and counters, with a clock that
moves forward and sometimes past midnight in Asia/Jakarta, a second server
process whose clock lags a little, and busloads of visitors. After every step
it checks the hall's invariants, that a refused command changed nothing, and
that the log (every event through its dict form and msgpack, as stored)
rebuilds the live state, from scratch and from a snapshot plus the tail.

Derandomized (the same examples on every run); a failure shrinks for at most
SHRINK_SECONDS so that it is reported within the 120 s per-test timeout.
`hypothesis.event` labels each command's outcome: run with
`--hypothesis-show-statistics` to see how often each was accepted or refused.

`test_decide_is_pure` throws random, often nonsensical, commands at `decide`:
it never changes its input and never raises anything but `Rejected`.
"""

from __future__ import annotations

import copy
import dataclasses
import types
import typing
from collections import Counter as Tally
from collections.abc import Callable, Iterator
from datetime import datetime, time, timedelta
from typing import Any, ClassVar
from unittest import mock
from zoneinfo import ZoneInfo

import hypothesis
import hypothesis.internal.conjecture.engine as hypothesis_engine
import msgpack  # type: ignore[import-untyped]
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
)

from qms.core import (
    COMMAND_TYPES,
    HallState,
    Rejected,
    decide,
    event_from_dict,
    event_to_dict,
    evolve,
    state_from_dict,
    state_to_dict,
)
from qms.core import commands as c
from qms.core import events as e
from qms.core.calendar import business_day
from qms.core.errors import ALL_CODES
from qms.core.evolve import queue_key
from qms.core.model import (
    FINAL_STATES,
    IN_HAND_STATES,
    Channel,
    Counter,
    CounterState,
    OpeningHours,
    Priority,
    TicketState,
)
from qms.core.policy import POLICIES
from qms.core.survey import TABLET_MINUTES

pytestmark = pytest.mark.timeout(120)
SHRINK_SECONDS = 40
# No explain phase: its tracing (Python < 3.12) makes reporting a failure outlast the timeout.
PHASES = [Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink]


@pytest.fixture(autouse=True, scope="module")
def _shrink_briefly() -> Iterator[None]:
    """A failure shrinks for SHRINK_SECONDS at most (not 300), so that it is reported,
    shrunk as far as it got, within the 120 s per-test timeout."""
    # A private constant of hypothesis; should it go, the patch is a harmless no-op.
    with mock.patch.object(hypothesis_engine, "MAX_SHRINKING_SECONDS", SHRINK_SECONDS, create=True):
        yield


TZ_NAME = "Asia/Jakarta"
ZONE = ZoneInfo(TZ_NAME)
START = datetime(2024, 5, 6, 7, 30, tzinfo=ZONE).timestamp()  # a Monday morning

AGENCIES = {"dukcapil": "Disdukcapil", "dpmptsp": "DPMPTSP"}
SERVICES = {  # id: agency, prefix, target wait (minutes)
    "ktp": ("dukcapil", "A", 10),
    "kk": ("dukcapil", "B", 15),
    "nib": ("dpmptsp", "C", 20),
    "izin": ("dpmptsp", "D", 30),
}
SERVICE_IDS = list(SERVICES)
SPARE_PREFIXES = ["Y", "Z"]  # a service may move to one, freeing its own for another
COUNTER_SERVICES = {  # overlapping, in order of preference
    "L1": ["ktp", "kk"],
    "L2": ["kk", "nib"],
    "L3": ["nib", "izin", "ktp"],
    "L4": ["izin"],
}
KNOWN_COUNTERS = list(COUNTER_SERVICES)
UNKNOWN_TICKET = "2000-01-01-99999"

HOURS = [
    OpeningHours(),
    OpeningHours("08:00", "15:00", [0, 1, 2, 3, 4]),
    OpeningHours("07:00", "12:00", [0, 1, 2, 3, 4, 5]),
    OpeningHours("13:00", "24:00", [0, 2, 4, 6]),
]
BAD_HOURS = [
    OpeningHours("15:00", "08:00"),
    OpeningHours("8:00", "15:00"),
    OpeningHours(weekdays=[7]),
]

# --- strategies ------------------------------------------------------------------

hours = st.sampled_from(HOURS).map(copy.deepcopy)
counters = st.sampled_from([*KNOWN_COUNTERS * 4, "L5", "nope"])  # L5 exists once set up
services = st.sampled_from([*SERVICE_IDS * 4, "nope"])
service_lists = st.one_of(
    st.lists(st.sampled_from(SERVICE_IDS), unique=True, max_size=4),
    st.lists(st.sampled_from([*SERVICE_IDS, "nope"]), max_size=4),  # duplicates, unknowns
)
priorities = st.sampled_from(
    [Priority.REGULAR] * 3 + [p for p in Priority if p is not Priority.REGULAR]
)
channels = st.sampled_from(list(Channel))
kiosks = st.sampled_from(["kiosk-1", "kiosk-2", "web", None])
staff = st.sampled_from(["budi", "siti", "andi", "supervisor", None])
officers = st.sampled_from(["budi", "siti", "andi", "dewi", "  "])
tokens = st.sampled_from(["", *(f"{n:012x}" for n in range(1, 10))])  # "" is refused
command_ids = st.one_of(st.none(), st.uuids().map(str))
# Mostly seconds or minutes; sometimes hours, far enough to cross local midnight.
_seconds = st.floats(0.001, 600, allow_nan=False)
_hours = st.floats(600, 4 * 3600, allow_nan=False)
_days = st.floats(4 * 3600, 40 * 3600, allow_nan=False)
clock_steps = st.one_of(_seconds, _seconds, _seconds, _hours, _hours, _days)


def wire(event: e.Event) -> dict[str, Any]:
    """An event as the log stores and returns it."""
    data: dict[str, Any] = msgpack.unpackb(msgpack.packb(event_to_dict(event)))
    return data


def replay(entries: list[dict[str, Any]], state: HallState | None = None) -> HallState:
    state = HallState() if state is None else state
    for entry in entries:
        evolve(state, event_from_dict(entry))
    return state


def queues_of(state: HallState) -> dict[str, set[str]]:
    """The waiting-queue index as sets, empty queues left out (order carries no meaning)."""
    return {k: set(q) for k, q in state.queues.items() if q}


def same_state(a: HallState, b: HallState) -> bool:
    """Equal as `state_to_dict` sees them, and the same waiting queues (faster than to_dict)."""
    core = [f.name for f in dataclasses.fields(HallState) if f.name != "queues"]
    return all(getattr(a, n) == getattr(b, n) for n in core) and queues_of(a) == queues_of(b)


def set_up_commands(
    policy: str, streak: int, keeps_arrival: bool, quota: int, nib_hours: OpeningHours
) -> list[c.Command]:
    out: list[c.Command] = [
        c.SetUpSite(
            site="mpp-jakarta",
            name="MPP Jakarta",
            timezone=TZ_NAME,
            policy=policy,
            priority_streak_max=streak,
            transfer_keeps_arrival=keeps_arrival,
            by="admin",
        )
    ]
    out += [c.SetUpAgency(agency=a, name=n, by="admin") for a, n in AGENCIES.items()]
    for sid, (agency, prefix, target) in SERVICES.items():
        out.append(
            c.SetUpService(
                service=sid,
                agency=agency,
                prefix=prefix,
                name_id=f"Layanan {sid}",
                name_en=f"Service {sid}",
                target_wait_min=target,
                daily_quota=quota if sid == "kk" else 0,
                hours=nib_hours if sid == "nib" else OpeningHours(),
                by="admin",
            )
        )
    for cid, svc in COUNTER_SERVICES.items():
        out.append(c.SetUpCounter(counter=cid, name=f"Loket {cid[1:]}", services=svc, by="admin"))
    return out


# --- the stateful test ---------------------------------------------------------------


class HallMachine(RuleBasedStateMachine):
    # How each event is folded into the machine's states: a subclass may check more
    # around it (tests/test_engine_batch.py undoes every event it folds).
    fold: ClassVar[Callable[[HallState, e.Event], object]] = staticmethod(evolve)

    def __init__(self) -> None:
        super().__init__()
        self.state = HallState()
        self.now = START
        self.log: list[dict[str, Any]] = []
        self.snapshots: list[tuple[int, dict[str, Any]]] = []
        # States fed every log entry as it is written: one from a fresh HallState, one
        # restored from each snapshot. Each equals a full replay (from scratch, or of the
        # snapshot plus the tail) at every step; teardown replays from scratch as well.
        self.replicas: list[tuple[str, HallState]] = [("replay of the log", HallState())]
        self.take_snapshot()
        self.steps = 0
        self.issued: dict[str, str] = {}  # ticket id -> its day
        self.numbers: set[tuple[str, str, str]] = set()  # (day, service, number)
        self.last_seq: dict[tuple[str, str], int] = {}  # (day, service) -> last seq issued
        self.days_opened: list[str] = []
        self.unchanged: dict[str, Any] | None = None  # state_to_dict while the state is unchanged

    # -- running one command ------------------------------------------------------

    def run(self, cmd: c.Command, thorough: bool = True, at: float | None = None) -> str | None:
        """Decide and apply `cmd` at `at` (default: now); the rejection code, or None when
        it was accepted.

        `thorough` (off only inside bulk rules, for speed) checks that decide left the
        state as it was, whether it refused the command or not."""
        at = self.now if at is None else at
        self.steps += 1
        before = self.as_dict() if thorough else None
        before_queues = queues_of(self.state)
        try:
            events = decide(self.state, cmd, at)
        except Rejected as exc:
            assert exc.code in ALL_CODES, exc.code
            if before is not None:
                self.unchanged = None
                assert self.as_dict() == before, f"{cmd.TYPE} refused, state changed"
            assert queues_of(self.state) == before_queues
            hypothesis.event(f"{cmd.TYPE}: {exc.code}")
            self.check_refusal(cmd, exc.code, at)
            return exc.code
        hypothesis.event(f"{cmd.TYPE}: ok")
        assert events, f"{cmd.TYPE} accepted without an event"
        if before is not None:
            assert state_to_dict(self.state) == before, f"decide({cmd.TYPE}) changed its state"
        self.unchanged = None
        assert queues_of(self.state) == before_queues
        self.check_acceptance(cmd, at)
        for event in events:
            assert event.at == at and event.by == cmd.by
            entry = wire(event)
            assert event_from_dict(entry) == event, f"{event.TYPE} does not survive the wire"
            if isinstance(event, e.TicketIssued):
                self.check_issue(event)
            if isinstance(event, e.DayOpened) and event.day not in self.days_opened:
                self.days_opened.append(event.day)
            type(self).fold(self.state, event)
            self.log.append(entry)
            for _, replica in self.replicas:
                type(self).fold(replica, event_from_dict(entry))
        return None

    def as_dict(self) -> dict[str, Any]:
        """`state_to_dict` of the live state, computed once per change of the state."""
        if self.unchanged is None:
            self.unchanged = state_to_dict(self.state)
        return self.unchanged

    def ticket_day(self, cmd: c.Command) -> str | None:
        ticket = getattr(cmd, "ticket", None)
        return self.issued.get(ticket) if isinstance(ticket, str) else None

    def previous_day(self, today: str) -> str | None:
        earlier = [d for d in self.days_opened if d < today]
        return earlier[-1] if earlier else None

    def today(self, at: float) -> str:
        """The business day at time `at`: its date, or a later day already opened (the day
        never goes back for a clock that lags behind it)."""
        return max([business_day(at, TZ_NAME), *self.days_opened])

    def check_acceptance(self, cmd: c.Command, at: float) -> None:
        if isinstance(cmd, c.SubmitSurvey):  # a completed ticket, rated once, within 24 h
            t = self.state.tickets[cmd.ticket]
            assert t.state is TicketState.DONE and t.token == cmd.token and not t.surveyed
            assert t.finished_at is not None and at - t.finished_at <= 24 * 3600
            return
        if isinstance(cmd, c.SkipTabletSurvey):  # a completed visit the tablet still asks
            t = self.state.tickets[cmd.ticket]
            assert t.state is TicketState.DONE and t.token == cmd.token and not t.surveyed
            assert not t.tablet_skipped
            assert t.finished_at is not None and at - t.finished_at < TABLET_MINUTES * 60
            return
        day = self.ticket_day(cmd)
        if day is not None:
            today = self.today(at)
            assert day == today, f"{cmd.TYPE} accepted for a ticket of {day} on {today}"

    def check_refusal(self, cmd: c.Command, code: str, at: float) -> None:
        if isinstance(cmd, c.SubmitSurvey | c.ConfigureSurvey | c.SkipTabletSurvey):
            return  # tests/test_survey_core.py, test_api_tablet.py: each refusal
        day = self.ticket_day(cmd)
        if day is None:
            return
        today = self.today(at)
        if day in (today, self.previous_day(today)):
            # Today's and the previous day's tickets are still known ("expired" for the latter).
            assert code != "unknown_ticket", f"{cmd.TYPE}: ticket of {day} forgotten on {today}"
        if day != today and isinstance(cmd, c.TicketCommand):
            expected = {"ticket_expired", "unknown_ticket"}
            assert code in expected, f"{cmd.TYPE} on a ticket of {day}: {code}"

    def check_issue(self, ev: e.TicketIssued) -> None:
        """Numbers and ids are unique: per service per day, and never reused."""
        assert ev.ticket not in self.state.tickets, f"ticket id {ev.ticket} reused"
        assert ev.ticket not in self.issued, f"ticket id {ev.ticket} issued twice"
        today = self.today(ev.at)
        assert ev.day == self.state.day == today, f"issued on {ev.day}, not {today}"
        key = (ev.day, ev.service, ev.number)
        assert key not in self.numbers, f"number {ev.number} issued twice on {ev.day}"
        assert ev.seq == self.last_seq.get((ev.day, ev.service), 0) + 1, "numbers skip or repeat"
        quota = self.state.services[ev.service].daily_quota
        assert not quota or ev.seq <= quota, f"quota {quota} of {ev.service} exceeded"
        self.numbers.add(key)
        self.last_seq[(ev.day, ev.service)] = ev.seq
        self.issued[ev.ticket] = ev.day

    def pick_ticket(self, data: st.DataObject, *fit: TicketState) -> str:
        """Mostly a ticket of today in a state that fits the command; else any ticket ever
        issued (older days too), or one that never was."""
        kind = data.draw(st.integers(0, 9), label="which ticket")
        if kind == 0 or not self.issued:
            return UNKNOWN_TICKET
        today = [t for t in self.state.tickets.values() if t.day == self.state.day]
        fitting = [t.id for t in today if t.state in fit]
        live = [t.id for t in today if t.state not in FINAL_STATES]
        pool = (fitting if kind >= 4 else live if kind >= 2 else []) or list(self.issued)
        return data.draw(st.sampled_from(pool), label="ticket")

    def pick_counter(self, data: st.DataObject, fit: Callable[[Counter], bool]) -> str:
        """Mostly a counter in a state that fits the command; else any name, known or not."""
        fitting = [cid for cid, k in self.state.counters.items() if fit(k)]
        if fitting and data.draw(st.integers(0, 3), label="fitting counter") > 0:
            return data.draw(st.sampled_from(fitting), label="counter")
        return data.draw(counters, label="counter")

    # -- set-up -----------------------------------------------------------------------

    @initialize(
        policy=st.sampled_from(sorted(POLICIES)),
        streak=st.integers(1, 4),
        keeps_arrival=st.booleans(),
        quota=st.integers(1, 4),
        nib_hours=hours,
        opened=st.lists(
            st.tuples(st.sampled_from(KNOWN_COUNTERS), st.sampled_from(["idle", "call", "serve"])),
            unique_by=lambda x: x[0],
        ),
        visitors=st.lists(st.tuples(st.sampled_from(SERVICE_IDS), priorities), max_size=8),
    )
    def set_up(
        self,
        policy: str,
        streak: int,
        keeps_arrival: bool,
        quota: int,
        nib_hours: OpeningHours,
        opened: list[tuple[str, str]],
        visitors: list[tuple[str, Priority]],
    ) -> None:
        for cmd in set_up_commands(policy, streak, keeps_arrival, quota, nib_hours):
            assert self.run(cmd) is None, cmd
        # The morning: some counters open, some visitors already took a ticket.
        for i, (counter, _) in enumerate(opened):
            assert self.run(c.OpenCounter(counter=counter, officer=f"petugas-{i}")) is None
        for i, (service, priority) in enumerate(visitors):
            self.now += 7.5
            self.run(c.IssueTicket(service=service, priority=priority, token=f"pagi{i}"))
        for counter, work in opened:
            called = work != "idle" and self.run(c.CallNext(counter=counter)) is None
            if called and work == "serve":
                assert self.run(c.StartService(counter=counter)) is None

    @rule(
        policy=st.sampled_from([*sorted(POLICIES), "fifo"]),
        streak=st.integers(0, 5),
        keeps_arrival=st.booleans(),
        number_format=st.sampled_from(["{prefix}{seq:03d}", "{prefix}-{seq}", "{x}", "{prefix}"]),
    )
    def reconfigure_site(
        self, policy: str, streak: int, keeps_arrival: bool, number_format: str
    ) -> None:
        self.run(
            c.SetUpSite(
                site="mpp-jakarta",
                name="MPP Jakarta",
                timezone=TZ_NAME,
                policy=policy,
                priority_streak_max=streak,
                transfer_keeps_arrival=keeps_arrival,
                number_format=number_format,
                by="admin",
            )
        )

    @rule(agency=st.sampled_from([*AGENCIES, "bpjs"]), name=st.sampled_from(["Instansi", " "]))
    def set_up_agency(self, agency: str, name: str) -> None:
        self.run(c.SetUpAgency(agency=agency, name=name, by="admin"))

    @rule(
        service=st.sampled_from(SERVICE_IDS),
        prefix_of=st.sampled_from([*SERVICE_IDS * 3, *SPARE_PREFIXES, "bad"]),
        quota=st.integers(0, 5),
        target_min=st.integers(1, 60),
        opening=st.one_of(hours, st.sampled_from(BAD_HOURS).map(copy.deepcopy)),
        active=st.sampled_from([True, True, True, False]),
    )
    def reconfigure_service(
        self,
        service: str,
        prefix_of: str,
        quota: int,
        target_min: int,
        opening: OpeningHours,
        active: bool,
    ) -> None:
        # Its own prefix, another service's (prefix_taken, or free again after that one
        # moved to a spare one), a spare one, or malformed.
        if prefix_of in SERVICES:
            prefix = SERVICES[prefix_of][1]
        else:
            prefix = prefix_of if prefix_of in SPARE_PREFIXES else "a1"
        agency = SERVICES[service][0]
        self.run(
            c.SetUpService(
                service=service,
                agency=agency,
                prefix=prefix,
                name_id=f"Layanan {service}",
                name_en=f"Service {service}",
                target_wait_min=target_min,
                daily_quota=quota,
                hours=opening,
                active=active,
                by="admin",
            )
        )

    @rule(
        giver=st.sampled_from(SERVICE_IDS),
        taker=st.sampled_from(SERVICE_IDS),
        spare=st.sampled_from(SPARE_PREFIXES),
        tickets=st.integers(0, 3),
    )
    def hand_prefix_over(self, giver: str, taker: str, spare: str, tickets: int) -> None:
        """A supervisor moves a service to a spare prefix and gives its old one to another
        (refused while the old one numbered tickets today), which then issues some."""
        if giver not in self.state.services or taker not in self.state.services:
            return
        freed = self.state.services[giver].prefix
        for service, prefix in ((giver, spare), (taker, freed)):
            now = self.state.services[service]
            fields = {f.name: getattr(now, f.name) for f in dataclasses.fields(now)}
            fields.update(service=fields.pop("id"), prefix=prefix, by="admin")
            fields.update(daily_quota=0, hours=OpeningHours(), active=True)  # it issues below
            self.run(c.SetUpService(**fields))
        for i in range(tickets):
            self.run(c.IssueTicket(service=taker, token=f"handover{i:04d}", by="kiosk-1"))

    @rule(counter=st.sampled_from([*KNOWN_COUNTERS, "L5"]), svc=service_lists)
    def set_up_counter(self, counter: str, svc: list[str]) -> None:
        self.run(c.SetUpCounter(counter=counter, name=f"Loket {counter}", services=svc, by="admin"))

    # -- the clock ----------------------------------------------------------------------

    @rule(seconds=clock_steps)
    def advance_clock(self, seconds: float) -> None:
        self.now += seconds

    @rule(offset=st.floats(-2, 2))
    def to_midnight(self, offset: float) -> None:
        """The clock runs on to about the next local midnight."""
        tomorrow = datetime.fromtimestamp(self.now, ZONE).date() + timedelta(days=1)
        self.now = max(self.now, datetime.combine(tomorrow, time(), ZONE).timestamp() + offset)

    @rule(data=st.data(), lag=st.floats(0.001, 5))
    def lagging_host(self, data: st.DataObject, lag: float) -> None:
        """Two server processes act at about the same moment, the second one's clock a
        little behind (around midnight its date is still yesterday's)."""
        for host, at in (("a", self.now), ("b", self.now - lag)):
            counter = self.pick_counter(
                data, lambda k: k.state is CounterState.OPEN and not k.ticket
            )
            service = data.draw(services, label="service")
            issue = c.IssueTicket(service=service, token=f"0000000000{host}", by=f"kiosk-{host}")
            call = c.CallNext(counter=counter, by="budi")
            cmd = data.draw(st.sampled_from([issue, call]), label="command")
            if host == "b":
                behind = business_day(at, TZ_NAME) < max(self.days_opened, default="")
                hypothesis.event(f"lagging host behind the open day: {behind}")
            self.run(cmd, at=at)

    # -- tickets ------------------------------------------------------------------------

    @rule(
        service=services,
        priority=priorities,
        channel=channels,
        token=tokens,
        by=kiosks,
        command_id=command_ids,
    )
    def issue_ticket(
        self,
        service: str,
        priority: Priority,
        channel: Channel,
        token: str,
        by: str | None,
        command_id: str | None,
    ) -> None:
        cmd = c.IssueTicket(
            service=service,
            priority=priority,
            channel=channel,
            token=token,
            by=by,
            command_id=command_id,
        )
        self.run(cmd)

    @rule(service=st.sampled_from(SERVICE_IDS), n=st.integers(10, 70), gap=_seconds)
    def crowd(self, service: str, n: int, gap: float) -> None:
        """A bus of visitors arrives: many tickets at once (a day may close with >64 unserved)."""
        for i in range(n):
            self.now += gap / n
            cmd = c.IssueTicket(service=service, token=f"{i:012x}", by="kiosk-1")
            if self.run(cmd, thorough=i == 0) is not None:
                break

    @rule(data=st.data(), to_service=st.one_of(st.none(), services), by=staff)
    def transfer(self, data: st.DataObject, to_service: str | None, by: str | None) -> None:
        ticket = self.pick_ticket(data, TicketState.WAITING, *IN_HAND_STATES)
        to_counter = data.draw(st.one_of(st.none(), counters), label="to_counter")
        self.run(c.Transfer(ticket=ticket, to_service=to_service, to_counter=to_counter, by=by))

    @rule(data=st.data(), by=staff)
    def hold(self, data: st.DataObject, by: str | None) -> None:
        ticket = self.pick_ticket(data, TicketState.WAITING, *IN_HAND_STATES)
        self.run(c.Hold(ticket=ticket, by=by))

    @rule(data=st.data(), by=staff)
    def unhold(self, data: st.DataObject, by: str | None) -> None:
        self.run(c.Unhold(ticket=self.pick_ticket(data, TicketState.HELD), by=by))

    @rule(data=st.data(), score=st.integers(0, 5), right_token=st.integers(0, 4))
    def submit_survey(self, data: st.DataObject, score: int, right_token: int) -> None:
        """A visitor rates a ticket: mostly a completed one, with its token."""
        ticket = self.pick_ticket(data, TicketState.DONE)
        t = self.state.tickets.get(ticket)
        token = t.token if t is not None and right_token else "not-its-token"
        answers = {f"U{i}": score if i == 1 else 4 for i in range(1, 10)}
        code = self.run(c.SubmitSurvey(ticket=ticket, token=token, response={"answers": answers}))
        if code is None:
            assert self.state.tickets[ticket].surveyed

    @rule(data=st.data(), right_token=st.integers(0, 4))
    def skip_tablet_survey(self, data: st.DataObject, right_token: int) -> None:
        """The visitor at the counter's tablet skips the survey of a completed ticket."""
        ticket = self.pick_ticket(data, TicketState.DONE)
        t = self.state.tickets.get(ticket)
        token = t.token if t is not None and right_token else "not-its-token"
        if self.run(c.SkipTabletSurvey(ticket=ticket, token=token)) is None:
            assert self.state.tickets[ticket].tablet_skipped

    @rule(
        config=st.sampled_from(
            [
                {"valid_hours": 1},
                {"enabled": False},
                {"enabled": True},
                {"valid_hours": 0},
                {"colour": 1},
            ]
        ),
        by=staff,
    )
    def configure_survey(self, config: dict[str, Any], by: str | None) -> None:
        self.run(c.ConfigureSurvey(config=config, by=by))

    @rule(service=st.sampled_from(["ktp", "kk", "nosuch"]), score=st.integers(0, 5), by=staff)
    def submit_walk_up_survey(self, service: str, score: int, by: str | None) -> None:
        """A walk-up answer for a service, without a ticket: no ticket is marked."""
        answers = {f"U{i}": score if i == 1 else 3 for i in range(1, 10)}
        before = {t.id: t.surveyed for t in self.state.tickets.values()}
        self.run(c.SubmitWalkUpSurvey(service=service, response={"answers": answers}, by=by))
        assert {t.id: t.surveyed for t in self.state.tickets.values()} == before

    @rule(
        period=st.sampled_from(["2026", "2026-Q1", "2026-13", ""]),
        elements=st.lists(st.sampled_from(["U1", "U9", "X1"]), max_size=3),
        text=st.text(max_size=20),
        by=staff,
    )
    def write_survey_plan(
        self, period: str, elements: list[str], text: str, by: str | None
    ) -> None:
        plan = {"period": period, "elements": elements, "text": text}
        self.run(c.WriteSurveyPlan(plan=plan, by=by))

    @rule(data=st.data(), by=st.one_of(staff, kiosks))
    def cancel(self, data: st.DataObject, by: str | None) -> None:
        ticket = self.pick_ticket(data, TicketState.WAITING, TicketState.HELD)
        self.run(c.Cancel(ticket=ticket, by=by))

    # -- counters -------------------------------------------------------------------------

    @rule(data=st.data(), officer=officers)
    def open_counter(self, data: st.DataObject, officer: str) -> None:
        counter = self.pick_counter(data, lambda k: k.state is not CounterState.OPEN)
        self.run(c.OpenCounter(counter=counter, officer=officer, by=officer.strip() or None))

    @rule(data=st.data(), by=staff)
    def pause_counter(self, data: st.DataObject, by: str | None) -> None:
        counter = self.pick_counter(data, lambda k: k.state is CounterState.OPEN and not k.ticket)
        self.run(c.PauseCounter(counter=counter, by=by))

    @rule(data=st.data(), by=staff)
    def close_counter(self, data: st.DataObject, by: str | None) -> None:
        counter = self.pick_counter(
            data, lambda k: k.state is not CounterState.CLOSED and not k.ticket
        )
        self.run(c.CloseCounter(counter=counter, by=by))

    @rule(counter=counters, svc=service_lists, by=staff)
    def set_counter_services(self, counter: str, svc: list[str], by: str | None) -> None:
        self.run(c.SetCounterServices(counter=counter, services=svc, by=by))

    @rule(data=st.data(), by=staff, command_id=command_ids)
    def call_next(self, data: st.DataObject, by: str | None, command_id: str | None) -> None:
        queues = self.state.queues

        def has_work(k: Counter) -> bool:
            keys = ["@" + k.id, *k.services]
            return (
                k.state is CounterState.OPEN and not k.ticket and any(queues.get(q) for q in keys)
            )

        counter = self.pick_counter(data, has_work)
        code = self.run(c.CallNext(counter=counter, by=by, command_id=command_id))
        if code == "no_ticket_waiting":  # then nothing this counter may call waits
            k = self.state.counters[counter]
            assert not self.state.queues.get("@" + counter)
            assert not any(self.state.queues.get(s) for s in k.services)

    @rule(data=st.data(), override=st.booleans(), by=staff)
    def call_ticket(self, data: st.DataObject, override: bool, by: str | None) -> None:
        counter = self.pick_counter(data, lambda k: k.state is CounterState.OPEN and not k.ticket)
        ticket = self.pick_ticket(data, TicketState.WAITING, TicketState.HELD)
        self.run(c.CallTicket(counter=counter, ticket=ticket, override=override, by=by))

    def holding(self, data: st.DataObject, *fit: TicketState) -> str:
        """A counter, mostly one whose ticket in hand is in one of the states `fit`."""
        tickets = self.state.tickets
        return self.pick_counter(
            data, lambda k: k.ticket is not None and tickets[k.ticket].state in fit
        )

    @rule(data=st.data(), by=staff)
    def recall(self, data: st.DataObject, by: str | None) -> None:
        self.run(c.Recall(counter=self.holding(data, TicketState.CALLED), by=by))

    @rule(data=st.data(), n=st.integers(2, 80))
    def recall_again_and_again(self, data: st.DataObject, n: int) -> None:
        """An officer keeps pressing recall (a ticket may gather more than 64 steps)."""
        counter = self.holding(data, TicketState.CALLED)
        for i in range(n):
            self.now += 0.5
            if self.run(c.Recall(counter=counter), thorough=i == 0) is not None:
                break

    @rule(data=st.data(), by=staff)
    def start_service(self, data: st.DataObject, by: str | None) -> None:
        self.run(c.StartService(counter=self.holding(data, TicketState.CALLED), by=by))

    @rule(data=st.data(), by=staff)
    def complete(self, data: st.DataObject, by: str | None) -> None:
        self.run(c.Complete(counter=self.holding(data, *IN_HAND_STATES), by=by))

    @rule(data=st.data(), by=staff)
    def no_show(self, data: st.DataObject, by: str | None) -> None:
        self.run(c.NoShow(counter=self.holding(data, TicketState.CALLED), by=by))

    @rule(data=st.data(), by=staff)
    def return_to_queue(self, data: st.DataObject, by: str | None) -> None:
        self.run(c.ReturnToQueue(counter=self.holding(data, *IN_HAND_STATES), by=by))

    @rule(
        text=st.sampled_from(["Selamat datang di MPP", "Loket 3 istirahat", "", "  ", "x" * 300]),
        zone=st.sampled_from(["", "", "lantai-2"]),
        by=staff,
    )
    def broadcast(self, text: str, zone: str, by: str | None) -> None:
        """Running text for the displays ("" clears it; a long one need not come through
        parse_command, and its event must still read back)."""
        self.run(c.Broadcast(text=text, zone=zone, by=by))

    @rule(by=staff, now=st.integers(0, 3))
    def close_day(self, by: str | None, now: int) -> None:
        if now == 0:  # a supervisor closes the day seldom (midnight closes it too)
            self.run(c.CloseDay(by=by))

    # -- snapshots ---------------------------------------------------------------------------

    @rule()
    def take_snapshot(self) -> None:
        snap: dict[str, Any] = msgpack.unpackb(msgpack.packb(state_to_dict(self.state)))
        self.snapshots.append((len(self.log), snap))
        restored = state_from_dict(snap)
        assert restored is not None, "snapshot of an unknown shape"
        assert same_state(restored, self.state), "restored snapshot differs from live"
        if len(self.replicas) < 6:
            self.replicas.append((f"snapshot at {len(self.log)} + tail", restored))

    # -- invariants --------------------------------------------------------------------------

    @invariant()
    def counters_hold_their_tickets(self) -> None:
        s = self.state
        holders: dict[str, list[str]] = {}
        for cid, counter in s.counters.items():
            assert isinstance(counter.state, CounterState)
            if counter.state is CounterState.CLOSED:
                assert counter.officer is None, f"closed counter {cid} has an officer"
            else:
                assert counter.officer, f"{counter.state} counter {cid} has no officer"
            if counter.ticket is None:
                continue
            assert counter.state is CounterState.OPEN, f"{counter.state} counter {cid} holds"
            t = s.tickets.get(counter.ticket)
            assert t is not None, f"counter {cid} holds unknown ticket {counter.ticket}"
            assert t.state in IN_HAND_STATES, f"counter {cid} holds a {t.state} ticket"
            assert t.officer == counter.officer
            holders.setdefault(t.id, []).append(cid)
        for t in s.tickets.values():
            assert isinstance(t.state, TicketState)
            if t.state in IN_HAND_STATES:
                assert holders.get(t.id) == [t.counter], f"{t.id} {t.state}: {holders.get(t.id)}"
            else:
                assert t.id not in holders, f"{t.state} ticket {t.id} held by {holders[t.id]}"

    @invariant()
    def waiting_tickets_queue_once(self) -> None:
        s = self.state
        seen = Tally(tid for q in s.queues.values() for tid in q)
        for key, q in s.queues.items():
            for tid in q:
                assert tid in s.tickets, f"queue {key} lists unknown {tid}"
                assert queue_key(s.tickets[tid]) == key, f"{tid} in the wrong queue {key}"
        for t in s.tickets.values():
            if t.state is TicketState.WAITING and t.day == s.day:
                assert seen[t.id] == 1, f"waiting {t.id} is in {seen[t.id]} queues"
            else:
                assert seen[t.id] == 0, f"{t.state} {t.id} of {t.day} is queued"
            if t.state not in FINAL_STATES:
                assert t.day == s.day, f"{t.state} ticket {t.id} of {t.day} outlived its day"
            if t.state is TicketState.WAITING and t.target_counter:
                assert t.target_counter in s.counters

    @invariant()
    def numbers_unique_per_day(self) -> None:
        seen: set[tuple[str, str]] = set()
        for t in self.state.tickets.values():
            assert (t.day, t.number) not in seen, f"{t.number} twice on {t.day}"
            seen.add((t.day, t.number))
        day = self.state.day
        if day is not None:
            for sid, n in self.state.seq.items():
                assert n == self.last_seq.get((day, sid)), f"{sid}: seq {n} out of step"

    @invariant()
    def log_rebuilds_the_state(self) -> None:
        for what, replica in self.replicas:
            assert same_state(replica, self.state), f"{what} differs from the live state"

    def teardown(self) -> None:
        live = state_to_dict(self.state)
        rebuilt = replay(self.log)
        assert state_to_dict(rebuilt) == live, "replay of the log differs from the live state"
        assert queues_of(rebuilt) == queues_of(self.state)
        for at, snap in self.snapshots:
            restored = state_from_dict(snap)
            assert restored is not None
            replay(self.log[at:], restored)
            assert state_to_dict(restored) == live, f"snapshot at {at} + tail differs"
            assert queues_of(restored) == queues_of(self.state)


HallMachine.TestCase.settings = settings(
    max_examples=150,
    stateful_step_count=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
    phases=PHASES,
)
TestHall = HallMachine.TestCase


def test_machine_has_a_rule_for_every_command() -> None:
    renamed = {"set_up_site": "reconfigure_site", "set_up_service": "reconfigure_service"}
    missing = [k for k in COMMAND_TYPES if not hasattr(HallMachine, renamed.get(k, k))]
    assert not missing, f"no rule issues {missing}"


# --- decide is pure ------------------------------------------------------------------------

FORMATS = ["{prefix}{seq:03d}", "{prefix}-{seq}", "{x}", "{0}", "{", "{prefix:d}", "{prefix[9]}"]
FORMATS += ["{prefix[a]}", "{seq[0]}", "{seq.x}", "{prefix!z}", "{seq:03d}", ""]
IDS = [*SERVICE_IDS, *KNOWN_COUNTERS, *AGENCIES, "mpp-jakarta", "L5"]


def _loose(tp: Any) -> st.SearchStrategy[Any]:
    """Values of type `tp`, biased to names the hall knows, else anything."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return st.one_of(*(_loose(a) for a in typing.get_args(tp)))
    if tp is type(None):
        return st.none()
    if origin is list:
        return st.lists(_loose(typing.get_args(tp)[0]), max_size=5)
    if tp is str:
        return st.one_of(st.sampled_from(IDS), st.text(max_size=8), st.sampled_from(FORMATS))
    if tp is bool:
        return st.booleans()
    if tp is int:
        return st.integers(-3, 12_000)
    if tp is float:
        return st.floats(allow_nan=False, allow_infinity=False)
    if tp is OpeningHours:
        hhmm = st.sampled_from(["00:00", "08:00", "15:00", "24:00", "25:00", "8:00", ""])
        days = st.lists(st.integers(-1, 8), max_size=8)
        return st.builds(OpeningHours, open=hhmm, close=hhmm, weekdays=days)
    if isinstance(tp, type) and issubclass(tp, Priority | Channel):
        return st.sampled_from(list(tp))
    if origin is dict:  # a survey's answers or configuration: JSON-like
        keys = st.sampled_from(["answers", "enabled", "valid_hours", "U1", "U9", "profile"])
        leaf = st.one_of(st.integers(-1, 30), st.booleans(), st.text(max_size=4), st.none())
        inner = st.dictionaries(keys, leaf, max_size=3)
        return st.dictionaries(keys, st.one_of(leaf, inner), max_size=4)
    raise TypeError(tp)


def _any_command(cls: type[c.Command]) -> st.SearchStrategy[c.Command]:
    hints = typing.get_type_hints(cls)
    fields = {f.name: _loose(hints[f.name]) for f in dataclasses.fields(cls)}
    return st.builds(cls, **fields)


any_command = st.one_of(*(_any_command(cls) for cls in COMMAND_TYPES.values()))


@st.composite
def plausible_command(draw: st.DrawFn) -> c.Command:
    """A command that the set-up hall may well accept."""
    kind = draw(st.sampled_from(sorted(COMMAND_TYPES)))
    ticket = draw(
        st.sampled_from([f"{d}-{n:05d}" for d in ("2024-05-06", "2024-05-07") for n in range(1, 9)])
    )
    counter, service = draw(counters), draw(services)
    by = draw(staff)
    simple: dict[str, c.Command] = {
        "issue_ticket": c.IssueTicket(
            service=service, priority=draw(priorities), token="tok", by=by
        ),
        "open_counter": c.OpenCounter(counter=counter, officer="budi", by=by),
        "pause_counter": c.PauseCounter(counter=counter, by=by),
        "close_counter": c.CloseCounter(counter=counter, by=by),
        "set_counter_services": c.SetCounterServices(counter=counter, services=draw(service_lists)),
        "call_next": c.CallNext(counter=counter, by=by),
        "call_ticket": c.CallTicket(counter=counter, ticket=ticket, override=draw(st.booleans())),
        "recall": c.Recall(counter=counter),
        "start_service": c.StartService(counter=counter),
        "complete": c.Complete(counter=counter),
        "no_show": c.NoShow(counter=counter),
        "return_to_queue": c.ReturnToQueue(counter=counter),
        "transfer": c.Transfer(
            ticket=ticket, to_service=service, to_counter=draw(st.none() | counters)
        ),
        "hold": c.Hold(ticket=ticket),
        "unhold": c.Unhold(ticket=ticket),
        "cancel": c.Cancel(ticket=ticket),
        "close_day": c.CloseDay(),
    }
    if kind == "set_up_site":
        return c.SetUpSite(
            site=draw(st.sampled_from(["mpp-jakarta", "mpp-jakarta", "mpp jakarta"])),
            name="MPP",
            timezone=draw(st.sampled_from([TZ_NAME, "Asia/Makassar", "UTC", "Mars/Olympus"])),
            policy=draw(st.sampled_from([*POLICIES, "fifo"])),
            priority_streak_max=draw(st.integers(0, 101)),
            number_format=draw(st.sampled_from(FORMATS)),
        )
    if kind in simple:
        return simple[kind]
    return draw(_any_command(COMMAND_TYPES[kind]))


def morning(start: str) -> list[c.Command]:
    """The commands that bring an empty hall to `start`: "empty", "set_up" or "busy"."""
    if start == "empty":
        return []
    out = set_up_commands("arrival", 2, True, 3, OpeningHours())
    if start == "busy":  # counters open, tickets waiting, called, served, parked
        out += [c.OpenCounter(counter=k, officer=f"petugas-{k}") for k in KNOWN_COUNTERS]
        visitors = [(s, p) for s in SERVICE_IDS for p in (Priority.REGULAR, Priority.LANSIA)]
        out += [c.IssueTicket(service=s, priority=p, token="t") for s, p in visitors]
        out += [c.CallNext(counter="L1"), c.CallNext(counter="L2"), c.StartService(counter="L2")]
        out += [c.Hold(ticket="2024-05-06-00008")]
    return out


# Mostly seconds: a day that rolls over after a few steps leaves little to decide on.
_pure_clock = st.integers(0, 19).flatmap(
    lambda i: _days if i == 0 else _hours if i < 3 else _seconds
)


@settings(max_examples=150, deadline=None, derandomize=True, database=None, phases=PHASES)
@given(
    start=st.sampled_from(["empty", "set_up", "busy", "busy"]),
    steps=st.lists(
        st.tuples(st.sampled_from([True, True, True, False]), plausible_command(), any_command),
        min_size=10,
        max_size=40,
    ),
    clock=st.lists(_pure_clock, min_size=40, max_size=40),
)
def test_decide_is_pure(
    start: str, steps: list[tuple[bool, c.Command, c.Command]], clock: list[float]
) -> None:
    state, now = HallState(), START
    for cmd in morning(start):
        for event in decide(state, cmd, now):
            evolve(state, event)
    for (plausible, some, anything), dt in zip(steps, clock, strict=False):
        cmd = some if plausible else anything
        now += dt
        before = copy.deepcopy(state)
        try:
            events = decide(state, cmd, now)
        except Rejected as exc:
            assert exc.code in ALL_CODES
            assert state == before, f"refused {cmd.TYPE} changed the state"
            continue
        assert state == before, f"decide({cmd.TYPE}) changed the state"
        for event in events:
            evolve(state, event)
