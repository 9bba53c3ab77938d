"""``cached`` for async functions and for the freshness options: a wrapper over :class:`CacheAside`.

Plain sync functions keep the compiled wrapper (cachetools' protocol, the
hit path in C); this one is used for ``async def`` functions, for caches
that are not mappings (``RedisCache``, ``TieredCache``, their asyncio
twins), and whenever a ``CacheAside`` option (``ttl``, ``negative_ttl``,
``stale_while_revalidate``, ``stale_if_error``, ``refresh_threshold``,
``xfetch_beta``, ``timeout``, ``lease``) is given.

The call path is compiled (``fastcache._core.aside.CachedCall``): the key is the
argument tuple (default key function, no keyword arguments) and a hit on a sync
cache is answered by the engine's compiled front; for an ``async def`` the hit is
an awaitable that is already done (:class:`~fastcache._core.aside.Completed`,
which asyncio takes for a coroutine), so awaiting it runs no coroutine frame.
"""
from __future__ import annotations

import asyncio
import inspect
from typing import Any, Callable

from .._impl import CachedCall
from .._types import CacheInfo
from .._weakself import WeakMethodBinding
from ..keys import hashkey
from .cache_aside import CacheAside

__all__ = ("CachedFunction",)


class CachedFunction(CachedCall, WeakMethodBinding):
    """A function memoized through a :class:`CacheAside` engine."""

    def __init__(self, func: Callable[..., Any], engine: CacheAside, key: Callable[..., Any]) -> None:
        self.__wrapped__ = func
        self.cache = engine.cache
        is_coroutine = inspect.iscoroutinefunction(func)
        self._setup_call(func, engine, key, key is hashkey, is_coroutine, engine.is_async)
        if is_coroutine:
            # so inspect (3.12+) and asyncio.iscoroutinefunction see an async callable
            if hasattr(inspect, "_is_coroutine_mark"):
                self._is_coroutine_marker = inspect._is_coroutine_mark
            self._is_coroutine = getattr(asyncio.coroutines, "_is_coroutine", None)

    def cache_info(self) -> CacheInfo:
        """CacheInfo(hits, misses, maxsize, currsize) from the engine's counters."""
        st = self.engine.stats()
        cache = self.cache
        maxsize = getattr(cache, "maxsize", None)
        try:
            size = cache.currsize if hasattr(cache, "currsize") else len(cache)
        except TypeError:
            size = 0                            # a remote cache does not know its size
        return CacheInfo(st.hits, st.misses, maxsize, size)

    def cache_clear(self) -> Any:
        """Clear the cache (a coroutine for an asyncio cache)."""
        return self.cache.clear()

    def __repr__(self) -> str:
        return f"<cached {self.__wrapped__!r} via CacheAside>"
