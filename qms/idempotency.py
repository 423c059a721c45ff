"""What a command id names: the fields it leaves on the log, and the command's fingerprint.

A command's client-made id (the API's Idempotency-Key) is written on its first
event with the number of events it made and a fingerprint of the command, so
every process, and a restarted one, can tell a repeat of the id (answered with
the first result) from the id reused for another command (refused with
``idempotency_key_reused``, as Stripe does, instead of answering with the other
command's result). The engine (`qms.engine`) remembers them; the relay
(`qms.relay`) matches a forwarded command's events to its request by them.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from qms.core import Command, Rejected
from qms.core.commands import command_to_dict

CID = "cid"  # event field: the command id, on a command's first event
CID_COUNT = "cn"  # event field: how many events that command made
CID_FINGERPRINT = "cf"  # event field: what command the id named (`fingerprint`)
VIA = "via"  # event field: the process a forwarded command came from (`qms.relay`)
# Not part of what a command id names: who sent it (the API namespaces ids by
# caller already), the id itself, and the ticket token the engine draws.
NOT_FINGERPRINTED = frozenset({"by", "command_id", "token"})

# A remembered command id: (version of its first event, its event count, its
# fingerprint, or None for an event written before fingerprints existed).
Remembered = tuple[int, int, str | None]


def fingerprint(cmd: Command) -> str:
    """A short hash of what `cmd` asks for (16 hex digits: it guards against a
    mix-up, not an attack); about 5 µs."""
    data = {k: v for k, v in command_to_dict(cmd).items() if k not in NOT_FINGERPRINTED}
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.blake2b(canonical.encode(), digest_size=8).hexdigest()


def reused(cid: str) -> Rejected:
    """The refusal of `cid` given to a command other than the one it named."""
    return Rejected(
        "idempotency_key_reused",
        "this command id (Idempotency-Key) was used for a different command",
        command_id=cid,
    )


def remembered(rows: Iterable[Any]) -> OrderedDict[str, Remembered]:
    """The command ids as a snapshot keeps them: [id, version, count(, fingerprint)]."""
    out: OrderedDict[str, Remembered] = OrderedDict()
    for cid, version, count, *rest in rows:
        out[cid] = (version, count, rest[0] if rest else None)
    return out
