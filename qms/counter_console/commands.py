"""The officer's commands on a counter and on the tickets at it, as HTTP routes."""

from __future__ import annotations

from typing import Any

from qms.counter_console.guard import Own
from qms.server.command_route import CommandRoute
from qms.server.principal import STAFF


def _counter(verb: str, command: str, summary: str, **kw: Any) -> CommandRoute:
    return CommandRoute(
        "POST",
        f"/sites/{{site}}/counters/{{counter}}/{verb}",
        command,
        STAFF,
        summary,
        ("counter",),
        kw.pop("officer", Own.COUNTER),
        **kw,
    )


def _ticket(verb: str, command: str, summary: str) -> CommandRoute:
    return CommandRoute(
        "POST",
        f"/sites/{{site}}/tickets/{{ticket}}/{verb}",
        command,
        STAFF,
        summary,
        ("ticket",),
        Own.TICKET,
    )


COUNTER_COMMANDS: tuple[CommandRoute, ...] = (
    _counter(
        "open",
        "open_counter",
        "Open a counter (sign in to it), or resume it from a pause",
        officer=Own.FREE_COUNTER,
        defaulted=("officer",),
        description="An officer opens a counter for themselves (`officer` may only name "
        "them); a supervisor or admin may name any officer (default: themselves).",
    ),
    _counter("pause", "pause_counter", "Pause a counter (istirahat)"),
    _counter("close", "close_counter", "Close a counter (its officer signs out)"),
    _counter("call-next", "call_next", "Call the next ticket"),
    _counter(
        "call",
        "call_ticket",
        "Call one ticket by id (waiting or held)",
        description="`override: true` (a ticket of a service the counter lacks) is for "
        "supervisors and admins.",
    ),
    _counter("recall", "recall", "Call the ticket in hand again"),
    _counter("start", "start_service", "The visitor arrived: start the service"),
    _counter("complete", "complete", "Complete the ticket in hand"),
    _counter("no-show", "no_show", "The called visitor did not come"),
    _counter("return", "return_to_queue", "Put the ticket in hand back in its queue"),
    _ticket("transfer", "transfer", "Transfer a ticket to another service or counter"),
    _ticket("hold", "hold", "Park a ticket (the visitor fetches a document)"),
    _ticket("unhold", "unhold", "Put a parked ticket back in its queue"),
    _ticket("cancel", "cancel", "Cancel a waiting or parked ticket"),
)
