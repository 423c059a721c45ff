"""Passwords (scrypt), session cookies (HMAC) and sign-in throttling, with fixed clocks."""

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
    LIFETIME_S,
    MAX_COOKIE,
    SessionClaims,
    new_session,
    read_session,
    session_key,
    sign_session,
)
from qms.accounts.throttle import Throttle

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


def test_dummy_hash_is_a_real_hash_of_the_default_cost() -> None:
    assert is_password_hash(dummy_hash()) and not needs_rehash(dummy_hash(), DEFAULT_PARAMS)


# --- sessions -------------------------------------------------------------------------------


def test_a_signed_session_reads_back() -> None:
    claims = new_session("budi", 3, NOW)
    value = sign_session(KEY, claims)
    assert read_session(KEY, value, NOW + 10) == claims
    assert claims == SessionClaims("budi", 3, int(NOW), int(NOW) + LIFETIME_S)
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
    forged = json.dumps({"u": "root", "e": 1, "iat": int(NOW), "exp": int(NOW) + 60})
    forged_payload = base64.urlsafe_b64encode(forged.encode()).decode().rstrip("=")
    for bad in (
        f"{version}.{forged_payload}.{mac}",
        f"v2.{payload}.{mac}",
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
        mac = hmac.new(KEY, f"v1.{payload}".encode(), hashlib.sha256).digest()
        return f"v1.{payload}.{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"

    good = {"u": "budi", "e": 1, "iat": int(NOW), "exp": int(NOW) + 60}
    assert read_session(KEY, signed(good), NOW) is not None
    for bad in ([1], {**good, "u": 5}, {**good, "e": "1"}, {**good, "exp": True}, {"u": "x"}):
        assert read_session(KEY, signed(bad), NOW) is None


# --- throttling -----------------------------------------------------------------------------


def test_throttle_after_the_limit_until_the_window_passes() -> None:
    throttle = Throttle(limit=3, window_s=300)
    for i in range(3):
        assert throttle.retry_after("budi", NOW + i) is None
        throttle.failed("budi", NOW + i)
    assert throttle.retry_after("budi", NOW + 3) == 297  # the first failure leaves at NOW+300
    assert throttle.retry_after("ani", NOW + 3) is None  # per key
    assert throttle.retry_after("budi", NOW + 299.5) == 1
    assert throttle.retry_after("budi", NOW + 300) is None  # a sliding window: one slot free
    throttle.failed("budi", NOW + 300)
    assert throttle.retry_after("budi", NOW + 300) == 1


def test_throttle_forget_and_undo() -> None:
    throttle = Throttle(limit=2, window_s=60)
    throttle.failed("a", NOW)
    throttle.failed("a", NOW + 1)
    assert throttle.retry_after("a", NOW + 2)
    throttle.undo("a", NOW + 1)
    assert throttle.retry_after("a", NOW + 2) is None
    throttle.failed("a", NOW + 2)
    throttle.forget("a")
    assert throttle.retry_after("a", NOW + 3) is None
    throttle.undo("nobody", NOW)  # harmless


def test_throttle_memory_is_bounded() -> None:
    throttle = Throttle(limit=1, window_s=60, max_keys=100)
    for i in range(1000):
        throttle.failed(f"10.0.{i // 256}.{i % 256}", NOW)
    assert len(throttle._failures) == 100
    assert throttle.retry_after("10.0.3.231", NOW) == 60  # the most recent are kept
