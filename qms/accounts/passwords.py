"""Password hashing: memory-hard scrypt, encoded with its parameters (PHC string style).

    $scrypt$ln=14,r=8,p=1$<salt, base64>$<key, base64>

n = 2**ln. The parameters travel with each hash, so they can be raised later:
old hashes still verify, `needs_rehash` tells which ones to renew. Hashing takes
about 50 ms and 16 MiB: the server runs it in a worker thread, a few at a time.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import importlib.resources
import re
import secrets
from dataclasses import dataclass

from qms.accounts.errors import AccountRejected

MIN_LENGTH = 8
MAX_LENGTH = 1024  # characters; longer is refused rather than hashed
SALT_BYTES = 16
KEY_BYTES = 32

_HASH_RE = re.compile(
    r"\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)"
)


@dataclass(frozen=True)
class ScryptParams:
    log2_n: int = 14
    r: int = 8
    p: int = 1

    @property
    def maxmem(self) -> int:
        return 128 * self.r * ((1 << self.log2_n) + self.p + 2) + 1024 * 1024

    def valid(self) -> bool:
        # Bounds keep a tampered or foreign hash from asking for gigabytes.
        return 1 <= self.log2_n <= 20 and 1 <= self.r <= 32 and 1 <= self.p <= 16


DEFAULT_PARAMS = ScryptParams()


# Words of this service a password must not be (NIST SP 800-63B: "context-specific words").
CONTEXT_WORDS = frozenset({"qms", "antrean", "antrian", "loket", "mpp", "pelayanan"})


@functools.cache
def common_passwords() -> frozenset[str]:
    """The common passwords shipped with qms (qms/accounts/common-passwords.txt)."""
    text = importlib.resources.files("qms.accounts").joinpath("common-passwords.txt")
    lines = text.read_text(encoding="utf-8").splitlines()
    return frozenset(line for line in lines if line and not line.startswith("# "))


def _letters(text: str) -> str:
    return "".join(ch for ch in text.casefold() if ch.isalpha())


def check_length(password: str) -> None:
    """Refuse a password qms will not hash: shorter than 8 or longer than 1024 characters."""
    if len(password) < MIN_LENGTH:
        raise AccountRejected(
            "password_too_short", f"a password has at least {MIN_LENGTH} characters"
        )
    if len(password) > MAX_LENGTH:
        raise AccountRejected(
            "password_too_long", f"a password has at most {MAX_LENGTH} characters"
        )


def check_password(password: str, username: str | None = None) -> None:
    """Refuse a password qms will not set: a length `check_length` refuses; the
    username (in any case, alone or with only digits and symbols around it, like
    ``Budi2024!``) or a word of this service; one on the list of common passwords
    (NIST SP 800-63B). Length beats composition rules: there are no others."""
    check_length(password)
    letters = _letters(password)
    names = {_letters(username)} if username else set()
    if password.casefold() == (username or "").casefold() or (
        letters and letters in (names | CONTEXT_WORDS)
    ):
        raise AccountRejected(
            "password_is_username", "a password must not be the username or the service's name"
        )
    if password.casefold() in common_passwords():
        raise AccountRejected(
            "password_too_common", "this password is on the list of common passwords"
        )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def _scrypt(password: str, salt: bytes, params: ScryptParams, length: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8", "surrogatepass"),
        salt=salt,
        n=1 << params.log2_n,
        r=params.r,
        p=params.p,
        maxmem=params.maxmem,
        dklen=length,
    )


def hash_password(
    password: str, *, params: ScryptParams = DEFAULT_PARAMS, salt: bytes | None = None
) -> str:
    """The encoded hash of `password` with a fresh random salt (or `salt`, for tests)."""
    check_length(password)
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    key = _scrypt(password, salt, params, KEY_BYTES)
    return f"$scrypt$ln={params.log2_n},r={params.r},p={params.p}${_b64(salt)}${_b64(key)}"


def _parse(encoded: str) -> tuple[ScryptParams, bytes, bytes] | None:
    match = _HASH_RE.fullmatch(encoded)
    if match is None:
        return None
    ln, r, p, salt, key = match.groups()
    params = ScryptParams(int(ln), int(r), int(p))
    try:
        salt_bytes, key_bytes = _unb64(salt), _unb64(key)
    except (binascii.Error, ValueError):
        return None
    if not params.valid() or len(salt_bytes) < 8 or not 16 <= len(key_bytes) <= 64:
        return None
    return params, salt_bytes, key_bytes


def is_password_hash(encoded: str) -> bool:
    """True when `encoded` is a hash this version can verify."""
    return _parse(encoded) is not None


def verify_password(password: str, encoded: str) -> bool:
    """True when `password` matches `encoded`; compared in constant time."""
    parsed = _parse(encoded)
    if parsed is None or len(password) > MAX_LENGTH:
        return False
    params, salt, key = parsed
    return hmac.compare_digest(_scrypt(password, salt, params, len(key)), key)


def needs_rehash(encoded: str, params: ScryptParams = DEFAULT_PARAMS) -> bool:
    parsed = _parse(encoded)
    return parsed is None or parsed[0] != params


@functools.cache
def dummy_hash() -> str:
    """A hash to verify against when the user does not exist, so that takes as long."""
    return hash_password("no such user, no such password", salt=b"\0" * SALT_BYTES)
