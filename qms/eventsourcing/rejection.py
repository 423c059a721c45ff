"""A command refused: a stable code from its core's table, a message, and details.

Each core names its codes with the HTTP status that fits each (`CODES`); the
server's one error handler answers every rejection the same way. Nothing was
changed by a rejected command.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar


class Rejection(Exception):
    """A refusal; a subclass gives the table of its codes."""

    CODES: ClassVar[Mapping[str, int]] = {}

    def __init__(self, code: str, message: str, **details: Any) -> None:
        if code not in self.CODES:
            raise ValueError(f"unregistered rejection code {code!r} for {type(self).__name__}")
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.details = details

    @property
    def http_status(self) -> int:
        return self.CODES[self.code]

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}
