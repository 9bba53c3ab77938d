"""CacheAside's reads and loads, written once for sync and asyncio (see :mod:`fastcache.patterns.cache_aside`).

Both modes' methods live on one :class:`CacheAside`, so the asyncio names in
the source carry an ``a`` prefix, which the generator drops for the sync ones.
"""
from __future__ import annotations

import inspect
from typing import Any, Callable, Optional

from ..loading import LoaderReturnedAwaitable, call_async, returned_awaitable, store_value  # noqa: F401
from ..singleflight import FOLLOW, LEAD, LeaderCancelled
from ._cache_aside_core import (_ERROR, _HIT, _MISS, _UNREAD, ENTRY_MARK, _MISS_ACTION, _REFRESH, _STALE,
                                AsyncRefreshTasks, CacheAsideCore, log)

__all__ = ("AsyncCacheAsideIO",)


class AsyncCacheAsideIO(AsyncRefreshTasks, CacheAsideCore):
    """The reads and loads of :class:`CacheAside` in one mode."""

    async def aget(self, key: Any, loader: Optional[Callable[[Any], Any]] = None) -> Any:
        """The value for key, loading it on a miss (once across concurrent callers:
        threads, or the loop's tasks; the asyncio read also takes coroutine
        functions as loaders, and asyncio caches)."""
        return await self.aget_call(key, None, (key,), None, loader)

    async def aget_call(self, key: Any, func: Optional[Callable[..., Any]], args: tuple[Any, ...],
                        kwargs: Optional[dict[str, Any]], loader: Optional[Callable[[Any], Any]] = None,
                        raw: Any = _UNREAD) -> Any:
        """``get`` for a memoized call: on a miss ``func(*args, **kwargs)`` is the loader
        (``loader(key)`` when func is None).  The hit path creates no closure, and a
        miss adds no frame between this one and the loader's (a recursive memoized
        function reaches the depth it reaches unmemoized, less one frame per level).
        ``raw``: what the compiled front already read from the cache for key."""
        # sync-only: if self.is_async:
        # sync-only:     raise TypeError(f"{type(self.cache).__name__} is asynchronous: use await aget()")
        if raw is _UNREAD:
            raw = (await self.cache.get(key, _MISS)) if self.is_async else self.cache.get(key, _MISS)  # sync: raw = self.cache.get(key, _MISS)
        if raw is not _MISS:
            if not self.enveloped:
                self._stats.hits += 1
                return raw
            # A fresh entry before its refresh point (and no XFetch draw to make): a plain
            # hit, decided inline (a method call here would add a Python frame to every hit)
            if (type(raw) is tuple and len(raw) == 6 and raw[0] == ENTRY_MARK and not raw[5]
                    and raw[3] is not None and self.xfetch_beta is None
                    and self.timer() - raw[2] < raw[3] * self._fresh_fraction):
                self._stats.hits += 1
                return raw[1]
        fn = self._call_loader(func, args, kwargs, loader)
        action, value = self._decide(raw)
        self._count(action)
        if action is _HIT:
            return value
        if action is _REFRESH or action is _STALE:
            await self._arefresh_in_background(key, fn)
            return value
        if action is _ERROR:
            raise value
        if action is not _MISS_ACTION:          # EARLY or STALE_IF_ERROR: reload, else serve value
            try:
                return (await self._aflight.do(key, lambda: self._aload(key, fn, negative=False), self.timeout))[0]
            except Exception as exc:
                self._reload_failed(key, action, exc)
                return value
        if self.lease is not None:
            return (await self._aflight.do(key, lambda: self._aload_once_everywhere(key, fn), self.timeout))[0]
        # Lead or follow here, not in a helper: see the docstring.
        while True:
            call, role = self._aflight.begin(key)
            if role != FOLLOW:
                break
            try:
                return await self._aflight.wait(call, self.timeout, key)
            except LeaderCancelled:
                pass                            # the leader was cancelled: lead or follow anew
        started = self.timer()
        self._stats.loads += 1
        try:
            value = fn(key)
            if inspect.isawaitable(value):
                value = await value  # sync: raise returned_awaitable(value)
        except BaseException as exc:
            if isinstance(exc, Exception):
                self._stats.load_errors += 1
                if self.negative_ttl is not None and not isinstance(exc, LoaderReturnedAwaitable):
                    await self._aput(key, self._entry(exc, started, True), True)
            if role == LEAD:
                self._aflight.settle(key, call, None, exc)
            raise
        try:
            await self._aput(key, self._entry(value, started), False)
        finally:
            if role == LEAD:
                self._aflight.settle(key, call, value, None)
        return value

    async def aload_missing(self, key: Any, loader: Optional[Callable[[Any], Any]] = None) -> Any:
        """Load key after the caller's own lookup missed (single-flight; no second lookup)."""
        fn = self._loader(loader)
        self._stats.misses += 1
        return (await self._aflight.do(key, lambda: self._aload_once_everywhere(key, fn), self.timeout))[0]

    async def _aload_once_everywhere(self, key: Any, fn: Callable[[Any], Any]) -> Any:
        if self.lease is None:
            return await self._aload(key, fn)
        if not self._lease_is_async:  # sync: if self._lease_is_async:
            raise TypeError(f"{type(self.lease).__name__} does not fit this mode: a RedisLease works with "
                            "CacheAside.get(), an AsyncRedisLease with aget()")

        async def check() -> tuple[bool, Any]:
            raw = (await self.cache.get(key, _MISS)) if self.is_async else self.cache.get(key, _MISS)  # sync: raw = self.cache.get(key, _MISS)
            action, value = self._decide(raw)
            if action is _ERROR:
                raise value
            return action is not _MISS_ACTION, value

        return await self.lease.load_once(key, lambda: self._aload(key, fn), check)

    async def _aload(self, key: Any, fn: Callable[[Any], Any], negative: bool = True) -> Any:
        """Call the loader and store its value; a failure is stored as a negative
        entry only when ``negative`` (a reload of a value still servable - refresh,
        stale-if-error, early - must not replace that value with the error)."""
        started = self.timer()
        self._stats.loads += 1
        try:
            value = fn(key)
            if inspect.isawaitable(value):
                value = await value  # sync: raise returned_awaitable(value)
        except Exception as exc:
            self._stats.load_errors += 1
            if negative and self.negative_ttl is not None and not isinstance(exc, LoaderReturnedAwaitable):
                await self._aput(key, self._entry(exc, started, True), True)
            raise
        await self._aput(key, self._entry(value, started), False)
        return value

    async def _aput(self, key: Any, item: Any, is_error: bool) -> None:
        try:
            await call_async(store_value, self.cache, key, item, self._store_ttl(is_error))
        except ValueError:
            pass                                # too large for the cache: returned uncached
        except Exception as exc:
            log.warning("cache-aside: could not store %r (%s: %s); returning it uncached",
                        key, type(exc).__name__, exc)

    async def _arefresh_in_background(self, key: Any, fn: Callable[[Any], Any]) -> None:
        if not self._claim_refresh(key):
            return

        async def run() -> None:
            try:
                await self._aflight.do(key, lambda: self._aload(key, fn, negative=False))
            except Exception as exc:
                log.warning("cache-aside: background refresh of %r failed (%s: %s); keeping the "
                            "current value until it expires", key, type(exc).__name__, exc)
            finally:
                self._refresh_done(key)

        await self._aspawn(run)

    async def ainvalidate(self, key: Any) -> None:
        """Drop key from the cache (the next read loads it)."""
        deleter = getattr(self.cache, "delete", None)
        if deleter is None:
            self.cache.pop(key, None)
        elif self.is_async:
            await deleter(key)
        else:
            deleter(key)
