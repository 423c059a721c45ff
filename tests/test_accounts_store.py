"""AccountsStore on both log backends: compare-and-append across "processes", catch-up, follow.

Two stores on two log instances stand for two processes: SQLite instances do
not share subscriptions (as two processes would not), Redis ones do through Redis.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from qms.accounts import (
    ACCOUNTS_SITE,
    AccountRejected,
    AccountsStore,
    DeviceKind,
    UserRole,
    token_hash,
)
from qms.eventlog import EventLog, open_log

SITE = "mpp-bengkulu"
LogFactory = Callable[[], EventLog]


@pytest.fixture
async def new_log(log_url: str) -> AsyncIterator[LogFactory]:
    """Opens as many clients of one test log as a test wants (on each backend)."""
    logs: list[EventLog] = []

    def factory() -> EventLog:
        logs.append(open_log(log_url))
        return logs[-1]

    yield factory
    for log in logs:
        await log.close()


async def test_users_are_events_in_the_reserved_log(new_log: LogFactory) -> None:
    log = new_log()
    store = await AccountsStore(log).open()
    user = await store.add_user("budi", UserRole.OFFICER, [SITE], "rahasia123", by="root")
    assert user.password_epoch == 1 and user.password_hash.startswith("$scrypt$")
    entries = await log.read(ACCOUNTS_SITE)
    assert [d["type"] for _, d in entries] == ["user_added"]
    assert entries[0][1]["by"] == "root"
    assert "rahasia123" not in repr(entries)
    reopened = await AccountsStore(new_log()).open()
    assert reopened.state == store.state and reopened.version == 1


async def test_authenticate(new_log: LogFactory) -> None:
    store = await AccountsStore(new_log()).open()
    await store.add_user("budi", UserRole.OFFICER, [SITE], "rahasia123")
    assert (await store.authenticate("budi", "rahasia123")) is store.state.users["budi"]
    assert await store.authenticate("budi", "rahasia124") is None
    assert await store.authenticate("nobody", "rahasia123") is None
    await store.set_password("budi", "baru-rahasia")
    assert await store.authenticate("budi", "rahasia123") is None
    assert (await store.authenticate("budi", "baru-rahasia")) is not None
    assert store.state.users["budi"].password_epoch == 2


async def test_refused_before_hashing(new_log: LogFactory) -> None:
    store = await AccountsStore(new_log()).open()
    await store.add_user("budi", UserRole.OFFICER, [SITE], "rahasia123")
    for args, code in [
        (("budi", UserRole.OFFICER, [SITE], "rahasia123"), "user_exists"),
        (("ani", UserRole.OFFICER, [SITE], "pendek"), "password_too_short"),
        (("ani", UserRole.OFFICER, [], "rahasia123"), "sites_required"),
        (("Ani!", UserRole.OFFICER, [SITE], "rahasia123"), "invalid_username"),
    ]:
        with pytest.raises(AccountRejected) as info:
            await store.add_user(*args)
        assert info.value.code == code
    with pytest.raises(AccountRejected, match="unknown_user"):
        await store.set_password("nobody", "rahasia123")
    assert store.version == 1


async def test_devices_keep_only_the_token_hash(new_log: LogFactory) -> None:
    log = new_log()
    store = await AccountsStore(log).open()
    device, token = await store.add_device(DeviceKind.KIOSK, SITE, zone="lantai-1", by="root")
    assert token.startswith("qmsd_") and len(token) > 40
    assert device.device.startswith("kiosk-") and device.token_hash == token_hash(token)
    assert token not in repr(await log.read(ACCOUNTS_SITE))
    assert await store.device_for_token(token) is device
    assert await store.device_for_token(token + "x") is None
    revoked = await store.revoke_device(device.device)
    assert revoked.revoked and await store.device_for_token(token) is revoked
    with pytest.raises(AccountRejected, match="unknown_device"):
        await store.revoke_device("kiosk-000000")


async def test_another_process_sees_changes_after_a_refresh(new_log: LogFactory) -> None:
    a = await AccountsStore(new_log()).open()
    b = await AccountsStore(new_log()).open()
    await a.add_user("budi", UserRole.OFFICER, [SITE], "rahasia123")
    assert (await b.user("budi")) is not None  # an unknown name looks at the log at once
    device, token = await a.add_device(DeviceKind.DISPLAY, SITE)
    assert await b.device_for_token(token) is not None  # so does an unknown token
    await a.revoke_device(device.device)
    await b.refresh(max_age=60)  # checked just now: not again
    assert not b.state.devices[device.device].revoked
    await b.refresh(max_age=0)
    assert b.state.devices[device.device].revoked


async def test_concurrent_writers_from_two_processes_all_land(new_log: LogFactory) -> None:
    a = await AccountsStore(new_log()).open()
    b = await AccountsStore(new_log()).open()

    async def add(store: AccountsStore, name: str) -> None:
        await store.add_device(DeviceKind.DISPLAY, SITE, name=name)

    await asyncio.wait_for(
        asyncio.gather(*(add(a if i % 2 else b, f"tv-{i}") for i in range(20))), timeout=30
    )
    await a.catch_up()
    await b.catch_up()
    assert a.state == b.state and len(a.state.devices) == 20 and a.version == 20


async def test_one_name_two_processes_one_user(new_log: LogFactory) -> None:
    a = await AccountsStore(new_log()).open()
    b = await AccountsStore(new_log()).open()
    results = await asyncio.wait_for(
        asyncio.gather(
            a.add_user("budi", UserRole.OFFICER, [SITE], "rahasia-a1"),
            b.add_user("budi", UserRole.OFFICER, [SITE], "rahasia-b1"),
            return_exceptions=True,
        ),
        timeout=30,
    )
    refused = [r for r in results if isinstance(r, AccountRejected)]
    assert len(refused) == 1 and refused[0].code == "user_exists"
    assert await a.log.version(ACCOUNTS_SITE) == 1


async def test_the_last_admin_across_processes(new_log: LogFactory) -> None:
    a = await AccountsStore(new_log()).open()
    await a.add_user("root", UserRole.ADMIN, [], "rahasia123")
    await a.add_user("ani", UserRole.ADMIN, [], "rahasia123")
    b = await AccountsStore(new_log()).open()
    await a.change_user("root", active=False)
    # b decides on a stale state (two admins), loses the append, catches up, refuses.
    with pytest.raises(AccountRejected, match="last_admin"):
        await b.change_user("ani", active=False)
    assert b.state.users["root"].active is False


@pytest.mark.redis
async def test_following_on_redis_sees_another_process_at_once(redis_log_url: str) -> None:
    a_log, b_log = open_log(redis_log_url), open_log(redis_log_url)
    try:
        a = await AccountsStore(a_log).open()
        b = await AccountsStore(b_log).open()
        follower = asyncio.create_task(b.follow())
        await a.add_user("budi", UserRole.OFFICER, [SITE], "rahasia123")
        await asyncio.wait_for(b.wait_for_version(1), timeout=5)
        assert "budi" in b.state.users
        follower.cancel()
        with pytest.raises(asyncio.CancelledError):
            await follower
    finally:
        await a_log.close()
        await b_log.close()
