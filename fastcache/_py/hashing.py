"""Pure-Python twin of ``fastcache._core.hashing`` (same results, bit for bit)."""
from __future__ import annotations

import binascii
import hashlib
from typing import Union

KeyBytes = Union[str, bytes, bytearray]


def key_bytes(key: object) -> bytes:
    """The bytes a key is hashed as: UTF-8 for ``str``, as-is for bytes."""
    if isinstance(key, str):
        return key.encode("utf-8")
    if isinstance(key, (bytes, bytearray)):
        return bytes(key)
    raise TypeError(f"key must be str or bytes, not {type(key).__name__}")


def ketama_hash(key: KeyBytes) -> int:
    """ketama's 32-bit hash of ``key``: the first MD5 word, little-endian."""
    return int.from_bytes(hashlib.md5(key_bytes(key)).digest()[:4], "little")


def key_slot(key: KeyBytes) -> int:
    """Redis Cluster hash slot (0-16383) of ``key``, honouring ``{hash tags}``."""
    data = key_bytes(key)
    start = data.find(b"{")
    if start >= 0:
        end = data.find(b"}", start + 1)
        if end > start + 1:
            data = data[start + 1:end]
    return binascii.crc_hqx(data, 0) & 16383


def jump_hash(key: Union[int, KeyBytes], buckets: int) -> int:
    """Jump consistent hash: the bucket in ``range(buckets)`` for ``key``.

    An ``int`` key (0 <= key < 2**64) is used as is; a ``str``/``bytes`` key
    is first reduced to the first 8 bytes of its MD5 digest, read
    little-endian.  Growing ``buckets`` by one moves only 1/buckets of keys.
    """
    if isinstance(buckets, bool) or not isinstance(buckets, int):
        raise TypeError(f"buckets must be int, not {type(buckets).__name__}")
    if buckets <= 0:
        raise ValueError(f"buckets must be positive, got {buckets}")
    if buckets >= 2 ** 31:
        raise OverflowError("buckets must be below 2**31")
    if isinstance(key, int) and not isinstance(key, bool):
        if not 0 <= key < 2 ** 64:
            raise ValueError("an int key must be in range(2**64)")
        k = key
    else:
        k = int.from_bytes(hashlib.md5(key_bytes(key)).digest()[:8], "little")
    b, j = -1, 0
    while j < buckets:
        b = j
        k = (k * 2862933555777941757 + 1) & 0xFFFFFFFFFFFFFFFF
        j = int((b + 1) * (float(1 << 31) / float((k >> 33) + 1)))
    return b
