"""Who is asking: session cookies for people, bearer tokens for devices; sign-in throttling.

`Accounts` is the server's `Authenticator`: `principal(conn)` turns an HTTP
request or a websocket handshake into a `Principal`:

- ``Authorization: Bearer <token>``: a device (display or kiosk); a revoked or
  unknown token, or any other scheme, is anonymous (never falls back to the cookie);
- ``?token=<token>``: the same, but only on a websocket or a page outside
  /api/v1 (a display or kiosk URL); API calls send the header, so tokens stay
  out of API access logs;
- the ``qms_session`` cookie: a person, ``via_cookie=True`` (routes.py then
  checks the Origin of unsafe requests); an invalid, expired or outdated cookie
  (password changed, user deactivated) is anonymous;
- nothing: `ANONYMOUS`.

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
from qms.accounts.passwords import check_password
from qms.accounts.sessions import (
    COOKIE_NAME,
    LIFETIME_S,
    new_session,
    read_session,
    session_key,
    sign_session,
)
from qms.accounts.store import TOKEN_PREFIX
from qms.accounts.throttle import LocalThrottle, RedisThrottle
from qms.eventlog import EventLog, open_log
from qms.server.config import Config
from qms.server.errors import ApiError
from qms.server.principal import ANONYMOUS, Principal, Role
from qms.server.routes import PREFIX

log = logging.getLogger(__name__)

# Sign-in failures allowed per 5 minutes. Per address it is higher: a whole hall
# often reaches a hosted server from one NAT address.
USER_FAILURES = 5
ADDRESS_FAILURES = 20
THROTTLE_WINDOW_S = 300.0
MAX_TOKEN = 200  # characters; a real one is 48
REFRESH_S = 1.0  # look at the log for other processes' changes at most this often
BACKOFF_CAP = 5.0

__all__ = [
    "COOKIE_NAME",
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
    return Principal(Role(user.role.value), user.username, sites, via_cookie=via_cookie)


def principal_of_device(device: Device) -> Principal:
    return Principal(
        Role(device.kind.value), device.device, frozenset({device.site}), zone=device.zone or None
    )


def device_link(config: Config, device: Device, token: str) -> str:
    """The page a device opens: {base_url}/display?token=… or /kiosk?token=…"""
    return f"{config.base_url}/{device.kind.value}?token={token}"


def throttle(log: EventLog, name: str, limit: int) -> LocalThrottle | RedisThrottle:
    """Sign-in failures counted where every process of this deployment sees them:
    in Redis beside a Redis log, else in this (single) process's memory."""
    shared = getattr(log, "shared", None)
    if shared is None:
        return LocalThrottle(limit, THROTTLE_WINDOW_S)
    redis, prefix = shared()
    return RedisThrottle(redis, prefix, name, limit, THROTTLE_WINDOW_S)


class Accounts:
    """The server's people and devices: authentication, sessions, throttling."""

    def __init__(
        self,
        log: EventLog,
        config: Config,
        secret: bytes,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.clock = clock
        self.store = AccountsStore(log, clock=clock)
        self._key = session_key(secret)
        self.by_user = throttle(log, "user", USER_FAILURES)
        self.by_address = throttle(log, "address", ADDRESS_FAILURES)
        self._follower: asyncio.Task[None] | None = None
        self.follower_error: BaseException | None = None

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
        query_token = conn.query_params.get("token")
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

    async def _user(self, cookie: str) -> Principal:
        claims = read_session(self._key, cookie, self.clock())
        if claims is None:
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

    async def _throttled(self, username: str, address: str | None) -> None:
        now = self.clock()
        waits = [await self.by_user.retry_after(username, now)]
        if address is not None:
            waits.append(await self.by_address.retry_after(address, now))
        wait = max((w for w in waits if w is not None), default=None)
        if wait is not None:
            error = ApiError(
                429, "too_many_requests", f"too many failed sign-ins; try again in {wait} s"
            )
            error.details["retry_after"] = wait
            error.headers["Retry-After"] = str(wait)
            raise error

    async def _check_password(self, username: str, password: str, address: str | None) -> User:
        """The user if the password is theirs; else 401 (and one failure counted), or 429.

        The failure is counted before the (slow) check and taken back on success,
        so a burst of parallel guesses cannot slip past the limit.
        """
        await self._throttled(username, address)
        now = self.clock()
        await self.by_user.failed(username, now)
        mark = await self.by_address.failed(address, now) if address is not None else None
        user = await self.store.authenticate(username, password)
        if user is None:
            raise ApiError(401, "bad_credentials", "wrong username or password")
        await self.by_user.forget(username)
        if address is not None and mark is not None:
            await self.by_address.undo(address, mark)
        return user

    async def sign_in(self, username: str, password: str, address: str | None) -> tuple[User, str]:
        """(user, cookie value); 401 bad_credentials, 403 account_disabled or 429."""
        user = await self._check_password(username, password, address)
        if not user.active:
            raise ApiError(403, "account_disabled", "this account is disabled; ask an admin")
        return user, self.session_cookie(user)

    async def change_own_password(
        self, username: str, old: str, new: str, address: str | None
    ) -> tuple[User, str]:
        """Set a new password after checking the old one: other sessions end; a new cookie."""
        check_password(new)
        await self._check_password(username, old, address)
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
