"""The browser apps' models (static/js/*-model.js) under node's own test runner:
`node --test tests/js/` (no build step, no npm package), run here so that the
README's one test command runs them too. Node missing is a failure, never a skip:
scripts/test installs Debian's nodejs when it is missing (as root)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MODELS = sorted((ROOT / "static" / "js").glob("*-model.js"))
# What a pure model may not touch: the page, the network, storage, timers, the clock.
IMPURE = re.compile(
    r"\b(document|window|navigator|location|localStorage|sessionStorage|fetch|WebSocket"
    r"|setTimeout|setInterval|requestAnimationFrame|performance|Date\.now)\b"
)
IMPORT = re.compile(r"^\s*import\b[^;]*?from\s+\"([^\"]+)\"", re.M)


def _node() -> str:
    node = shutil.which("node") or shutil.which("nodejs")
    if node is None:
        pytest.fail("node is not installed: run scripts/test as root, or apt-get install nodejs")
    return node


def test_the_models_pass_their_unit_tests() -> None:
    node = _node()
    run = subprocess.run(
        [node, "--test", "--test-reporter=tap", "tests/js/"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=100,
        env={**os.environ, "NO_COLOR": "1"},
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    # A run that found no test file passes too: make sure every model was tested.
    passed = re.search(r"^# pass (\d+)$", output, re.M)
    assert passed is not None and int(passed.group(1)) > 0, output


def test_every_model_has_its_tests() -> None:
    tested = {p.name.removesuffix(".test.js") for p in (ROOT / "tests" / "js").glob("*.test.js")}
    assert sorted(p.stem for p in MODELS if p.stem not in tested) == []


@pytest.mark.parametrize("model", MODELS, ids=lambda p: p.name)
def test_a_model_is_pure(model: Path) -> None:
    """No DOM, no I/O, no clock: a model imports only other models, and names none of
    the browser's globals (comments aside)."""
    code = re.sub(r"//.*", "", re.sub(r"/\*.*?\*/", "", model.read_text(), flags=re.S))
    assert [m for m in IMPORT.findall(code) if not m.endswith("-model.js")] == []
    code = re.sub(r"\"(?:[^\"\\\n]|\\.)*\"|`(?:[^`\\]|\\.)*`", '""', code)  # nor strings
    assert sorted(set(IMPURE.findall(code))) == []
