"""Write-through: the store is written first, then the cache.

So the cache never holds a value the store rejected: if ``write`` raises,
the cache is left as it was (it still matches the store).  If updating the
cache fails after the store accepted the write, the key is invalidated
instead, so readers fall back to the store rather than to the old value.
"""
from __future__ import annotations

import inspect
import logging
from typing import Any, Callable, Optional

from ._adapter import cache_delete, cache_set, check_ttl_support

__all__ = ("WriteThrough", "AsyncWriteThrough")

log = logging.getLogger("fastcache.patterns")


def _log_update_failure(key: Any, exc: BaseException) -> None:
    log.warning("write-through: cache update for %r failed (%s: %s); invalidating it",
                key, type(exc).__name__, exc)


def _log_drop_failure(key: Any, exc: BaseException) -> None:
    log.error("write-through: could not invalidate %r in the cache (%s: %s); it may serve "
              "the previous value until it expires", key, type(exc).__name__, exc)


class WriteThrough:
    """Writes go to ``write(key, value)`` (the store), then to ``cache``.

    ``invalidate=True`` deletes the cache entry instead of updating it (the
    next read loads the stored form).  ``delete(key)``, if given, removes a
    key from the store for :meth:`delete`.
    """

    def __init__(self, cache: Any, write: Callable[[Any, Any], Any], *,
                 delete: Optional[Callable[[Any], Any]] = None, invalidate: bool = False) -> None:
        if not callable(write):
            raise TypeError("write must be callable: write(key, value)")
        if delete is not None and not callable(delete):
            raise TypeError("delete must be callable: delete(key)")
        self.cache = cache
        self._write = write
        self._delete = delete
        self.invalidate = invalidate

    def set(self, key: Any, value: Any, ttl: Optional[float] = None) -> None:
        """Write to the store; then update (or invalidate) the cache."""
        check_ttl_support(self.cache, ttl)
        self._write(key, value)                 # raises: the cache is untouched
        if self.invalidate:
            self._drop(key)
            return
        try:
            cache_set(self.cache, key, value, ttl)
        except Exception as exc:
            _log_update_failure(key, exc)
            self._drop(key)

    def delete(self, key: Any) -> None:
        """Delete from the store (needs ``delete=``), then from the cache."""
        if self._delete is None:
            raise TypeError("WriteThrough was made without delete=; it cannot delete from the store")
        self._delete(key)
        self._drop(key)

    def get(self, key: Any, default: Any = None) -> Any:
        """Read from the cache."""
        return self.cache.get(key, default)

    def _drop(self, key: Any) -> None:
        try:
            cache_delete(self.cache, key)
        except Exception as exc:
            _log_drop_failure(key, exc)
            raise


class AsyncWriteThrough:
    """:class:`WriteThrough` for asyncio: ``write``/``delete`` may be coroutine
    functions or plain ones, ``cache`` an asyncio cache (``AsyncTieredCache``,
    ``AsyncRedisCache``) or an L1 mapping.  The same order and guarantees."""

    def __init__(self, cache: Any, write: Callable[[Any, Any], Any], *,
                 delete: Optional[Callable[[Any], Any]] = None, invalidate: bool = False) -> None:
        WriteThrough(cache, write, delete=delete)           # the same argument checks
        self.cache = cache
        self._write = write
        self._delete = delete
        self.invalidate = invalidate
        self._async_cache = inspect.iscoroutinefunction(getattr(cache, "set", None))

    @staticmethod
    async def _call(fn: Callable[..., Any], *args: Any) -> Any:
        result = fn(*args)
        if inspect.isawaitable(result):
            result = await result
        return result

    async def set(self, key: Any, value: Any, ttl: Optional[float] = None) -> None:
        """Write to the store; then update (or invalidate) the cache."""
        if not self._async_cache:
            check_ttl_support(self.cache, ttl)
        await self._call(self._write, key, value)           # raises: the cache is untouched
        if self.invalidate:
            await self._drop(key)
            return
        try:
            if self._async_cache:
                await (self.cache.set(key, value) if ttl is None else self.cache.set(key, value, ttl=ttl))
            else:
                cache_set(self.cache, key, value, ttl)
        except Exception as exc:
            _log_update_failure(key, exc)
            await self._drop(key)

    async def delete(self, key: Any) -> None:
        """Delete from the store (needs ``delete=``), then from the cache."""
        if self._delete is None:
            raise TypeError("AsyncWriteThrough was made without delete=; it cannot delete from the store")
        await self._call(self._delete, key)
        await self._drop(key)

    async def get(self, key: Any, default: Any = None) -> Any:
        """Read from the cache."""
        return await self._call(self.cache.get, key, default)

    async def _drop(self, key: Any) -> None:
        try:
            if self._async_cache:
                await self.cache.delete(key)
            else:
                cache_delete(self.cache, key)
        except Exception as exc:
            _log_drop_failure(key, exc)
            raise
