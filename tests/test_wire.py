"""The live stream's wire format, pure: hello, frames, close reasons, the resume
decision, and the stream's settings."""

from __future__ import annotations

import json
from typing import Any

import msgpack  # type: ignore[import-untyped]
import pytest

from qms.server.stream.connection import StreamSettings
from qms.server.stream.facts import Kind
from qms.server.stream.wire import (
    Close,
    Format,
    Hello,
    ProtocolError,
    Resume,
    choose_subprotocol,
    clip_reason,
    decode,
    encode,
    parse_hello,
    plan_resume,
)


def test_hello_parsing() -> None:
    hello = parse_hello({"type": "hello", "audience": "console", "counter": "L1", "x": 1})
    assert hello == Hello(Kind.CONSOLE, counter="L1")
    assert parse_hello({"type": "hello", "audience": "display", "epoch": "e", "version": 7}) == (
        Hello(Kind.DISPLAY, epoch="e", version=7)
    )
    bad: list[dict[str, Any]] = [
        {"type": "ping"},
        {"type": "hello"},
        {"type": "hello", "audience": "public"},
        {"type": "hello", "audience": "console"},
        {"type": "hello", "audience": "display", "version": -1},
        {"type": "hello", "audience": "display", "version": True},
        {"type": "hello", "audience": "display", "version": "7"},
        {"type": "hello", "audience": "display", "epoch": 5},
        {"type": "hello", "audience": "display", "zone": ""},
    ]
    for message in bad:
        with pytest.raises(ProtocolError) as error:
            parse_hello(message)
        assert error.value.code is Close.PROTOCOL_ERROR


def test_decode_limits_and_errors() -> None:
    assert decode('{"type":"ping"}') == {"type": "ping"}
    assert decode(msgpack.packb({"type": "ping"})) == {"type": "ping"}
    for frame in ("not json", "[1]", '{"type": 3}', b"\xc1", "[" * 3000):
        with pytest.raises(ProtocolError) as error:
            decode(frame)
        assert error.value.code is Close.PROTOCOL_ERROR
    with pytest.raises(ProtocolError) as error:
        decode(json.dumps({"type": "ping", "pad": "x" * 5000}))
    assert error.value.code is Close.MESSAGE_TOO_BIG


def test_subprotocols_and_encoding() -> None:
    assert choose_subprotocol([]) == (None, Format.JSON)
    assert choose_subprotocol(["chat", "qms.msgpack.v1"]) == ("qms.msgpack.v1", Format.MSGPACK)
    assert choose_subprotocol(["qms.json.v1", "qms.msgpack.v1"]) == ("qms.json.v1", Format.JSON)
    message = {"type": "event", "version": 3, "event": {"text": "Antrean ñ"}}
    assert json.loads(encode(message, Format.JSON)) == message
    assert msgpack.unpackb(encode(message, Format.MSGPACK)) == message


@pytest.mark.parametrize(
    ("epoch", "version", "expected"),
    [
        ("e1", 100, Resume.CURRENT),
        ("e1", 90, Resume.REPLAY),
        ("e1", 50, Resume.REPLAY),  # the oldest the ring holds (51..100)
        ("e1", 49, Resume.SNAPSHOT),  # behind the ring
        ("e1", 101, Resume.SNAPSHOT),  # ahead of the log: not this log's history
        ("e0", 90, Resume.SNAPSHOT),  # another epoch
        (None, None, Resume.SNAPSHOT),  # a fresh client
        ("e1", None, Resume.SNAPSHOT),
    ],
)
def test_plan_resume(epoch: str | None, version: int | None, expected: Resume) -> None:
    hello = Hello(Kind.DISPLAY, epoch=epoch, version=version)
    assert plan_resume(hello, "e1", 100, base=50, max_replay=1000) is expected


def test_plan_resume_too_far_behind_gets_a_snapshot() -> None:
    hello = Hello(Kind.DISPLAY, epoch="e1", version=10)
    assert plan_resume(hello, "e1", 100, base=0, max_replay=50) is Resume.SNAPSHOT


def test_close_reasons_fit_a_close_frame() -> None:
    assert clip_reason("x" * 500) == "x" * 120
    clipped = clip_reason("é" * 100)  # two bytes each: never half a character
    assert len(clipped.encode()) <= 120 and set(clipped) == {"é"}


def test_stream_settings_from_the_environment() -> None:
    settings = StreamSettings.from_env(
        {"QMS_STREAM_HEARTBEAT_S": "0.5", "QMS_STREAM_RING_SIZE": "9"}
    )
    assert (settings.heartbeat_s, settings.ring_size) == (0.5, 9)
    assert StreamSettings.from_env({}) == StreamSettings()
    for bad in ({"QMS_STREAM_HEARTBEAT_S": "0"}, {"QMS_STREAM_QUEUE_BYTES": "lots"}):
        with pytest.raises(ValueError, match="QMS_STREAM_"):
            StreamSettings.from_env(bad)
