"""The hall's state: sites, agencies, services, counters and tickets.

Plain dataclasses and enums. `HallState` is what `evolve` folds events into and
what `decide` reads; it never does I/O.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Annotated, Any

from qms.eventsourcing.schema import Constraint

HHMM_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$"
HHMM = Annotated[str, Constraint(pattern=HHMM_PATTERN, meaning="HH:MM, 00:00 to 24:00")]
Weekday = Annotated[int, Constraint(minimum=0, maximum=6)]  # Monday = 0


class TicketState(enum.StrEnum):
    WAITING = "waiting"
    CALLED = "called"
    SERVING = "serving"
    DONE = "done"
    NO_SHOW = "no_show"
    HELD = "held"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


FINAL_STATES = frozenset(
    {TicketState.DONE, TicketState.NO_SHOW, TicketState.CANCELLED, TicketState.EXPIRED}
)
IN_HAND_STATES = frozenset({TicketState.CALLED, TicketState.SERVING})


class CounterState(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    PAUSED = "paused"


class Priority(enum.StrEnum):
    REGULAR = "regular"
    DISABILITAS = "disabilitas"
    LANSIA = "lansia"
    IBU_HAMIL = "ibu_hamil"


class Channel(enum.StrEnum):
    KIOSK = "kiosk"
    ONLINE = "online"
    STAFF = "staff"


@dataclass
class Site:
    id: str
    name: str
    timezone: str = "Asia/Jakarta"
    number_format: str = "{prefix}{seq:03d}"
    policy: str = "arrival"  # see qms.core.policy.POLICIES
    priority_streak_max: int = 3  # regular ticket goes after this many priority calls in a row
    transfer_keeps_arrival: bool = True


@dataclass
class Agency:
    id: str
    name: str


@dataclass
class OpeningHours:
    open: HHMM = "00:00"
    close: HHMM = "24:00"
    weekdays: list[Weekday] = field(default_factory=lambda: [0, 1, 2, 3, 4, 5, 6])


@dataclass
class Service:
    id: str
    agency: str
    prefix: str
    name_id: str
    name_en: str
    target_wait_min: int = 15
    daily_quota: int = 0  # 0: no quota
    hours: OpeningHours = field(default_factory=OpeningHours)
    active: bool = True


@dataclass
class Counter:
    id: str
    name: str
    zone: str = ""
    services: list[str] = field(default_factory=list)  # in order of preference
    state: CounterState = CounterState.CLOSED
    officer: str | None = None
    ticket: str | None = None
    priority_streak: int = 0  # priority calls in a row, for the starvation guard


@dataclass
class Step:
    """One step of a ticket's life, for the audit trail and reports."""

    kind: str
    at: float
    counter: str | None = None
    officer: str | None = None


@dataclass
class Ticket:
    id: str
    number: str
    service: str
    day: str
    seq: int
    token: str
    priority: Priority = Priority.REGULAR
    channel: Channel = Channel.KIOSK
    state: TicketState = TicketState.WAITING
    issued_at: float = 0.0
    arrival_at: float = 0.0  # the place in the queue (kept through returns and transfers)
    counter: str | None = None  # the counter holding it, or the one it was last at
    officer: str | None = None
    target_counter: str | None = None  # set when transferred to one counter
    recalls: int = 0
    called_at: float | None = None
    started_at: float | None = None
    finished_at: float | None = None
    steps: list[Step] = field(default_factory=list)
    surveyed: bool = False  # its satisfaction survey was answered (once per served ticket)
    tablet_skipped: bool = False  # the visitor put its survey away on the counter's tablet


@dataclass
class Line:
    """One queue's waiting tickets as sorted (arrival_at, id) pairs, per priority class."""

    regular: list[tuple[float, str]] = field(default_factory=list)
    priority: list[tuple[float, str]] = field(default_factory=list)


@dataclass
class HallState:
    site: Site | None = None
    agencies: dict[str, Agency] = field(default_factory=dict)
    services: dict[str, Service] = field(default_factory=dict)
    counters: dict[str, Counter] = field(default_factory=dict)
    tickets: dict[str, Ticket] = field(default_factory=dict)
    day: str | None = None  # the open business day, YYYY-MM-DD in the site's timezone
    seq: dict[str, int] = field(default_factory=dict)  # per-service numbers issued today
    serial: int = 0  # tickets issued today, site-wide
    messages: dict[str, str] = field(default_factory=dict)  # zone ("" for all) -> running text
    # The satisfaction survey's instrument in force (`qms.survey.instrument`, as a
    # dict); None: the default questionnaire of PermenPAN-RB 14/2017, version 1.
    survey: dict[str, Any] | None = None
    # Completed visits of days the state no longer keeps whose survey window (the
    # instrument's `valid_hours`, when over a day) is still open: ticket id -> the ticket
    # without its steps, so that its visitor's page still finds it and the visit is rated
    # once. Filled and pruned when a day opens (`qms.core.evolve`); empty unless a site
    # allows more than 24 hours (the two days of `tickets` cover those).
    rateable: dict[str, Ticket] = field(default_factory=dict)
    # Derived indexes, not stored in snapshots, rebuilt on restore. `queues`: queue
    # key -> waiting ticket ids of today, where the key is the service, or
    # "@<counter>" for tickets transferred to one counter. `lines`: the same
    # tickets of each queue kept sorted by (arrival_at, id), regular and priority
    # apart, so that calling the next ticket looks at the heads, not at every ticket.
    queues: dict[str, dict[str, None]] = field(default_factory=dict)
    lines: dict[str, Line] = field(default_factory=dict)

    def visit(self, ticket: str) -> Ticket | None:
        """A ticket the state keeps, or a completed visit still open to the survey."""
        return self.tickets.get(ticket) or self.rateable.get(ticket)

    def waiting_in(self, queue: str) -> list[Ticket]:
        return [self.tickets[t] for t in self.queues.get(queue, {})]
