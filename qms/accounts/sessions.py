"""Signed cookies: the session ("this is USERNAME at password epoch E, session S")
and the device cookie ("this browser signed in as these users before").

    session: v2.<base64url(JSON {"u", "e", "s", "iat", "exp"})>.<base64url(HMAC-SHA256)>
    device:  d1.<base64url(JSON {"d", "u", "iat"})>.<base64url(HMAC-SHA256)>

The HMAC keys are derived from the server's secret key, one per purpose, so one
signature never stands in for another. A session is good until it expires, is
ended by signing out (its id `s` is then recorded in the accounts log), its
user changes password (the epoch moves on) or is deactivated, or the secret key
changes.

The device cookie is OWASP's "device cookie": a browser that signed in as a
user before is trusted for that user's sign-ins and so spared the limits that
strangers' failures can trip (`qms.accounts.guard`). It grants nothing by
itself: a password is still needed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

COOKIE_NAME = "qms_session"
LIFETIME_S = 12 * 3600
MAX_COOKIE = 1024  # characters; a real one is about 170
CLOCK_SKEW_S = 60  # an issued-at this far in the future is still accepted
_VERSION = "v2"  # v1 cookies (no session id, so they could not be revoked) are refused

DEVICE_COOKIE = "qms_device"
DEVICE_LIFETIME_S = 180 * 24 * 3600  # renewed by every sign-in from the browser
DEVICE_USERS = 8  # the most recent users of one browser (a counter has a few officers)
_DEVICE_VERSION = "d1"


@dataclass(frozen=True)
class SessionClaims:
    username: str
    epoch: int  # the user's password epoch when the session was issued
    session: str  # a random id: signing out records it as ended
    issued_at: int
    expires_at: int


@dataclass(frozen=True)
class DeviceClaims:
    device: str  # a random id of the browser
    users: tuple[str, ...]  # who signed in from it, the most recent last
    issued_at: int


def session_key(secret: bytes) -> bytes:
    """The session-cookie signing key, derived from the server's secret."""
    return hmac.new(secret, b"qms session cookie v1", hashlib.sha256).digest()


def device_key(secret: bytes) -> bytes:
    """The device-cookie signing key, derived from the server's secret."""
    return hmac.new(secret, b"qms device cookie v1", hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(key: bytes, version: str, body: dict[str, Any]) -> str:
    payload = _b64(json.dumps(body, separators=(",", ":")).encode())
    mac = hmac.new(key, f"{version}.{payload}".encode(), hashlib.sha256).digest()
    return f"{version}.{payload}.{_b64(mac)}"


def _read(key: bytes, version: str, value: str) -> dict[str, Any] | None:
    """The body of a well-signed `value` of `version`; None for anything else."""
    if len(value) > MAX_COOKIE:
        return None
    parts = value.split(".")
    if len(parts) != 3 or parts[0] != version:
        return None
    _, payload, signature = parts
    try:
        given = _unb64(signature)
    except (binascii.Error, ValueError):
        return None
    mac = hmac.new(key, f"{version}.{payload}".encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(given, mac):
        return None
    try:
        body = json.loads(_unb64(payload))
    except (binascii.Error, ValueError):
        return None
    return body if isinstance(body, dict) else None


def new_session_id() -> str:
    return secrets.token_urlsafe(12)


def new_session(
    username: str,
    epoch: int,
    now: float,
    lifetime: int = LIFETIME_S,
    *,
    session_id: Callable[[], str] = new_session_id,
) -> SessionClaims:
    return SessionClaims(username, epoch, session_id(), int(now), int(now) + lifetime)


def sign_session(key: bytes, claims: SessionClaims) -> str:
    """The cookie value for `claims`."""
    body = {"u": claims.username, "e": claims.epoch, "s": claims.session}
    body |= {"iat": claims.issued_at, "exp": claims.expires_at}
    return _sign(key, _VERSION, body)


def read_session(key: bytes, value: str, now: float) -> SessionClaims | None:
    """The claims of a well-signed, unexpired cookie value; None for anything else."""
    body = _read(key, _VERSION, value)
    if body is None:
        return None
    username, epoch, session = body.get("u"), body.get("e"), body.get("s")
    iat, exp = body.get("iat"), body.get("exp")
    if not isinstance(username, str) or not isinstance(session, str) or not session:
        return None
    if not all(_is_int(v) for v in (epoch, iat, exp)) or len(session) > 64:
        return None
    claims = SessionClaims(username, int(epoch), session, int(iat), int(exp))  # type: ignore[arg-type]
    if not claims.issued_at - CLOCK_SKEW_S <= now < claims.expires_at:
        return None
    return claims


def remember_user(claims: DeviceClaims | None, username: str, now: float) -> DeviceClaims:
    """The device claims after `username` signed in: a new device id for a new
    browser, the user moved to the end, the oldest dropped beyond DEVICE_USERS."""
    device = claims.device if claims is not None else secrets.token_urlsafe(12)
    users = [u for u in (claims.users if claims else ()) if u != username] + [username]
    return DeviceClaims(device, tuple(users[-DEVICE_USERS:]), int(now))


def sign_device(key: bytes, claims: DeviceClaims) -> str:
    body = {"d": claims.device, "u": list(claims.users), "iat": claims.issued_at}
    return _sign(key, _DEVICE_VERSION, body)


def read_device(key: bytes, value: str, now: float) -> DeviceClaims | None:
    """The claims of a well-signed device cookie not older than DEVICE_LIFETIME_S."""
    body = _read(key, _DEVICE_VERSION, value)
    if body is None:
        return None
    device, users, iat = body.get("d"), body.get("u"), body.get("iat")
    if not isinstance(device, str) or not device or len(device) > 64 or not _is_int(iat):
        return None
    if not isinstance(users, list) or not all(isinstance(u, str) for u in users):
        return None
    if not int(iat) - CLOCK_SKEW_S <= now < int(iat) + DEVICE_LIFETIME_S:  # type: ignore[arg-type]
        return None
    return DeviceClaims(device, tuple(users[-DEVICE_USERS:]), int(iat))  # type: ignore[arg-type]


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
