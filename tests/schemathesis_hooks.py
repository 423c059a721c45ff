"""Schemathesis hooks for tests/test_schemathesis.py (loaded through SCHEMATHESIS_HOOKS).

The fuzzer learns real ids from the answers (GET /users lists "admin") and reuses
them: as admin it would reset the admin's own password or revoke the kiosk's token
in the middle of the run, and every later request would test the 401 path only. A
case aimed at one of the test's own callers (QMS_ST_PROTECTED: usernames and device
ids) is aimed at a stranger instead; every other id is fair game.
"""

from __future__ import annotations

import os
from typing import Any

import schemathesis

PROTECTED = frozenset(filter(None, os.environ.get("QMS_ST_PROTECTED", "").split(",")))


@schemathesis.hook
def map_case(context: Any, case: Any) -> Any:
    params = case.path_parameters or {}
    for name in ("username", "device"):
        if params.get(name) in PROTECTED:
            params[name] = f"{params[name]}-x"
    return case
