"""What people and devices ask the hall to do. Parsed strictly from plain mappings.

Each command is a small dataclass; ``parse_command`` turns untrusted input into
one or raises `Rejected("invalid_command")` naming the field at fault. The
bounds of a field (`Constraint` in its annotation) are checked there too, before
a command is packed for another process or decided, and the API's OpenAPI
document states them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar

from qms.core.errors import Rejected
from qms.core.model import Channel, OpeningHours, Priority
from qms.eventsourcing import records
from qms.eventsourcing.schema import Constraint, SchemaError, from_dict, to_dict

ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"  # sites, agencies, services, counters, tickets
MAX_TARGET_MIN = 24 * 60
MAX_QUOTA = 9999  # tickets per service and day; numbers are formatted for up to 4 digits
MAX_PRIORITY_STREAK = 100
PREFIX_PATTERN = r"^[A-Z]{1,2}$"

Prefix = Annotated[str, Constraint(pattern=PREFIX_PATTERN, meaning="one or two capital letters")]
TargetMinutes = Annotated[int, Constraint(minimum=1, maximum=MAX_TARGET_MIN)]
Quota = Annotated[int, Constraint(minimum=0, maximum=MAX_QUOTA)]  # 0: no quota
PriorityStreak = Annotated[int, Constraint(minimum=1, maximum=MAX_PRIORITY_STREAK)]
# An id of the hall (site, agency, service, counter, ticket): refused at parse time, so
# a malformed one never reaches the engine (nor its idempotency record).
Id = Annotated[str, Constraint(pattern=ID_PATTERN, meaning="1-64 letters, digits, '-' or '_'")]
ServiceIds = Annotated[list[Id], Constraint(unique_items=True)]  # in order of preference


@dataclass(frozen=True, kw_only=True)
class Command:
    TYPE: ClassVar[str] = ""

    command_id: str | None = None  # client-made; a repeat returns the first result
    by: str | None = None  # who asks (user or device), recorded on the events


@dataclass(frozen=True, kw_only=True)
class SetUpSite(Command):
    TYPE = "set_up_site"
    site: Id
    name: str
    timezone: str = "Asia/Jakarta"
    number_format: str = "{prefix}{seq:03d}"
    policy: str = "arrival"
    priority_streak_max: PriorityStreak = 3
    transfer_keeps_arrival: bool = True


@dataclass(frozen=True, kw_only=True)
class SetUpAgency(Command):
    TYPE = "set_up_agency"
    agency: Id
    name: str


@dataclass(frozen=True, kw_only=True)
class SetUpService(Command):
    TYPE = "set_up_service"
    service: Id
    agency: Id
    prefix: Prefix
    name_id: str
    name_en: str
    target_wait_min: TargetMinutes = 15
    daily_quota: Quota = 0
    hours: OpeningHours = field(default_factory=OpeningHours)
    active: bool = True


@dataclass(frozen=True, kw_only=True)
class SetUpCounter(Command):
    TYPE = "set_up_counter"
    counter: Id
    name: str
    zone: str = ""
    services: ServiceIds = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class IssueTicket(Command):
    TYPE = "issue_ticket"
    service: Id
    priority: Priority = Priority.REGULAR
    channel: Channel = Channel.KIOSK
    token: str = ""  # the unguessable public token; the engine draws it


@dataclass(frozen=True, kw_only=True)
class CounterCommand(Command):
    counter: Id


@dataclass(frozen=True, kw_only=True)
class OpenCounter(CounterCommand):
    TYPE = "open_counter"
    officer: str


@dataclass(frozen=True, kw_only=True)
class PauseCounter(CounterCommand):
    TYPE = "pause_counter"


@dataclass(frozen=True, kw_only=True)
class CloseCounter(CounterCommand):
    TYPE = "close_counter"


@dataclass(frozen=True, kw_only=True)
class SetCounterServices(CounterCommand):
    TYPE = "set_counter_services"
    services: ServiceIds


@dataclass(frozen=True, kw_only=True)
class CallNext(CounterCommand):
    TYPE = "call_next"


@dataclass(frozen=True, kw_only=True)
class CallTicket(CounterCommand):
    TYPE = "call_ticket"
    ticket: Id
    override: bool = False  # supervisor power: call a ticket of a service the counter lacks


@dataclass(frozen=True, kw_only=True)
class Recall(CounterCommand):
    TYPE = "recall"


@dataclass(frozen=True, kw_only=True)
class StartService(CounterCommand):
    TYPE = "start_service"


@dataclass(frozen=True, kw_only=True)
class Complete(CounterCommand):
    TYPE = "complete"


@dataclass(frozen=True, kw_only=True)
class NoShow(CounterCommand):
    TYPE = "no_show"


@dataclass(frozen=True, kw_only=True)
class ReturnToQueue(CounterCommand):
    TYPE = "return_to_queue"


@dataclass(frozen=True, kw_only=True)
class TicketCommand(Command):
    ticket: Id


@dataclass(frozen=True, kw_only=True)
class Transfer(TicketCommand):
    """Move a ticket to another service's queue, or to one counter (or both)."""

    TYPE = "transfer"
    to_service: Id | None = None
    to_counter: Id | None = None


@dataclass(frozen=True, kw_only=True)
class Hold(TicketCommand):
    TYPE = "hold"


@dataclass(frozen=True, kw_only=True)
class Unhold(TicketCommand):
    TYPE = "unhold"


@dataclass(frozen=True, kw_only=True)
class Cancel(TicketCommand):
    TYPE = "cancel"


@dataclass(frozen=True, kw_only=True)
class Broadcast(Command):
    """Running text for the hall displays (empty text clears it)."""

    TYPE = "broadcast"
    text: str
    zone: str = ""  # empty: every display


@dataclass(frozen=True, kw_only=True)
class CloseDay(Command):
    TYPE = "close_day"


# A ticket's public token (the secret of its status URL /t/<site>.<token>).
Token = Annotated[str, Constraint(pattern=r"^[A-Za-z0-9_-]{1,64}$", meaning="a ticket's token")]


@dataclass(frozen=True, kw_only=True)
class SkipTabletSurvey(Command):
    """The visitor at a counter tablet skipped the survey of their completed ticket: the
    tablet closes it (the server names the ticket and its token, from the counter)."""

    TYPE = "skip_tablet_survey"
    ticket: Id
    token: Token


@dataclass(frozen=True, kw_only=True)
class SubmitSurvey(Command):
    """A visitor's satisfaction survey answers for their completed ticket (`qms.survey`).

    `ticket` and `token` together: the token proves the visitor holds the ticket.
    `response` is checked against the instrument in force (`qms.survey.response`).
    """

    TYPE = "submit_survey"
    ticket: Id
    token: Token
    response: dict[str, Any]
    tablet: bool = False  # answered on the counter's tablet (the server sets it), not the phone


@dataclass(frozen=True, kw_only=True)
class ConfigureSurvey(Command):
    """Change the satisfaction survey's questionnaire (`qms.survey.instrument.configure`)."""

    TYPE = "configure_survey"
    config: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class SubmitWalkUpSurvey(Command):
    """A walk-up visitor's survey answers for `service`, without a ticket (the QR code a
    hall posts per service): counted apart from the answers of served visits."""

    TYPE = "submit_walk_up_survey"
    service: Id
    response: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class WriteSurveyPlan(Command):
    """Write a period's follow-up plan (rencana tindak lanjut, `qms.survey.plan`):
    `plan` is `{"period", "elements", "text"}`; a later one for the period replaces it."""

    TYPE = "write_survey_plan"
    plan: dict[str, Any]


COMMAND_TYPES: dict[str, type[Command]] = records.registry(Command)


def parse_command(data: Any) -> Command:
    """A command from untrusted input, or `Rejected("invalid_command")`."""
    if not isinstance(data, Mapping):
        raise Rejected("invalid_command", "a command is an object")
    kind = data.get("type")
    cls = COMMAND_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise Rejected(
            "invalid_command",
            f"unknown command type {data.get('type')!r}",
            field="type",
            allowed=sorted(COMMAND_TYPES),
        )
    try:
        return from_dict(cls, data, strict=True)
    except SchemaError as exc:
        raise Rejected("invalid_command", str(exc), field=exc.field) from None


def command_to_dict(command: Command) -> dict[str, Any]:
    data: dict[str, Any] = {"type": command.TYPE}
    data.update(to_dict(command))
    return data
