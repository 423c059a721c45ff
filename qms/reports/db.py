"""DuckDB, the reports' engine: imported on first use, so that the server pays nothing for it
until a report is asked for or a closed day is written.

Rows reach DuckDB as one list per column (`unnest` of parallel lists): DuckDB
has no fast path for Python rows without NumPy or Arrow, and this one costs
about 0.5 µs a value, where `executemany` costs ~50 µs a row. A handful of rows (a live
table's changed visits) go in as one VALUES list of parameters instead (`values_select`).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qms.reports.rows import TIME, to_columns

if TYPE_CHECKING:
    import duckdb

Columns = tuple[tuple[str, str], ...]
FEW_ROWS = 16  # up to this many rows go in as one VALUES list of parameters (`values_select`)


def connect() -> duckdb.DuckDBPyConnection:
    """A private in-memory DuckDB (no file, no extension downloads, no telemetry)."""
    import duckdb

    return duckdb.connect(
        ":memory:",
        config={"autoinstall_known_extensions": False, "autoload_known_extensions": False},
    )


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def select_columns(columns: Columns) -> str:
    """The SELECT that turns `$1 … $n` (one list per column) into typed columns.

    One `unnest` per column, put side by side by a POSITIONAL JOIN: a quarter faster
    than unnesting every list in one projection."""
    parts = []
    for i, (name, kind) in enumerate(columns, 1):
        if kind == TIME:  # local wall-clock microseconds -> TIMESTAMP
            parts.append(f"make_timestamp(c{i})::TIMESTAMP AS {quote(name)}")
        else:
            parts.append(f"c{i}::{kind} AS {quote(name)}")
    lists = " POSITIONAL JOIN ".join(
        f"(SELECT unnest(${i}) AS c{i})" for i in range(1, len(columns) + 1)
    )
    return f"SELECT {', '.join(parts)} FROM {lists}"


def values_select(columns: Columns, rows: int) -> str:
    """The SELECT of `rows` rows of parameters `?` (row by row), each cast to its column's
    type. For the few visits a live sync replaces it is the cheaper plan: 1-3 rows took
    2-3 ms where the POSITIONAL JOIN of one `unnest` per column took 12-25 ms (the
    benchmark machine, under load); they are even at about 30 rows."""
    cells = ", ".join(
        "make_timestamp(?::BIGINT)::TIMESTAMP" if kind == TIME else f"?::{kind}"
        for _, kind in columns
    )
    names = ", ".join(quote(name) for name, _ in columns)
    values = ", ".join(f"({cells})" for _ in range(rows))
    return f"SELECT * FROM (VALUES {values}) AS v({names})"


def empty_select(columns: Columns) -> str:
    """A SELECT of no rows with the columns' names and types."""
    parts = ", ".join(f"NULL::{kind} AS {quote(name)}" for name, kind in columns)
    return f"SELECT {parts} WHERE false"


def load(
    con: duckdb.DuckDBPyConnection,
    sql_prefix: str,
    rows: Iterable[Sequence[Any]],
    columns: Columns,
) -> None:
    """Run `sql_prefix` followed by a SELECT of `rows` (e.g. "INSERT INTO t ")."""
    data = to_columns(rows, columns)
    n = len(data[0])
    if not n:
        con.execute(sql_prefix + empty_select(columns))
    elif n <= FEW_ROWS:  # a live table's few changed rows
        flat = [value for row in zip(*data, strict=True) for value in row]
        con.execute(sql_prefix + values_select(columns, n), flat)
    else:
        con.execute(sql_prefix + select_columns(columns), data)


def write_parquet(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    rows: Iterable[Sequence[Any]],
    columns: Columns,
    order: Sequence[str],
    metadata: dict[str, str],
) -> None:
    """Write `rows` to `path` atomically: a temporary file beside it, synced, then renamed.

    Sorted by `order` then by every column, so that the same rows give the same file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    table = f"w_{os.getpid()}_{threading.get_ident()}"
    try:
        load(con, f"CREATE OR REPLACE TEMP TABLE {table} AS ", rows, columns)
        keys = [*order, *(n for n, _ in columns if n not in order)]
        kv = ", ".join(f"{k}: '{_literal(v)}'" for k, v in sorted(metadata.items()))
        con.execute(
            f"COPY (SELECT * FROM {table} ORDER BY {', '.join(map(quote, keys))} NULLS FIRST) "
            f"TO '{_literal(str(tmp))}' (FORMAT parquet, COMPRESSION zstd, "
            f"ROW_GROUP_SIZE 100000, KV_METADATA {{{kv}}})"
        )
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        con.execute(f"DROP TABLE IF EXISTS {table}")
        tmp.unlink(missing_ok=True)
    _sync_dir(path.parent)


def _sync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _literal(text: str) -> str:
    return text.replace("'", "''")


def file_metadata(con: duckdb.DuckDBPyConnection, path: Path) -> dict[str, str]:
    """The key-value metadata written with a Parquet file."""
    rows = con.execute(
        "SELECT decode(key), decode(value) FROM parquet_kv_metadata($1)", [str(path)]
    ).fetchall()
    return {str(k): str(v) for k, v in rows}
