"""Server settings: command-line flags, each also from a QMS_* environment variable."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

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
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def effective_log_url(self) -> str:
        return self.log_url or f"sqlite:///{(self.data_dir / 'qms.db').resolve()}"

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def origins(self) -> frozenset[str]:
        """The allowed origins; by default the server's own address, and on a
        loopback address also its other loopback names (people type localhost)."""
        if self.allowed_origins:
            return frozenset(self.allowed_origins)
        origins = {self.base_url}
        if not self.public_url and self.host in LOOPBACK:
            origins |= {f"http://{name}:{self.port}" for name in LOOPBACK_NAMES}
        return frozenset(origins)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Config:
        """Defaults, then QMS_* variables, then explicit overrides (flags) that are not None."""
        env = os.environ if env is None else env
        cfg = cls()
        from_env: dict[str, object] = {}
        if "QMS_HOST" in env:
            from_env["host"] = env["QMS_HOST"]
        if "QMS_PORT" in env:
            from_env["port"] = int(env["QMS_PORT"])
        if "QMS_DATA_DIR" in env:
            from_env["data_dir"] = Path(env["QMS_DATA_DIR"])
        if "QMS_LOG_URL" in env:
            from_env["log_url"] = env["QMS_LOG_URL"]
        if "QMS_WORKERS" in env:
            from_env["workers"] = int(env["QMS_WORKERS"])
        if "QMS_ALLOWED_ORIGINS" in env:
            origins = tuple(o.strip() for o in env["QMS_ALLOWED_ORIGINS"].split(",") if o.strip())
            from_env["allowed_origins"] = origins
        if "QMS_SECRET_KEY" in env:
            from_env["secret_key"] = env["QMS_SECRET_KEY"]
        if "QMS_PUBLIC_URL" in env:
            from_env["public_url"] = env["QMS_PUBLIC_URL"]
        if "QMS_VOICE_DIR" in env:
            from_env["voice_dir"] = env["QMS_VOICE_DIR"]
        if "QMS_RELAY" in env:
            from_env["relay"] = env["QMS_RELAY"] not in ("", "0", "false", "no")
        if "QMS_FORWARDED_ALLOW_IPS" in env:
            from_env["forwarded_allow_ips"] = env["QMS_FORWARDED_ALLOW_IPS"].strip()
        if "QMS_REQUEST_TIMEOUT" in env:
            from_env["request_timeout"] = float(env["QMS_REQUEST_TIMEOUT"])
        if "QMS_LIMIT_CONCURRENCY" in env:
            from_env["limit_concurrency"] = int(env["QMS_LIMIT_CONCURRENCY"])
        if "QMS_SIMULATE" in env:
            from_env["simulate"] = env["QMS_SIMULATE"] not in ("", "0", "false", "no")
        cfg = replace(cfg, **from_env)  # type: ignore[arg-type]
        chosen = {k: v for k, v in overrides.items() if v is not None}
        if "data_dir" in chosen:
            chosen["data_dir"] = Path(str(chosen["data_dir"]))
        return replace(cfg, **chosen)  # type: ignore[arg-type]

    def to_env(self) -> dict[str, str]:
        """The environment that makes `from_env` give this config (for uvicorn workers)."""
        env = {
            "QMS_HOST": self.host,
            "QMS_PORT": str(self.port),
            "QMS_DATA_DIR": str(self.data_dir),
            "QMS_WORKERS": str(self.workers),
        }
        if self.log_url:
            env["QMS_LOG_URL"] = self.log_url
        if self.allowed_origins:
            env["QMS_ALLOWED_ORIGINS"] = ",".join(self.allowed_origins)
        if self.secret_key:
            env["QMS_SECRET_KEY"] = self.secret_key
        if self.public_url:
            env["QMS_PUBLIC_URL"] = self.public_url
        if self.voice_dir:
            env["QMS_VOICE_DIR"] = self.voice_dir
        env["QMS_FORWARDED_ALLOW_IPS"] = self.forwarded_allow_ips
        env["QMS_REQUEST_TIMEOUT"] = repr(self.request_timeout)
        env["QMS_LIMIT_CONCURRENCY"] = str(self.limit_concurrency)
        env["QMS_SIMULATE"] = "1" if self.simulate else "0"
        return env
