"""Server settings: command-line flags, each also from a QMS_* environment variable
(field `name` from QMS_NAME, `qms.server.settings`)."""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from qms.server.settings import SettingError, dump, load

PREFIX = "QMS_"
LOOPBACK = ("127.0.0.1", "localhost", "::1")
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


@dataclass(frozen=True)
class Config:
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path("qms-data")
    log_url: str = ""  # empty: the embedded SQLite log in data_dir
    workers: int = 1
    # Origins allowed to open websockets and send cookie-authenticated commands;
    # empty: the server's own address (http://host:port).
    allowed_origins: tuple[str, ...] = ()
    secret_key: str = ""  # empty: generated into data_dir/secret.key on first start
    public_url: str = ""  # how browsers reach the server (links printed, QR codes)
    simulate: bool = False  # run the demo hall's simulated visitors and officers
    voice_dir: str = ""  # a folder of the site's own voice packs (docs/deploy-display.md)
    # Redis log: forward each site's commands to one process (`qms.relay`); off, every
    # process decides (compare-and-append), which is slower when they share a site.
    relay: bool = True
    # Proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (comma-separated
    # addresses or networks, "*" for any; empty: none): the reverse proxy in front of
    # a public hall (docs/deploy.md). By default one on this host.
    forwarded_allow_ips: str = "127.0.0.1,::1"
    # A request's line, headers and body must arrive within this many seconds of its
    # first byte (and a new connection's first request within it too), else the
    # connection is closed: slow or never-finished requests cannot pile up.
    request_timeout: float = 10.0
    # Connections and requests at once before new HTTP requests are answered 503
    # (uvicorn's limit_concurrency; open websockets count); 0: no limit.
    limit_concurrency: int = 0
    # uvicorn's websocket implementation (docs/performance.md: the sans-I/O one sends
    # the same frames for less CPU); "websockets" or "wsproto" pick another.
    ws_impl: str = "websockets-sansio"
    # Where the closed days' report files go (docs/reports.md); empty: DATA_DIR/reports.
    reports_dir: str = ""
    # Closed days whose rows each process keeps in memory for its reports, the least
    # recently used dropped first (~1 MB a day of 2,000 visits; 0: read the files).
    reports_memory_days: int = 400

    def __post_init__(self) -> None:
        if self.reports_memory_days < 0:
            raise SettingError(
                f"QMS_REPORTS_MEMORY_DAYS must be 0 or more, got {self.reports_memory_days!r}"
            )

    @property
    def effective_log_url(self) -> str:
        return self.log_url or f"sqlite:///{(self.data_dir / 'qms.db').resolve()}"

    @property
    def reports_path(self) -> Path:
        return Path(self.reports_dir) if self.reports_dir else self.data_dir / "reports"

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @functools.cached_property
    def origins(self) -> frozenset[str]:
        """The allowed origins; by default the server's own address, and on a
        loopback address also its other loopback names (people type localhost).
        Worked out once: every cookie-signed command checks its Origin against it."""
        if self.allowed_origins:
            return frozenset(self.allowed_origins)
        origins = {self.base_url}
        if not self.public_url and self.host in LOOPBACK:
            origins |= {f"http://{name}:{self.port}" for name in LOOPBACK_NAMES}
        return frozenset(origins)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Config:
        """Defaults, then QMS_* variables, then explicit overrides (flags) that are not None."""
        values = load(cls, os.environ if env is None else env, PREFIX)
        values.update({k: v for k, v in overrides.items() if v is not None})
        if "data_dir" in values:
            values["data_dir"] = Path(str(values["data_dir"]))
        return cls(**values)

    def to_env(self) -> dict[str, str]:
        """The environment that makes `from_env` give this config (for uvicorn workers)."""
        return dump(self, PREFIX)
