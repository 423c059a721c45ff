"""The display's default Indonesian voice pack (static/voice/id/), made by `qms voice-pack`.

    qms voice-pack [OUT_DIR]

Each clip is one word or phrase spoken by espeak-ng (`espeak-ng -v id`), with
the silence at both ends trimmed, as mono Ogg Vorbis (small, and every Chromium
plays it); the chime is synthesised by sox. manifest.json maps each clip's key
(the word itself, "A".."Z" for letters, "chime") to its file; the display
stitches clips together in the browser (docs/deploy-display.md: "Voice packs").
A site's own recorded pack is a folder with the same manifest format, served from
`QMS_VOICE_DIR` ahead of the packaged ones (`qms.server.pages.AppFiles`).

Needs espeak-ng and sox (apt-get install espeak-ng sox libsox-fmt-all).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from qms.server.pages import static_root

PHRASES = ["nomor antrean", "silakan menuju", "loket"]
NUMBERS = ["nol", "satu", "dua", "tiga", "empat", "lima", "enam", "tujuh", "delapan", "sembilan"]
NUMBERS += ["sepuluh", "sebelas", "belas", "puluh", "seratus", "ratus", "seribu", "ribu"]
# How Indonesians name the letters (ejaan): what espeak-ng is asked to say.
LETTERS = dict(
    zip(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        "a be ce de e ef ge ha i je ka el em en o pe ki er es te u ve we eks ye zet".split(),  # noqa: SIM905
        strict=True,
    )
)
SPEED_WPM = 150  # a little slower than espeak's default: a hall echoes
TRIM = ["silence", "1", "0.02", "0.5%", "reverse", "silence", "1", "0.02", "0.5%", "reverse"]


def _sh(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True)


def speak(text: str, out: Path, tmp: Path) -> None:
    wav = tmp / "say.wav"
    _sh("espeak-ng", "-v", "id", "-s", str(SPEED_WPM), "-w", str(wav), text)
    # mono 22.05 kHz, trimmed, then a short pad so stitched words do not clip
    _sh("sox", str(wav), "-r", "22050", "-c", "1", str(out), *TRIM, "pad", "0", "0.04")


def chime(out: Path, tmp: Path) -> None:
    """A two-tone "ding-dong" (G5 then E5) with a soft decay."""
    notes = []
    for i, (freq, length) in enumerate(((784, 0.55), (659, 0.8))):
        note = tmp / f"note{i}.wav"
        _sh(
            "sox", "-n", "-r", "22050", "-c", "1", str(note),
            "synth", str(length), "sine", str(freq), "sine", str(freq * 2),
            "remix", "-", "fade", "q", "0.01", str(length), str(length * 0.9), "vol", "0.45",
        )  # fmt: skip
        notes.append(str(note))
    _sh("sox", *notes, str(out))


def missing_tools() -> list[str]:
    """The programs the builder needs that this machine does not have."""
    return [tool for tool in ("espeak-ng", "sox") if shutil.which(tool) is None]


def build(out: Path) -> int:
    """Write the pack's clips and manifest.json into `out`; the number of clips."""
    out.mkdir(parents=True, exist_ok=True)
    clips: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        jobs: list[tuple[str, str]] = [(p, p) for p in PHRASES + NUMBERS]
        jobs += [(letter, said) for letter, said in LETTERS.items()]
        for key, said in jobs:
            file = ("huruf_" + key.lower() if key in LETTERS else key.replace(" ", "_")) + ".ogg"
            wav = tmp / "clip.wav"
            speak(said, wav, tmp)
            _sh("sox", str(wav), "-C", "3", str(out / file))
            clips[key] = file
        wav = tmp / "chime.wav"
        chime(wav, tmp)
        _sh("sox", str(wav), "-C", "3", str(out / "chime.ogg"))
        clips["chime"] = "chime.ogg"
    manifest = {
        "format": 1,
        "lang": "id",
        "voice": "espeak-ng -v id",
        "gap_ms": 40,
        "clips": clips,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return len(clips)


def add_parser(sub: Any) -> None:
    voice = sub.add_parser("voice-pack", help="make the display's Indonesian voice pack")
    voice.add_argument("out", nargs="?", default=None, help="default: the packaged static/voice/id")


def run(args: argparse.Namespace) -> int:
    missing = missing_tools()
    if missing:
        print(
            f"qms voice-pack: needs {', '.join(missing)}"
            " (apt-get install espeak-ng sox libsox-fmt-all)",
            file=sys.stderr,
        )
        return 2
    out = Path(args.out) if args.out else static_root() / "voice" / "id"
    print(f"{build(out)} clips in {out}")
    return 0
