"""One way to write to and delete from any fastcache cache.

The patterns work over an L1 mapping (``LRUCache``...), a ``TTLCache`` (per-item
``set(..., ttl=)``), a ``RedisCache``/``ShardedRedisCache`` or a ``TieredCache``.
"""
from __future__ import annotations

from typing import Any, Optional


def check_ttl_support(cache: Any, ttl: Optional[float]) -> None:
    """TypeError, before anything is written, when a TTL is asked of a cache without them."""
    if ttl is not None and getattr(cache, "set", None) is None:
        raise TypeError(f"{type(cache).__name__} has no per-item TTL; use a TTLCache, RedisCache or TieredCache")


def cache_set(cache: Any, key: Any, value: Any, ttl: Optional[float] = None) -> None:
    """Store value in cache, with a TTL where the cache takes one."""
    setter = getattr(cache, "set", None)
    if setter is not None:
        if ttl is None:
            setter(key, value)
        else:
            setter(key, value, ttl=ttl)
        return
    if ttl is not None:
        raise TypeError(f"{type(cache).__name__} has no per-item TTL; use a TTLCache, RedisCache or TieredCache")
    cache[key] = value


def cache_delete(cache: Any, key: Any) -> None:
    """Remove key from cache if it is there."""
    deleter = getattr(cache, "delete", None)
    if deleter is not None:
        deleter(key)
    else:
        cache.pop(key, None)
