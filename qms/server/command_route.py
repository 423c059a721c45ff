"""How an engine command is offered over HTTP: its method, path, roles and what an
officer must hold to give it (declared by the apps, served by `api_commands`)."""

from __future__ import annotations

from dataclasses import dataclass

from qms.core import COMMAND_TYPES, Command
from qms.counter_console.guard import Own
from qms.server.principal import Role


@dataclass(frozen=True)
class CommandRoute:
    method: str
    path: str
    command: str  # the engine's command type
    allow: frozenset[Role]
    summary: str
    ids: tuple[str, ...] = ()  # path parameters that are command fields
    officer: Own = Own.NOTHING
    created: bool = False  # 201 Created (when not repeated)
    description: str = ""
    # Body fields the server fills in when they are left out (open_counter's officer:
    # the caller): required by the command, optional in the request.
    defaulted: tuple[str, ...] = ()

    @property
    def command_class(self) -> type[Command]:
        return COMMAND_TYPES[self.command]
