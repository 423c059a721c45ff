"""Slow consumers are found and closed with 4008 (issue 12 §1, docs/protocol.md "Fan-out
and back-pressure"): a display whose network stalls stops reading, and the kernel's
send buffer would otherwise hide it for minutes.

Against a real `qms serve`, with a real websocket client on a plain blocking socket
that stops calling recv() (`stream_client.StalledClient`). Every wait is bounded.
"""

from __future__ import annotations

import time
from pathlib import Path

from live_hall import SITE, STREAM, LiveHall, live_hall
from stream_client import StalledClient

from qms.server.stream.wire import Close

SLACK_S = 1.5  # a loaded test machine: the server's checks may run this much late


def _wait_for(h: LiveHall, counter: str, within: float) -> float | None:
    """Seconds until /readyz's stream counter `counter` is set, or None."""
    start = time.monotonic()
    while time.monotonic() - start < within:
        if h.metrics().get(counter):
            return time.monotonic() - start
        time.sleep(0.05)
    return None


def test_a_client_that_stops_reading_is_closed_within_heartbeat_plus_stall(tmp_path: Path) -> None:
    """Hardly any frames (a quiet hall): only the unanswered ping shows the stall."""
    heartbeat, stall = 1.0, 1.0
    env = {
        "QMS_STREAM_HEARTBEAT_S": str(heartbeat),
        "QMS_STREAM_STALL_S": str(stall),
        "QMS_STREAM_SILENT_BEATS": "30",  # the silence rule (4408) is not what acts here
    }
    with live_hall(tmp_path, **STREAM, env=env) as h:
        tv = StalledClient(h.server.ws_url, SITE, h.tokens["display"], rcvbuf=None, maxseg=None)
        tv.connect()  # the welcome and the snapshot; then it never reads again
        took = _wait_for(h, "unanswered_closed", within=heartbeat + stall + 10)
        assert took is not None, "the client that stopped reading was never closed"
        assert took <= heartbeat + stall + SLACK_S
        assert tv.drain() == Close.SLOW_CONSUMER
        assert h.metrics().get("silent_closed", 0) == 0


def test_a_socket_that_takes_nothing_is_closed_before_its_queue_fills(tmp_path: Path) -> None:
    """A busy hall: the bounded send buffer fills, the send blocks, and the stall rule
    closes it (not the 256 KiB queue, which a plain socket's kernel buffers used to
    hide: 0 closes in about 270 stalls of up to 50 s)."""
    env = {"QMS_STREAM_HEARTBEAT_S": "600", "QMS_STREAM_STALL_S": "1"}  # no ping in time
    with live_hall(tmp_path, **STREAM, env=env) as h:
        tv = StalledClient(h.server.ws_url, SITE, h.tokens["display"], rcvbuf=None, maxseg=None)
        tv.connect()
        assert h.metrics().get("send_buffers_bound") == 1
        sup = h.who["supervisor"]
        text = "Mohon maaf, sistem antrean sedang padat. " * 5
        sent = 0
        closed_after = None
        for i in range(3000):  # about 800 KB of frames at most
            sup.ok("POST", f"/api/v1/sites/{SITE}/broadcast", {"text": f"{i} {text}"[:200]})
            sent += 1
            # Paced so that a second of stall queues far less than the 256 KiB limit:
            # unpaced, a quiet machine filled the queue first (slow_consumers closed it).
            time.sleep(0.004)
            if i % 50 == 49 and h.metrics().get("stalled_closed"):
                closed_after = sent
                break
        if closed_after is None:
            closed_after = sent if _wait_for(h, "stalled_closed", within=3) else None
        assert closed_after is not None, f"never closed after {sent} frames: {h.metrics()}"
        assert h.metrics().get("slow_consumers", 0) == 0  # the byte limit did not act
        assert tv.drain() == Close.SLOW_CONSUMER
