"""The display's voice pack: the packaged one is what `qms voice-pack` makes, and the
builder says what it lacks instead of failing half-way."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from qms.display import voice_pack

PACK = Path(__file__).resolve().parent.parent / "static" / "voice" / "id"


def test_the_packaged_pack_holds_every_clip_the_builder_makes() -> None:
    manifest = json.loads((PACK / "manifest.json").read_text())
    keys = {*voice_pack.PHRASES, *voice_pack.NUMBERS, *voice_pack.LETTERS, "chime"}
    assert set(manifest["clips"]) == keys
    for file in manifest["clips"].values():
        assert (PACK / file).is_file(), file


def test_without_its_tools_the_builder_says_which_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "pack"
    env = {**os.environ, "PATH": str(tmp_path)}  # no espeak-ng, no sox
    done = subprocess.run(
        [sys.executable, "-m", "qms", "voice-pack", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "espeak-ng" in done.stderr and "sox" in done.stderr
    assert not out.exists()
