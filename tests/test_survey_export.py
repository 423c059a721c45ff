"""The exports of responses: CSV and an XLSX written by qms/reports/xlsx.py (read back here
with openpyxl)."""

from __future__ import annotations

import io
from datetime import date
from typing import Any

import openpyxl  # type: ignore[import-untyped]

from qms.survey.aggregate import Record
from qms.survey.export import COLUMNS, rows, to_csv, to_xlsx


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


def sheets(data: bytes) -> dict[str, list[list[Any]]]:
    """Each sheet's rows of values, without the empty cells openpyxl pads a short row with."""
    book = openpyxl.load_workbook(io.BytesIO(data))
    out = {}
    for ws in book.worksheets:
        table = [[c.value for c in row] for row in ws.iter_rows()]
        for row in table:
            while row and row[-1] is None:
                row.pop()
        out[ws.title] = table
    return out


def test_xlsx_has_the_responses_and_the_calculation_sheet() -> None:
    book = sheets(to_xlsx(records()))
    assert list(book) == ["Responden", "Perhitungan IKM"]
    responses = book["Responden"]
    assert responses[0] == list(COLUMNS)
    assert responses[1][5:14] == [3] * 9 and "Baik <b>&</b>" in responses[1]
    calc = {row[0]: row[1:] for row in book["Perhitungan IKM"]}
    assert calc["NRR"] == [3.5] * 9
    assert calc["IKM (1-4)"] == [3.5]
    assert calc["IKM konversi / converted (x25)"] == [87.5]
    assert calc["Responden / respondents"][0] == 2
    assert calc["Mutu pelayanan / grade"][0] == "B (Baik)"


def test_xlsx_figures_are_numbers_and_texts_stay_text() -> None:
    answers = [Record(date(2026, 3, 9), (4,) * 9, {"service": "01", "usia": "30"}, "007")]
    book = openpyxl.load_workbook(io.BytesIO(to_xlsx(answers)))
    response = [c for c in next(book["Responden"].iter_rows(min_row=2))]
    by_column = dict(zip(COLUMNS, response, strict=False))
    # What was typed stays as typed: "007" is not the number 7, "01" not 1.
    assert (by_column["suggestion"].value, by_column["suggestion"].data_type) == ("007", "s")
    assert (by_column["service"].value, by_column["service"].data_type) == ("01", "s")
    assert (by_column["usia"].value, by_column["usia"].data_type) == ("30", "s")
    assert by_column["U1"].data_type == "n"
    calc = {row[0].value: row[1:] for row in book["Perhitungan IKM"].iter_rows()}
    assert all(c.data_type == "n" and c.value == 4.0 for c in calc["NRR"])
    assert calc["IKM konversi / converted (x25)"][0].data_type == "n"
