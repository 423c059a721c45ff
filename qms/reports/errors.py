"""A report asked for with a bad period, cut or filter: `ReportError` with a stable code."""

from __future__ import annotations

from qms.eventsourcing.rejection import Rejection

# Stable codes, part of the public contract, each with the HTTP status that fits it.
CODES: dict[str, int] = {
    "invalid_period": 422,  # unreadable dates, last before first, or longer than allowed
    "unknown_period": 422,  # a named period that does not exist
    "invalid_filter": 422,  # a filter that is not a list of ids, or an unknown value
    "invalid_dimension": 422,  # a cut the reports do not know
    "invalid_interval": 422,  # interval minutes other than 15, 30 or 60
    "invalid_site": 422,  # not a site id
}


class ReportError(Rejection, ValueError):
    """A report asked for with a bad period, cut or filter; nothing was computed."""

    CODES = CODES
