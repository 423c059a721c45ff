"""Passwords (scrypt, the policy), session and device cookies (HMAC), with fixed clocks."""

from __future__ import annotations

import base64
import json

import pytest

from qms.accounts import AccountRejected
from qms.accounts.passwords import (
    DEFAULT_PARAMS,
    ScryptParams,
    check_password,
    dummy_hash,
    hash_password,
    is_password_hash,
    needs_rehash,
    verify_password,
)
from qms.accounts.sessions import (
    DEVICE_LIFETIME_S,
    DEVICE_USERS,
    LIFETIME_S,
    MAX_COOKIE,
    DeviceClaims,
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

NOW = 1_795_000_000.0
KEY = session_key(b"0123456789abcdef" * 4)

# --- passwords ------------------------------------------------------------------------------


def test_hash_and_verify_with_the_default_parameters() -> None:
    encoded = hash_password("kata sandi rahasia")
    assert encoded.startswith("$scrypt$ln=14,r=8,p=1$")
    assert is_password_hash(encoded) and not needs_rehash(encoded)
    assert verify_password("kata sandi rahasia", encoded)
    assert not verify_password("kata sandi rahasiA", encoded)
    assert not verify_password("", encoded)


def test_each_hash_has_its_own_salt() -> None:
    assert hash_password("password1", params=ScryptParams(4)) != hash_password(
        "password1", params=ScryptParams(4)
    )


def test_parameters_travel_with_the_hash() -> None:
    weak = hash_password("password1", params=ScryptParams(log2_n=10, r=4, p=2))
    assert weak.startswith("$scrypt$ln=10,r=4,p=2$")
    assert verify_password("password1", weak)  # still verifies
    assert needs_rehash(weak) and not needs_rehash(weak, ScryptParams(10, 4, 2))


def test_unicode_passwords() -> None:
    encoded = hash_password("sandi-ñ-日本-🙂", params=ScryptParams(4))
    assert verify_password("sandi-ñ-日本-🙂", encoded)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
        "$scrypt$ln=21,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$" + "A" * 43,  # asks for gigabytes
        "$scrypt$ln=14,r=8,p=1$AA$" + "A" * 43,  # salt too short
        "$scrypt$ln=14,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAA",  # key too short
        "$scrypt$ln=14,r=8,p=1$AAAAAAAAAAAAAAAAAAAAA$" + "A" * 43,  # bad base64 length
    ],
)
def test_what_is_not_a_hash_never_verifies(bad: str) -> None:
    assert not is_password_hash(bad)
    assert not verify_password("anything1", bad)


def test_password_policy() -> None:
    check_password("8 chars!")
    with pytest.raises(AccountRejected) as short:
        check_password("7 chars")
    assert short.value.code == "password_too_short"
    with pytest.raises(AccountRejected) as long:
        check_password("x" * 1025)
    assert long.value.code == "password_too_long"
    with pytest.raises(AccountRejected):
        hash_password("short")
    assert not verify_password("x" * 1025, hash_password("x" * 1024, params=ScryptParams(4)))


@pytest.mark.parametrize(
    ("username", "password"),
    [
        ("budi", "budi"),  # too short anyway, but first: the username
        ("petugas1", "petugas1"),
        ("petugas1", "PETUGAS1"),
        ("budi.santoso", "Budi.Santoso"),
        ("budi.santoso", "budisantoso2024!"),  # the username with digits and symbols
        ("ani", "ANI-1234-5678"),
        ("ani", "antrean-2024"),  # a word of the service
        ("ani", "LOKET123456"),
    ],
)
def test_a_password_is_not_the_username(username: str, password: str) -> None:
    with pytest.raises(AccountRejected) as refused:
        check_password(password, username)
    assert refused.value.code in ("password_is_username", "password_too_short")
    if len(password) >= 8:
        assert refused.value.code == "password_is_username"


@pytest.mark.parametrize(
    "common", ["password", "Password1", "12345678", "qwertyuiop", "iloveyou", "bismillah"]
)
def test_common_passwords_are_refused(common: str) -> None:
    with pytest.raises(AccountRejected) as refused:
        check_password(common, "someone")
    assert refused.value.code == "password_too_common"


def test_the_common_password_list_ships_with_the_package() -> None:
    from qms.accounts.passwords import common_passwords

    words = common_passwords()
    assert 5000 < len(words) < 20000
    assert all(len(w) >= 8 and w == w.lower() for w in words)
    assert not any(w.startswith("# ") for w in words)


def test_good_passwords_pass_the_policy() -> None:
    for password in ("rahasia-123", "kuda baterai staples", "budi-bukan-sandi"):
        check_password(password, "budi2")  # "budi" is in it, but so is more
    check_password("12345678-x9q", "12345678")  # a username of digits has no letters


def test_dummy_hash_is_a_real_hash_of_the_default_cost() -> None:
    assert is_password_hash(dummy_hash()) and not needs_rehash(dummy_hash(), DEFAULT_PARAMS)


# --- sessions -------------------------------------------------------------------------------


def test_a_signed_session_reads_back() -> None:
    claims = new_session("budi", 3, NOW, session_id=lambda: "sesi-1")
    value = sign_session(KEY, claims)
    assert read_session(KEY, value, NOW + 10) == claims
    assert claims == SessionClaims("budi", 3, "sesi-1", int(NOW), int(NOW) + LIFETIME_S)
    assert new_session("budi", 3, NOW).session != new_session("budi", 3, NOW).session
    assert all(c.isalnum() or c in "._-" for c in value)  # cookie-safe without quoting


def test_a_session_expires_after_twelve_hours() -> None:
    value = sign_session(KEY, new_session("budi", 1, NOW))
    assert read_session(KEY, value, NOW + 12 * 3600 - 1) is not None
    assert read_session(KEY, value, NOW + 12 * 3600) is None
    assert read_session(KEY, value, NOW - 3600) is None  # issued in the future


def test_another_key_or_any_change_is_refused() -> None:
    value = sign_session(KEY, new_session("budi", 1, NOW))
    assert read_session(session_key(b"another secret"), value, NOW) is None
    version, payload, mac = value.split(".")
    forged = json.dumps({"u": "root", "e": 1, "s": "abc", "iat": int(NOW), "exp": int(NOW) + 60})
    forged_payload = base64.urlsafe_b64encode(forged.encode()).decode().rstrip("=")
    for bad in (
        f"{version}.{forged_payload}.{mac}",
        f"v1.{payload}.{mac}",
        f"d1.{payload}.{mac}",
        f"{version}.{payload}.{mac[:-2]}",
        f"{version}.{payload}",
        value + "x",
        "",
        "x" * (MAX_COOKIE + 1),
        f"{version}.{payload}.!!!",
    ):
        assert read_session(KEY, bad, NOW) is None, bad


def test_a_well_signed_but_ill_formed_payload_is_refused() -> None:
    def signed(body: object) -> str:
        import hashlib
        import hmac

        payload = base64.urlsafe_b64encode(json.dumps(body).encode()).decode().rstrip("=")
        mac = hmac.new(KEY, f"v2.{payload}".encode(), hashlib.sha256).digest()
        return f"v2.{payload}.{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"

    good = {"u": "budi", "e": 1, "s": "sesi-1", "iat": int(NOW), "exp": int(NOW) + 60}
    assert read_session(KEY, signed(good), NOW) is not None
    for bad in (
        [1],
        {**good, "u": 5},
        {**good, "e": "1"},
        {**good, "exp": True},
        {"u": "x"},
        {k: v for k, v in good.items() if k != "s"},  # a v1 body: no session id to revoke
        {**good, "s": ""},
        {**good, "s": 7},
    ):
        assert read_session(KEY, signed(bad), NOW) is None


# --- device cookies ---------------------------------------------------------------------------

DKEY = device_key(b"0123456789abcdef" * 4)


def test_a_device_cookie_reads_back_and_remembers_the_latest_users() -> None:
    first = remember_user(None, "budi", NOW)
    assert first.users == ("budi",) and len(first.device) >= 16
    assert read_device(DKEY, sign_device(DKEY, first), NOW) == first
    again = remember_user(remember_user(first, "ani", NOW + 1), "budi", NOW + 2)
    assert again.device == first.device and again.users == ("ani", "budi")
    many = first
    for i in range(DEVICE_USERS + 3):
        many = remember_user(many, f"petugas{i}", NOW)
    assert len(many.users) == DEVICE_USERS and many.users[-1] == f"petugas{DEVICE_USERS + 2}"


def test_a_device_cookie_is_signed_expires_and_is_no_session() -> None:
    claims = DeviceClaims("perangkat-1", ("budi",), int(NOW))
    value = sign_device(DKEY, claims)
    assert read_device(DKEY, value, NOW + DEVICE_LIFETIME_S - 1) == claims
    assert read_device(DKEY, value, NOW + DEVICE_LIFETIME_S) is None
    assert read_device(device_key(b"another secret"), value, NOW) is None
    assert read_device(KEY, value, NOW) is None  # the session key does not sign it
    assert read_session(KEY, value, NOW) is None and read_session(DKEY, value, NOW) is None
    session = sign_session(DKEY, new_session("budi", 1, NOW))
    assert read_device(DKEY, session, NOW) is None  # one signature never stands in for another
