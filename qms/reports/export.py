"""Exports: the report's tables as CSV (one table) or XLSX (every table, one sheet each).

Every number is the very value `Reports` answers the API with (no rounding, no
conversion: seconds and fractions), flattened to columns (`wait.p50`), so that
the cards, the API and the exports agree (tests/test_reports_export.py). Each
table has a header row of column names; the summary is one row per measure with
its value, the period before and the change.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from qms.reports import xlsx
from qms.reports.errors import ReportError
from qms.reports.query import Reports
from qms.reports.scope import Scope

Table = tuple[list[str], Sequence[Sequence[Any]]]

# Indonesian first, English second: the measures' names in the summary table.
LABELS = {
    "visits": "Kunjungan / Visits",
    "tickets": "Tiket / Tickets",
    "outcomes.served": "Dilayani / Served",
    "outcomes.no_show": "Tidak hadir / No-show",
    "outcomes.cancelled": "Batal (pergi) / Left",
    "outcomes.expired": "Tidak terlayani / Expired",
    "outcomes.transferred": "Dialihkan / Transferred",
    "outcomes.going_on": "Berjalan / Going on",
    "rates.served": "% dilayani / % served",
    "rates.no_show": "% tidak hadir / % no-show",
    "rates.left": "% batal / % left",
    "rates.expired": "% tidak terlayani / % expired",
    "rates.transferred": "% dialihkan / % transferred",
    "rates.within_target": "% sesuai target / % within target",
}
STAT_NAMES = {"wait": "Tunggu / Wait", "walk": "Menuju loket / Walk",
              "service": "Layanan / Service", "hall": "Di gedung / In hall"}  # fmt: skip


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"wait": {"p50": 1}} -> {"wait.p50": 1}."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out


def label(measure: str) -> str:
    if measure in LABELS:
        return LABELS[measure]
    head, _, stat = measure.partition(".")
    return f"{STAT_NAMES.get(head, head)} {stat} (s)" if stat else measure


def _rows(items: Iterable[Mapping[str, Any]], first: Iterable[str] = ()) -> Table:
    flat = [flatten(item) for item in items]
    columns: list[str] = list(first)
    for row in flat:
        columns += [k for k in row if k not in columns]
    return columns, [[row.get(c) for c in columns] for row in flat]


def summary_table(summary: Mapping[str, Any]) -> Table:
    current = flatten(summary["measures"])
    previous = flatten(summary["previous"]["measures"])
    change = flatten(summary["change"])
    columns = ["measure", "label", "value", "previous", "change"]
    rows = [[k, label(k), v, previous.get(k), change.get(k)] for k, v in current.items()]
    return columns, rows


def _breakdown(by: str) -> Callable[[Reports, Scope, float], Table]:
    return lambda r, s, now: _rows(r.breakdown(s, by, now)["rows"], ["key"])


STAFF_FIELDS = ("open_s", "paused_s", "busy_s", "idle_waiting_s", "idle_s", "utilisation")


def _cut_with_staff(by: str) -> Callable[[Reports, Scope, float], Table]:
    """Per counter or officer as the page's table shows it: every measure of the visits,
    then the time of the same counter or officer (`staff.open_s`, …)."""

    def make(r: Reports, s: Scope, now: float) -> Table:
        time = {row["key"]: row for row in r.staff(s, by, now)["rows"]}
        rows = r.breakdown(s, by, now)["rows"]
        both = [{**row, "staff": {f: time.get(row["key"], {}).get(f) for f in STAFF_FIELDS}}
                for row in rows]  # fmt: skip
        return _rows(both, ["key"])

    return make


def _staff(by: str) -> Callable[[Reports, Scope, float], Table]:
    return lambda r, s, now: _rows(r.staff(s, by, now)["rows"], ["key"])


# name -> (sheet title, how to make it); the order of the XLSX's sheets.
TABLES: dict[str, tuple[str, Callable[[Reports, Scope, float], Table]]] = {
    "summary": ("Ringkasan", lambda r, s, now: summary_table(r.summary(s, now))),
    "site": ("Per lokasi", _breakdown("site")),
    "agency": ("Per instansi", _breakdown("agency")),
    "service": ("Per layanan", _breakdown("service")),
    "counter": ("Per loket", _cut_with_staff("counter")),
    "officer": ("Per petugas", _cut_with_staff("officer")),
    "channel": ("Per kanal", _breakdown("channel")),
    "priority": ("Per prioritas", _breakdown("priority")),
    "day": ("Per hari", _breakdown("day")),
    "intervals": ("Per jam", lambda r, s, now: _rows(r.intervals(s, 60, now)["rows"])),
    "heatmap": ("Hari x jam", lambda r, s, now: _rows(r.heatmap(s, now)["cells"])),
    "staff_counter": ("Waktu loket", _staff("counter")),
    "staff_officer": ("Waktu petugas", _staff("officer")),
    "visits": ("Kunjungan", lambda r, s, now: r.visits(s, now)),
}
FORMATS = ("csv", "xlsx")


def check(fmt: str | None, table: str | None) -> tuple[str, str | None]:
    """The format and table asked for: a CSV is one table (default `summary`); an XLSX
    every table, or the one named."""
    fmt = fmt or "csv"
    if fmt not in FORMATS:
        raise ReportError("invalid_dimension", f"format {fmt!r}", allowed=list(FORMATS))
    if table is None:
        return fmt, "summary" if fmt == "csv" else None
    if table not in TABLES:
        raise ReportError("invalid_dimension", f"no table {table!r}", allowed=list(TABLES))
    return fmt, table


def _cell(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list):
        return ",".join(map(str, value))
    return value


def to_csv(table: Table) -> bytes:
    """RFC 4180, UTF-8 with a byte-order mark (so that spreadsheets read it as UTF-8)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    columns, rows = table
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if v is None else _cell(v) for v in row])
    return ("\ufeff" + out.getvalue()).encode()


def csv_export(reports: Reports, scope: Scope, table: str, now: float) -> bytes:
    return to_csv(TABLES[table][1](reports, scope, now))


def xlsx_export(
    reports: Reports,
    scope: Scope,
    now: float,
    title: str,
    only: str | None = None,
    extra: Mapping[str, tuple[str, Callable[[Reports, Scope, float], Table]]] | None = None,
) -> bytes:
    """Every table (or `only` that one), one sheet each, after a sheet that says what the
    report is; then the `extra` tables (name -> (sheet title, how to make it)), as the
    survey's sheet (qms.reports.responses). Written by `qms.reports.xlsx`: texts stay
    texts, numbers numbers, times dates."""
    about: list[list[Any]] = [[title], []]
    about += [[site, p["first"], p["last"], p["days"]]
              for site, p in sorted(scope.to_dict()["sites"].items())]  # fmt: skip
    filters = scope.filters.to_dict()
    about += [[], ["Filter: " + (repr(filters) if filters else "-")]]
    sheets: list[xlsx.Sheet] = [("Laporan", about)]
    for name, (sheet_name, make) in [*TABLES.items(), *(extra or {}).items()]:
        if only is not None and name != only:
            continue
        columns, rows = make(reports, scope, now)
        sheets.append((sheet_name, [columns, *rows]))
    return xlsx.write(sheets)
