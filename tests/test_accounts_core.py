"""The accounts core, command by command: what each one does, every way it is refused.

`Book.do` decides a command, checks that deciding changed nothing, that each
event survives its wire form, and folds the events in; `Book.reject` checks the
rejection code and that the state is untouched.
"""

from __future__ import annotations

import copy
import dataclasses
import re
from pathlib import Path

import pytest

from qms.accounts import (
    CODES,
    EVENT_TYPES,
    AccountCommand,
    AccountEvent,
    AccountRejected,
    AccountsState,
    AddDevice,
    AddUser,
    ChangeUser,
    DeviceKind,
    RevokeDevice,
    SetPassword,
    UserRole,
    decide,
    event_from_dict,
    event_to_dict,
    evolve,
    token_hash,
)
from qms.accounts.commands import parse
from qms.accounts.passwords import ScryptParams, hash_password
from qms.core import Rejected

NOW = 1_795_000_000.0
FAST = ScryptParams(log2_n=4)  # a valid hash, made quickly (the store uses the real params)
HASH1 = hash_password("password-one", params=FAST)
HASH2 = hash_password("password-two", params=FAST)
TOKEN1 = token_hash("qmsd_one")
TOKEN2 = token_hash("qmsd_two")
DOCS = Path(__file__).resolve().parent.parent / "docs"


class Book:
    def __init__(self) -> None:
        self.state = AccountsState()

    def do(self, command: AccountCommand, now: float = NOW) -> list[AccountEvent]:
        before = copy.deepcopy(self.state)
        events = decide(self.state, command, now)
        assert self.state == before, "decide changed the state"
        for event in events:
            assert event_from_dict(event_to_dict(event)) == event
            evolve(self.state, event)
        return events

    def reject(self, command: AccountCommand, code: str) -> AccountRejected:
        before = copy.deepcopy(self.state)
        with pytest.raises(AccountRejected) as info:
            decide(self.state, command, NOW)
        assert info.value.code == code, info.value
        assert self.state == before
        return info.value


def officer(username: str = "budi", sites: tuple[str, ...] = ("mpp-bengkulu",)) -> AddUser:
    return AddUser(username=username, role=UserRole.OFFICER, sites=list(sites), password_hash=HASH1)


def admin(username: str = "root") -> AddUser:
    return AddUser(username=username, role=UserRole.ADMIN, sites=[], password_hash=HASH1)


def display(device: str = "display-aa", token: str = TOKEN1, **kw: str) -> AddDevice:
    return AddDevice(
        device=device, kind=DeviceKind.DISPLAY, site="mpp-bengkulu", token_hash=token, **kw
    )


@pytest.fixture
def book() -> Book:
    return Book()


# --- users ----------------------------------------------------------------------------------


def test_add_user(book: Book) -> None:
    (event,) = book.do(dataclasses.replace(officer(sites=("b", "a", "b")), by="root"))
    assert event.TYPE == "user_added" and event.by == "root" and event.at == NOW
    user = book.state.users["budi"]
    assert (user.role, user.sites, user.active, user.password_epoch) == (
        UserRole.OFFICER,
        ["a", "b"],
        True,
        1,
    )
    assert user.password_hash == HASH1
    assert "password_hash" not in user.public()


def test_an_admin_has_no_site_list(book: Book) -> None:
    book.do(AddUser(username="root", role=UserRole.ADMIN, sites=["x"], password_hash=HASH1))
    assert book.state.users["root"].sites == []


@pytest.mark.parametrize("name", ["", "Budi", "-budi", "budi lah", "b" * 65, "budi@mpp", "_x"])
def test_add_user_refuses_bad_usernames(book: Book, name: str) -> None:
    book.reject(officer(name), "invalid_username")


def test_add_user_accepts_dotted_names(book: Book) -> None:
    book.do(officer("siti.rahma_2-b"))


def test_add_user_refuses_a_taken_name(book: Book) -> None:
    book.do(officer())
    book.reject(officer(), "user_exists")


@pytest.mark.parametrize("role", [UserRole.OFFICER, UserRole.SUPERVISOR])
def test_staff_needs_a_site(book: Book, role: UserRole) -> None:
    book.reject(
        AddUser(username="budi", role=role, sites=[], password_hash=HASH1), "sites_required"
    )


def test_a_viewer_may_be_limited_to_agencies(book: Book) -> None:
    """A hall's head reads every agency's reports; an agency's coordinator only its own."""
    viewer = AddUser(
        username="koord", role=UserRole.VIEWER, sites=["s"], password_hash=HASH1,
        agencies=["samsat", "dukcapil", "samsat"],
    )  # fmt: skip
    book.do(viewer)
    assert book.state.users["koord"].agencies == ["dukcapil", "samsat"]
    assert book.state.users["koord"].public()["agencies"] == ["dukcapil", "samsat"]
    book.do(ChangeUser(username="koord", agencies=[]))
    assert book.state.users["koord"].agencies == []
    book.reject(ChangeUser(username="koord", agencies=["a b"]), "invalid_agency")
    book.reject(dataclasses.replace(officer(), agencies=["samsat"]), "agencies_for_viewers")
    book.reject(dataclasses.replace(viewer, username="v2", sites=[]), "sites_required")


@pytest.mark.parametrize("site", ["_accounts", "", "mpp bengkulu", "x" * 65, "a/b"])
def test_add_user_refuses_bad_sites(book: Book, site: str) -> None:
    book.reject(officer(sites=(site,)), "invalid_site")


@pytest.mark.parametrize(
    "bad",
    ["", "plain", "$scrypt$ln=14,r=8,p=1$!!$!!", "$scrypt$ln=40,r=8,p=1$AAAAAAAAAAA$" + "A" * 43],
)
def test_add_user_refuses_what_is_not_a_hash(book: Book, bad: str) -> None:
    book.reject(dataclasses.replace(officer(), password_hash=bad), "invalid_password_hash")


def test_change_user_role_sites_active(book: Book) -> None:
    book.do(officer())
    (event,) = book.do(
        ChangeUser(username="budi", role=UserRole.SUPERVISOR, sites=["x", "y"], by="root")
    )
    assert event.TYPE == "user_changed"
    user = book.state.users["budi"]
    assert (user.role, user.sites, user.active) == (UserRole.SUPERVISOR, ["x", "y"], True)
    book.do(ChangeUser(username="budi", active=False))
    assert not book.state.users["budi"].active
    assert book.state.users["budi"].sites == ["x", "y"]  # unchanged when not given


def test_change_user_that_changes_nothing_makes_no_event(book: Book) -> None:
    book.do(officer())
    assert book.do(ChangeUser(username="budi")) == []
    assert book.do(ChangeUser(username="budi", sites=["mpp-bengkulu"], active=True)) == []


def test_change_to_admin_drops_the_site_list_and_back_needs_sites(book: Book) -> None:
    book.do(admin())
    book.do(officer())
    book.do(ChangeUser(username="budi", role=UserRole.ADMIN))
    assert book.state.users["budi"].sites == []
    book.reject(ChangeUser(username="budi", role=UserRole.OFFICER), "sites_required")
    book.do(ChangeUser(username="budi", role=UserRole.OFFICER, sites=["s"]))


def test_change_user_refuses(book: Book) -> None:
    book.reject(ChangeUser(username="nobody", active=False), "unknown_user")
    book.do(officer())
    book.reject(ChangeUser(username="budi", sites=[]), "sites_required")
    book.reject(ChangeUser(username="budi", sites=["_x"]), "invalid_site")


def test_the_last_active_admin_stays(book: Book) -> None:
    book.do(admin("root"))
    book.reject(ChangeUser(username="root", active=False), "last_admin")
    book.reject(ChangeUser(username="root", role=UserRole.OFFICER, sites=["s"]), "last_admin")
    book.do(admin("ani"))
    book.do(ChangeUser(username="root", active=False))
    book.reject(ChangeUser(username="ani", active=False), "last_admin")
    book.do(ChangeUser(username="root", active=True))  # reactivating is always fine


def test_set_password_moves_the_epoch(book: Book) -> None:
    book.do(officer())
    (event,) = book.do(SetPassword(username="budi", password_hash=HASH2, by="budi"))
    assert event.TYPE == "password_set"
    user = book.state.users["budi"]
    assert (user.password_hash, user.password_epoch) == (HASH2, 2)
    book.do(SetPassword(username="budi", password_hash=HASH2))  # even the same password
    assert book.state.users["budi"].password_epoch == 3


def test_set_password_refuses(book: Book) -> None:
    book.reject(SetPassword(username="nobody", password_hash=HASH2), "unknown_user")
    book.do(officer())
    book.reject(SetPassword(username="budi", password_hash="x"), "invalid_password_hash")


# --- devices --------------------------------------------------------------------------------


def test_add_device(book: Book) -> None:
    (event,) = book.do(display(zone="lantai-1", name="TV lobi"))
    assert event.TYPE == "device_added"
    device = book.state.devices["display-aa"]
    assert (device.kind, device.site, device.zone, device.name) == (
        DeviceKind.DISPLAY,
        "mpp-bengkulu",
        "lantai-1",
        "TV lobi",
    )
    assert book.state.device_by_token_hash(TOKEN1) is device
    assert "token_hash" not in device.public()


def test_add_device_refuses(book: Book) -> None:
    book.reject(display(device="Display 1"), "invalid_device_id")
    book.reject(dataclasses.replace(display(), site="_accounts"), "invalid_site")
    book.reject(display(zone="z" * 65), "invalid_zone")
    book.reject(display(zone=" lobi"), "invalid_zone")
    book.reject(display(name="n" * 101), "invalid_command")
    book.reject(display(token="not-a-sha256"), "invalid_command")
    book.do(display())
    book.reject(display(token=TOKEN2), "device_exists")
    book.reject(display(device="display-bb"), "token_taken")


def test_revoke_device(book: Book) -> None:
    book.reject(RevokeDevice(device="display-aa"), "unknown_device")
    book.do(display())
    (event,) = book.do(RevokeDevice(device="display-aa", by="root"), now=NOW + 5)
    assert event.TYPE == "device_revoked"
    device = book.state.devices["display-aa"]
    assert device.revoked and device.revoked_at == NOW + 5
    assert book.state.device_by_token_hash(TOKEN1) is device  # known, and refused as revoked
    assert book.do(RevokeDevice(device="display-aa")) == []  # again: nothing changes


# --- the contract ---------------------------------------------------------------------------


def test_rejections_are_hall_rejections_with_their_own_codes() -> None:
    exc = AccountRejected("unknown_user", "no user x", username="x")
    assert isinstance(exc, Rejected)  # the server's one handler answers it
    assert (exc.http_status, exc.code, exc.details) == (404, "unknown_user", {"username": "x"})
    with pytest.raises(ValueError, match="unregistered"):
        AccountRejected("no_such_code", "x")


def test_every_code_is_documented() -> None:
    text = (DOCS / "security.md").read_text()
    for code in CODES:
        assert f"`{code}`" in text, f"docs/security.md does not list `{code}`"


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_every_event_is_documented(event_type: str) -> None:
    text = (DOCS / "security.md").read_text()
    sections = dict(
        zip(*[iter(re.split(r"^#### (\w+)\s*$", text, flags=re.M)[1:])] * 2, strict=True)
    )
    assert event_type in sections, f"docs/security.md has no '#### {event_type}' section"
    common = {f.name for f in dataclasses.fields(AccountEvent)}
    for f in dataclasses.fields(EVENT_TYPES[event_type]):
        if f.name not in common:
            assert f"`{f.name}`" in sections[event_type], f"{event_type}: `{f.name}` undocumented"


def test_unknown_or_broken_events_do_not_load() -> None:
    with pytest.raises(ValueError, match="unknown account event"):
        event_from_dict({"type": "ticket_issued", "schema": 1, "at": NOW})
    with pytest.raises(ValueError, match="user_added"):
        event_from_dict({"type": "user_added", "schema": 1, "at": NOW, "username": "x"})


def test_parse_is_strict() -> None:
    @dataclasses.dataclass(frozen=True)
    class Body:
        kind: DeviceKind
        site: str

    assert parse(Body, {"kind": "kiosk", "site": "s"}) == Body(DeviceKind.KIOSK, "s")
    for bad in ({"kind": "tv", "site": "s"}, {"kind": "kiosk"}, {"kind": "kiosk", "site": 1}):
        with pytest.raises(AccountRejected) as info:
            parse(Body, bad)
        assert info.value.code == "invalid_command"
    with pytest.raises(AccountRejected, match="unknown field"):
        parse(Body, {"kind": "kiosk", "site": "s", "token": "x"})
