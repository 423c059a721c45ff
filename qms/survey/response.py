"""A visitor's answers, parsed and checked against the instrument they were answered on.

The body the visitor's page sends:

    {"instrument": 1,                      # the version the page showed (optional)
     "answers": {"U1": 4, …, "U9": 3,      # all nine elements, each 1-4
                 "X1": 2},                 # the site's own questions (optional)
     "profile": {"usia": "30-39"},         # optional, each from the field's options
     "suggestion": "…"}                    # optional free text (saran/masukan)

Anything else is refused with a `SurveyError` code and nothing is recorded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from qms.core.text import control_character
from qms.survey.errors import SurveyError
from qms.survey.instrument import ELEMENT_KEYS, SCALE, Instrument

_FIELDS = frozenset({"instrument", "answers", "profile", "suggestion"})


@dataclass(frozen=True, slots=True)
class Response:
    """One respondent's answers; `scores[i]` answers element U{i+1}."""

    version: int
    scores: tuple[int, ...]
    extras: tuple[tuple[str, int], ...] = ()
    profile: tuple[tuple[str, str], ...] = ()
    suggestion: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The response as it is written in the log (no ticket: see qms.survey.ledger)."""
        return {
            "instrument": self.version,
            "scores": list(self.scores),
            "extras": dict(self.extras),
            "profile": dict(self.profile),
            "suggestion": self.suggestion,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Response:
        return cls(
            version=int(data["instrument"]),
            scores=tuple(int(s) for s in data["scores"]),
            extras=tuple(sorted((str(k), int(v)) for k, v in data.get("extras", {}).items())),
            profile=tuple(sorted((str(k), str(v)) for k, v in data.get("profile", {}).items())),
            suggestion=str(data.get("suggestion", "")),
        )


def _score(key: str, value: Any) -> int:
    # bool is an int in Python: `true` must not count as a 1
    if isinstance(value, bool) or not isinstance(value, int) or value not in SCALE:
        raise SurveyError(
            "invalid_answer", f"{key}: expected a whole number 1-4", question=key, got=repr(value)
        )
    return value


def clean_suggestion(value: Any, limit: int) -> str:
    """The free text, trimmed, with line breaks kept and any other control character refused."""
    if not isinstance(value, str):
        raise SurveyError("invalid_response", "suggestion: expected text", field="suggestion")
    text = value.replace("\r\n", "\n").strip()
    if len(text) > limit:
        raise SurveyError(
            "text_too_long", f"suggestion: at most {limit} characters", limit=limit, got=len(text)
        )
    if any(control_character(line) is not None for line in text.split("\n")):
        raise SurveyError("invalid_text", "suggestion: control character", field="suggestion")
    return text


def parse(data: Any, instrument: Instrument) -> Response:
    """`data` (a decoded JSON body) checked against `instrument`, or a `SurveyError`."""
    if not isinstance(data, Mapping):
        raise SurveyError("invalid_response", "expected an object")
    unknown = sorted(set(data) - _FIELDS)
    if unknown:
        raise SurveyError(
            "invalid_response",
            f"unknown field {unknown[0]!r}",
            field=unknown[0],
            allowed=sorted(_FIELDS),
        )
    version = data.get("instrument", instrument.version)
    if version != instrument.version or isinstance(version, bool):
        raise SurveyError(
            "instrument_mismatch",
            "the questionnaire has changed since the page was loaded: reload it",
            current=instrument.version,
            got=repr(version),
        )
    answers = data.get("answers")
    if not isinstance(answers, Mapping):
        raise SurveyError("invalid_response", "answers: expected an object", field="answers")
    extra_keys = {q.key for q in instrument.extras}
    for key in answers:
        if key not in ELEMENT_KEYS and key not in extra_keys:
            raise SurveyError("unknown_question", f"no question {key!r}", question=str(key)[:20])
    missing = [k for k in ELEMENT_KEYS if k not in answers]
    if missing:
        raise SurveyError(
            "missing_answer",
            f"{missing[0]} unanswered: all nine elements are needed",
            missing=missing,
        )
    scores = tuple(_score(k, answers[k]) for k in ELEMENT_KEYS)
    extras = tuple(sorted((k, _score(k, answers[k])) for k in extra_keys if k in answers))
    profile = _profile(data.get("profile", {}), instrument)
    suggestion = clean_suggestion(data.get("suggestion", ""), instrument.suggestion_limit)
    return Response(instrument.version, scores, extras, profile, suggestion)


def _profile(value: Any, instrument: Instrument) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, Mapping):
        raise SurveyError("invalid_response", "profile: expected an object", field="profile")
    out = []
    for key, code in value.items():
        field = instrument.profile_field(key) if isinstance(key, str) else None
        if field is None:
            raise SurveyError("invalid_profile", f"no profile field {str(key)[:20]!r}")
        if code is None or code == "":  # skipped: the profile is optional
            continue
        if code not in field.codes():
            raise SurveyError(
                "invalid_profile",
                f"{key}: not one of the options",
                field=key,
                allowed=list(field.codes()),
            )
        out.append((key, code))
    return tuple(sorted(out))
