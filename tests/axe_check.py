"""Automated accessibility checks with axe-core, for any browser test (not a test module).

    from axe_check import assert_accessible
    assert_accessible(page)                      # the whole page as it is now
    assert_accessible(page, within=".walk-up-qr")  # one part of a page

injects axe-core into the page, runs it, and fails listing every violation of
impact "serious" or "critical" (rule, impact, what it means, the elements).
Moderate and minor findings are returned, not failed on.

axe-core is the copy that the PyPI package axe-playwright-python ships (the
`dev` extra in pyproject.toml installs it; only its `axe.min.js` is used, MPL-2.0),
so a fresh machine needs no npm. It is evaluated through the DevTools protocol,
which the pages' Content-Security-Policy does not apply to.
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any

FAILING = ("serious", "critical")
# WCAG 2.0-2.2 A and AA (2.2: target sizes), and axe's best practices (landmarks, one
# main, heading order...).
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]


@cache
def axe_source() -> str:
    return (files("axe_playwright_python") / "axe.min.js").read_text(encoding="utf-8")


def run_axe(page: Any, within: str | None = None) -> list[dict[str, Any]]:
    """axe-core's violations on `page` (or in the elements matching the selector `within`)."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(axe_source())
    options = {"runOnly": {"type": "tag", "values": TAGS}, "resultTypes": ["violations"]}
    result = page.evaluate(
        "([within, options]) => axe.run(within ? {include: [[within]]} : document, options)",
        [within, options],
    )
    return list(result["violations"])


def describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        lines.append(f"- {v['id']} ({v['impact']}): {v['help']} [{v['helpUrl']}]")
        for node in v["nodes"][:10]:
            summary = (node.get("failureSummary") or "").replace("\n", " ")
            lines.append(f"    {json.dumps(node['target'])}: {node['html'][:160]}")
            if summary:
                lines.append(f"      {summary[:300]}")
    return "\n".join(lines)


def assert_accessible(page: Any, within: str | None = None, what: str = "") -> list[dict[str, Any]]:
    """Fail on serious or critical axe-core violations; return the milder ones."""
    violations = run_axe(page, within)
    bad = [v for v in violations if v.get("impact") in FAILING]
    if bad:
        where = what or page.url
        raise AssertionError(
            f"axe-core: {len(bad)} serious/critical violation(s) on {where}:\n{describe(bad)}"
        )
    return violations
