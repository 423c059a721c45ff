"""People and devices: the accounts state, folded from the `_accounts` log."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field

ACCOUNTS_SITE = "_accounts"  # the reserved log of users and devices; no hall may use it

USERNAME_RE = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
SITE_RE = re.compile(r"[A-Za-z0-9-][A-Za-z0-9_-]{0,63}")  # a hall's id; "_…" is reserved
DEVICE_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
MAX_ZONE = 64
MAX_NAME = 100


class UserRole(enum.StrEnum):
    ADMIN = "admin"  # everything, at every site
    SUPERVISOR = "supervisor"  # runs the floor of their sites
    OFFICER = "officer"  # serves at a counter of their sites
    # Reads the reports of their sites, and nothing else: a hall's head, or an agency's
    # coordinator (then limited to `agencies`).
    VIEWER = "viewer"


class DeviceKind(enum.StrEnum):
    DISPLAY = "display"  # reads the public stream
    KIOSK = "kiosk"  # issues tickets
    TABLET = "tablet"  # faces the visitor at one counter: the survey of its last completion


@dataclass
class User:
    username: str
    role: UserRole
    sites: list[str]  # empty for admins: they may use every site
    password_hash: str
    agencies: list[str] = field(default_factory=list)  # a viewer's; empty: every agency
    password_epoch: int = 1  # +1 on every password change: older sessions die
    active: bool = True
    created_at: float = 0.0
    changed_at: float = 0.0

    def public(self) -> dict[str, object]:
        """The user without secrets (no hash, no epoch)."""
        return {
            "username": self.username,
            "role": self.role.value,
            "sites": list(self.sites),
            "agencies": list(self.agencies),
            "active": self.active,
            "created_at": self.created_at,
            "changed_at": self.changed_at,
        }


@dataclass
class Device:
    device: str
    kind: DeviceKind
    site: str
    token_hash: str  # sha256 hex of the token; the token itself is never stored
    zone: str = ""
    name: str = ""
    counter: str = ""  # a tablet's counter (its only one); empty for other kinds
    revoked: bool = False
    created_at: float = 0.0
    revoked_at: float | None = None

    def public(self) -> dict[str, object]:
        """The device without its token hash."""
        return {
            "device": self.device,
            "kind": self.kind.value,
            "site": self.site,
            "zone": self.zone or None,
            "counter": self.counter or None,
            "name": self.name,
            "revoked": self.revoked,
            "created_at": self.created_at,
            "revoked_at": self.revoked_at,
        }


@dataclass
class AccountsState:
    users: dict[str, User] = field(default_factory=dict)
    devices: dict[str, Device] = field(default_factory=dict)
    by_token: dict[str, str] = field(default_factory=dict)  # token hash -> device id
    # Sessions signed out of, until they would have expired: session id -> expiry.
    ended_sessions: dict[str, float] = field(default_factory=dict)

    def device_by_token_hash(self, token_hash: str) -> Device | None:
        device = self.by_token.get(token_hash)
        return None if device is None else self.devices[device]

    def active_admins(self) -> list[str]:
        return [u.username for u in self.users.values() if u.role is UserRole.ADMIN and u.active]
