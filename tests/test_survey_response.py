"""The instrument (default, configured versions) and parsing a visitor's answers."""

from __future__ import annotations

from typing import Any

import pytest

from qms.survey.errors import CODES, SurveyError
from qms.survey.instrument import (
    DEFAULT,
    ELEMENT_KEYS,
    PROFILE_KEYS,
    configure,
    from_dict,
)
from qms.survey.response import Response, parse

ALL_FOURS = {k: 4 for k in ELEMENT_KEYS}


def code_of(data: Any, instrument: Any = DEFAULT) -> str:
    with pytest.raises(SurveyError) as caught:
        parse(data, instrument)
    assert caught.value.code in CODES
    return caught.value.code


def test_default_instrument_is_the_regulations() -> None:
    assert DEFAULT.version == 1 and DEFAULT.enabled
    assert tuple(f"U{i}" for i in range(1, 10)) == ELEMENT_KEYS
    titles = [q.title.id for q in DEFAULT.elements]
    assert titles[0] == "Persyaratan" and titles[3] == "Biaya/tarif"
    assert titles[8] == "Sarana dan prasarana"
    for q in DEFAULT.elements:
        assert len(q.labels) == 4 and all(label.id and label.en for label in q.labels)
        assert q.text.id.endswith("?") and q.text.en.endswith("?")
    assert DEFAULT.elements[0].labels[0].id == "Tidak sesuai"
    assert DEFAULT.elements[0].labels[3].id == "Sangat sesuai"
    assert DEFAULT.elements[3].labels[3].id == "Gratis"
    assert PROFILE_KEYS == ("jenis_kelamin", "usia", "pendidikan", "pekerjaan")
    assert DEFAULT.extras == ()


def test_instrument_round_trips_through_its_dict() -> None:
    config = {
        "questions": {"U3": {"text": ["Seberapa cepat?", "How fast?"]}},
        "extras": [
            {
                "key": "X1",
                "title": ["Parkir", "Parking"],
                "text": ["Bagaimana parkirnya?", "How was the parking?"],
                "labels": [["a", "a"], ["b", "b"], ["c", "c"], ["d", "d"]],
            }
        ],
        "profile": ["usia"],
        "valid_hours": 3,
        "min_group": 10,
    }
    v2 = configure(DEFAULT, config)
    assert v2.version == 2 and v2.min_group == 10 and DEFAULT.min_group == 5
    assert v2.elements[2].text.id == "Seberapa cepat?"
    assert v2.elements[2].labels == DEFAULT.elements[2].labels  # kept
    assert [p.key for p in v2.profile] == ["usia"]
    assert from_dict(v2.to_dict()) == v2
    assert from_dict(DEFAULT.to_dict()) == DEFAULT
    off = configure(v2, {"enabled": False})
    assert off.version == 3 and not off.enabled and off.extras == v2.extras


@pytest.mark.parametrize(
    "config",
    [
        [],
        {"colour": "red"},
        {"enabled": "yes"},
        {"questions": {"U10": {"text": ["a", "b"]}}},
        {"questions": {"U1": {"text": ["only one"]}}},
        {"questions": {"U1": {"text": ["a\x1b[2J", "b"]}}},
        {"questions": {"U1": {"labels": [["a", "b"]] * 3}}},
        {"questions": {"U1": {"weight": 2}}},
        {"profile": ["agama"]},
        {"profile": [{}, []]},  # unhashable: once a 500
        {"extras": [{"key": "U1", "title": ["a", "b"], "text": ["a", "b"], "labels": []}]},
        {"extras": [{"key": "X1"}]},
        {"valid_hours": 0},
        {"valid_hours": True},
        {"valid_hours": 169},
        {"min_group": 2},
        {"min_group": 101},
        {"min_group": "5"},
        {"min_group": 4.5},
        {"suggestion_limit": 5000},
        {"questions": {"U1": {"text": ["x" * 301, "b"]}}},
    ],
)
def test_bad_configuration_is_refused(config: Any) -> None:
    with pytest.raises(SurveyError) as caught:
        configure(DEFAULT, config)
    assert caught.value.code == "invalid_instrument"


def test_a_full_answer_parses() -> None:
    r = parse(
        {
            "instrument": 1,
            "answers": {**ALL_FOURS, "U4": 1},
            "profile": {"usia": "30-39", "jenis_kelamin": "P", "pekerjaan": ""},
            "suggestion": "  Antrean rapi.\r\nTerima kasih  ",
        },
        DEFAULT,
    )
    assert r.scores == (4, 4, 4, 1, 4, 4, 4, 4, 4)
    assert r.profile == (("jenis_kelamin", "P"), ("usia", "30-39"))  # skipped fields dropped
    assert r.suggestion == "Antrean rapi.\nTerima kasih"
    assert Response.from_dict(r.to_dict()) == r


def test_extras_are_answered_apart_from_the_nine() -> None:
    v2 = configure(
        DEFAULT,
        {
            "extras": [
                {
                    "key": "X1",
                    "title": ["Parkir", "Parking"],
                    "text": ["Parkir?", "Parking?"],
                    "labels": [["1", "1"], ["2", "2"], ["3", "3"], ["4", "4"]],
                }
            ]
        },
    )
    r = parse({"instrument": 2, "answers": {**ALL_FOURS, "X1": 2}}, v2)
    assert r.scores == (4,) * 9 and r.extras == (("X1", 2),)
    assert code_of({"answers": {**ALL_FOURS, "X1": 2}}) == "unknown_question"  # not on v1


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ([1, 2, 3], "invalid_response"),
        ("U1=4", "invalid_response"),
        ({"answers": ALL_FOURS, "ticket": "A001"}, "invalid_response"),
        ({"answers": [4] * 9}, "invalid_response"),
        ({}, "invalid_response"),
        ({"answers": {**ALL_FOURS, "U1": 5}}, "invalid_answer"),
        ({"answers": {**ALL_FOURS, "U1": 0}}, "invalid_answer"),
        ({"answers": {**ALL_FOURS, "U1": -1}}, "invalid_answer"),
        ({"answers": {**ALL_FOURS, "U1": 3.5}}, "invalid_answer"),
        ({"answers": {**ALL_FOURS, "U1": "4"}}, "invalid_answer"),
        ({"answers": {**ALL_FOURS, "U1": True}}, "invalid_answer"),
        ({"answers": {**ALL_FOURS, "U1": None}}, "invalid_answer"),
        ({"answers": {k: 4 for k in ELEMENT_KEYS[:8]}}, "missing_answer"),
        ({"answers": {**ALL_FOURS, "U10": 4}}, "unknown_question"),
        ({"answers": ALL_FOURS, "instrument": 2}, "instrument_mismatch"),
        ({"answers": ALL_FOURS, "instrument": True}, "instrument_mismatch"),
        ({"answers": ALL_FOURS, "profile": {"agama": "x"}}, "invalid_profile"),
        ({"answers": ALL_FOURS, "profile": {"usia": "17"}}, "invalid_profile"),
        ({"answers": ALL_FOURS, "profile": {"usia": ["30-39"]}}, "invalid_profile"),
        ({"answers": ALL_FOURS, "profile": "L"}, "invalid_response"),
        ({"answers": ALL_FOURS, "suggestion": 12}, "invalid_response"),
        ({"answers": ALL_FOURS, "suggestion": "x" * 1001}, "text_too_long"),
        ({"answers": ALL_FOURS, "suggestion": "ok\x1b[31m"}, "invalid_text"),
        ({"answers": ALL_FOURS, "suggestion": "ok\u202egnp.exe"}, "invalid_text"),
        ({"answers": ALL_FOURS, "suggestion": "a\x00b"}, "invalid_text"),
    ],
)
def test_bad_answers_are_refused_with_a_stable_code(data: Any, code: str) -> None:
    assert code_of(data) == code


def test_html_in_the_suggestion_is_kept_as_text() -> None:
    r = parse({"answers": ALL_FOURS, "suggestion": "<script>alert(1)</script>"}, DEFAULT)
    assert r.suggestion == "<script>alert(1)</script>"  # shown with textContent, never as HTML


def test_no_free_text_when_the_site_asks_none() -> None:
    quiet = configure(DEFAULT, {"suggestion_limit": 0})
    assert parse({"instrument": 2, "answers": ALL_FOURS, "suggestion": ""}, quiet).suggestion == ""
    assert code_of({"instrument": 2, "answers": ALL_FOURS, "suggestion": "x"}, quiet) == (
        "text_too_long"
    )


def test_error_shape() -> None:
    error = SurveyError("invalid_answer", "U1: expected a whole number 1-4", question="U1")
    assert error.http_status == 422
    assert error.to_dict() == {  # the API answers {"error": this}
        "code": "invalid_answer",
        "message": "U1: expected a whole number 1-4",
        "details": {"question": "U1"},
    }
    with pytest.raises(ValueError):
        SurveyError("made_up", "x")


@pytest.mark.parametrize(
    "module", ["qms.survey.instrument", "qms.survey.response", "qms.survey.records", "qms.core"]
)
def test_each_package_imports_first(module: str) -> None:
    """qms.core uses qms.survey and qms.survey uses qms.core.text: no import cycle, whichever
    a program imports first (a fresh interpreter each)."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True)
    assert done.returncode == 0, done.stderr.decode()


def test_an_instrument_written_before_min_group_reads_as_five() -> None:
    old = DEFAULT.to_dict()
    del old["min_group"]  # a survey_configured event of an older release
    assert from_dict(old).min_group == 5
    assert configure(DEFAULT, {"valid_hours": 168}).valid_hours == 168
