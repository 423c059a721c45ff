"""A demo hall modelled on a real MPP: agencies, services and counters.

Used by `qms demo`, by the benchmarks and by tests that want a realistic hall.
"""

from __future__ import annotations

from typing import Any

SITE = {"site": "mpp-bengkulu", "name": "MPP Kota Bengkulu", "timezone": "Asia/Jakarta"}

AGENCIES = [
    ("disdukcapil", "Dinas Kependudukan dan Pencatatan Sipil"),
    ("dpmptsp", "DPMPTSP (Perizinan)"),
    ("samsat", "Samsat"),
    ("bpjs", "BPJS Kesehatan"),
    ("imigrasi", "Kantor Imigrasi"),
    ("bpn", "Kantor Pertanahan"),
]

# id, agency, prefix, name (id), name (en), target wait (min), mean service time (min)
SERVICES = [
    ("ktp", "disdukcapil", "A", "KTP-el", "Electronic ID card", 20, 6),
    ("kk", "disdukcapil", "B", "Kartu Keluarga", "Family card", 20, 8),
    ("akta", "disdukcapil", "C", "Akta Kelahiran", "Birth certificate", 25, 10),
    ("nib", "dpmptsp", "D", "NIB / OSS", "Business ID (NIB)", 30, 12),
    ("pbg", "dpmptsp", "E", "Persetujuan Bangunan Gedung", "Building approval", 30, 15),
    ("pkb", "samsat", "F", "Pajak Kendaraan Tahunan", "Annual vehicle tax", 15, 5),
    ("bbn", "samsat", "G", "Balik Nama Kendaraan", "Vehicle ownership transfer", 25, 12),
    ("jkn", "bpjs", "H", "Kepesertaan JKN", "JKN membership", 20, 8),
    ("paspor", "imigrasi", "J", "Paspor", "Passport", 30, 15),
    ("sertifikat", "bpn", "K", "Pengecekan Sertifikat", "Land certificate check", 30, 10),
    ("roya", "bpn", "L", "Roya", "Mortgage release", 30, 12),
    ("info", "dpmptsp", "M", "Informasi & Pengaduan", "Information & complaints", 10, 4),
]

# id, name, zone, services in order of preference
COUNTERS = [
    ("L1", "Loket 1", "A", ["ktp", "kk"]),
    ("L2", "Loket 2", "A", ["kk", "akta", "ktp"]),
    ("L3", "Loket 3", "A", ["akta", "ktp"]),
    ("L4", "Loket 4", "B", ["nib", "pbg", "info"]),
    ("L5", "Loket 5", "B", ["pbg", "nib"]),
    ("L6", "Loket 6", "C", ["pkb", "bbn"]),
    ("L7", "Loket 7", "C", ["bbn", "pkb"]),
    ("L8", "Loket 8", "D", ["jkn"]),
    ("L9", "Loket 9", "D", ["paspor"]),
    ("L10", "Loket 10", "D", ["sertifikat", "roya", "info"]),
]

MEAN_SERVICE_MIN = {s[0]: s[6] for s in SERVICES}


def setup_commands() -> list[dict[str, Any]]:
    """The commands that set the demo hall up (idempotent: set-up replaces)."""
    cmds: list[dict[str, Any]] = [{"type": "set_up_site", **SITE}]
    cmds += [{"type": "set_up_agency", "agency": a, "name": n} for a, n in AGENCIES]
    for sid, agency, prefix, name_id, name_en, target, _ in SERVICES:
        cmds.append(
            {
                "type": "set_up_service",
                "service": sid,
                "agency": agency,
                "prefix": prefix,
                "name_id": name_id,
                "name_en": name_en,
                "target_wait_min": target,
            }
        )
    for cid, name, zone, services in COUNTERS:
        cmds.append(
            {
                "type": "set_up_counter",
                "counter": cid,
                "name": name,
                "zone": zone,
                "services": services,
            }
        )
    return cmds
