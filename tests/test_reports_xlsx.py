"""The exports' XLSX writer (qms/reports/xlsx.py): what it writes, openpyxl reads back as
the same values, types, styles and frozen header."""

from __future__ import annotations

import io
import zipfile
from datetime import date, datetime
from typing import Any

import openpyxl  # type: ignore[import-untyped]
import pytest

from qms.reports import xlsx

STAMP = datetime(2025, 3, 4, 8, 15, 30, 250_000)
ROWS: list[list[Any]] = [
    ["name", "n", "share", "ok", "at", "day", "list", "gap", "last"],
    ["plain", 3, 0.25, True, STAMP, date(2025, 3, 4), ["a", 1], None, "x"],
    ['<&> "q"', -7, 1e-9, False, datetime(1900, 3, 1), date(2024, 2, 29), [], None, "=1+1"],
    [" lead\ttab\x01ctl ", 2**40, 123456.789, None, None, None, None, None, "plain"],
    [],
    ["short"],
]


def read(data: bytes, read_only: bool) -> Any:
    return openpyxl.load_workbook(io.BytesIO(data), read_only=read_only)


@pytest.mark.parametrize("read_only", [False, True])
def test_openpyxl_reads_back_every_value(read_only: bool) -> None:
    data = xlsx.write([("Ringkasan", ROWS), ("Per hari x jam", [["k"], [1]])])
    book = read(data, read_only)
    assert book.sheetnames == ["Ringkasan", "Per hari x jam"]
    got = [list(r) for r in book["Ringkasan"].iter_rows(values_only=True)]
    width = len(ROWS[0])
    want = [[*row, *[None] * (width - len(row))] for row in ROWS]
    want[1][6], want[2][6] = "a,1", ""  # lists as their items joined by commas
    want[3][0] = " lead\ttab_x0001_ctl "  # a control character as Excel writes it
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        for a, b in zip(g, w, strict=True):
            if isinstance(b, float):
                assert a == pytest.approx(b, rel=1e-15)
            elif isinstance(b, datetime):  # Excel's serial days: exact to the millisecond
                assert isinstance(a, datetime) and abs((a - b).total_seconds()) < 1e-3
            elif isinstance(b, date):
                assert a == datetime(b.year, b.month, b.day)
            elif isinstance(b, bool) or b is None:
                assert a is b
            else:
                assert a == b and type(a) is type(b)
    assert [list(r) for r in book["Per hari x jam"].iter_rows(values_only=True)] == [["k"], [1]]


def test_header_bold_dates_formatted_and_header_frozen() -> None:
    book = read(xlsx.write([("S", ROWS)]), read_only=False)
    sheet = book["S"]
    assert sheet.freeze_panes == "A2"
    assert all(cell.font.b for cell in sheet[1])
    assert not sheet["A2"].font.b
    assert sheet["E2"].number_format == "yyyy\\-mm\\-dd\\ hh:mm:ss"
    assert sheet["F2"].number_format == "yyyy\\-mm\\-dd"
    assert sheet.dimensions == "A1:I6"


def test_the_package_lists_each_part_once() -> None:
    with zipfile.ZipFile(io.BytesIO(xlsx.write([("A", [["x"]]), ("B", [])]))) as zf:
        names = zf.namelist()
        assert len(names) == len(set(names))
        assert zf.testzip() is None
        assert "xl/worksheets/sheet2.xml" in names and "xl/sharedStrings.xml" in names


@pytest.mark.parametrize("names", [[], ["a", "a"], ["x" * 32], [""]])
def test_bad_sheet_names_are_refused(names: list[str]) -> None:
    with pytest.raises(ValueError, match="sheet names"):
        xlsx.write([(n, [["x"]]) for n in names])


def test_column_names() -> None:
    assert [xlsx.column_name(i) for i in (0, 25, 26, 51, 52, 701, 702)] == [
        "A", "Z", "AA", "AZ", "BA", "ZZ", "AAA"
    ]  # fmt: skip
