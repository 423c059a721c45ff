"""The pure domain of qms: no I/O, the clock passed in.

`decide(state, command, now) -> events` holds every rule; `evolve(state, event)`
folds a recorded event into the state. Imports neither redis nor starlette.
"""

from qms.core.commands import COMMAND_TYPES, Command, command_to_dict, parse_command
from qms.core.decide import decide
from qms.core.errors import CODES, Rejected
from qms.core.events import EVENT_TYPES, Event, event_from_dict, event_to_dict
from qms.core.evolve import evolve
from qms.core.model import HallState
from qms.core.snapshot import state_from_dict, state_to_dict

__all__ = [
    "CODES",
    "COMMAND_TYPES",
    "EVENT_TYPES",
    "Command",
    "Event",
    "HallState",
    "Rejected",
    "command_to_dict",
    "decide",
    "event_from_dict",
    "event_to_dict",
    "evolve",
    "parse_command",
    "state_from_dict",
    "state_to_dict",
]
