"""Rows into DuckDB (`qms.reports.db.load`): a few rows (one VALUES list of parameters)
and many (one list per column) give the very same values and types."""

from __future__ import annotations

from qms.reports import db
from qms.reports.rows import VISIT_COLUMNS, Visit


def visit(i: int) -> Visit:
    at = 1_715_000_000.123457 + i / 7  # digits a decimal literal would round
    return Visit(
        "s-1", "Asia/Jayapura", "2024-05-06", f"t{i}", "A'0" + str(i), 1 + i % 2, i % 3 == 0,
        "ktp", "", "kiosk", "regular", None if i % 2 else "L2", at, at + 1.5, at + 2 / 3,
        None, at + 600 if i % 4 else None, None if i % 4 == 0 else "served", "L1", None,
        i, 0, 1, 0, 1 / 3 + i, None, 0.1 + 0.2, None, 1200.0, None if i % 3 else i % 2 == 0,
    )  # fmt: skip


def test_a_few_rows_load_as_many_rows_do() -> None:
    con = db.connect()
    try:
        rows = [visit(i) for i in range(2 * db.FEW_ROWS + 1)]
        assert len(rows) > db.FEW_ROWS
        db.load(con, "CREATE TABLE many AS ", rows, VISIT_COLUMNS)
        for n in (1, 2, db.FEW_ROWS):
            db.load(con, "CREATE OR REPLACE TABLE few AS ", rows[:n], VISIT_COLUMNS)
            assert con.execute("DESCRIBE few").fetchall() == con.execute("DESCRIBE many").fetchall()
            mine = con.execute("SELECT * FROM few ORDER BY ticket").fetchall()
            want = con.execute(
                "SELECT * FROM many WHERE list_contains($1, ticket) ORDER BY ticket",
                [[r.ticket for r in rows[:n]]],
            ).fetchall()
            assert mine == want
            assert len(mine) == n
    finally:
        con.close()
