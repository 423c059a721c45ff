"""The follow-up plan (rencana tindak lanjut): what a site will do about its weakest elements.

PermenPAN-RB 14/2017 asks a unit to publish, with each period's result, the plan
it made for the elements that scored lowest. An admin writes one plan per period
(`WRITE_PLAN` body below); writing again for the same period replaces it, and
the plans of past periods stay published as the history. Pure checks, no I/O:
anything else is a `SurveyError` with a stable code and nothing is recorded.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from qms.core.text import control_character
from qms.survey.errors import SurveyError
from qms.survey.instrument import ELEMENT_KEYS

MAX_TEXT = 2000  # characters of the plan's text: a paragraph or a short list, not a report
# The period labels of `qms.survey.aggregate.period_key`: 2026, 2026-S1, 2026-Q1, 2026-03.
PERIOD = re.compile(r"[0-9]{4}(-(Q[1-4]|S[12]|0[1-9]|1[0-2]))?")
_FIELDS = frozenset({"period", "elements", "text"})


@dataclass(frozen=True)
class Plan:
    period: str
    elements: tuple[str, ...]  # the elements it addresses, in the instrument's order
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {"period": self.period, "elements": list(self.elements), "text": self.text}


def parse_plan(data: Any) -> Plan:
    """A plan from untrusted input: `{"period", "elements", "text"}`."""
    if not isinstance(data, Mapping):
        raise SurveyError("invalid_plan", "expected an object {period, elements, text}")
    unknown = sorted(set(data) - _FIELDS)
    if unknown:
        raise SurveyError("invalid_plan", f"unknown field {unknown[0]!r}", field=unknown[0])
    period = data.get("period")
    if not isinstance(period, str) or not PERIOD.fullmatch(period):
        raise SurveyError(
            "invalid_plan", "period: 2026, 2026-S1, 2026-Q1 or 2026-03", field="period"
        )
    elements = data.get("elements")
    if (
        not isinstance(elements, list)
        or not elements
        or any(k not in ELEMENT_KEYS for k in elements)
        or len(set(elements)) != len(elements)
    ):
        raise SurveyError(
            "invalid_plan", "elements: one or more of U1…U9, each once", field="elements"
        )
    text = data.get("text")
    if not isinstance(text, str):
        raise SurveyError("invalid_plan", "text: expected a string", field="text")
    text = text.replace("\r\n", "\n").strip()
    if not text:
        raise SurveyError("invalid_plan", "text: the plan is empty", field="text")
    if len(text) > MAX_TEXT:
        raise SurveyError(
            "text_too_long", f"text: at most {MAX_TEXT} characters", field="text", limit=MAX_TEXT
        )
    # Line breaks are kept (a plan is often a list); any other control or bidi
    # character is refused, as in every name and text (qms.core.text).
    if any(control_character(line) is not None for line in text.split("\n")):
        raise SurveyError("invalid_text", "text: control character", field="text")
    ordered = tuple(k for k in ELEMENT_KEYS if k in elements)
    return Plan(period, ordered, text)


def plan_of(entry: Mapping[str, Any]) -> Plan:
    """A `survey_plan_written` event (already checked when it was decided)."""
    elements = tuple(str(k) for k in entry.get("elements", ()))
    return Plan(str(entry["period"]), elements, str(entry.get("text", "")))
