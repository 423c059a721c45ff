"""Who may press what at a counter: an officer acts only for their own counter and
the tickets at it (docs/api.md); supervisors and admins act anywhere."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from qms.core import Command, Rejected
from qms.core import commands as c
from qms.core.model import HallState
from qms.guards import WireGuard, wire_guard
from qms.server.errors import ApiError
from qms.server.principal import Principal, Role


class Own(enum.Enum):
    """What an officer must hold to give a command."""

    NOTHING = "nothing"
    FREE_COUNTER = "free counter"  # open: the counter is theirs or nobody's
    COUNTER = "counter"  # the counter is theirs
    TICKET = "ticket"  # the ticket is at, was last at, or was sent to their counter


def officer_problem(own: Own, officer: str, state: HallState, cmd: Command) -> Rejected | None:
    if isinstance(cmd, c.CounterCommand):
        counter = state.counters.get(cmd.counter)
        if counter is None:
            return None  # the engine answers unknown_counter
        if own is Own.FREE_COUNTER and counter.officer in (None, officer):
            return None
        if own is Own.COUNTER and counter.officer == officer:
            return None
        return Rejected(
            "not_your_counter",
            f"you are not signed in to counter {counter.id}",
            counter=counter.id,
        )
    if isinstance(cmd, c.TicketCommand):
        ticket = state.tickets.get(cmd.ticket)
        if ticket is None:
            return None  # the engine answers unknown_ticket
        for counter_id in (ticket.counter, ticket.target_counter):
            counter = state.counters.get(counter_id) if counter_id else None
            if counter is not None and counter.officer == officer:
                return None
        return Rejected(
            "not_your_ticket",
            f"ticket {ticket.number} is not at your counter",
            ticket=ticket.id,
        )
    return None


@wire_guard
@dataclass(frozen=True)
class OfficerGuard(WireGuard):
    """An officer acts only for their own counter and tickets.

    The check runs inside the engine, on the very state the command is decided on
    (and again on every retry), so a counter that changes hands between the check
    and the append cannot slip through; before refusing, the engine looks at the
    newest log once (the officer may have just signed in through another process).
    A `WireGuard`: it goes with the command to the site's writer (`qms.relay`).
    """

    kind: ClassVar[str] = "officer"
    own: Own
    officer: str
    command: Command

    def __call__(self, state: HallState) -> None:
        problem = officer_problem(self.own, self.officer, state, self.command)
        if problem is not None:
            raise problem

    def to_wire(self) -> dict[str, Any]:
        return {"own": self.own.value, "officer": self.officer}

    @classmethod
    def from_wire(cls, data: Mapping[str, Any], command: Command) -> OfficerGuard:
        return cls(Own(data["own"]), str(data["officer"]), command)


def officer_guard(own: Own, who: Principal, cmd: Command) -> OfficerGuard | None:
    """The guard of `cmd` given by `who`, when it needs one (officers only)."""
    if who.role is not Role.OFFICER or own is Own.NOTHING:
        return None
    if isinstance(cmd, c.CallTicket) and cmd.override:
        raise ApiError(403, "forbidden", "only a supervisor or admin calls with override")
    return OfficerGuard(own, who.name, cmd)
