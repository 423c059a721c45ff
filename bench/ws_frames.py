"""The websocket wire as the stream benchmarks' clients speak it (RFC 6455), by hand.

One parser of server frames (`server_frames`), the client frame (`client_frame`),
and the headers of a browser's handshake. Every client of bench/stream_latency.py
and bench/stream_memory.py that reads frames itself goes through `server_frames`
(stream_clients.FrameReader).
"""

from __future__ import annotations

TEXT, CLOSE, PING, PONG = 1, 8, 9, 10  # websocket opcodes (a fragment's first frame: TEXT | 0x80)

# What Chromium sends on a websocket handshake besides Host, Connection, Origin and
# the key (a TV's browser showing the display page): the server keeps the request's
# headers for the connection's lifetime, so their size counts in its memory.
BROWSER_HEADERS = [
    ("Pragma", "no-cache"),
    ("Cache-Control", "no-cache"),
    (
        "User-Agent",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36",
    ),
    ("Upgrade", "websocket"),
    ("Sec-WebSocket-Version", "13"),
    ("Accept-Encoding", "gzip, deflate, br, zstd"),
    ("Accept-Language", "id-ID,id;q=0.9,en-US;q=0.8,en;q=0.7"),
]


def server_frames(buf: bytes) -> tuple[list[tuple[int, bytes]], bytes]:
    """The complete unmasked (server) frames at the start of `buf`, as (opcode,
    payload), and the bytes left over. A final text frame is TEXT; a text frame
    that is not final is TEXT | 0x80 (this benchmark never gets fragments)."""
    frames = []
    i, n = 0, len(buf)
    while n - i >= 2:
        b0, length, head = buf[i], buf[i + 1] & 0x7F, 2
        if length == 126:
            if n - i < 4:
                break
            length, head = int.from_bytes(buf[i + 2 : i + 4], "big"), 4
        elif length == 127:
            if n - i < 10:
                break
            length, head = int.from_bytes(buf[i + 2 : i + 10], "big"), 10
        if n - i < head + length:
            break
        opcode = b0 & 0x0F
        if opcode == TEXT and not b0 & 0x80:
            opcode |= 0x80
        frames.append((opcode, buf[i + head : i + head + length]))
        i += head + length
    return frames, buf[i:]


def close_code(payload: bytes) -> int:
    """The status code of a close frame's payload (1005: none given)."""
    return int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005


def client_frame(payload: bytes, opcode: int = TEXT) -> bytes:
    """A client frame: FIN, masked (with the all-zero key, so the payload is as is)."""
    n = len(payload)
    if n < 126:
        head = bytes([0x80 | opcode, 0x80 | n])
    else:
        head = bytes([0x80 | opcode, 0x80 | 126]) + n.to_bytes(2, "big")
    return head + b"\0\0\0\0" + payload
