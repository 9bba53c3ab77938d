"""``cached`` for async functions and for the freshness options: a wrapper over :class:`CacheAside`.

Plain sync functions keep the compiled wrapper (cachetools' protocol, the
hit path in C); this one is used for ``async def`` functions, for caches
that are not mappings (``RedisCache``, ``TieredCache``, their asyncio
twins), and whenever a ``CacheAside`` option (``ttl``, ``negative_ttl``,
``stale_while_revalidate``, ``stale_if_error``, ``refresh_threshold``,
``xfetch_beta``, ``timeout``, ``lease``) is given.
"""
from __future__ import annotations

import asyncio
import inspect
from typing import Any, Callable

from .._types import CacheInfo
from .._weakself import WeakMethodBinding
from ..keys import hashkey
from .cache_aside import CacheAside

__all__ = ("CachedFunction",)


class CachedFunction(WeakMethodBinding):
    """A function memoized through a :class:`CacheAside` engine."""

    def __init__(self, func: Callable[..., Any], engine: CacheAside, key: Callable[..., Any]) -> None:
        self.__wrapped__ = func
        self.engine = engine
        self.cache = engine.cache
        self.cache_key = key
        self.is_coroutine = inspect.iscoroutinefunction(func)
        self._default_key = key is hashkey
        self._sync_get = engine.get_call if not self.is_coroutine and not engine.is_async else None
        if self.is_coroutine:
            # so inspect (3.12+) and asyncio.iscoroutinefunction see an async callable
            if hasattr(inspect, "_is_coroutine_mark"):
                self._is_coroutine_marker = inspect._is_coroutine_mark
            self._is_coroutine = getattr(asyncio.coroutines, "_is_coroutine", None)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # hashkey(*args) is args itself: skip the call on the common path
        key = args if not kwargs and self._default_key else self.cache_key(*args, **kwargs)
        if self._sync_get is not None:
            return self._sync_get(key, self.__wrapped__, args, kwargs)
        return self._call_keyed(key, args, kwargs)

    def _call_keyed(self, key: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        func = self.__wrapped__
        if self.is_coroutine:
            return self.engine.aget_call(key, func, args, kwargs)
        if self.engine.is_async:
            raise TypeError(f"{type(self.cache).__name__} is asynchronous: cache an async def function with it")
        return self.engine.get_call(key, func, args, kwargs)

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
