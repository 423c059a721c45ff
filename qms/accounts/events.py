"""Every fact about people and devices, recorded in the `_accounts` log.

Documented in docs/security.md ("Account events"); a test fails when one is not.
The password hash is part of the record: the log is as sensitive as a password
file (see docs/security.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from qms.accounts.model import DeviceKind, UserRole
from qms.eventsourcing import records


@dataclass(frozen=True, kw_only=True)
class AccountEvent:
    TYPE: ClassVar[str] = ""
    SCHEMA: ClassVar[int] = 1

    at: float  # unix seconds
    by: str | None = None


@dataclass(frozen=True, kw_only=True)
class UserAdded(AccountEvent):
    """A user was created, with the hash of their first password."""

    TYPE = "user_added"
    username: str
    role: UserRole
    sites: list[str]
    password_hash: str
    agencies: list[str] = field(default_factory=list)  # a viewer's (empty: every agency)


@dataclass(frozen=True, kw_only=True)
class UserChanged(AccountEvent):
    """A user's role, sites, agencies or active flag changed (all recorded as they now are)."""

    TYPE = "user_changed"
    username: str
    role: UserRole
    sites: list[str]
    active: bool
    agencies: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class PasswordSet(AccountEvent):
    """A user's password changed (by them or an admin): their password epoch goes up by one."""

    TYPE = "password_set"
    username: str
    password_hash: str


@dataclass(frozen=True, kw_only=True)
class DeviceAdded(AccountEvent):
    """A display or kiosk was registered at a site (and zone), with the hash of its token."""

    TYPE = "device_added"
    device: str
    kind: DeviceKind
    site: str
    token_hash: str
    zone: str = ""
    name: str = ""


@dataclass(frozen=True, kw_only=True)
class DeviceRevoked(AccountEvent):
    """A device's token stopped working, for good."""

    TYPE = "device_revoked"
    device: str


@dataclass(frozen=True, kw_only=True)
class SessionEnded(AccountEvent):
    """A user signed out: their session `session` (an id from the cookie) is over,
    wherever a copy of the cookie is; kept in mind until it would have expired."""

    TYPE = "session_ended"
    username: str
    session: str
    expires_at: float


EVENT_TYPES: dict[str, type[AccountEvent]] = {
    cls.TYPE: cls
    for cls in (UserAdded, UserChanged, PasswordSet, DeviceAdded, DeviceRevoked, SessionEnded)
}


def event_to_dict(event: AccountEvent) -> dict[str, Any]:
    return records.event_to_dict(event)


def event_from_dict(data: Mapping[str, Any]) -> AccountEvent:
    """The typed event; `UnknownEvent` (a ValueError) for an unknown type or a bad field."""
    return records.event_from_dict(EVENT_TYPES, data, "account event")
