"""Exports of a period's responses: CSV, and XLSX with the calculation sheet halls submit.

One row per response: its month (not its day: a day and a service could point
at a ticket), service, agency, channel, where it was answered (phone, tablet,
walk_up), U1…U9, the profile and the suggestion.
Never the ticket, its number, the counter, the officer or the time. Rows are
sorted by their content, not kept in the order they were answered, for the
same reason. A text cell that a spreadsheet would run as a formula (starting
with = + - @, a tab or a carriage return) is prefixed with an apostrophe.

The XLSX is written by the exports' own writer (`qms.reports.xlsx`), so the
package needs no spreadsheet library: texts stay text, the figures are numbers.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from qms.reports import xlsx
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

Cell = str | int | float


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
    for name, figures in (("NRR", index.nrr), ("NRR tertimbang / weighted", index.weighted)):
        table.append([name, *(float(round_half_up(v, 3)) for v in figures)])
    table += [
        ["Responden / respondents", index.respondents],
        ["IKM (1-4)", float(round_half_up(index.ikm, 3))],
        ["IKM konversi / converted (x25)", float(index.published)],
        ["Mutu pelayanan / grade", f"{index.grade.letter} ({index.grade.id})"],
        ["Unsur terendah / lowest", ", ".join(index.lowest)],
    ]
    return table


def to_xlsx(records: Sequence[Record]) -> bytes:
    """Two sheets: "Responden" (one row per response) and "Perhitungan IKM"."""
    tally = Tally.of(r.scores for r in records)
    return xlsx.write(
        [
            ("Responden", [list(COLUMNS), *rows(records)]),
            ("Perhitungan IKM", calculation(compute(tally), tally)),
        ]
    )
