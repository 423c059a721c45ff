"""The exports of responses: CSV and a hand-written XLSX (read back here as XML)."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
import zipfile
from datetime import date

from qms.survey.aggregate import Record
from qms.survey.export import COLUMNS, rows, to_csv, to_xlsx

NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}


def records() -> list[Record]:
    return [
        Record(
            date(2026, 3, 9),
            (4,) * 9,
            {"service": "ktp", "officer": "budi", "answered_on": "tablet"},
            "=1+1",
        ),
        Record(date(2026, 2, 1), (3,) * 9, {"service": "kk", "usia": "30-39"}, "Baik <b>&</b>"),
    ]


def test_rows_carry_no_officer_counter_or_day_and_are_sorted() -> None:
    out = rows(records())
    assert [r[0] for r in out] == ["2026-02", "2026-03"]  # the month, sorted by content
    assert len(out[0]) == len(COLUMNS) and "officer" not in COLUMNS and "counter" not in COLUMNS
    assert out[1][-1] == "'=1+1"  # a formula is text
    assert out[1][COLUMNS.index("answered_on")] == "tablet"  # where, never who or when
    assert "budi" not in str(out)


def test_csv() -> None:
    text = to_csv(records()).decode("utf-8")
    assert text.startswith("\ufeffperiod,service,agency,channel,answered_on,U1,")
    assert text.count("\r\n") == 3


def sheet(z: zipfile.ZipFile, n: int) -> list[list[str]]:
    root = ET.fromstring(z.read(f"xl/worksheets/sheet{n}.xml"))
    out = []
    for row in root.iterfind(".//m:row", NS):
        cells = []
        for c in row.iterfind("m:c", NS):
            v = c.find("m:v", NS)
            t = c.find(".//m:t", NS)
            cells.append(v.text if v is not None else (t.text if t is not None else ""))
        out.append([x or "" for x in cells])
    return out


def test_xlsx_has_the_responses_and_the_calculation_sheet() -> None:
    with zipfile.ZipFile(io.BytesIO(to_xlsx(records()))) as z:
        for name in z.namelist():
            if name.endswith((".xml", ".rels")):
                ET.fromstring(z.read(name))  # every part is well-formed XML
        responses = sheet(z, 1)
        assert responses[0] == list(COLUMNS)
        assert responses[1][5:14] == ["3"] * 9 and "Baik <b>&</b>" in responses[1]
        calc = {row[0]: row[1:] for row in sheet(z, 2)}
    assert calc["NRR"] == ["3.500"] * 9
    assert calc["IKM konversi / converted (x25)"] == ["87.50"]
    assert calc["Mutu pelayanan / grade"] == ["B (Baik)"]
