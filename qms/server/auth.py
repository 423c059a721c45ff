"""Who is asking: session cookies for people, bearer tokens for devices; signing in and out.

`Accounts` is the server's `Authenticator`: `principal(conn)` turns an HTTP
request or a websocket handshake into a `Principal`:

- ``Authorization: Bearer <token>``: a device (display, kiosk or counter tablet); a revoked or
  unknown token, or any other scheme, is anonymous (never falls back to the cookie);
- ``?token=<token>``: the same, but only on a websocket or a page outside
  /api/v1 (a display or kiosk URL); API calls send the header, so tokens stay
  out of API access logs;
- the ``qms_session`` cookie: a person, ``via_cookie=True`` (routes.py then
  checks the Origin of unsafe requests); an invalid, expired, signed-out or
  outdated cookie (password changed, user deactivated) is anonymous;
- nothing: `ANONYMOUS`.

Signing in goes through the `SignInGuard` (qms/accounts/guard.py: the throttling
rules) of the server's one throttle (`qms.server.throttle`), which counts failures
where every process sees them; a successful sign-in also sets the device cookie
that makes this browser trusted for that user.

The CLI uses `open_accounts(config)` and the helpers below without a server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import AsyncIterator, Callable, Iterable

from starlette.requests import HTTPConnection

from qms.accounts import AccountRejected, AccountsStore, Device, User, UserRole
from qms.accounts.guard import SignInGuard
from qms.accounts.passwords import check_password
from qms.accounts.sessions import (
    CLOCK_SKEW_S,
    COOKIE_NAME,
    DEVICE_COOKIE,
    LIFETIME_S,
    SessionClaims,
    device_key,
    new_session,
    read_device,
    read_session,
    remember_user,
    session_key,
    sign_device,
    sign_session,
)
from qms.accounts.store import TOKEN_PREFIX
from qms.eventlog import EventLog, open_log
from qms.server.config import Config
from qms.server.errors import ApiError
from qms.server.principal import ANONYMOUS, Principal, Role
from qms.server.routes import PREFIX

log = logging.getLogger(__name__)

MAX_TOKEN = 200  # characters; a real one is 48
REFRESH_S = 1.0  # look at the log for other processes' changes at most this often
BACKOFF_CAP = 5.0
VERIFIED_MAX = 4096  # session cookies whose signature was checked, kept for their next use

__all__ = [
    "COOKIE_NAME",
    "DEVICE_COOKIE",
    "LIFETIME_S",
    "Accounts",
    "bootstrap_admin",
    "device_link",
    "ensure_user",
    "open_accounts",
    "principal_of_device",
    "principal_of_user",
]


def principal_of_user(user: User, *, via_cookie: bool = True) -> Principal:
    sites = None if user.role is UserRole.ADMIN else frozenset(user.sites)
    agencies = frozenset(user.agencies) if user.agencies else None
    return Principal(
        Role(user.role.value), user.username, sites, via_cookie=via_cookie, agencies=agencies
    )


def principal_of_device(device: Device) -> Principal:
    return Principal(
        Role(device.kind.value),
        device.device,
        frozenset({device.site}),
        zone=device.zone or None,
        counter=device.counter or None,
    )


def device_link(config: Config, device: Device, token: str) -> str:
    """The page a device opens: {base_url}/display?token=…, /kiosk?token=… or /tablet?token=…"""
    return f"{config.base_url}/{device.kind.value}?token={token}"


class Accounts:
    """The server's people and devices: authentication, sessions, throttling."""

    def __init__(
        self,
        log: EventLog,
        config: Config,
        secret: bytes,
        guard: SignInGuard,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.clock = clock
        self.store = AccountsStore(log, clock=clock)
        self._key = session_key(secret)
        self._device_key = device_key(secret)
        self.guard = guard  # the server's throttle's (`qms.server.throttle`)
        self._follower: asyncio.Task[None] | None = None
        self.follower_error: BaseException | None = None
        # cookie value -> its claims, for well-signed cookies only (so nobody fills it
        # without signing in): an officer's every press would check the HMAC again.
        self._verified: dict[str, SessionClaims] = {}

    async def open(self) -> Accounts:
        await self.store.open()
        self._follower = asyncio.create_task(self._follow(), name="follow _accounts")
        return self

    async def close(self) -> None:
        if self._follower is not None:
            self._follower.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._follower
            self._follower = None

    async def _follow(self) -> None:
        """Follow the accounts log forever; log and back off on failure, never die silently.

        (Even when following fails, `refresh` keeps this process at most ~1 s behind.)
        """
        failures = 0
        while True:
            try:
                await self.store.follow()
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                self.follower_error = exc
                log.exception("accounts: follower failed (%d in a row)", failures)
            else:
                self.follower_error = None
            await asyncio.sleep(random.uniform(0, min(BACKOFF_CAP, 0.1 * 2**failures)))
            with contextlib.suppress(Exception):
                await self.store.catch_up()

    # --- authentication ------------------------------------------------------------------

    async def principal(self, conn: HTTPConnection) -> Principal:
        await self.store.refresh(REFRESH_S)
        authorization = conn.headers.get("authorization")
        if authorization is not None:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer":
                return ANONYMOUS
            return await self._device(token.strip())
        # (the query string parsed only when there is one: most requests have none)
        query_token = conn.query_params.get("token") if conn.scope["query_string"] else None
        if query_token is not None and (
            conn.scope["type"] == "websocket" or not conn.url.path.startswith(PREFIX + "/")
        ):
            return await self._device(query_token)
        cookie = conn.cookies.get(COOKIE_NAME)
        if cookie:
            return await self._user(cookie)
        return ANONYMOUS

    async def _device(self, token: str) -> Principal:
        if not token.startswith(TOKEN_PREFIX) or len(token) > MAX_TOKEN:
            return ANONYMOUS
        device = await self.store.device_for_token(token)
        if device is None or device.revoked:
            return ANONYMOUS
        return principal_of_device(device)

    def _session(self, cookie: str) -> SessionClaims | None:
        """`read_session` of the cookie now, its signature checked once per value."""
        now = self.clock()
        claims = self._verified.get(cookie)
        if claims is None:
            claims = read_session(self._key, cookie, now)
            if claims is not None:
                if len(self._verified) >= VERIFIED_MAX:  # the oldest goes
                    del self._verified[next(iter(self._verified))]
                self._verified[cookie] = claims
            return claims
        if not claims.issued_at - CLOCK_SKEW_S <= now < claims.expires_at:
            return None  # the same window as read_session's
        return claims

    async def _user(self, cookie: str) -> Principal:
        claims = self._session(cookie)
        if claims is None or claims.session in self.store.state.ended_sessions:
            return ANONYMOUS
        user = self.store.state.users.get(claims.username)
        if user is None or user.password_epoch < claims.epoch:
            await self.store.refresh(max_age=0)  # made or changed by another process
            user = self.store.state.users.get(claims.username)
        if user is None or not user.active or user.password_epoch != claims.epoch:
            return ANONYMOUS
        return principal_of_user(user)

    # --- sessions ------------------------------------------------------------------------

    def session_cookie(self, user: User) -> str:
        """A new signed session cookie value for `user` (valid LIFETIME_S seconds)."""
        return sign_session(
            self._key, new_session(user.username, user.password_epoch, self.clock())
        )

    def device_cookie(self, value: str | None, username: str) -> str:
        """The device cookie after `username` signed in on the browser that sent `value`."""
        now = self.clock()
        claims = read_device(self._device_key, value, now) if value else None
        return sign_device(self._device_key, remember_user(claims, username, now))

    async def _check_password(
        self, username: str, password: str, place: str, device_cookie: str | None
    ) -> User:
        """The user if the password is theirs; else 401 (one failure counted), or 429."""
        now = self.clock()
        device = read_device(self._device_key, device_cookie, now) if device_cookie else None
        attempt = await self.guard.enter(username, place, device, now)  # or `Throttled`
        user = await self.store.authenticate(username, password)
        if user is None:
            raise ApiError(401, "bad_credentials", "wrong username or password")
        await self.guard.succeeded(attempt, self.clock())
        return user

    async def sign_in(
        self, username: str, password: str, place: str, device_cookie: str | None = None
    ) -> tuple[User, str]:
        """(user, session cookie value); 401 bad_credentials, 403 account_disabled or 429.

        `place` is the caller's address group (qms/server/addresses.py);
        `device_cookie` the browser's qms_device cookie, if any."""
        user = await self._check_password(username, password, place, device_cookie)
        if not user.active:
            raise ApiError(403, "account_disabled", "this account is disabled; ask an admin")
        return user, self.session_cookie(user)

    async def sign_out(self, cookie: str | None) -> None:
        """End the session of `cookie` on the server: every copy of it is anonymous
        from now on, in every process (recorded in the accounts log)."""
        claims = read_session(self._key, cookie, self.clock()) if cookie else None
        if claims is None or claims.session in self.store.state.ended_sessions:
            return
        if await self.store.user(claims.username) is None:
            return
        await self.store.end_session(
            claims.username, claims.session, claims.expires_at, by=claims.username
        )

    async def change_own_password(
        self, username: str, old: str, new: str, place: str, device_cookie: str | None = None
    ) -> tuple[User, str]:
        """Set a new password after checking the old one: other sessions end; a new cookie."""
        check_password(new, username)
        await self._check_password(username, old, place, device_cookie)
        user = await self.store.set_password(username, new, by=username)
        return user, self.session_cookie(user)


# --- without a server (CLI, demo, tests) -----------------------------------------------------


@contextlib.asynccontextmanager
async def open_accounts(config: Config) -> AsyncIterator[AccountsStore]:
    """The accounts store on the config's event log, for the duration of the block."""
    event_log = open_log(config.effective_log_url)
    try:
        yield await AccountsStore(event_log).open()
    finally:
        await event_log.close()


async def ensure_user(
    store: AccountsStore,
    username: str,
    role: UserRole,
    sites: Iterable[str],
    password: str,
    *,
    by: str | None = "cli",
) -> bool:
    """Create the user unless the name exists; True when created."""
    if await store.user(username) is not None:
        return False
    try:
        await store.add_user(username, role, sites, password, by=by)
    except AccountRejected as exc:
        if exc.code == "user_exists":  # another process made it meanwhile
            return False
        raise
    return True


async def bootstrap_admin(config: Config, username: str, password: str) -> bool:
    """Create an admin on the config's log unless the name exists; True when created."""
    async with open_accounts(config) as store:
        return await ensure_user(store, username, UserRole.ADMIN, (), password)
