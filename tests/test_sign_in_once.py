"""One sign-in (issue 13 §6): the staff pages' sign-in form is written once, by
`Gate` in static/js/staff.js, and every staff page signs in through it. Copies in
the pages had drifted apart (other texts, other messages, one lower-casing the
name); the browser tests drive the form on each page (tests/staff_pages.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

STATIC = Path(__file__).resolve().parent.parent / "static"
# page -> its module, and the roles its gate lets in
STAFF_PAGES = {
    "console.html": ("console.js", ["officer", "supervisor", "admin"]),
    "supervisor.html": ("supervisor.js", ["supervisor", "admin"]),
    "reports.html": ("reports.js", ["supervisor", "admin", "viewer"]),
    "admin.html": ("admin.js", ["admin"]),
}
SIGN_IN = re.compile(r"current-password|<form[^>]*signin|name=\"?password", re.I)


@pytest.mark.parametrize("page", sorted(STAFF_PAGES))
def test_a_staff_page_signs_in_through_the_gate(page: str) -> None:
    module, roles = STAFF_PAGES[page]
    html = (STATIC / page).read_text()
    assert SIGN_IN.findall(html) == []  # no form of its own
    assert f'src="{{{{static}}}}/js/{module}"' in html
    code = (STATIC / "js" / module).read_text()
    gate = re.search(r"new Gate\(\{ roles: (\[[^\]]*\])", code)
    assert gate is not None and gate.group(1) == str(roles).replace("'", '"')


def test_the_sign_in_form_is_written_once() -> None:
    written = sorted(
        p.relative_to(STATIC).as_posix()
        for p in STATIC.rglob("*")
        if p.suffix in (".html", ".js") and "current-password" in p.read_text()
    )
    assert written == ["js/staff.js"]
