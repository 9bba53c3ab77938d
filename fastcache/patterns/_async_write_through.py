"""Write-through's I/O, written once for sync and asyncio (see :mod:`fastcache.patterns.write_through`)."""
from __future__ import annotations

import logging
from typing import Any, Callable, Optional

from ..loading import call_async, reject_coroutine_function  # noqa: F401  (the sync twin)
from ._adapter import AsyncCacheAccess

__all__ = ("AsyncWriteThrough",)

log = logging.getLogger("fastcache.patterns")


class AsyncWriteThrough:
    """Writes go to ``write(key, value)`` (the store), then to ``cache``.

    ``invalidate=True`` deletes the cache entry instead of updating it (the
    next read loads the stored form).  ``delete(key)``, if given, removes a
    key from the store for :meth:`delete`.  The asyncio class takes plain or
    coroutine functions, and an asyncio cache or a sync one (an L1 mapping).
    """

    def __init__(self, cache: Any, write: Callable[[Any, Any], Any], *,
                 delete: Optional[Callable[[Any], Any]] = None, invalidate: bool = False) -> None:
        if not callable(write):
            raise TypeError("write must be callable: write(key, value)")
        if delete is not None and not callable(delete):
            raise TypeError("delete must be callable: delete(key)")
        # sync-only: reject_coroutine_function(write, "write")
        # sync-only: reject_coroutine_function(delete, "delete")
        self.cache = cache
        self._access = AsyncCacheAccess(cache)
        self._write = write
        self._delete = delete
        self.invalidate = invalidate

    async def set(self, key: Any, value: Any, ttl: Optional[float] = None) -> None:
        """Write to the store; then update (or invalidate) the cache."""
        self._access.check_ttl(ttl)
        await call_async(self._write, key, value)           # raises: the cache is untouched
        if self.invalidate:
            await self._drop(key)
            return
        try:
            await self._access.set(key, value, ttl)
        except Exception as exc:
            log.warning("write-through: cache update for %r failed (%s: %s); invalidating it",
                        key, type(exc).__name__, exc)
            await self._drop(key)

    async def delete(self, key: Any) -> None:
        """Delete from the store (needs ``delete=``), then from the cache."""
        if self._delete is None:
            raise TypeError(f"{type(self).__name__} was made without delete=; it cannot delete from the store")
        await call_async(self._delete, key)
        await self._drop(key)

    async def get(self, key: Any, default: Any = None) -> Any:
        """Read from the cache."""
        return await self._access.get(key, default)

    async def _drop(self, key: Any) -> None:
        try:
            await self._access.delete(key)
        except Exception as exc:
            log.error("write-through: could not invalidate %r in the cache (%s: %s); it may serve "
                      "the previous value until it expires", key, type(exc).__name__, exc)
            raise
