"""What the sync and asyncio Redis caches share: keys, payloads, TTLs, logging."""
from __future__ import annotations

import logging
import math
import struct
import time
from typing import Any, Iterable, Optional, Union

from ..serializers import JSONSerializer, SerializationError, Serializer

log = logging.getLogger("fastcache.redis")

Key = Union[str, bytes, int]

from .._types import DEFAULT as DEFAULT  # noqa: E402  (re-exported: "use the cache's default TTL")
from .._types import check_ttl as check_ttl  # noqa: E402

_GLOB_SPECIAL = frozenset(b"*?[]\\")


def key_to_bytes(key: Key) -> bytes:
    """A user key as Redis key bytes: str as UTF-8, bytes as-is, int in decimal."""
    t = type(key)
    if t is str:
        return key.encode("utf-8")  # type: ignore[union-attr]
    if t is bytes:
        return key  # type: ignore[return-value]
    if isinstance(key, bool):
        raise TypeError("cache keys for a remote tier must be str, bytes or int, not bool")
    if isinstance(key, str):
        return str.encode(key, "utf-8")
    if isinstance(key, bytes):
        return bytes(key)
    if isinstance(key, int):
        return str(int(key)).encode("ascii")
    raise TypeError(f"cache keys for a remote tier must be str, bytes or int, not {t.__name__}")


def glob_escape(raw: bytes) -> bytes:
    """Escape a literal for a Redis MATCH pattern."""
    return b"".join(b"\\" + bytes([c]) if c in _GLOB_SPECIAL else bytes([c]) for c in raw)


def ttl_ms(ttl: float) -> int:
    """Seconds to Redis PX milliseconds, never rounding a live TTL down to 0."""
    return max(1, int(math.ceil(ttl * 1000)))


def pttl_to_seconds(pttl: Any) -> Optional[float]:
    """PTTL reply as remaining seconds; None if the key has no expiry (or -2: gone)."""
    if pttl is None:
        return None
    pttl = int(pttl)
    return pttl / 1000.0 if pttl >= 0 else None


# The expiry header: what fastcache writes before a serializer's payload, so that one GET
# (or one MGET for many keys) tells a tiered cache how long its L1 copy may live, where a
# PTTL per key was needed before.  Two magic bytes (no serializer's format byte is 0xFE,
# and a UTF-8 text never starts with it), then the absolute expiry in milliseconds since
# the Unix epoch, big-endian (0: no expiry).  A payload without the header (written by an
# older fastcache, by another client, or an integer stored bare for INCR) still reads:
# its remaining lifetime is then unknown and the tiered cache asks Redis (PTTL).
EXPIRY_MAGIC = b"\xfe\x01"
_EXPIRES = struct.Struct(">q")
HEADER_SIZE = len(EXPIRY_MAGIC) + _EXPIRES.size
UNKNOWN_EXPIRY = -1.0        # remaining lifetime of a payload written without the header


def expiry_header(px: Optional[int]) -> bytes:
    """The header for an entry living px milliseconds from now (None: no expiry)."""
    return EXPIRY_MAGIC + _EXPIRES.pack(int(time.time() * 1000) + px if px else 0)


def split_header(data: bytes) -> tuple[bytes, Optional[float]]:
    """(payload, remaining seconds: None for no expiry, UNKNOWN_EXPIRY without a header)."""
    if not data.startswith(EXPIRY_MAGIC) or len(data) < HEADER_SIZE:
        return data, UNKNOWN_EXPIRY
    expires_ms = _EXPIRES.unpack_from(data, len(EXPIRY_MAGIC))[0]
    if expires_ms == 0:
        return data[HEADER_SIZE:], None
    remaining = expires_ms / 1000.0 - time.time()
    return data[HEADER_SIZE:], (remaining if remaining > 0.0 else 0.0)


def pttl_remaining(pttl: Any) -> Optional[float]:
    """A PTTL reply read after a GET, as the lifetime an L1 copy may have: None for no
    expiry, 0 when the key is gone since (or the reply is an error: keep no copy)."""
    if isinstance(pttl, Exception):
        return 0.0
    pttl = int(pttl)
    return None if pttl == -1 else max(pttl, 0) / 1000.0


class PayloadCodec:
    """Serializer plus the rule that a bad payload is a miss and a warning.

    ``header``: write the expiry header (see :data:`EXPIRY_MAGIC`) before each payload,
    except values the serializer keeps bare (its ``bare(value)`` says so: Django's
    integers, for INCR).  Reading accepts payloads with and without it either way."""

    def __init__(self, serializer: Optional[Serializer], name: str, header: bool = True) -> None:
        if serializer is None:
            serializer = JSONSerializer()
        if not (callable(getattr(serializer, "dumps", None)) and callable(getattr(serializer, "loads", None))):
            raise TypeError("serializer must have dumps(value) -> bytes and loads(bytes) -> value")
        self.serializer = serializer
        self.name = name
        self.corrupt = 0
        self.header = header
        self._bare = getattr(serializer, "bare", None)

    def dumps(self, value: Any, px: Optional[int] = None) -> bytes:
        """The payload for value, living px milliseconds (None: no expiry)."""
        data = self.serializer.dumps(value)
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise SerializationError(f"serializer returned {type(data).__name__}, not bytes")
        if not self.header or (self._bare is not None and self._bare(value)):
            return bytes(data)
        return expiry_header(px) + data

    def loads(self, key: Key, data: Any) -> tuple[bool, Any]:
        """(found, value); a payload that does not decode is (False, None)."""
        found, value, _ = self.loads_with_ttl(key, data)
        return found, value

    def loads_with_ttl(self, key: Key, data: Any) -> tuple[bool, Any, Optional[float]]:
        """(found, value, remaining seconds: None for no expiry, UNKNOWN_EXPIRY when the
        payload has no header); a payload that does not decode is a miss."""
        if data is None:
            return False, None, None
        try:
            if type(data) is not bytes:
                if not isinstance(data, (bytes, bytearray)):
                    raise SerializationError(f"unexpected reply type {type(data).__name__}")
                data = bytes(data)
            payload, remaining = split_header(data)
            return True, self.serializer.loads(payload), remaining
        except Exception as exc:
            self._corrupt(key, exc)
            return False, None, None

    def _corrupt(self, key: Key, exc: Exception) -> None:
        self.corrupt += 1
        log.warning("%s: ignoring undecodable value for key %r (%s); treated as a miss", self.name, key, exc)


def reply_error(key: Key, reply: Any, name: str) -> bool:
    """True (and a warning) when a pipelined reply is a per-key error such as WRONGTYPE."""
    if isinstance(reply, Exception):
        log.warning("%s: error reading key %r (%s); treated as a miss", name, key, reply)
        return True
    return False


def unique(keys: Iterable[Key]) -> list[Key]:
    """Keys in order, without repeats."""
    return list(dict.fromkeys(keys))


# A tag's Redis set gets the key added and lives as long as its longest-lived
# member: no expiry if any member has none, else the largest TTL seen.
TAG_ADD = """
redis.call('sadd', KEYS[1], ARGV[1])
local ttl = tonumber(ARGV[2])
local cur = redis.call('pttl', KEYS[1])
if ttl == 0 then
  if cur >= 0 then redis.call('persist', KEYS[1]) end
elseif cur == -1 then
  if redis.call('scard', KEYS[1]) == 1 then redis.call('pexpire', KEYS[1], ttl) end
elseif cur < ttl then
  redis.call('pexpire', KEYS[1], ttl)
end
return 1
"""

# Read and drop a tag's set in one step, so a key tagged meanwhile lands in a new set.
TAG_POP = "local m = redis.call('smembers', KEYS[1]) redis.call('unlink', KEYS[1]) return m"

TAG_INFIX = b"\xfftag\xff"     # never inside the UTF-8 of a str key
