"""A small XLSX (Office Open XML spreadsheet) writer for the exports: sheets of rows, the
first row of each bold, numbers as numbers, times as Excel dates, texts as shared strings.

A month's visits sheet is ~1.7 million cells. A general writer (xlsxwriter) spends a few
µs on each (9 s for a month); this one writes each row's XML as one string and streams
the sheet into its zip entry (~0.5 µs a cell). What it writes is the least a valid
workbook needs (ECMA-376 part 1): content types, relationships, the workbook, styles
(regular, bold, date-time, date), shared strings and the sheets with the header row
frozen. Read back by openpyxl in tests/test_reports_export.py and tests/test_reports_xlsx.py.
"""

from __future__ import annotations

import io
import math
import re
import zipfile
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
MAX_ROWS, MAX_COLS = 1_048_576, 16_384
# Excel's day 0 as a date-time (1899-12-30: day 60 is the leap day 1900 never had).
_EPOCH = datetime(1899, 12, 30)
_DAY_S = 86_400.0
# Styles (cellXfs): 0 regular, 1 bold, 2 date-time, 3 date.
BOLD, STAMP, DAY = 1, 2, 3
_SPECIAL = re.compile(r"[&<>\"\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_CHUNK = 2_000  # rows per write into the zip entry

Sheet = tuple[str, Sequence[Sequence[Any]]]  # (name, rows; the first row bold)


def column_name(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    name = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        name = chr(65 + rem) + name
    return name


def escape(text: str) -> str:
    """XML text; characters XML 1.0 cannot hold are written as Excel's `_xHHHH_`."""
    if _SPECIAL.search(text) is None:
        return text
    text = _CONTROL.sub(lambda m: f"_x{ord(m.group()):04X}_", text)
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


def excel_time(value: datetime) -> float:
    """A naive date-time (site-local wall clock) as Excel's serial day number."""
    return (value - _EPOCH).total_seconds() / _DAY_S


class _Strings:
    """The workbook's shared strings: text -> index, in order of first use."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}

    def xml(self) -> bytes:
        items = "".join(f'<si><t xml:space="preserve">{escape(s)}</t></si>' for s in self.index)
        n = len(self.index)
        return (XML + f'<sst xmlns="{MAIN}" count="{n}" uniqueCount="{n}">{items}</sst>').encode()


def _rows_xml(rows: Iterable[Sequence[Any]], strings: dict[str, int], width: int) -> Iterable[str]:
    """Each row's `<row>` element, the first in bold; cells with None are left out."""
    names = [column_name(c) for c in range(width)]
    for r, row in enumerate(rows, 1):
        bold = ' s="1"' if r == 1 else ""
        parts = [f'<row r="{r}">']
        append = parts.append
        for name, value in zip(names, row, strict=False):
            if value is None:
                continue
            kind = type(value)
            if kind is str:
                i = strings.get(value)
                if i is None:
                    i = strings[value] = len(strings)
                append(f'<c r="{name}{r}"{bold} t="s"><v>{i}</v></c>')
            elif kind is float:
                if math.isfinite(value):
                    append(f'<c r="{name}{r}"{bold}><v>{value!r}</v></c>')
                else:  # Excel has no NaN or infinity
                    append(f'<c r="{name}{r}"{bold} t="inlineStr"><is><t>{value!r}</t></is></c>')
            elif kind is bool:
                append(f'<c r="{name}{r}"{bold} t="b"><v>{int(value)}</v></c>')
            elif kind is int:
                append(f'<c r="{name}{r}"{bold}><v>{value}</v></c>')
            elif kind is datetime:
                append(f'<c r="{name}{r}" s="{STAMP}"><v>{excel_time(value)!r}</v></c>')
            elif kind is date:
                at = datetime(value.year, value.month, value.day)
                append(f'<c r="{name}{r}" s="{DAY}"><v>{excel_time(at)!r}</v></c>')
            else:  # a list, a subclass of a number, anything else: its text
                text = ",".join(map(str, value)) if kind is list else str(value)
                i = strings.get(text)
                if i is None:
                    i = strings[text] = len(strings)
                append(f'<c r="{name}{r}"{bold} t="s"><v>{i}</v></c>')
        append("</row>")
        yield "".join(parts)


def _sheet(zf: zipfile.ZipFile, n: int, rows: Sequence[Sequence[Any]], strings: _Strings) -> None:
    width = max((len(row) for row in rows), default=0)
    if len(rows) > MAX_ROWS or width > MAX_COLS:
        raise ValueError(f"a sheet holds at most {MAX_ROWS} rows and {MAX_COLS} columns")
    last = f"{column_name(max(width, 1) - 1)}{max(len(rows), 1)}"
    frozen = (
        '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
        '<selection pane="bottomLeft" activeCell="A2" sqref="A2"/>'
    )
    head = (
        f'{XML}<worksheet xmlns="{MAIN}" xmlns:r="{RELS}"><dimension ref="A1:{last}"/>'
        f'<sheetViews><sheetView workbookViewId="0">{frozen}</sheetView></sheetViews>'
        '<sheetFormatPr defaultRowHeight="15"/><sheetData>'
    )
    with zf.open(f"xl/worksheets/sheet{n}.xml", "w", force_zip64=True) as out:
        out.write(head.encode())
        chunk: list[str] = []
        for row in _rows_xml(rows, strings.index, width):
            chunk.append(row)
            if len(chunk) >= _CHUNK:
                out.write("".join(chunk).encode())
                chunk.clear()
        out.write(("".join(chunk) + "</sheetData></worksheet>").encode())


_STYLES = (
    f'{XML}<styleSheet xmlns="{MAIN}">'
    '<numFmts count="2"><numFmt numFmtId="164" formatCode="yyyy\\-mm\\-dd\\ hh:mm:ss"/>'
    '<numFmt numFmtId="165" formatCode="yyyy\\-mm\\-dd"/></numFmts>'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="4"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    "</cellXfs>"
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)
_SHEET_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
_OFFICE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def write(sheets: Sequence[Sheet]) -> bytes:
    """The workbook of `sheets` (each a name of at most 31 characters and its rows)."""
    names = [name for name, _ in sheets]
    if not sheets or len(set(names)) != len(names) or any(not 0 < len(n) <= 31 for n in names):
        raise ValueError(f"sheet names must be unique, 1 to 31 characters: {names}")
    strings = _Strings()
    out = io.BytesIO()
    # Level 1: the sheets' XML is repetitive; level 6 takes ~3x as long for ~20 % less.
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        n = len(sheets)
        overrides = "".join(
            f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="{_SHEET_TYPE}"/>'
            for i in range(1, n + 1)
        )
        ct = "application/vnd.openxmlformats-officedocument.spreadsheetml"
        zf.writestr(
            "[Content_Types].xml",
            f'{XML}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
            'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{ct}.sheet.main+xml"/>'
            f'<Override PartName="/xl/styles.xml" ContentType="{ct}.styles+xml"/>'
            f'<Override PartName="/xl/sharedStrings.xml" ContentType="{ct}.sharedStrings+xml"/>'
            f"{overrides}</Types>",
        )
        zf.writestr(
            "_rels/.rels",
            f'{XML}<Relationships xmlns="{PKG_RELS}"><Relationship Id="rId1" '
            f'Type="{_OFFICE}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        )
        listed = "".join(
            f'<sheet name="{escape(name)}" sheetId="{i}" r:id="rId{i}"/>'
            for i, name in enumerate(names, 1)
        )
        zf.writestr(
            "xl/workbook.xml",
            f'{XML}<workbook xmlns="{MAIN}" xmlns:r="{RELS}"><bookViews><workbookView/>'
            f"</bookViews><sheets>{listed}</sheets></workbook>",
        )
        rels = "".join(
            f'<Relationship Id="rId{i}" Type="{_OFFICE}/worksheet" '
            f'Target="worksheets/sheet{i}.xml"/>'
            for i in range(1, n + 1)
        )
        rels += (
            f'<Relationship Id="rId{n + 1}" Type="{_OFFICE}/styles" Target="styles.xml"/>'
            f'<Relationship Id="rId{n + 2}" Type="{_OFFICE}/sharedStrings" '
            'Target="sharedStrings.xml"/>'
        )
        zf.writestr(
            "xl/_rels/workbook.xml.rels",
            f'{XML}<Relationships xmlns="{PKG_RELS}">{rels}</Relationships>',
        )
        zf.writestr("xl/styles.xml", _STYLES)
        for i, (_, rows) in enumerate(sheets, 1):
            _sheet(zf, i, rows, strings)
        zf.writestr("xl/sharedStrings.xml", strings.xml())
    return out.getvalue()
