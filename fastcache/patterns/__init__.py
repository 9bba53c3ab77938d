"""Caching patterns over any fastcache cache (L1 class, RedisCache, TieredCache).

``WriteThrough`` (store first, then cache) and ``WriteBehind`` (cache now,
store in coalesced batches from a background thread).  Cache-aside is
``TieredCache.get_or_load`` and the ``cached`` decorators.
"""
from __future__ import annotations

from .write_behind import WriteBehind, WriteBehindFull, WriteBehindStats
from .write_through import WriteThrough

__all__ = ("WriteThrough", "WriteBehind", "WriteBehindFull", "WriteBehindStats")
