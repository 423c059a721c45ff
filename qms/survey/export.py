"""Exports of a period's responses: CSV, and XLSX with the calculation sheet halls submit.

One row per response: its month (not its day: a day and a service could point
at a ticket), service, agency, channel, where it was answered (phone, tablet,
walk_up), U1…U9, the profile and the suggestion.
Never the ticket, its number, the counter, the officer or the time. Rows are
sorted by their content, not kept in the order they were answered, for the
same reason. A text cell that a spreadsheet would run as a formula (starting
with = + - @, a tab or a carriage return) is prefixed with an apostrophe.

The XLSX is written by hand (SpreadsheetML: a zip of a few XML files, inline
strings), so the package needs no spreadsheet library.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable, Sequence
from xml.sax.saxutils import escape

from qms.survey.aggregate import Record
from qms.survey.index import Index, Tally, compute, round_half_up
from qms.survey.instrument import ELEMENT_KEYS, PROFILE_KEYS

COLUMNS = (
    "period",
    "service",
    "agency",
    "channel",
    "answered_on",
    *ELEMENT_KEYS,
    *PROFILE_KEYS,
    "suggestion",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

Cell = str | int


def _safe(text: str) -> str:
    return "'" + text if text.startswith(_FORMULA_START) else text


def rows(records: Iterable[Record]) -> list[list[Cell]]:
    """The responses as rows of `COLUMNS`, sorted by their content."""
    out: list[list[Cell]] = []
    for r in records:
        v = r.values
        row: list[Cell] = [f"{r.day.year}-{r.day.month:02d}"]
        row += [_safe(v.get(k) or "") for k in ("service", "agency", "channel", "answered_on")]
        row += list(r.scores)
        row += [_safe(v.get(k) or "") for k in PROFILE_KEYS]
        row.append(_safe(r.suggestion))
        out.append(row)
    out.sort(key=lambda row: [str(c) for c in row])
    return out


def to_csv(records: Iterable[Record]) -> bytes:
    """UTF-8 with a byte order mark, so a spreadsheet opens the Indonesian text right."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerows(rows(records))
    return ("\ufeff" + buffer.getvalue()).encode()


def calculation(index: Index | None, tally: Tally) -> list[list[Cell]]:
    """The calculation sheet (PermenPAN-RB 14/2017): per element the sum, NRR, weighted NRR;
    then the IKM, converted, and the grade. Figures rounded once, from the exact values."""
    head: list[Cell] = ["", *ELEMENT_KEYS]
    table: list[list[Cell]] = [head, ["Jumlah nilai / sum", *tally.sums]]
    if index is None:
        return [*table, ["Responden / respondents", tally.respondents], ["IKM", "-"]]
    table.append(["NRR", *(str(round_half_up(v, 3)) for v in index.nrr)])
    table.append(["NRR tertimbang / weighted", *(str(round_half_up(v, 3)) for v in index.weighted)])
    table += [
        ["Responden / respondents", index.respondents],
        ["IKM (1-4)", str(round_half_up(index.ikm, 3))],
        ["IKM konversi / converted (x25)", str(index.published)],
        ["Mutu pelayanan / grade", f"{index.grade.letter} ({index.grade.id})"],
        ["Unsur terendah / lowest", ", ".join(index.lowest)],
    ]
    return table


def _cell(ref: str, value: Cell) -> str:
    if isinstance(value, int):
        return f'<c r="{ref}"><v>{value}</v></c>'
    if _is_number(value):
        return f'<c r="{ref}"><v>{value}</v></c>'
    text = escape(value)
    return f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>'


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return text.replace(".", "", 1).isdigit()


def _column(i: int) -> str:
    name = ""
    i += 1
    while i:
        i, rest = divmod(i - 1, 26)
        name = chr(65 + rest) + name
    return name


def _sheet(table: Sequence[Sequence[Cell]]) -> str:
    lines = []
    for r, row in enumerate(table, start=1):
        cells = "".join(_cell(f"{_column(c)}{r}", v) for c, v in enumerate(row))
        lines.append(f'<row r="{r}">{cells}</row>')
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f"<sheetData>{''.join(lines)}</sheetData></worksheet>"
    )


_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_SHEET_TYPE = _REL + "/worksheet"


def to_xlsx(records: Sequence[Record]) -> bytes:
    """Two sheets: "Responden" (one row per response) and "Perhitungan IKM"."""
    tally = Tally.of(r.scores for r in records)
    sheets: list[tuple[str, list[list[Cell]]]] = [
        ("Responden", [list(COLUMNS), *rows(records)]),
        ("Perhitungan IKM", calculation(compute(tally), tally)),
    ]
    types = "".join(
        f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        for i in range(1, len(sheets) + 1)
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/'
            'vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            f"{types}</Types>",
        )
        z.writestr(
            "_rels/.rels",
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{_REL}/officeDocument" Target="xl/workbook.xml"/>'
            "</Relationships>",
        )
        names = "".join(
            f'<sheet name="{escape(name)}" sheetId="{i}" r:id="rId{i}"/>'
            for i, (name, _) in enumerate(sheets, start=1)
        )
        z.writestr(
            "xl/workbook.xml",
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            f'<workbook xmlns="{_MAIN}" xmlns:r="{_REL}"><sheets>{names}</sheets></workbook>',
        )
        rels = "".join(
            f'<Relationship Id="rId{i}" Type="{_SHEET_TYPE}" Target="worksheets/sheet{i}.xml"/>'
            for i in range(1, len(sheets) + 1)
        )
        z.writestr(
            "xl/_rels/workbook.xml.rels",
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f"{rels}</Relationships>",
        )
        for i, (_, table) in enumerate(sheets, start=1):
            z.writestr(f"xl/worksheets/sheet{i}.xml", _sheet(table))
    return buffer.getvalue()
