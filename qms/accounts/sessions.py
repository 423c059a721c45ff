"""Session cookies: a signed, self-contained claim "this is USERNAME at password epoch E".

    v1.<base64url(JSON {"u", "e", "iat", "exp"})>.<base64url(HMAC-SHA256)>

The HMAC key is derived from the server's secret key, so the secret may serve
other purposes without one signature standing in for another. Nothing is stored
on the server: a cookie is good until it expires, its user changes password
(the epoch moves on) or is deactivated, or the secret key changes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass

COOKIE_NAME = "qms_session"
LIFETIME_S = 12 * 3600
MAX_COOKIE = 1024  # characters; a real one is about 150
CLOCK_SKEW_S = 60  # an issued-at this far in the future is still accepted
_VERSION = "v1"


@dataclass(frozen=True)
class SessionClaims:
    username: str
    epoch: int  # the user's password epoch when the session was issued
    issued_at: int
    expires_at: int


def session_key(secret: bytes) -> bytes:
    """The cookie-signing key, derived from the server's secret."""
    return hmac.new(secret, b"qms session cookie v1", hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, payload: str) -> bytes:
    return hmac.new(key, f"{_VERSION}.{payload}".encode(), hashlib.sha256).digest()


def new_session(username: str, epoch: int, now: float, lifetime: int = LIFETIME_S) -> SessionClaims:
    return SessionClaims(username, epoch, int(now), int(now) + lifetime)


def sign_session(key: bytes, claims: SessionClaims) -> str:
    """The cookie value for `claims`."""
    body = {"u": claims.username, "e": claims.epoch, "iat": claims.issued_at}
    body["exp"] = claims.expires_at
    payload = _b64(json.dumps(body, separators=(",", ":")).encode())
    return f"{_VERSION}.{payload}.{_b64(_mac(key, payload))}"


def read_session(key: bytes, value: str, now: float) -> SessionClaims | None:
    """The claims of a well-signed, unexpired cookie value; None for anything else."""
    if len(value) > MAX_COOKIE:
        return None
    parts = value.split(".")
    if len(parts) != 3 or parts[0] != _VERSION:
        return None
    _, payload, signature = parts
    try:
        given = _unb64(signature)
    except (binascii.Error, ValueError):
        return None
    if not hmac.compare_digest(given, _mac(key, payload)):
        return None
    try:
        body = json.loads(_unb64(payload))
    except (binascii.Error, ValueError):
        return None
    if not isinstance(body, dict):
        return None
    username, epoch, iat, exp = body.get("u"), body.get("e"), body.get("iat"), body.get("exp")
    if not isinstance(username, str) or not all(_is_int(v) for v in (epoch, iat, exp)):
        return None
    claims = SessionClaims(username, int(epoch), int(iat), int(exp))  # type: ignore[arg-type]
    if not claims.issued_at - CLOCK_SKEW_S <= now < claims.expires_at:
        return None
    return claims


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
