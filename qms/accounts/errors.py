"""Rejections of account commands: stable codes, each with the HTTP status that fits.

`AccountRejected` is a `qms.core.Rejected` with its own table of codes, so the
server's one error handler answers it like any hall rejection, while the hall's
table (`qms.core.errors.CODES`) stays as it is.
"""

from __future__ import annotations

from qms.core.errors import Rejected

# Stable codes, part of the public contract.
CODES: dict[str, int] = {
    "invalid_command": 422,  # malformed field: wrong type, too long, unknown enum value
    "invalid_username": 422,  # not 1-64 of [a-z0-9._-], starting with a letter or digit
    "invalid_site": 422,  # not a site id, or a reserved one (starting with "_")
    "invalid_zone": 422,
    "invalid_text": 422,  # a name with a control character (newline, ESC, a bidi override…)
    "sites_required": 422,  # a supervisor, officer or viewer needs at least one site
    "agencies_for_viewers": 422,  # only a viewer is limited to agencies
    "invalid_agency": 422,  # an agency id that is not 1-64 of [A-Za-z0-9_-]
    "password_too_short": 422,
    "password_too_long": 422,
    "password_is_username": 422,  # the username (any case), maybe with digits or symbols
    "password_too_common": 422,  # on the list of common passwords shipped with qms
    "invalid_password_hash": 422,  # not a hash this version can verify
    "user_exists": 409,
    "unknown_user": 404,
    "last_admin": 409,  # the last active admin cannot be demoted or deactivated
    "invalid_device_id": 422,
    "device_exists": 409,
    "token_taken": 409,  # two devices with one token hash (never, with random tokens)
    "unknown_device": 404,
}


class AccountRejected(Rejected):
    """An account command the core refuses; nothing was changed."""

    CODES = CODES
