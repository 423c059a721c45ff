"""Names and texts people type, shown on displays, in the CLI and in logs: no control characters.

A newline or an ESC in a device name forges rows in `qms device list` and moves a
terminal's cursor; a bidi override (U+202E) makes a name read backwards on a
display. `control_character(text)` finds the first such character, so every
name and broadcast text can be refused with the code `invalid_text`:

- C0 and C1 controls and DEL (category Cc: newline, tab, ESC, NUL, U+0085…);
- bidi controls: U+061C, U+200E-U+200F, U+202A-U+202E, U+2066-U+2069;
- line and paragraph separators (U+2028, U+2029) and lone surrogates (Cs).

Other format characters (the zero-width joiner in emoji sequences, the soft
hyphen) are allowed: they cannot forge a row or reorder a line.
"""

from __future__ import annotations

import unicodedata

BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
_REFUSED_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})


def control_character(text: str) -> str | None:
    """The first character of `text` no name or text may hold, or None."""
    for ch in text:
        if ch in BIDI_CONTROLS or unicodedata.category(ch) in _REFUSED_CATEGORIES:
            return ch
    return None


def printable(text: str) -> str:
    """`text` with every such character shown as an escape (for printing old records)."""
    if control_character(text) is None:
        return text
    return "".join(
        ch.encode("unicode_escape").decode("ascii") if control_character(ch) else ch for ch in text
    )
