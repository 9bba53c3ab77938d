"""Caching patterns over any fastcache cache (L1 class, RedisCache, TieredCache).

* cache-aside: ``get_or_load`` on every cache, :class:`CacheAside` (single-flight,
  waiter timeouts, negative caching, stale-while-revalidate, stale-if-error,
  XFetch, a Redis lease for once-across-processes loads) and ``fastcache.cached``;
* :class:`RefreshAhead`: reload hot entries before they expire;
* :class:`WriteThrough`: store first, then cache;
* :class:`WriteBehind`: cache now, store in coalesced batches from a background thread;
* invalidation: :class:`InvalidationBus` (events over Redis pub/sub, keys or tags),
  :func:`invalidate_on_write` (after the store commits), tags on every cache
  (``fastcache.tags.TaggedCache`` for L1, ``set(..., tags=)``/``invalidate_tag`` on
  the Redis and tiered caches).
"""
from __future__ import annotations

from typing import Any

from ..singleflight import LoadTimeout
from .cache_aside import CacheAside, CacheAsideStats, aget_or_load, get_or_load
from .invalidate import ainvalidate_on_write, invalidate, invalidate_on_write
from .refresh_ahead import RefreshAhead
from .write_behind import AsyncWriteBehind, WriteBehind, WriteBehindFull, WriteBehindStats
from .write_through import AsyncWriteThrough, WriteThrough

__all__ = (
    "CacheAside", "CacheAsideStats", "get_or_load", "aget_or_load", "LoadTimeout", "RefreshAhead",
    "RedisLease", "AsyncRedisLease",
    "InvalidationBus", "AsyncInvalidationBus", "InvalidationEvent", "invalidate", "invalidate_on_write", "ainvalidate_on_write",
    "WriteThrough", "AsyncWriteThrough", "WriteBehind", "AsyncWriteBehind", "WriteBehindFull", "WriteBehindStats",
    "RedisStreamJournal", "AsyncRedisStreamJournal",
)

_NEEDS_REDIS = {"RedisLease": "lease", "AsyncRedisLease": "lease", "InvalidationBus": "invalidation_bus",
                "AsyncInvalidationBus": "invalidation_bus",
                "InvalidationEvent": "invalidation_bus", "RedisStreamJournal": "journal",
                "AsyncRedisStreamJournal": "journal"}


def __getattr__(name: str) -> Any:
    # The Redis-backed helpers import redis-py; load them only when asked for.
    module = _NEEDS_REDIS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
