"""Who is asking: a signed-in user, a device, or nobody; and what they may do."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

from starlette.requests import HTTPConnection


class Role(enum.StrEnum):
    ADMIN = "admin"
    SUPERVISOR = "supervisor"
    OFFICER = "officer"
    VIEWER = "viewer"  # reads the reports of its sites (and agencies, when it has some)
    DISPLAY = "display"  # a device: reads the public stream
    KIOSK = "kiosk"  # a device: issues tickets
    TABLET = "tablet"  # a device at one counter: its survey routes, nothing else
    ANONYMOUS = "anonymous"


STAFF = frozenset({Role.ADMIN, Role.SUPERVISOR, Role.OFFICER})
# Every caller, anonymous included, but a counter tablet: it may call its own two
# routes only (qms/survey/routes_tablet.py), not even the public ones, so that its token
# opens nothing else should it leave the counter.
TABLETS = frozenset({Role.TABLET})
EVERYONE = frozenset(Role) - TABLETS
ADMINS = frozenset({Role.ADMIN})
MANAGERS = frozenset({Role.ADMIN, Role.SUPERVISOR})
ISSUERS = STAFF | {Role.KIOSK}
READERS = STAFF | {Role.DISPLAY, Role.KIOSK}  # the public views


@dataclass(frozen=True)
class Principal:
    role: Role
    name: str = ""  # username or device id
    sites: frozenset[str] | None = frozenset()  # None: every site (admins)
    zone: str | None = None  # devices may be bound to one zone
    via_cookie: bool = False  # cookie sessions need CSRF defence on unsafe methods
    agencies: frozenset[str] | None = None  # a viewer limited to agencies; None: every one
    counter: str | None = None  # a tablet's counter

    def may_use_site(self, site: str) -> bool:
        return self.sites is None or site in self.sites


ANONYMOUS = Principal(Role.ANONYMOUS)


class Authenticator(Protocol):
    """Turns a request's cookie or token into a Principal (ANONYMOUS when none)."""

    async def principal(self, conn: HTTPConnection) -> Principal: ...
