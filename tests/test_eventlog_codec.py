"""The event codec and the site id rule, apart from any backend."""

from __future__ import annotations

from typing import Any

import msgpack  # type: ignore[import-untyped]
import pytest
from hypothesis import given
from hypothesis import strategies as st

from qms.eventlog import MAX_EVENT_BYTES, DecodeError, check_site, codec, keys

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text()
    | st.binary()
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)
events = st.fixed_dictionaries(
    {"type": st.text(min_size=1), "schema": st.integers(1, 2**31)},
    optional={"ticket": st.text(), "extra": values},
).flatmap(
    lambda ev: st.dictionaries(st.text(), values, max_size=3).map(lambda more: {**more, **ev})
)


@given(events)
def test_any_conforming_event_round_trips(event: dict[str, Any]) -> None:
    assert codec.decode("s", 1, codec.encode(event)) == event


def test_int_keys_inside_an_event_round_trip() -> None:
    event = {"type": "t", "schema": 2, "by_counter": {1: "A001", 2: None}}
    assert codec.decode("s", 1, codec.encode(event)) == event


@given(st.binary(max_size=64))
def test_garbage_never_escapes_as_anything_but_decode_error(data: bytes) -> None:
    try:
        event = codec.decode("site-1", 7, data)
    except DecodeError as exc:
        assert (exc.site, exc.version) == ("site-1", 7)
    else:
        assert isinstance(event["type"], str) and event["schema"] >= 1


def test_decode_error_says_why() -> None:
    data = msgpack.packb({"type": "x", "schema": 0})
    with pytest.raises(DecodeError, match=r"'site-1'.*version 4.*schema"):
        codec.decode("site-1", 4, data)


def test_size_limit_is_on_the_encoded_event() -> None:
    ok: dict[str, Any] = {"type": "t", "schema": 1, "b": b""}
    # An empty bin has a 2-byte header, a bin of this size a 3-byte one.
    ok["b"] = b"x" * (MAX_EVENT_BYTES - len(codec.encode(ok)) - 1)
    assert len(codec.encode(ok)) == MAX_EVENT_BYTES
    with pytest.raises(ValueError, match="over the limit"):
        codec.encode({**ok, "b": ok["b"] + b"x"})


def test_state_round_trips_and_refuses_garbage() -> None:
    state: dict[Any, Any] = {"tickets": {"A001": [1, 2]}, 3: "int key"}
    assert codec.decode_state("s", codec.encode_state(state)) == state
    with pytest.raises(DecodeError, match="snapshot"):
        codec.decode_state("s", b"\x93\x01\x02\x03", 9)


@pytest.mark.parametrize("site", ["a", "MPP_Bengkulu-01", "x" * 64])
def test_valid_site_ids(site: str) -> None:
    assert check_site(site) == site
    assert keys.log("qms", site) == f"qms:{{{site}}}:log"


@pytest.mark.parametrize("site", ["", "x" * 65, "a.b", "a{b}", "a b", "ü", None, 1])
def test_invalid_site_ids(site: Any) -> None:
    with pytest.raises(ValueError, match="invalid site id"):
        check_site(site)


@pytest.mark.parametrize("prefix", ["", "a{b}", "a b", "x" * 65])
def test_invalid_key_prefix(prefix: str) -> None:
    with pytest.raises(ValueError, match="prefix"):
        keys.check_prefix(prefix)
