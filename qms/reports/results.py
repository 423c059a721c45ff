"""The results of report queries over closed days alone, kept in memory.

A closed day's files never change (a rebuild writes a new file and renames it
over the old one), so the same query over the same files gives the same rows: the
live summary's day before, asked on every refresh of the supervisor's page, or
the same report asked again. The key is the SQL, its parameters and each file's
(path, inode, modified time, size).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

from qms.reports.store import ACTIVITY_FILE


class Results:
    """The last `size` results of queries over closed days only (names, rows), least
    recently used out first; results of more than `MAX_ROWS` rows are not kept."""

    MAX_ROWS = 5_000

    def __init__(self, size: int) -> None:
        self.size = size
        self._kept: OrderedDict[Hashable, tuple[list[str], list[tuple[Any, ...]]]] = OrderedDict()

    def get(self, key: Hashable) -> tuple[list[str], list[tuple[Any, ...]]] | None:
        hit = self._kept.get(key)
        if hit is not None:
            self._kept.move_to_end(key)
        return hit

    def put(self, key: Hashable, value: tuple[list[str], list[tuple[Any, ...]]]) -> None:
        if len(value[1]) > self.MAX_ROWS:
            return
        self._kept[key] = value
        while len(self._kept) > self.size:
            self._kept.popitem(last=False)


def frozen(params: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in sorted(params.items()))


def stamps(files: Sequence[str], activity: bool) -> tuple[tuple[Any, ...], ...]:
    """Each file read, as (path, inode, modified, size): a day rebuilt is a new file."""
    paths = [*files, *(os.path.join(os.path.dirname(f), ACTIVITY_FILE) for f in files)]
    out = []
    for path in paths if activity else files:
        st = os.stat(path)
        out.append((path, st.st_ino, st.st_mtime_ns, st.st_size))
    return tuple(out)
