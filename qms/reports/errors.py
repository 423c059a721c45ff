"""A report asked for with a bad period, cut or filter: `ReportError` with a stable code."""

from __future__ import annotations

from typing import Any

# Stable codes, part of the public contract, each with the HTTP status that fits it.
CODES: dict[str, int] = {
    "invalid_period": 422,  # unreadable dates, last before first, or longer than allowed
    "unknown_period": 422,  # a named period that does not exist
    "invalid_filter": 422,  # a filter that is not a list of ids, or an unknown value
    "invalid_dimension": 422,  # a cut the reports do not know
    "invalid_interval": 422,  # interval minutes other than 15, 30 or 60
    "invalid_site": 422,  # not a site id
}


class ReportError(ValueError):
    def __init__(self, code: str, message: str, **details: Any) -> None:
        if code not in CODES:
            raise ValueError(f"unknown report error code {code!r}")
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        """The one error shape of the API: {"error": {"code", "message", "details"}}."""
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}
