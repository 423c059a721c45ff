"""Every Redis key name qms uses for the event log, in one place.

A site's keys share the ``{site}`` hash tag so Redis Cluster keeps them in one
slot: the append script touches several of them atomically.
"""

from __future__ import annotations

import re

from .codec import check_site

DEFAULT_PREFIX = "qms"

# A prefix ends up before the hash tag, so it must not contain braces itself.
_PREFIX_RE = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


def check_prefix(prefix: str) -> str:
    if _PREFIX_RE.fullmatch(prefix) is None:
        raise ValueError(f"invalid key prefix {prefix!r}: expected 1-64 of [A-Za-z0-9_.:-]")
    return prefix


def _site_key(prefix: str, site: str, what: str) -> str:
    return f"{prefix}:{{{check_site(site)}}}:{what}"


def log(prefix: str, site: str) -> str:
    """The Stream of the site's events; entry ID ``<version>-0``."""
    return _site_key(prefix, site, "log")


def version(prefix: str, site: str) -> str:
    """The site's current version (a string integer; absent means 0)."""
    return _site_key(prefix, site, "version")


def epoch(prefix: str, site: str) -> str:
    """The site's epoch (uuid4 hex), set once per incarnation."""
    return _site_key(prefix, site, "epoch")


def snapshot(prefix: str, site: str) -> str:
    """A hash: ``v`` the version, ``d`` the msgpack state."""
    return _site_key(prefix, site, "snapshot")


def leader(prefix: str, site: str) -> str:
    """The site's writer lease: the node id of the process deciding its commands (with a TTL)."""
    return _site_key(prefix, site, "leader")


def push(prefix: str, site: str) -> str:
    """The Pub/Sub channel on which the append script sends the entries it added
    (msgpack ``[first version, entry, ...]``): what the processes following the site hear."""
    return _site_key(prefix, site, "push")


def relay(prefix: str, site: str, node: str) -> str:
    """The Pub/Sub channel of one process's relay for the site: commands forwarded to
    it while it is the site's writer, and the writer's answers to its own."""
    return _site_key(prefix, site, f"relay:{node}")


def all_of_site(prefix: str, site: str) -> list[str]:
    """Every key of a site (what `drop` deletes)."""
    return [log(prefix, site), version(prefix, site), epoch(prefix, site), snapshot(prefix, site)]
