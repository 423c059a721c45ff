"""JSON schemas of the hall's answers, for the OpenAPI document (`api_hall`, `api_commands`).

They follow `qms.server.shapes` and `qms.server.queries` field by field: every
field the views always send is required, with its type (null where it may be
missing a value). Schemathesis checks every answer against them
(tests/test_schemathesis.py); a new field is allowed (clients ignore what they do
not know), a changed type is not.
"""

from __future__ import annotations

from typing import Any

from qms.core.model import Channel, CounterState, Priority, TicketState
from qms.server.shapes import TICKET_FIELDS, TICKET_NAMELESS, TICKET_PUBLIC

Schema = dict[str, Any]

STR: Schema = {"type": "string"}
INT: Schema = {"type": "integer"}
NUM: Schema = {"type": "number"}
BOOL: Schema = {"type": "boolean"}
MAYBE_STR: Schema = {"type": ["string", "null"]}
MAYBE_NUM: Schema = {"type": ["number", "null"]}
STRINGS: Schema = {"type": "array", "items": STR}
TICKET_STATE: Schema = {"type": "string", "enum": [s.value for s in TicketState]}
PRIORITY: Schema = {"type": "string", "enum": [p.value for p in Priority]}
CHANNEL: Schema = {"type": "string", "enum": [c.value for c in Channel]}
COUNTER_STATE: Schema = {"type": "string", "enum": [s.value for s in CounterState]}


def record(**props: Schema) -> Schema:
    """An object that always has `props` (and may have more)."""
    return {"type": "object", "required": sorted(props), "properties": props}


def nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def with_version(**props: Schema) -> Schema:
    """A view: the log version it reflects, and its parts."""
    return record(version=INT, **props)


SITE = record(
    id=STR,
    name=STR,
    timezone=STR,
    number_format=STR,
    policy=STR,
    priority_streak_max=INT,
    transfer_keeps_arrival=BOOL,
)
AGENCY = record(id=STR, name=STR)
HOURS = record(open=STR, close=STR, weekdays={"type": "array", "items": INT})
SERVICE = record(
    service=STR,
    agency=STR,
    prefix=STR,
    name_id=STR,
    name_en=STR,
    target_wait_min=INT,
    daily_quota=INT,
    hours=HOURS,
    active=BOOL,
)
COUNTER_SETUP = record(counter=STR, name=STR, zone=STR, services=STRINGS)  # `live=False`
SETUP = with_version(
    site=nullable(SITE),
    day=MAYBE_STR,
    agencies={"type": "array", "items": AGENCY},
    services={"type": "array", "items": SERVICE},
    counters={"type": "array", "items": COUNTER_SETUP},
    messages={"type": "object", "additionalProperties": STR},
)

# A queue (`shapes.queue`): a service's, or the tickets sent to one counter ("@L3",
# staff only); the stream carries its `queue` and `waiting` (`shapes.QUEUE_LIVE`).
QUEUE = record(
    queue=STR,
    service=MAYBE_STR,
    counter=MAYBE_STR,
    waiting=INT,
    priority_waiting=INT,
    oldest_wait_s=MAYBE_NUM,
    target_wait_s=MAYBE_NUM,
    over_target=BOOL,
    open_counters=INT,
    mean_service_s=MAYBE_NUM,
    estimated_wait_s=MAYBE_NUM,
)
QUEUES = with_version(now=NUM, queues={"type": "array", "items": QUEUE})

# A ticket (`shapes.ticket`): staff see every field; an audience that may not see some
# is given the same object without them (`TICKET_PUBLIC` on displays and kiosks).
TICKET = record(
    ticket=STR,
    number=STR,
    service=STR,
    day=STR,
    state=TICKET_STATE,
    priority=PRIORITY,
    channel=CHANNEL,
    issued_at=NUM,
    arrival_at=NUM,
    called_at=MAYBE_NUM,
    started_at=MAYBE_NUM,
    finished_at=MAYBE_NUM,
    counter=MAYBE_STR,
    target_counter=MAYBE_STR,
    officer=MAYBE_STR,
    recalls=INT,
)
TICKETS = with_version(day=MAYBE_STR, tickets={"type": "array", "items": TICKET})
# The ticket in hand at a counter: the ticket's shape; displays and kiosks see
# `TICKET_PUBLIC` of it, staff every field.
IN_HAND = record(**{f: TICKET["properties"][f] for f in TICKET_PUBLIC})
IN_HAND["properties"].update(
    {
        f: {**TICKET["properties"][f], "description": "staff only"}
        for f in TICKET_FIELDS
        if f not in TICKET_PUBLIC
    }
)
# A counter (`shapes.counter`); the site's set-up lists its configuration only.
COUNTER = record(
    counter=STR,
    name=STR,
    zone=STR,
    services=STRINGS,
    state=COUNTER_STATE,
    ticket=nullable(IN_HAND),
    waiting=INT,
)
COUNTER["properties"]["officer"] = {**MAYBE_STR, "description": "staff only"}
COUNTERS = with_version(now=NUM, counters={"type": "array", "items": COUNTER})

TICKET_STATUS = with_version(
    now=NUM,
    ticket=record(
        number=STR,
        service=STR,
        service_name_id=STR,
        service_name_en=STR,
        day=STR,
        state=TICKET_STATE,
        issued_at=NUM,
        people_ahead={"type": ["integer", "null"]},
        estimated_wait_s=MAYBE_NUM,
        counter=nullable(record(counter=STR, name=STR)),
        called_at=MAYBE_NUM,
        recalls=INT,
    ),
)

# A new ticket, as issue_ticket answers it: the ticket's shape without its officer,
# with the visitor's status links.
ISSUED = record(
    **{f: TICKET["properties"][f] for f in TICKET_NAMELESS},
    ref=STR,
    status_url=STR,
    status_api=STR,
)
# What a command may answer beside its version and events: the resource it acted on.
COMMAND_RESOURCES: Schema = {
    "site": SITE,
    "agency": AGENCY,
    "service": SERVICE,
    "counter": COUNTER,
    "ticket": {"anyOf": [TICKET, ISSUED]},
    "messages": {"type": "object", "additionalProperties": STR},
    "day": MAYBE_STR,
}
