"""Every error code's text is written once, in static/js/i18n.js: pages register
their own strings but never an `err_` one (copies drifted apart before), and every
code the engine can answer has its Indonesian and English text."""

from __future__ import annotations

import re
from pathlib import Path

from qms.core.errors import ALL_CODES

JS = Path(__file__).resolve().parent.parent / "static" / "js"
ERROR_TEXT = re.compile(r"^\s*err_([a-z_]+):\s*\[\s*\"([^\"]+)\",\s*\"([^\"]+)\"\s*\],?\s*$", re.M)


def texts(path: Path) -> dict[str, tuple[str, str]]:
    return {code: (id_, en) for code, id_, en in ERROR_TEXT.findall(path.read_text())}


def test_error_texts_live_in_i18n_only() -> None:
    elsewhere = {p.name: sorted(texts(p)) for p in JS.glob("*.js") if p.name != "i18n.js"}
    assert {name: codes for name, codes in elsewhere.items() if codes} == {}


def test_every_engine_code_has_a_text_in_both_languages() -> None:
    known = texts(JS / "i18n.js")
    assert sorted(set(ALL_CODES) - set(known)) == []
    assert all(id_ != en for id_, en in known.values())  # not an English copy


REGISTERED = re.compile(r"register\(\{(.*?)\n\}\);", re.S)
KEY = re.compile(r"^\s*([a-z][a-z0-9_]*):\s*\[", re.M)


def test_no_text_is_registered_twice() -> None:
    """Every key's text once: in i18n.js when every page needs it, in a shared module
    (staff.js, admin-form.js) when some pages do, else beside its page's code. A second
    registration would silently replace the first (copies drifted apart before)."""
    where: dict[str, list[str]] = {}
    for path in sorted(JS.glob("*.js")):
        for block in REGISTERED.findall(path.read_text()):
            for key in KEY.findall(block):
                where.setdefault(key, []).append(path.name)
    assert {key: files for key, files in where.items() if len(files) > 1} == {}
