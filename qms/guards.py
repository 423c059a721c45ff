"""Guards: a caller's precondition on the very state its command is decided on.

The engine runs a command's guard inside its decide step, so a check such as "this
officer holds this counter" cannot go stale between checking and deciding. A
`WireGuard` can travel with its command to the site's writer in another process
(`qms.relay`), where it is rebuilt from its registered `kind`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from qms.core import Command, HallState

# A caller's precondition on the state a command is decided on: raises to refuse.
Guard = Callable[[HallState], None]


class WireGuard(ABC):
    """A guard that can travel with its command to the site's writer in another
    process (see `qms.relay`): a registered `kind` and msgpack-able arguments.
    It refuses with `Rejected`, whose code and details travel back.
    """

    kind: ClassVar[str]

    @abstractmethod
    def __call__(self, state: HallState) -> None: ...

    @abstractmethod
    def to_wire(self) -> dict[str, Any]: ...

    @classmethod
    @abstractmethod
    def from_wire(cls, data: Mapping[str, Any], command: Command) -> WireGuard: ...


GUARD_KINDS: dict[str, type[WireGuard]] = {}


def wire_guard(cls: type[WireGuard]) -> type[WireGuard]:
    """Class decorator: the writer rebuilds guards of this kind from the wire."""
    GUARD_KINDS[cls.kind] = cls
    return cls
