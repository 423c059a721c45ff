"""The questionnaire: the nine elements (unsur) of PermenPAN-RB 14/2017, a profile, extras.

The default instrument is the one annexed to Peraturan Menteri PAN-RB No. 14
Tahun 2017: one question per element, answered 1-4, each with the wording halls
print on the paper form ("tidak sesuai … sangat sesuai"). Every text is held in
Bahasa Indonesia first and English second.

A site may reword the nine questions, switch profile fields off, add its own
questions (scored 1-4 like the others but *kept out of the IKM*) and switch the
survey off. Each change is a new numbered version; a response records the
version it was answered on, so every response is read with its own questions.
The nine elements themselves (and their order U1…U9) never change: they are what
the index is made of.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from qms.core.text import control_character
from qms.survey.errors import SurveyError

SCALE = (1, 2, 3, 4)
MAX_TEXT = 300  # a question or label text
MAX_EXTRAS = 10  # a site's own questions
DEFAULT_SUGGESTION_LIMIT = 1000  # characters of saran/masukan
# The smallest group of respondents any view shows on its own (docs/survey.md "Cuts and
# anonymity"): 5 by default; a site may set 3-100 (below 3 a group's answers can be
# told apart by the people in it).
MIN_GROUP, MIN_GROUP_RANGE = 5, (3, 100)
MAX_VALID_HOURS = 7 * 24  # a completed visit may be rated for up to a week


@dataclass(frozen=True, slots=True)
class Text:
    """One text in Bahasa Indonesia (`id`) and English (`en`)."""

    id: str
    en: str

    def to_list(self) -> list[str]:
        return [self.id, self.en]


@dataclass(frozen=True, slots=True)
class Question:
    """A question answered 1-4; `labels[i]` names score i + 1."""

    key: str
    title: Text  # the element's short name (unsur) or the extra question's name
    text: Text
    labels: tuple[Text, Text, Text, Text]

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title.to_list(),
            "text": self.text.to_list(),
            "labels": [label.to_list() for label in self.labels],
        }


@dataclass(frozen=True, slots=True)
class ProfileField:
    """An optional question about the respondent, answered with one of `options`."""

    key: str
    title: Text
    options: tuple[tuple[str, Text], ...]  # (code, label)

    def codes(self) -> tuple[str, ...]:
        return tuple(code for code, _ in self.options)

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title.to_list(),
            "options": [[code, label.to_list()] for code, label in self.options],
        }


def _q(
    key: str, title: tuple[str, str], text: tuple[str, str], *labels: tuple[str, str]
) -> Question:
    a, b, c, d = (Text(*label) for label in labels)
    return Question(key, Text(*title), Text(*text), (a, b, c, d))


# The nine elements, in the order the regulation lists them (U1…U9).
ELEMENTS: tuple[Question, ...] = (
    _q(
        "U1",
        ("Persyaratan", "Requirements"),
        (
            "Bagaimana pendapat Saudara tentang kesesuaian persyaratan pelayanan dengan jenis"
            " pelayanannya?",
            "How well do the service's requirements fit the kind of service?",
        ),
        ("Tidak sesuai", "Not appropriate"),
        ("Kurang sesuai", "Somewhat inappropriate"),
        ("Sesuai", "Appropriate"),
        ("Sangat sesuai", "Very appropriate"),
    ),
    _q(
        "U2",
        ("Sistem, mekanisme dan prosedur", "System, mechanism and procedure"),
        (
            "Bagaimana pemahaman Saudara tentang kemudahan prosedur pelayanan di unit ini?",
            "How easy is the service procedure at this unit?",
        ),
        ("Tidak mudah", "Not easy"),
        ("Kurang mudah", "Somewhat difficult"),
        ("Mudah", "Easy"),
        ("Sangat mudah", "Very easy"),
    ),
    _q(
        "U3",
        ("Waktu penyelesaian", "Completion time"),
        (
            "Bagaimana pendapat Saudara tentang kecepatan waktu dalam memberikan pelayanan?",
            "How fast was the service delivered?",
        ),
        ("Tidak cepat", "Not fast"),
        ("Kurang cepat", "Somewhat slow"),
        ("Cepat", "Fast"),
        ("Sangat cepat", "Very fast"),
    ),
    _q(
        "U4",
        ("Biaya/tarif", "Cost/fee"),
        (
            "Bagaimana pendapat Saudara tentang kewajaran biaya/tarif dalam pelayanan?",
            "How fair is the cost or fee of the service?",
        ),
        ("Sangat mahal", "Very expensive"),
        ("Cukup mahal", "Rather expensive"),
        ("Murah", "Cheap"),
        ("Gratis", "Free"),
    ),
    _q(
        "U5",
        ("Produk spesifikasi jenis pelayanan", "Service product specification"),
        (
            "Bagaimana pendapat Saudara tentang kesesuaian produk pelayanan antara yang tercantum"
            " dalam standar pelayanan dengan hasil yang diberikan?",
            "How well does what you received match the product stated in the service standard?",
        ),
        ("Tidak sesuai", "Not matching"),
        ("Kurang sesuai", "Partly matching"),
        ("Sesuai", "Matching"),
        ("Sangat sesuai", "Fully matching"),
    ),
    _q(
        "U6",
        ("Kompetensi pelaksana", "Staff competence"),
        (
            "Bagaimana pendapat Saudara tentang kompetensi/kemampuan petugas dalam pelayanan?",
            "How competent were the staff who served you?",
        ),
        ("Tidak kompeten", "Not competent"),
        ("Kurang kompeten", "Somewhat incompetent"),
        ("Kompeten", "Competent"),
        ("Sangat kompeten", "Very competent"),
    ),
    _q(
        "U7",
        ("Perilaku pelaksana", "Staff conduct"),
        (
            "Bagaimana pendapat Saudara tentang perilaku petugas dalam pelayanan terkait kesopanan"
            " dan keramahan?",
            "How polite and friendly were the staff?",
        ),
        ("Tidak sopan dan ramah", "Not polite or friendly"),
        ("Kurang sopan dan ramah", "Somewhat impolite"),
        ("Sopan dan ramah", "Polite and friendly"),
        ("Sangat sopan dan ramah", "Very polite and friendly"),
    ),
    _q(
        "U8",
        ("Penanganan pengaduan, saran dan masukan", "Handling of complaints and suggestions"),
        (
            "Bagaimana pendapat Saudara tentang penanganan pengaduan pengguna layanan?",
            "How are complaints from service users handled?",
        ),
        ("Tidak ada", "No channel exists"),
        ("Ada tetapi tidak berfungsi", "Exists but does not work"),
        ("Berfungsi kurang maksimal", "Works, but not fully"),
        ("Dikelola dengan baik", "Well managed"),
    ),
    _q(
        "U9",
        ("Sarana dan prasarana", "Facilities and infrastructure"),
        (
            "Bagaimana pendapat Saudara tentang kualitas sarana dan prasarana?",
            "How good are the facilities and infrastructure?",
        ),
        ("Buruk", "Poor"),
        ("Cukup", "Fair"),
        ("Baik", "Good"),
        ("Sangat baik", "Very good"),
    ),
)
ELEMENT_KEYS: tuple[str, ...] = tuple(q.key for q in ELEMENTS)


def _options(*items: tuple[str, str, str]) -> tuple[tuple[str, Text], ...]:
    return tuple((code, Text(label_id, label_en)) for code, label_id, label_en in items)


PROFILE: tuple[ProfileField, ...] = (
    ProfileField(
        "jenis_kelamin",
        Text("Jenis kelamin", "Sex"),
        _options(("L", "Laki-laki", "Male"), ("P", "Perempuan", "Female")),
    ),
    ProfileField(
        "usia",
        Text("Usia", "Age"),
        _options(
            ("<20", "Di bawah 20 tahun", "Under 20"),
            ("20-29", "20-29 tahun", "20-29"),
            ("30-39", "30-39 tahun", "30-39"),
            ("40-49", "40-49 tahun", "40-49"),
            ("50-59", "50-59 tahun", "50-59"),
            ("60+", "60 tahun ke atas", "60 or over"),
        ),
    ),
    ProfileField(
        "pendidikan",
        Text("Pendidikan terakhir", "Education"),
        _options(
            ("SD", "SD ke bawah", "Primary or less"),
            ("SMP", "SMP", "Junior high"),
            ("SMA", "SMA/SMK", "Senior high"),
            ("D1-D3", "D1-D3", "Diploma (D1-D3)"),
            ("D4-S1", "D4/S1", "Bachelor (D4/S1)"),
            ("S2", "S2", "Master (S2)"),
            ("S3", "S3", "Doctorate (S3)"),
        ),
    ),
    ProfileField(
        "pekerjaan",
        Text("Pekerjaan utama", "Occupation"),
        _options(
            ("PNS", "PNS", "Civil servant"),
            ("TNI", "TNI", "Armed forces"),
            ("POLRI", "POLRI", "Police"),
            ("SWASTA", "Pegawai swasta", "Private employee"),
            ("WIRAUSAHA", "Wirausaha", "Self-employed"),
            ("PELAJAR", "Pelajar/mahasiswa", "Student"),
            ("LAINNYA", "Lainnya", "Other"),
        ),
    ),
)
PROFILE_KEYS: tuple[str, ...] = tuple(p.key for p in PROFILE)
_PROFILE_BY_KEY = {p.key: p for p in PROFILE}
_EXTRA_KEY = re.compile(r"^X[1-9][0-9]?$")  # a site's own questions: X1…X99


@dataclass(frozen=True, slots=True)
class Instrument:
    """One version of a site's questionnaire."""

    version: int = 1
    enabled: bool = True
    basis: str = "PermenPAN-RB 14/2017"
    elements: tuple[Question, ...] = ELEMENTS
    profile: tuple[ProfileField, ...] = PROFILE
    extras: tuple[Question, ...] = ()
    suggestion_limit: int = DEFAULT_SUGGESTION_LIMIT  # 0: no free text asked
    valid_hours: int = 24  # a completed ticket may be rated this long after its completion
    # (up to 7 days: the hall's state keeps older days' completed visits that long)
    min_group: int = MIN_GROUP  # a group of fewer respondents is never shown on its own

    def question(self, key: str) -> Question | None:
        for q in (*self.elements, *self.extras):
            if q.key == key:
                return q
        return None

    def profile_field(self, key: str) -> ProfileField | None:
        return next((p for p in self.profile if p.key == key), None)

    def to_dict(self) -> dict[str, Any]:
        """The instrument as it travels in events and to the visitor's page."""
        return {
            "version": self.version,
            "enabled": self.enabled,
            "basis": self.basis,
            "elements": [q.to_dict() for q in self.elements],
            "profile": [p.to_dict() for p in self.profile],
            "extras": [q.to_dict() for q in self.extras],
            "suggestion_limit": self.suggestion_limit,
            "valid_hours": self.valid_hours,
            "min_group": self.min_group,
        }


DEFAULT = Instrument()


def _bad(message: str, **details: Any) -> SurveyError:
    return SurveyError("invalid_instrument", message, **details)


def _text(value: Any, where: str) -> Text:
    """A [id, en] pair of non-empty strings without control characters."""
    if (
        not isinstance(value, list | tuple)
        or len(value) != 2
        or not all(isinstance(v, str) and v.strip() for v in value)
    ):
        raise _bad(f"{where}: expected [Bahasa Indonesia, English] texts", field=where)
    for v in value:
        if len(v) > MAX_TEXT:
            raise _bad(f"{where}: longer than {MAX_TEXT} characters", field=where)
        if control_character(v) is not None:
            raise _bad(f"{where}: control character", field=where)
    return Text(value[0].strip(), value[1].strip())


def _labels(value: Any, where: str) -> tuple[Text, Text, Text, Text]:
    if not isinstance(value, list | tuple) or len(value) != 4:
        raise _bad(f"{where}: expected four labels, for scores 1 to 4", field=where)
    a, b, c, d = (_text(v, f"{where}[{i}]") for i, v in enumerate(value))
    return (a, b, c, d)


def _int(value: Any, where: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _bad(f"{where}: expected a whole number {low}-{high}", field=where)
    return value


_CONFIG_FIELDS = frozenset(
    {"enabled", "questions", "profile", "extras", "suggestion_limit", "valid_hours", "min_group"}
)


def configure(base: Instrument, config: Mapping[str, Any]) -> Instrument:
    """`base` changed by a site's `config`, as the next version.

    `config` may hold: `enabled` (bool); `questions` ({"U3": {"text": [id, en],
    "labels": [[id, en] x 4]}} to reword an element; its key and title stay);
    `profile` (the profile keys still asked, a subset of the default four);
    `extras` ([{"key": "X1", "title", "text", "labels"}], kept out of the IKM);
    `suggestion_limit` (0-2000), `valid_hours` (1-168) and `min_group` (3-100, the smallest
    group of respondents shown on its own). What it leaves out is kept.
    """
    if not isinstance(config, Mapping):
        raise _bad("expected an object")
    unknown = sorted(set(config) - _CONFIG_FIELDS)
    if unknown:
        raise _bad(
            f"unknown field {unknown[0]!r}", field=unknown[0], allowed=sorted(_CONFIG_FIELDS)
        )
    out = replace(base, version=base.version + 1)
    if "enabled" in config:
        if not isinstance(config["enabled"], bool):
            raise _bad("enabled: expected true or false", field="enabled")
        out = replace(out, enabled=config["enabled"])
    if "questions" in config:
        out = replace(out, elements=_reworded(base.elements, config["questions"]))
    if "profile" in config:
        keys = config["profile"]
        if not isinstance(keys, list) or not all(
            isinstance(k, str) and k in _PROFILE_BY_KEY for k in keys
        ):
            raise _bad("profile: expected a list of profile keys", allowed=list(PROFILE_KEYS))
        out = replace(out, profile=tuple(p for p in PROFILE if p.key in keys))
    if "extras" in config:
        out = replace(out, extras=_extras(config["extras"]))
    if "suggestion_limit" in config:
        limit = _int(config["suggestion_limit"], "suggestion_limit", 0, 2000)
        out = replace(out, suggestion_limit=limit)
    if "valid_hours" in config:
        hours = _int(config["valid_hours"], "valid_hours", 1, MAX_VALID_HOURS)
        out = replace(out, valid_hours=hours)
    if "min_group" in config:
        out = replace(out, min_group=_int(config["min_group"], "min_group", *MIN_GROUP_RANGE))
    return out


def _reworded(elements: tuple[Question, ...], value: Any) -> tuple[Question, ...]:
    if not isinstance(value, Mapping):
        raise _bad("questions: expected an object keyed U1…U9", field="questions")
    unknown = sorted(set(value) - set(ELEMENT_KEYS))
    if unknown:
        raise _bad(f"questions: no element {unknown[0]!r}", field="questions", key=unknown[0])
    out = []
    for q in elements:
        change = value.get(q.key)
        if change is None:
            out.append(q)
            continue
        if not isinstance(change, Mapping) or not set(change) <= {"text", "labels"}:
            raise _bad(f"questions.{q.key}: expected text and/or labels", field=q.key)
        text = _text(change["text"], f"{q.key}.text") if "text" in change else q.text
        labels = _labels(change["labels"], f"{q.key}.labels") if "labels" in change else q.labels
        out.append(replace(q, text=text, labels=labels))
    return tuple(out)


def _extras(value: Any) -> tuple[Question, ...]:
    if not isinstance(value, list) or len(value) > MAX_EXTRAS:
        raise _bad(f"extras: expected a list of at most {MAX_EXTRAS} questions", field="extras")
    out: list[Question] = []
    for i, item in enumerate(value):
        where = f"extras[{i}]"
        if not isinstance(item, Mapping) or set(item) != {"key", "title", "text", "labels"}:
            raise _bad(f"{where}: expected key, title, text and labels", field=where)
        key = item["key"]
        if not isinstance(key, str) or not _EXTRA_KEY.match(key):
            raise _bad(f"{where}.key: expected X1…X99", field=where)
        if any(q.key == key for q in out):
            raise _bad(f"{where}.key: {key} given twice", field=where)
        title = _text(item["title"], f"{where}.title")
        text = _text(item["text"], f"{where}.text")
        out.append(Question(key, title, text, _labels(item["labels"], f"{where}.labels")))
    return tuple(out)


def from_dict(data: Mapping[str, Any]) -> Instrument:
    """An instrument back from `Instrument.to_dict()` (as read from the log)."""

    def question(d: Mapping[str, Any]) -> Question:
        return Question(
            d["key"], Text(*d["title"]), Text(*d["text"]), _labels(d["labels"], d["key"])
        )

    profile = tuple(_PROFILE_BY_KEY[p["key"]] for p in data["profile"])
    return Instrument(
        version=int(data["version"]),
        enabled=bool(data["enabled"]),
        basis=str(data["basis"]),
        elements=tuple(question(q) for q in data["elements"]),
        profile=profile,
        extras=tuple(question(q) for q in data["extras"]),
        suggestion_limit=int(data["suggestion_limit"]),
        valid_hours=int(data["valid_hours"]),
        min_group=int(data.get("min_group", MIN_GROUP)),  # versions written before it: 5
    )


__all__ = [
    "DEFAULT",
    "ELEMENTS",
    "ELEMENT_KEYS",
    "PROFILE",
    "PROFILE_KEYS",
    "SCALE",
    "Instrument",
    "ProfileField",
    "Question",
    "Text",
    "configure",
    "from_dict",
]
