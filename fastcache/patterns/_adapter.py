"""One way to write to and delete from any fastcache cache.

The patterns work over an L1 mapping (``LRUCache``...), a ``TTLCache`` (per-item
``set(..., ttl=)``), a ``RedisCache``/``ShardedRedisCache`` or a ``TieredCache``.
"""
from __future__ import annotations

from typing import Any, Optional

from ..loading import check_ttl_support, store_value


def cache_delete(cache: Any, key: Any) -> None:
    """Remove key from cache if it is there."""
    deleter = getattr(cache, "delete", None)
    if deleter is not None:
        deleter(key)
    else:
        cache.pop(key, None)


def is_async_cache(cache: Any) -> bool:
    """Whether the cache's methods are coroutines (AsyncRedisCache, AsyncTieredCache, ...)."""
    import inspect
    return inspect.iscoroutinefunction(getattr(cache, "get", None))


class CacheAccess:
    """Reads and writes of the patterns on a sync cache (a mapping, a TTLCache, a
    RedisCache, a TieredCache ...): the sync twin of :class:`AsyncCacheAccess`."""

    is_async = False

    def __init__(self, cache: Any) -> None:
        self.cache = cache

    def check_ttl(self, ttl: Optional[float]) -> None:
        """TypeError, before anything is written, if ttl is asked of a cache without TTLs."""
        check_ttl_support(self.cache, ttl)

    def get(self, key: Any, default: Any = None) -> Any:
        return self.cache.get(key, default)

    def set(self, key: Any, value: Any, ttl: Optional[float] = None) -> None:
        store_value(self.cache, key, value, ttl)

    def delete(self, key: Any) -> None:
        cache_delete(self.cache, key)


class AsyncCacheAccess:
    """Reads and writes of the asyncio patterns on any cache: an asyncio cache's
    coroutines are awaited, a sync cache (an L1 mapping ...) is called; which of
    the two is decided once, here, not per call."""

    def __init__(self, cache: Any) -> None:
        self.cache = cache
        self.is_async = is_async_cache(cache)

    def check_ttl(self, ttl: Optional[float]) -> None:
        """TypeError, before anything is written, if ttl is asked of a cache without TTLs."""
        if not self.is_async:
            check_ttl_support(self.cache, ttl)

    async def get(self, key: Any, default: Any = None) -> Any:
        if self.is_async:
            return await self.cache.get(key, default)
        return self.cache.get(key, default)

    async def set(self, key: Any, value: Any, ttl: Optional[float] = None) -> None:
        stored = store_value(self.cache, key, value, ttl)
        if self.is_async:
            await stored

    async def delete(self, key: Any) -> None:
        if self.is_async:
            await self.cache.delete(key)
        else:
            cache_delete(self.cache, key)
