"""The demo's simulated survey respondents: who answers, when, and what (pure, no I/O).

`qms demo --history` asks some served visitors of each simulated day to rate their
visit (`qms.demo_history` submits the answers through the engine, on the ticket's
token, on the simulated clock). The scores follow the visit so the published index
means something on a demo: a long wait lowers *waktu penyelesaian* (U3) and a
little *prosedur* (U2), a visitor sent from one queue to another rates procedure
and requirements lower, each officer has their own manner (U7) and skill (U6), the
hall's complaint handling (U8) and waiting room (U9) are its weakest elements and
the service is free (U4 "Gratis" for most). Everything is drawn from the `rng`
given, so a seed gives the same answers.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from qms.survey.instrument import ELEMENT_KEYS

# The share of a day's served visitors who answer is drawn per day in this range.
ANSWER_SHARE = (0.20, 0.35)
# Most answer at once, still in the hall; the others later that day, at home.
SOON_SHARE = 0.7
SOON_MIN = (0.5, 15.0)  # minutes after the completion
LATER_MIN = (30.0, 360.0)
WALK_UPS_PER_DAY = (0, 3)  # answers on the services' walk-up QR codes
SUGGESTION_SHARE = 0.12
PROFILE_SHARE = 0.8  # each profile field is answered by this share, skipped by the rest

# Each element's mean score before the visit's own effects (1-4).
BASE = {
    "U1": 3.35,  # persyaratan
    "U2": 3.25,  # prosedur
    "U3": 3.35,  # waktu penyelesaian: lowered by the wait, below
    "U4": 3.85,  # biaya: the services are free
    "U5": 3.35,  # produk
    "U6": 3.40,  # kompetensi: the officer's
    "U7": 3.45,  # perilaku: the officer's
    "U8": 2.95,  # penanganan pengaduan: the hall's weakest
    "U9": 3.05,  # sarana dan prasarana: a crowded waiting room
}
MOOD_SD = 0.30  # one respondent's general leaning, on every element
NOISE_SD = 0.45  # each answer's own spread

PROFILE_CHOICES: dict[str, tuple[tuple[str, ...], tuple[int, ...]]] = {
    "jenis_kelamin": (("L", "P"), (52, 48)),
    "usia": (("<20", "20-29", "30-39", "40-49", "50-59", "60+"), (4, 27, 28, 21, 13, 7)),
    "pendidikan": (("SD", "SMP", "SMA", "D1-D3", "D4-S1", "S2", "S3"), (6, 10, 42, 12, 25, 4, 1)),
    "pekerjaan": (
        ("PNS", "TNI", "POLRI", "SWASTA", "WIRAUSAHA", "PELAJAR", "LAINNYA"),
        (10, 2, 2, 33, 28, 9, 16),
    ),
}

# Suggestions, by the element the respondent rated lowest (and a few thanks).
SUGGESTIONS: dict[str, tuple[str, ...]] = {
    "U1": (
        "Persyaratan sebaiknya diumumkan lengkap di website supaya tidak bolak-balik.",
        "Mohon daftar syarat ditempel di depan loket.",
    ),
    "U2": (
        "Alurnya membingungkan, saya sempat salah antre.",
        "Perlu petugas informasi di pintu masuk untuk mengarahkan ke loket yang benar.",
    ),
    "U3": (
        "Antrean terlalu lama, mohon tambah petugas pada jam sibuk.",
        "Menunggu lebih dari satu jam, loket yang buka sedikit.",
        "Pagi hari antrean panjang sekali, mohon loket dibuka tepat waktu.",
    ),
    "U5": ("Hasil dokumen ada yang salah ketik, mohon lebih teliti.",),
    "U6": ("Petugas kurang paham prosedur, harus bertanya ke rekannya.",),
    "U7": ("Petugas kurang ramah, mohon senyum dan sapa.",),
    "U8": (
        "Tidak tahu ke mana harus menyampaikan pengaduan.",
        "Kotak saran ada tetapi tidak pernah ada tanggapan.",
    ),
    "U9": (
        "Kursi ruang tunggu kurang, banyak yang berdiri.",
        "Ruang tunggu panas, AC mohon diperbaiki.",
        "Toilet perlu lebih bersih.",
        "Parkir sempit dan penuh.",
    ),
    "": (
        "Pelayanan cepat dan ramah, terima kasih.",
        "Sudah bagus, pertahankan.",
        "Terima kasih, petugas sangat membantu.",
    ),
}


@dataclass(frozen=True, slots=True)
class Visit:
    """What a respondent's scores depend on."""

    wait_min: float  # from taking the ticket to being called
    transferred: bool  # sent on from another queue
    officer: str  # the officer who served them


def officer_manners(seed: int, officers: list[str]) -> dict[str, tuple[float, float]]:
    """Each officer's effect on (U6 competence, U7 manner): most are fine, one or two less."""
    rng = random.Random(f"{seed}-manners")
    return {
        o: (round(rng.uniform(-0.35, 0.2), 2), round(rng.uniform(-0.45, 0.2), 2)) for o in officers
    }


def _score(mean: float, rng: random.Random) -> int:
    return min(4, max(1, round(mean + rng.gauss(0, NOISE_SD))))


def scores(
    visit: Visit, rng: random.Random, manners: dict[str, tuple[float, float]]
) -> dict[str, int]:
    """U1…U9 of one respondent for `visit`."""
    mean = dict(BASE)
    mood = rng.gauss(0, MOOD_SD)
    # A quarter-hour costs little; an hour costs about one point on U3.
    late = max(0.0, visit.wait_min - 15) / 45
    mean["U3"] -= min(1.6, late)
    mean["U2"] -= min(0.5, late / 3)
    mean["U9"] -= min(0.4, late / 4)  # a long time on the waiting room's chairs
    if visit.transferred:
        mean["U2"] -= 0.7
        mean["U1"] -= 0.4
    skill, manner = manners.get(visit.officer, (0.0, 0.0))
    mean["U6"] += skill
    mean["U7"] += manner
    out = {k: _score(mean[k] + mood, rng) for k in ELEMENT_KEYS}
    if rng.random() < 0.75:  # free of charge: most say so, whatever their mood
        out["U4"] = 4
    return out


def profile(rng: random.Random) -> dict[str, str]:
    out = {}
    for key, (codes, weights) in PROFILE_CHOICES.items():
        if rng.random() < PROFILE_SHARE:
            out[key] = rng.choices(codes, weights=weights)[0]
    if out.get("usia") == "<20" and "pekerjaan" in out and rng.random() < 0.7:
        out["pekerjaan"] = "PELAJAR"
    return out


def suggestion(answers: dict[str, int], rng: random.Random) -> str:
    """A line of free text, about the element the respondent rated lowest (or thanks)."""
    low = min(answers.values())
    worst = [k for k in ELEMENT_KEYS if answers[k] == low and k in SUGGESTIONS]
    topic = rng.choice(worst) if low <= 2 and worst else ""
    return rng.choice(SUGGESTIONS[topic])


def response(answers: dict[str, int], rng: random.Random, with_text: bool = True) -> dict[str, Any]:
    """The body a visitor's page sends (docs/survey.md, "Answers")."""
    body: dict[str, Any] = {"answers": answers, "profile": profile(rng)}
    if with_text and rng.random() < SUGGESTION_SHARE:
        body["suggestion"] = suggestion(answers, rng)
    return body


def delay_s(rng: random.Random) -> float:
    """Seconds from the completion to the answer."""
    low, high = SOON_MIN if rng.random() < SOON_SHARE else LATER_MIN
    return rng.uniform(low, high) * 60


# The follow-up plan (rencana tindak lanjut) the demo's admin writes for the weakest
# elements of the published period: one action per element, as halls word them.
PLAN_ACTIONS = {
    "U1": "Mengumumkan persyaratan setiap layanan secara lengkap di loket informasi dan"
    " website, dengan contoh berkas yang benar.",
    "U2": "Menyederhanakan alur layanan dan memasang papan alur di setiap zona.",
    "U3": "Menambah satu loket pada jam sibuk (09.00-11.00) dan memantau waktu tunggu"
    " harian terhadap target.",
    "U4": "Menegaskan di setiap loket bahwa layanan tidak dipungut biaya.",
    "U5": "Memeriksa kesesuaian produk layanan dengan standar pelayanan setiap bulan.",
    "U6": "Pelatihan teknis petugas loket setiap triwulan.",
    "U7": "Pelatihan pelayanan prima dan evaluasi sikap petugas setiap bulan.",
    "U8": "Membuka kanal pengaduan di loket informasi dan lewat WhatsApp, dengan jawaban"
    " paling lambat 3 hari kerja dan rekap bulanan kepada kepala MPP.",
    "U9": "Menambah kursi tunggu, memperbaiki pendingin ruangan dan menjaga kebersihan"
    " toilet di ruang tunggu.",
}
PLAN_ELEMENTS = 2  # the plan answers this many of the lowest elements


def follow_up_plan(period: str, nrr: dict[str, Any]) -> dict[str, Any]:
    """The plan for `period` (a label, e.g. 2026-Q4) from each element's NRR: the
    `PLAN_ELEMENTS` lowest, each with its action (the body of `write_survey_plan`)."""
    weakest = sorted(nrr, key=lambda key: (nrr[key], key))[:PLAN_ELEMENTS]
    elements = [k for k in ELEMENT_KEYS if k in weakest]
    text = " ".join(f"{k}: {PLAN_ACTIONS[k]}" for k in elements)
    return {"period": period, "elements": elements, "text": text}
