"""Every fact the hall records. Each event is a small, named, documented type.

An event's wire form is a plain mapping: ``type`` (the class's TYPE), ``schema``
(its SCHEMA, raised when a field changes meaning), then its fields. Reading is
tolerant: unknown fields are ignored and missing ones take their defaults, so a
log written by another version of qms still loads. docs/events.md documents
each type; tests/test_docs.py fails when one is missing there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from qms.core.model import Agency, Channel, Priority, Service, Site
from qms.eventsourcing import records


@dataclass(frozen=True, kw_only=True)
class Event:
    TYPE: ClassVar[str] = ""
    SCHEMA: ClassVar[int] = 1

    at: float  # unix seconds, from the clock passed to decide
    by: str | None = None  # the user or device that gave the command


@dataclass(frozen=True, kw_only=True)
class SiteConfigured(Event):
    """The site (hall) was set up or its settings changed."""

    TYPE = "site_configured"
    site: Site


@dataclass(frozen=True, kw_only=True)
class AgencyConfigured(Event):
    """An agency (instansi) was set up or renamed."""

    TYPE = "agency_configured"
    agency: Agency


@dataclass(frozen=True, kw_only=True)
class ServiceConfigured(Event):
    """A service (layanan) was set up or changed: prefix, names, target, quota, hours, active."""

    TYPE = "service_configured"
    service: Service


@dataclass(frozen=True, kw_only=True)
class CounterConfigured(Event):
    """A counter (loket) was set up or changed: name, zone, services."""

    TYPE = "counter_configured"
    counter: str
    name: str
    zone: str = ""
    services: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class DayOpened(Event):
    """A new business day began: ticket numbers restart (a day reopened after close_day goes on)."""

    TYPE = "day_opened"
    day: str


@dataclass(frozen=True, kw_only=True)
class DayClosed(Event):
    """The business day closed: unserved tickets expired, counters closed."""

    TYPE = "day_closed"
    day: str
    expired: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class TicketIssued(Event):
    """A visitor took a ticket; it waits in its service's queue."""

    TYPE = "ticket_issued"
    ticket: str
    number: str
    service: str
    day: str
    seq: int
    token: str
    priority: Priority = Priority.REGULAR
    channel: Channel = Channel.KIOSK


@dataclass(frozen=True, kw_only=True)
class CounterOpened(Event):
    """An officer signed in and opened a counter (or resumed it from a pause)."""

    TYPE = "counter_opened"
    counter: str
    officer: str


@dataclass(frozen=True, kw_only=True)
class CounterPaused(Event):
    """A counter paused (istirahat): it calls no tickets until opened again."""

    TYPE = "counter_paused"
    counter: str


@dataclass(frozen=True, kw_only=True)
class CounterClosed(Event):
    """A counter closed and its officer signed out."""

    TYPE = "counter_closed"
    counter: str


@dataclass(frozen=True, kw_only=True)
class CounterServicesSet(Event):
    """A counter's services were reallocated; its next call follows the new list."""

    TYPE = "counter_services_set"
    counter: str
    services: list[str]


@dataclass(frozen=True, kw_only=True)
class TicketStep(Event):
    """Base of the events that happen to a ticket, at a counter when there is one."""

    ticket: str
    counter: str | None = None
    officer: str | None = None


@dataclass(frozen=True, kw_only=True)
class TicketCalled(TicketStep):
    """A counter called a ticket (next in line, or that ticket by name)."""

    TYPE = "ticket_called"


@dataclass(frozen=True, kw_only=True)
class TicketRecalled(TicketStep):
    """The counter called its ticket again; displays announce it again."""

    TYPE = "ticket_recalled"
    recalls: int = 1


@dataclass(frozen=True, kw_only=True)
class ServiceStarted(TicketStep):
    """The visitor arrived at the counter; service began."""

    TYPE = "service_started"


@dataclass(frozen=True, kw_only=True)
class TicketCompleted(TicketStep):
    """Service finished; the counter is free."""

    TYPE = "ticket_completed"


@dataclass(frozen=True, kw_only=True)
class TicketNoShow(TicketStep):
    """The called visitor did not come; the ticket ends."""

    TYPE = "ticket_no_show"


@dataclass(frozen=True, kw_only=True)
class TicketReturned(TicketStep):
    """The counter put its ticket back in the queue at its original place."""

    TYPE = "ticket_returned"


@dataclass(frozen=True, kw_only=True)
class TicketTransferred(TicketStep):
    """The ticket moved to another service's queue or to one counter.

    ``arrival_at`` is its place in the new queue: the original arrival time
    when the site keeps arrival on transfer, else the time of the transfer.
    """

    TYPE = "ticket_transferred"
    to_service: str
    to_counter: str | None = None
    arrival_at: float = 0.0


@dataclass(frozen=True, kw_only=True)
class TicketHeld(TicketStep):
    """The ticket was parked (e.g. the visitor fetches a document); not called meanwhile."""

    TYPE = "ticket_held"


@dataclass(frozen=True, kw_only=True)
class TicketUnheld(TicketStep):
    """A parked ticket went back to its queue at its original place."""

    TYPE = "ticket_unheld"


@dataclass(frozen=True, kw_only=True)
class TicketCancelled(TicketStep):
    """A waiting ticket was cancelled (by the visitor or staff)."""

    TYPE = "ticket_cancelled"


@dataclass(frozen=True, kw_only=True)
class MessageBroadcast(Event):
    """A supervisor set the running text of the displays (of one zone, or all)."""

    TYPE = "message_broadcast"
    text: str
    zone: str = ""


@dataclass(frozen=True, kw_only=True)
class SurveyConfigured(Event):
    """The satisfaction survey's questionnaire changed (reworded, extras, on/off): a new version."""

    TYPE = "survey_configured"
    instrument: dict[str, Any]  # `qms.survey.instrument.Instrument.to_dict()`


@dataclass(frozen=True, kw_only=True)
class SurveyAnswered(Event):
    """A visitor answered the satisfaction survey of their completed ticket (once per
    ticket), or of a service on its walk-up QR code (`walk_up`, no ticket).

    The visit's service, agency, counter, officer, channel and day are copied from
    the ticket, so the index can be recomputed from these events alone.
    """

    TYPE = "survey_answered"
    ticket: str  # "" for a walk-up answer
    service: str
    agency: str = ""
    counter: str | None = None
    officer: str | None = None
    channel: Channel | None = Channel.KIOSK  # None for a walk-up answer: no ticket
    day: str
    response: dict[str, Any]  # `qms.survey.response.Response.to_dict()`
    # Answered on a service's walk-up QR code, without a ticket: no ticket, counter,
    # officer or channel; counted apart in the figures (docs/survey.md "Walk-up").
    walk_up: bool = False
    # Answered on the counter's tablet, in front of the officer, rather than on the
    # visitor's phone (docs/survey.md "The counter tablet"): kept so that the figures
    # can tell the two apart; the visit and its channel are the ticket's either way.
    tablet: bool = False


@dataclass(frozen=True, kw_only=True)
class SurveySkipped(Event):
    """The visitor at the counter's tablet put the survey of their completed ticket away
    (*Lewati*): the tablet does not ask about that visit again, on any page or reload.
    Nothing else: the visitor may still answer on their phone, and no figure counts it."""

    TYPE = "survey_skipped"
    ticket: str


@dataclass(frozen=True, kw_only=True)
class SurveyPlanWritten(Event):
    """An admin wrote the follow-up plan (rencana tindak lanjut) of a survey period.

    The latest plan of a period is the one published; the earlier ones stay in the log.
    """

    TYPE = "survey_plan_written"
    period: str  # 2026, 2026-S1, 2026-Q1 or 2026-03
    elements: list[str]  # the weak elements it addresses (U1…U9)
    text: str


EVENT_TYPES: dict[str, type[Event]] = records.registry(Event)


def event_to_dict(event: Event) -> dict[str, Any]:
    return records.event_to_dict(event)


def event_from_dict(data: Mapping[str, Any]) -> Event:
    """Load an event written by any version of qms (tolerant of added fields)."""
    return records.event_from_dict(EVENT_TYPES, data)
