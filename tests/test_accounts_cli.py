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
    assert row.split()[:5] == [device[1], "display", "mpp-bengkulu", "lantai-1", "yes"]
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
