"""`qms user …` and `qms device …`: real processes on a data dir (SQLite) or a Redis log."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest


def qms(
    *args: str, input: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qms", *args],
        input=input,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def test_users_from_the_command_line(tmp_path: Path) -> None:
    where = ("--data-dir", str(tmp_path / "data"))
    added = qms("user", "add", "Root", "--role", "admin", *where, input="rahasia-123\n")
    assert added.returncode == 0, added.stderr
    assert "user root added: admin" in added.stdout and "rahasia" not in added.stdout
    officer = ["user", "add", "budi", "--role", "officer", "--site", "a", "--site", "b", *where]
    assert qms(*officer, input="rahasia-123\r\n").returncode == 0
    again = qms(*officer, input="rahasia-123\n")
    assert again.returncode == 1 and "user_exists" in again.stderr
    short = qms("user", "add", "ani", "--role", "officer", "--site", "a", *where, input="pendek\n")
    assert short.returncode == 1 and "password_too_short" in short.stderr
    nosite = qms("user", "add", "ani", "--role", "officer", *where, input="rahasia-123\n")
    assert nosite.returncode == 1 and "sites_required" in nosite.stderr
    assert qms("user", "passwd", "budi", *where, input="baru-rahasia\n").returncode == 0
    unknown = qms("user", "passwd", "nobody", *where, input="baru-rahasia\n")
    assert unknown.returncode == 1 and "unknown_user" in unknown.stderr
    listed = qms("user", "list", *where).stdout.splitlines()
    assert listed[0].split() == ["USERNAME", "ROLE", "ACTIVE", "SITES"]
    assert listed[1].split() == ["budi", "officer", "yes", "a,b"]
    assert listed[2].split() == ["root", "admin", "yes", "*"]
    assert (tmp_path / "data" / "qms.db").exists()


def test_devices_from_the_command_line(tmp_path: Path) -> None:
    where = ("--data-dir", str(tmp_path / "data"))
    out = qms(
        "device",
        "add",
        "--kind",
        "display",
        "--site",
        "mpp-bengkulu",
        "--zone",
        "lantai-1",
        "--public-url",
        "https://antrean.example.go.id/",
        *where,
    ).stdout
    link = re.search(r"link: (\S+)", out)
    assert link, out
    assert re.fullmatch(r"https://antrean\.example\.go\.id/display\?token=qmsd_[\w-]{43}", link[1])
    device = re.search(r"device (display-[0-9a-f]{6}):", out)
    assert device, out
    listed = qms("device", "list", *where).stdout
    assert device[1] in listed and "qmsd_" not in listed
    assert qms("device", "revoke", device[1], *where).returncode == 0
    row = next(
        line for line in qms("device", "list", *where).stdout.splitlines() if device[1] in line
    )
    assert row.split()[:6] == [device[1], "display", "mpp-bengkulu", "lantai-1", "-", "yes"]
    tablet = qms("device", "add", "--kind", "tablet", "--site", "mpp-bengkulu", "--counter", "L1",
                 *where).stdout  # fmt: skip
    assert "counter L1" in tablet and "/tablet?token=qmsd_" in tablet, tablet
    row = next(
        line for line in qms("device", "list", *where).stdout.splitlines() if "tablet-" in line
    )
    assert row.split()[1:6] == ["tablet", "mpp-bengkulu", "-", "L1", "no"]
    unbound = qms("device", "add", "--kind", "tablet", "--site", "mpp-bengkulu", *where)
    assert unbound.returncode == 1 and "counter_required" in unbound.stderr
    bad = qms("device", "add", "--kind", "kiosk", "--site", "_accounts", *where)
    assert bad.returncode == 1 and "invalid_site" in bad.stderr
    missing = qms("device", "revoke", "kiosk-000000", *where)
    assert missing.returncode == 1 and "unknown_device" in missing.stderr


@pytest.mark.redis
def test_the_command_line_on_a_redis_log(tmp_path: Path, redis_log_url: str) -> None:
    where = ("--data-dir", str(tmp_path / "data"), "--log-url", redis_log_url)
    add = qms("user", "add", "root", "--role", "admin", *where, input="rahasia-123\n")
    assert add.returncode == 0, add.stderr
    assert "root" in qms("user", "list", *where).stdout
    assert not (tmp_path / "data" / "qms.db").exists()


def test_accounts_can_always_be_recovered_from_the_command_line(tmp_path: Path) -> None:
    """Issue 12: the CLI had no way to reactivate a user or give back a role; and the
    last active admin can never be deactivated or demoted, from here either."""
    where = ("--data-dir", str(tmp_path / "data"))

    def rows() -> dict[str, list[str]]:
        lines = qms("user", "list", *where).stdout.splitlines()[1:]
        return {line.split()[0]: line.split()[1:] for line in lines}

    assert (
        qms("user", "add", "root", "--role", "admin", *where, input="rahasia-123\n").returncode == 0
    )
    officer = ("user", "add", "budi", "--role", "officer", "--site", "a", *where)
    assert qms(*officer, input="rahasia-123\n").returncode == 0
    last = qms("user", "deactivate", "root", *where)
    assert last.returncode == 1 and "last_admin" in last.stderr
    demote = qms("user", "set", "root", "--role", "officer", "--site", "a", *where)
    assert demote.returncode == 1 and "last_admin" in demote.stderr
    assert rows()["root"] == ["admin", "yes", "*"]

    off = qms("user", "deactivate", "Budi", *where)
    assert off.returncode == 0 and "budi deactivated" in off.stdout
    assert rows()["budi"] == ["officer", "no", "a"]
    on = qms("user", "activate", "budi", *where)
    assert on.returncode == 0 and "budi active" in on.stdout
    assert rows()["budi"] == ["officer", "yes", "a"]

    promoted = qms(
        "user", "set", "budi", "--role", "supervisor", "--site", "a", "--site", "b", *where
    )
    assert promoted.returncode == 0, promoted.stderr
    assert rows()["budi"] == ["supervisor", "yes", "a,b"]
    assert qms("user", "set", "budi", "--site", "c", *where).returncode == 0
    assert rows()["budi"] == ["supervisor", "yes", "c"]
    assert qms("user", "set", "budi", "--role", "admin", *where).returncode == 0
    assert qms("user", "deactivate", "root", *where).returncode == 0  # no longer the last
    assert rows()["root"] == ["admin", "no", "*"]
    assert qms("user", "activate", "root", *where).returncode == 0

    nothing = qms("user", "set", "budi", *where)
    assert nothing.returncode != 0 and "nothing was changed" in nothing.stderr
    unknown = qms("user", "activate", "nobody", *where)
    assert unknown.returncode == 1 and "unknown_user" in unknown.stderr
    nosite = qms("user", "set", "budi", "--role", "officer", *where)  # an admin has none
    assert nosite.returncode == 1 and "sites_required" in nosite.stderr


def test_weak_passwords_and_control_characters_are_refused(tmp_path: Path) -> None:
    where = ("--data-dir", str(tmp_path / "data"))
    add = ("user", "add", "petugas1", "--role", "officer", "--site", "a", *where)
    same = qms(*add, input="Petugas1\n")
    assert same.returncode == 1 and "password_is_username" in same.stderr
    common = qms(*add, input="iloveyou\n")
    assert common.returncode == 1 and "password_too_common" in common.stderr
    assert "petugas1" not in qms("user", "list", *where).stdout
    assert qms(*add, input="rahasia-123\n").returncode == 0
    passwd = qms("user", "passwd", "petugas1", *where, input="petugas1-2024\n")
    assert passwd.returncode == 1 and "password_is_username" in passwd.stderr
    device = ("device", "add", "--kind", "display", "--site", "a", *where)
    for name in ("TV\nrevoked  yes", "TV \x1b[2J", "TV \u202eemag", "TV\u2028lobby"):
        bad = qms(*device, "--name", name)
        assert bad.returncode == 1 and "invalid_text" in bad.stderr, bad.stderr
    zone = qms(*device, "--zone", "lantai\t1")
    assert zone.returncode == 1 and "invalid_text" in zone.stderr
    assert len(qms("device", "list", *where).stdout.splitlines()) == 1  # the header only
