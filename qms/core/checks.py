"""Look-ups and checks that `decide` makes of a command against the state: each
refuses with `Rejected` (a stable code, nothing applied), never changes the state."""

from __future__ import annotations

import re
import string

from qms.core import commands as c
from qms.core.errors import Rejected, wrong_state
from qms.core.model import (
    Counter,
    CounterState,
    HallState,
    Service,
    Site,
    Ticket,
    TicketState,
)
from qms.core.text import control_character

ID = re.compile(c.ID_PATTERN)
MAX_QUOTA = c.MAX_QUOTA
NUMBER_SPEC = re.compile(r"(0?[1-6]d?)?")  # "", "3", "03d"
MAX_NUMBER_LEN = 16


def invalid(field: str, problem: str) -> Rejected:
    return Rejected("invalid_command", f"{field}: {problem}", field=field)


def check_number_format(fmt: str) -> None:
    """Only {prefix} and {seq} with a plain width: a number fits a display and a ticket."""
    try:
        fields = [(name, spec) for _, name, spec, _ in string.Formatter().parse(fmt) if name]
    except ValueError as exc:
        raise invalid("number_format", str(exc)) from None
    # Every service numbers from 1: without its prefix two services would both call 001.
    if not {"prefix", "seq"} <= {name for name, _ in fields}:
        raise invalid("number_format", "must contain {prefix} and {seq}")
    for name, spec in fields:
        if name not in ("prefix", "seq") or not NUMBER_SPEC.fullmatch(spec or ""):
            raise invalid("number_format", "only {prefix} and {seq} or {seq:0Nd} (N <= 6)")
    if len(fmt.format(prefix="AB", seq=MAX_QUOTA)) > MAX_NUMBER_LEN:
        raise invalid("number_format", f"numbers longer than {MAX_NUMBER_LEN} characters")


def check_id(kind: str, ident: str) -> None:
    if not ID.fullmatch(ident):
        raise invalid(kind, "1-64 letters, digits, '-' or '_'")


def check_name(name: str, field: str = "name") -> None:
    if not name.strip():
        raise invalid(field, "must not be empty")
    check_text(name, field)


def check_text(text: str, field: str) -> None:
    """Names and texts reach displays, consoles and terminals: no control characters."""
    bad = control_character(text)
    if bad is not None:
        raise Rejected(
            "invalid_text",
            f"{field}: no control or bidi characters (found U+{ord(bad):04X})",
            field=field,
            character=f"U+{ord(bad):04X}",
        )


def check_services(state: HallState, services: list[str]) -> None:
    if len(set(services)) != len(services):
        raise invalid("services", "listed twice")
    for s in services:
        service_of(state, s)


def site_of(state: HallState) -> Site:
    if state.site is None:
        raise Rejected("site_not_set_up", "set up the site first")
    return state.site


def service_of(state: HallState, ident: str) -> Service:
    service = state.services.get(ident)
    if service is None:
        raise Rejected("unknown_service", f"no service {ident!r}", id=ident)
    return service


def counter_of(state: HallState, ident: str) -> Counter:
    counter = state.counters.get(ident)
    if counter is None:
        raise Rejected("unknown_counter", f"no counter {ident!r}", id=ident)
    return counter


def open_counter_of(state: HallState, ident: str) -> Counter:
    counter = counter_of(state, ident)
    if counter.state is not CounterState.OPEN:
        raise Rejected(
            "counter_not_open", f"counter {counter.name} is {counter.state.value}", id=counter.id
        )
    return counter


def expect_free(counter: Counter) -> None:
    if counter.ticket is not None:
        raise Rejected(
            "counter_busy",
            f"counter {counter.name} still has ticket {counter.ticket} in hand",
            id=counter.id,
            ticket=counter.ticket,
        )


def ticket_of(state: HallState, ident: str) -> Ticket:
    t = state.tickets.get(ident)
    if t is None:
        raise Rejected("unknown_ticket", f"no ticket {ident!r}", id=ident)
    if t.state is TicketState.EXPIRED or t.day != state.day:
        raise Rejected("ticket_expired", f"ticket {t.number} is from {t.day}", id=t.id, day=t.day)
    return t


def expect_ticket(t: Ticket, *expected: TicketState) -> None:
    if t.state not in expected:
        raise wrong_state("ticket", t.id, " or ".join(s.value for s in expected), t.state.value)
