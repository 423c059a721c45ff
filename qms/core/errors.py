"""Rejections: every command the core refuses raises `Rejected` with a stable code."""

from __future__ import annotations

from qms.eventsourcing.rejection import Rejection
from qms.survey.errors import CODES as SURVEY_CODES

# Stable codes, part of the public contract (the HTTP API passes them through).
# Each maps to the HTTP status that fits it best.
CODES: dict[str, int] = {
    "invalid_command": 422,  # malformed: unknown type, missing/ill-typed/oversized field
    "invalid_text": 422,  # a name or broadcast text with a control or bidi character
    "site_not_set_up": 409,
    "invalid_timezone": 422,
    "unknown_policy": 422,
    "unknown_agency": 404,
    "unknown_service": 404,
    "unknown_counter": 404,
    "unknown_ticket": 404,
    "prefix_taken": 409,
    "service_inactive": 409,
    "service_closed": 409,  # outside opening hours
    "quota_reached": 409,
    "counter_not_open": 409,  # closed or paused
    "counter_busy": 409,  # has a ticket in hand
    "counter_idle": 409,  # has no ticket in hand
    "officer_required": 422,
    "no_ticket_waiting": 409,
    "service_not_served": 409,  # counter does not serve the ticket's service
    "invalid_state": 409,  # ticket or counter is in the wrong state for this command
    "ticket_expired": 409,  # from an earlier business day
    "same_destination": 409,  # transfer to where the ticket already is
}

# Codes of a caller's precondition (an engine guard: the server's officer check),
# not of `decide`; checked on the state the command is decided on, and refused the
# same way, so they travel to the site's writer and back (`qms.relay`).
GUARD_CODES: dict[str, int] = {
    "not_your_counter": 403,  # an officer acts only at the counter they are signed in to
    "not_your_ticket": 403,  # ... and on tickets at, last at, or sent to it
}
# Codes of the engine around `decide`: idempotency (`qms.engine`).
ENGINE_CODES: dict[str, int] = {
    "idempotency_key_reused": 422,  # the command id was given to a different command
}
# Codes of the satisfaction survey (answers, instrument, the visit rated): qms.survey.errors.
ALL_CODES = {**SURVEY_CODES, **CODES, **GUARD_CODES, **ENGINE_CODES}


class Rejected(Rejection):
    """A command the core refuses; nothing was changed."""

    CODES = ALL_CODES


def wrong_state(what: str, ident: str, expected: str, got: str) -> Rejected:
    """The "expected X, got Y" rejection for state-machine violations."""
    return Rejected(
        "invalid_state",
        f"{what} {ident}: expected {expected}, got {got}",
        id=ident,
        expected=expected,
        got=got,
    )
