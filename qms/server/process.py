"""What the server does to its process, apart from serving: the log filters on
uvicorn's loggers, the garbage-collector policy, and the chained SIGTERM/SIGINT
handlers. Installed by the app's lifespan (`qms.server.app`), undone at its end;
nothing here happens at import or in a constructor of the request path.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import re
import signal
import threading
import urllib.parse
from collections.abc import Awaitable, Callable
from types import FrameType
from typing import Any

log = logging.getLogger(__name__)

SIGNAL_GRACE_S = 1.0  # s the close frames get before uvicorn hears of a SIGTERM


# --- secrets in uvicorn's log lines --------------------------------------------------------

_QUERY = re.compile(r"\?[^\s\"'#]*")  # a query string inside a log line
# A visitor's status ref is their only credential: /t/<site>.<token> (the page) and
# /api/v1/tickets/<ref> (its poll). Staff routes name ticket ids, not refs.
_STATUS_REF = re.compile(r"(/t/|/api/v1/tickets/)[^/?#\s\"']+")


def _redact_query(match: re.Match[str]) -> str:
    """Every parameter whose name, decoded as Starlette decodes it, holds "token"
    (``token``, ``Token``, ``tok%65n``, ``x_token``) gets its value replaced."""
    parts = re.split(r"([&;])", match.group(0)[1:])
    for i in range(0, len(parts), 2):
        name, eq, _ = parts[i].partition("=")
        if eq and "token" in urllib.parse.unquote_plus(name).lower():
            parts[i] = f"{name}=[redacted]"
    return "?" + "".join(parts)


def redact(text: str) -> str:
    """`text` without secrets: token-like query values and visitors' status refs replaced."""
    if "?" in text:
        text = _QUERY.sub(_redact_query, text)
    if "/t/" in text or "/tickets/" in text:
        text = _STATUS_REF.sub(r"\1[redacted]", text)
    return text


class RedactTokens(logging.Filter):
    """Keeps secrets in URLs out of uvicorn's access and websocket log lines.

    A display's URL carries its device token (a browser cannot set headers on a
    websocket), a visitor's status page and its poll carry the ticket's ref;
    uvicorn logs every request's path with its query string, both in the access
    log (`uvicorn.access`) and for each websocket (`uvicorn.error`:
    `"WebSocket /api/v1/sites/…/stream?token=…" [accepted]`).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def redact_uvicorn_logs() -> None:
    """Install `RedactTokens` on uvicorn's loggers (once per process; idempotent)."""
    for name in ("uvicorn.access", "uvicorn.error"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())


# --- garbage collection ----------------------------------------------------------------------


class GcPolicy:
    """Keeps CPython's full garbage collections short while thousands of sockets are open.

    A full collection walks every container object the process tracks: each open
    connection (uvicorn's protocol, Starlette's scope, tasks), the ring, the
    hall's state. At 5,000 displays that took 0.5-0.7 s with the event loop
    stopped, every few seconds, and found next to nothing to free.
    `gc.freeze()` moves every tracked object into a permanent generation that
    collections skip, so afterwards a full collection walks only what was made
    since. We freeze once at start-up (after the app and accounts are open),
    after a site's engine opened its state, and after connections joined
    (debounced, `gc_freeze_s`), each time after a collection, so what is already
    garbage is freed rather than frozen.

    The trade-off: the cycle collector never looks at a frozen object again.
    Anything without a reference cycle is still freed by reference counting when
    it is dropped (a frame, a closed connection's buffers), but a frozen object
    that later becomes part of an unreachable cycle is not freed. So freezing
    happens only at those points, not on a timer, and every `gc_reclaim_s`
    (an hour by default) everything is unfrozen and collected once, which bounds
    what such cycles can hold, at the price of one full pass then (about as long
    as one of the old stalls).
    """

    WATCH_S = 1.0  # how often to look whether the interpreter ran a full collection

    def __init__(self, freeze_delay_s: float, reclaim_s: float) -> None:
        self.freeze_delay_s = freeze_delay_s
        self.reclaim_s = reclaim_s
        self.freezes = 0
        self.reclaims = 0
        self._due: asyncio.TimerHandle | None = None
        self._reclaim: asyncio.TimerHandle | None = None
        self._watch: asyncio.TimerHandle | None = None
        self._full = 0  # full collections the interpreter ran itself since the last freeze
        self._freezing = False

    def start(self) -> None:
        self.freeze()
        gc.callbacks.append(self._collected)
        with contextlib.suppress(RuntimeError):  # no loop: nothing to schedule
            loop = asyncio.get_running_loop()
            self._reclaim = loop.call_later(self.reclaim_s, self._reclaim_now)
            self._watch = loop.call_later(self.WATCH_S, self._watch_now)

    def stop(self) -> None:
        with contextlib.suppress(ValueError):
            gc.callbacks.remove(self._collected)
        for handle in (self._due, self._reclaim, self._watch):
            if handle is not None:
                handle.cancel()
        self._due = self._reclaim = self._watch = None

    def freeze(self) -> None:
        self._freezing = True
        try:
            gc.collect()  # walks only what is not frozen yet: cheap after the first time
        finally:
            self._freezing = False
        gc.freeze()
        self._full = 0
        self.freezes += 1

    def _collected(self, phase: str, info: dict[str, int]) -> None:
        """A gc callback: only counts (it runs in the middle of whatever allocated)."""
        if phase == "stop" and info["generation"] == 2 and not self._freezing:
            self._full += 1

    def _watch_now(self) -> None:
        """Commands keep making long-lived objects (tickets' steps, command ids): once
        the interpreter has walked them in a full collection (20-35 ms at a few
        thousand tickets), freeze them too, so the next one walks only what is new."""
        if self._full:
            self.freeze()
        loop = asyncio.get_running_loop()
        self._watch = loop.call_later(self.WATCH_S, self._watch_now)

    def soon(self) -> None:
        """Freeze a little later (connections joined, a site opened), once for a burst."""
        if self._due is None:
            with contextlib.suppress(RuntimeError):
                loop = asyncio.get_running_loop()
                self._due = loop.call_later(self.freeze_delay_s, self._freeze_now)

    def _freeze_now(self) -> None:
        self._due = None
        self.freeze()

    def _reclaim_now(self) -> None:
        gc.unfreeze()
        self.freeze()
        self.reclaims += 1
        loop = asyncio.get_running_loop()
        self._reclaim = loop.call_later(self.reclaim_s, self._reclaim_now)

    def metrics(self) -> dict[str, int]:
        return {
            "gc_freezes": self.freezes,
            "gc_reclaims": self.reclaims,
            "gc_frozen": gc.get_freeze_count(),
        }


# --- client faults in uvicorn's log ------------------------------------------------------------


class QuietClientFaults(logging.Filter):
    """One plain line, not an ERROR with a traceback, for a client's bad websocket frame.

    uvicorn's websockets protocol closes a text frame that is not UTF-8 with 1007
    (right), but logs it with `logger.exception` (wrong: anyone, even unsigned,
    could fill the log with tracebacks). The close itself is unchanged.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        # uvicorn's words: "Invalid UTF-8 sequence received from client." (an app's own
        # UnicodeDecodeError, logged as "Exception in ASGI application", stays as it is)
        if (
            "UTF-8" in str(record.msg)
            and record.exc_info
            and isinstance(record.exc_info[1], UnicodeDecodeError)
        ):
            record.exc_info = record.exc_text = None
            record.levelno, record.levelname = logging.INFO, logging.getLevelName(logging.INFO)
            record.msg, record.args = "websocket closed 1007: a text frame not in UTF-8", ()
        return True


def quiet_client_faults() -> None:
    """Install `QuietClientFaults` on uvicorn's error log (idempotent)."""
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, QuietClientFaults) for f in logger.filters):
        logger.addFilter(QuietClientFaults())


# --- shutdown signals ----------------------------------------------------------------------------


class ShutdownSignals:
    """Run `going_away` as soon as SIGTERM/SIGINT arrives, then hand the signal on.

    uvicorn closes every websocket with 1012 *before* the lifespan ends, so the
    stream's own close would come too late. The handler uvicorn installed is
    chained, not replaced, and restored by `restore()`; it is called once
    `going_away` is done (at most `grace_s`): called at once, uvicorn's next tick
    (every 0.1 s) could send its 1012 before our close frames were out.
    """

    def __init__(
        self, going_away: Callable[[], Awaitable[None]], grace_s: float = SIGNAL_GRACE_S
    ) -> None:
        self.going_away = going_away
        self.grace_s = grace_s
        self._installed: dict[int, tuple[Any, Any]] = {}
        self._passing_on: asyncio.Task[None] | None = None

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous = signal.getsignal(sig)
            if not callable(previous):
                continue

            def handler(signum: int, frame: FrameType | None, previous: Any = previous) -> None:
                loop.call_soon_threadsafe(self._received, previous, signum, frame)

            self._installed[sig] = (previous, handler)
            signal.signal(sig, handler)

    def _received(self, previous: Any, signum: int, frame: FrameType | None) -> None:
        async def then() -> None:
            try:
                async with asyncio.timeout(self.grace_s):
                    await self.going_away()
            except TimeoutError:
                pass
            finally:
                previous(signum, frame)

        self._passing_on = asyncio.get_running_loop().create_task(then())

    def restore(self) -> None:
        for sig, (previous, handler) in self._installed.items():
            if signal.getsignal(sig) is handler:
                signal.signal(sig, previous)
        self._installed.clear()
