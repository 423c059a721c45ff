"""How a site's log lies in Redis: the Lua scripts that change it, and its entries read back.

A Stream per site whose IDs are the versions (`<version>-0`), the version and the
epoch as strings, the snapshot as a hash (keys in `keys`). The scripts run whole
in Redis: compare-and-append, with the entries PUBLISHed on the site's channel,
and a snapshot that never replaces a newer one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from . import codec
from .errors import DecodeError, Entry

# KEYS: log, version, epoch, push channel (a channel, not a key: named here for the
# cluster slot). ARGV: expected version, epoch if absent, token, event...
# Redis' automatic retry may resend an append whose reply was lost: the token on
# its first entry tells "already appended by me" from a real conflict, so such a
# retry succeeds instead of leading the caller to decide (and call a ticket) twice.
APPEND = """
local CONFLICT_ENTRIES = 64
local expected = tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[2]) or '0')
local n = #ARGV - 3
if current ~= expected then
  if current >= expected + n then
    local id = string.format('%d-0', expected + 1)
    local first = redis.call('XRANGE', KEYS[1], id, id)[1]
    if first then
      local fields = first[2]
      for i = 1, #fields, 2 do
        if fields[i] == 't' and fields[i + 1] == ARGV[3] then
          return {1, expected + n}
        end
      end
    end
  end
  -- The conflict carries the entries the caller missed (a page of them), so the
  -- loser of a race catches up without another round trip and can retry at once.
  local missed = redis.call('XRANGE', KEYS[1], string.format('%d-0', expected + 1), '+',
    'COUNT', CONFLICT_ENTRIES)
  return {0, current, missed}
end
redis.call('SET', KEYS[3], ARGV[2], 'NX')
redis.call('XADD', KEYS[1], string.format('%d-0', expected + 1), 'd', ARGV[4], 't', ARGV[3])
for i = 2, n do
  redis.call('XADD', KEYS[1], string.format('%d-0', expected + i), 'd', ARGV[3 + i])
end
redis.call('SET', KEYS[2], expected + n)
local push = {expected + 1}
for i = 1, n do
  push[i + 1] = ARGV[3 + i]
end
redis.call('PUBLISH', KEYS[4], cmsgpack.pack(push))
return {1, expected + n}
"""

# KEYS: snapshot, version. ARGV: version, state. Returns {0, current} when ahead of
# the log; keeps a newer snapshot rather than replace it with an older one.
SAVE_SNAPSHOT = """
local v = tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[2]) or '0')
if v > current then
  return {0, current}
end
local old = redis.call('HGET', KEYS[1], 'v')
if old and tonumber(old) > v then
  return {1, tonumber(old)}
end
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'd', ARGV[2])
return {1, v}
"""

APPEND_SHA = hashlib.sha1(APPEND.encode()).hexdigest()
StreamId = tuple[int, int]


def parse_id(raw: bytes | str) -> StreamId:
    text = raw.decode() if isinstance(raw, bytes) else raw
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)


def entry(site: str, raw_id: bytes | str, fields: Mapping[bytes, object]) -> Entry:
    try:
        version, seq = parse_id(raw_id)
    except ValueError as exc:
        raise DecodeError(site, 0, f"stream ID {raw_id!r} is not <version>-0") from exc
    if seq != 0:
        raise DecodeError(site, version, f"stream ID {raw_id!r} is not <version>-0")
    data = fields.get(b"d")
    if data is None:
        raise DecodeError(site, version, "stream entry has no 'd' field")
    return version, codec.decode(site, version, data)
