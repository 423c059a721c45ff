"""A hall's state moved by real commands through decide/evolve, with a fixed clock:
the one pure harness of the tests (no I/O, no server).

`PureHall.do` parses a plain command (as the HTTP API would), decides it, checks
that deciding changed nothing, checks that each event survives its wire form,
and folds the events in. `PureHall.reject` checks the rejection code and that the
state is untouched. `PureHall.standard()` is a small hall set up.
"""

from __future__ import annotations

import copy
import itertools
import json
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from qms.core import (
    CODES,
    Command,
    Event,
    HallState,
    Rejected,
    command_to_dict,
    decide,
    event_from_dict,
    event_to_dict,
    evolve,
    parse_command,
)
from qms.core import events as e
from qms.core.model import Counter, Ticket

JAKARTA = ZoneInfo("Asia/Jakarta")


def wib(month: int, day: int, hour: int = 9, minute: int = 0, second: int = 0) -> float:
    """Unix seconds of a 2024 wall-clock time in Jakarta (WIB, UTC+7)."""
    return datetime(2024, month, day, hour, minute, second, tzinfo=JAKARTA).timestamp()


def utc(month: int, day: int, hour: int, minute: int = 0) -> float:
    return datetime(2024, month, day, hour, minute, tzinfo=UTC).timestamp()


MONDAY = wib(7, 1)  # 2024-07-01 09:00 WIB is a Monday
TUESDAY = wib(7, 2)
WEDNESDAY = wib(7, 3)
SATURDAY = wib(7, 6, 10)


def kinds(events: list[Event]) -> list[str]:
    return [ev.TYPE for ev in events]


class PureHall:
    """A HallState, a fixed clock, and the decide-then-evolve loop."""

    def __init__(self, now: float = MONDAY) -> None:
        self.state = HallState()
        self.now = now
        self.events: list[Event] = []
        self._tokens = itertools.count(1)

    @classmethod
    def standard(cls, now: float = MONDAY, **site: Any) -> PureHall:
        """Two agencies, three services (A, B, C), three closed counters.

        L1 serves ktp then kk, L2 serves kk, L3 serves stnk.
        """
        h = cls(now)
        h.do("set_up_site", site="mpp-jkt", name="MPP Jakarta", **site)
        h.set_up(
            {"dukcapil": "Disdukcapil", "samsat": "Samsat"},
            [
                ("ktp", "dukcapil", "A", "KTP-el", "Identity card", 10),
                ("kk", "dukcapil", "B", "Kartu Keluarga", "Family card", 20),
                ("stnk", "samsat", "C", "STNK", "Vehicle registration", 30),
            ],
            [("L1", "", ["ktp", "kk"]), ("L2", "", ["kk"]), ("L3", "", ["stnk"])],
        )
        return h

    def set_up(
        self,
        agencies: dict[str, str],
        services: list[tuple[str, str, str, str, str, int]],
        counters: list[tuple[str, str, list[str]]],
    ) -> None:
        """Agencies (id: name), services (id, agency, prefix, name_id, name_en, target
        wait in minutes) and counters (id, zone, services; named "Loket <n>" after the
        id "L<n>") on the site set up."""
        for agency, name in agencies.items():
            self.do("set_up_agency", agency=agency, name=name)
        for service, agency, prefix, name_id, name_en, target in services:
            self.do(
                "set_up_service",
                service=service,
                agency=agency,
                prefix=prefix,
                name_id=name_id,
                name_en=name_en,
                target_wait_min=target,
            )
        for counter, zone, served in counters:
            name = f"Loket {counter.removeprefix('L')}"
            self.do("set_up_counter", counter=counter, name=name, zone=zone, services=served)

    # --- the loop ---------------------------------------------------------------

    def command(self, kind: str, **fields: Any) -> Command:
        data = {"type": kind, **fields}
        if kind == "issue_ticket" and "token" not in data:
            data["token"] = f"tok{next(self._tokens)}"
        cmd = parse_command(data)
        assert parse_command(command_to_dict(cmd)) == cmd
        return cmd

    def run(self, cmd: Command) -> list[Event]:
        before = copy.deepcopy(self.state)
        events = decide(self.state, cmd, self.now)
        assert self.state == before, "decide changed the state"
        for ev in events:
            assert event_from_dict(event_to_dict(ev)) == ev
            assert event_from_dict(json.loads(json.dumps(event_to_dict(ev)))) == ev
            assert ev.at == self.now
            evolve(self.state, ev)
        self.events.extend(events)
        return events

    def do(self, kind: str, **fields: Any) -> list[Event]:
        return self.run(self.command(kind, **fields))

    def reject(self, code: str, kind: str, **fields: Any) -> Rejected:
        """The command (parsed, then decided) is refused with `code`; nothing changed."""
        assert code in CODES
        before = copy.deepcopy(self.state)
        count = len(self.events)
        with pytest.raises(Rejected) as info:
            self.do(kind, **fields)
        assert info.value.code == code, info.value
        assert info.value.http_status == CODES[code]
        assert self.state == before
        assert len(self.events) == count
        return info.value

    # --- shortcuts ---------------------------------------------------------------

    @property
    def version(self) -> int:
        """How many events the hall has folded (its log's version)."""
        return len(self.events)

    def tick(self, seconds: float) -> PureHall:
        self.now += seconds
        return self

    def issue(self, service: str = "ktp", **fields: Any) -> str:
        issued = self.do("issue_ticket", service=service, **fields)[-1]
        assert isinstance(issued, e.TicketIssued)
        return issued.ticket

    def open(self, counter: str = "L1", officer: str = "budi") -> None:
        self.do("open_counter", counter=counter, officer=officer)

    def call(self, counter: str = "L1") -> str:
        called = self.do("call_next", counter=counter)[-1]
        assert isinstance(called, e.TicketCalled)
        return called.ticket

    def serve(self, counter: str = "L1") -> str:
        """Call the next ticket and complete it; the number served."""
        tid = self.call(counter)
        self.do("complete", counter=counter)
        return self.t(tid).number

    def drain(self, counter: str = "L1") -> list[str]:
        """Numbers this counter serves, in order, until nothing waits for it."""
        out = []
        while True:
            try:
                out.append(self.serve(counter))
            except Rejected as exc:
                assert exc.code == "no_ticket_waiting"
                return out

    def t(self, tid: str) -> Ticket:
        return self.state.tickets[tid]

    def c(self, cid: str) -> Counter:
        return self.state.counters[cid]
