"""``get_or_load`` of the Redis caches, written once for sync and asyncio."""
from __future__ import annotations

from typing import Any, Callable

from .._types import DEFAULT
from ..loading import aload_missing

__all__ = ("AsyncGetOrLoad",)

_LOAD_MISS: Any = object()


class AsyncGetOrLoad:
    """``get_or_load`` for the Redis caches (plain and sharded)."""

    async def get(self, key: Any, default: Any = None) -> Any:  # pragma: no cover - provided by the cache
        raise NotImplementedError

    async def get_or_load(self, key: Any, loader: Callable[[Any], Any], ttl: Any = DEFAULT) -> Any:
        """The value for key; on a miss ``loader(key)`` runs once across concurrent callers
        of this process (threads, or the loop's tasks; the asyncio cache also takes a
        coroutine function) and its result is stored with ``ttl``.  For once across
        processes, use ``CacheAside(cache, lease=RedisLease(...))``."""
        value = await self.get(key, _LOAD_MISS)
        if value is not _LOAD_MISS:
            return value
        return await aload_missing(self, key, loader, ttl)
