"""Cache-aside: read the cache, on a miss call the loader once and store its result.

:class:`CacheAside` is the engine behind ``get_or_load`` on every cache, the
``cached`` decorator's extended options and :class:`RefreshAhead`.  It works
over any fastcache cache (an L1 mapping, a ``TTLCache``, a ``RedisCache``, a
``TieredCache``, or their asyncio twins) and with sync or ``async`` loaders.

Plain mode stores the loader's value as it is.  The freshness options
(``refresh_threshold``, ``stale_while_revalidate``, ``stale_if_error``,
``xfetch_beta``, ``negative_ttl``) need to know when a value was loaded, so
with any of them the cache holds an *entry*, a tuple
``("fastcache.entry/1", value, loaded_at, ttl, load_seconds, is_error)``, and
the cache's own TTL is the last moment the entry may still be served.  The
timeline of an entry loaded at ``t`` with ``ttl``:

* ``t .. t + ttl``: fresh.  After ``refresh_threshold × ttl`` a read returns it
  and starts one background reload (refresh-ahead).  With ``xfetch_beta`` a read
  reloads early with probability rising as expiry nears (XFetch: reload when
  ``now - load_seconds × beta × ln(U) ≥ t + ttl``, Vattani, Chierichetti and
  Lowenstein, VLDB 2015), so one reader, not all, recomputes a hot key.
* ``t + ttl .. + stale_while_revalidate``: served stale at once, one background
  reload (RFC 5861 §3).
* ``.. + stale_if_error``: the reader reloads; if the loader fails the stale
  value is served instead of the error (RFC 5861 §4).
* afterwards: a miss.

A failed background reload keeps the old value until it really expires.
Loads are single-flight per key within the process (threads or tasks), with an
optional waiter ``timeout``, and optionally across processes through a
:class:`~fastcache.patterns.RedisLease`.
"""
from __future__ import annotations

import asyncio
import enum
import inspect
import logging
import math
import random as _random
import threading
import time
import weakref
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, fields
from typing import Any, Awaitable, Callable, Hashable, Optional

from .._types import DEFAULT
from ..singleflight import AsyncSingleFlight, LoadTimeout, SingleFlight

__all__ = ("CacheAside", "CacheAsideStats", "get_or_load", "aget_or_load", "LoadTimeout", "ENTRY_MARK")

log = logging.getLogger("fastcache.patterns")

ENTRY_MARK = "fastcache.entry/1"
_MISS = object()


class Action(enum.Enum):
    """What a read does with what the cache holds (decided once for sync and asyncio)."""

    HIT = "hit"                  # serve it
    REFRESH = "refresh"          # serve it and reload in the background (refresh-ahead)
    STALE = "stale"              # serve it stale and reload in the background (stale-while-revalidate)
    EARLY = "early"              # XFetch: reload now, serve the cached value if that fails
    STALE_IF_ERROR = "stale-if-error"   # reload now, serve the stale value if that fails
    ERROR = "error"              # raise the cached exception (negative caching)
    MISS = "miss"                # load


_HIT, _REFRESH, _STALE, _EARLY, _STALE_IF_ERROR, _ERROR, _MISS_ACTION = (
    Action.HIT, Action.REFRESH, Action.STALE, Action.EARLY, Action.STALE_IF_ERROR, Action.ERROR, Action.MISS)


class LoaderReturnedAwaitable(TypeError):
    """A sync read got an awaitable from its loader (a usage error, never cached)."""


def is_async_cache(cache: Any) -> bool:
    """Whether the cache's get is a coroutine function (AsyncRedisCache, AsyncTieredCache)."""
    return inspect.iscoroutinefunction(getattr(cache, "get", None))


def _seconds(name: str, value: Any, *, allow_zero: bool = True) -> Optional[float]:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise TypeError(f"{name} must be a number of seconds or None, got {value!r}")
    if value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name} must be {'non-negative' if allow_zero else 'positive'}, got {value!r}")
    return float(value)


@dataclass
class CacheAsideStats:
    """Counters of a :class:`CacheAside` (read with ``stats()``, a copy)."""

    hits: int = 0
    misses: int = 0
    loads: int = 0               # loader calls, foreground and background
    load_errors: int = 0
    stale_served: int = 0        # stale-while-revalidate and stale-if-error answers
    refreshes: int = 0           # background reloads started
    early_reloads: int = 0       # XFetch reloads before expiry
    negative_hits: int = 0       # cached exceptions raised again


class CacheAside:
    """Cache-aside over ``cache`` with single-flight loads and freshness options.

    ``loader(key)`` (sync or async) may be given here or per call.  ``ttl``
    is the freshness lifetime (None: the cache's default); see the module
    docstring for the other options.  ``timer`` (default ``time.time``, wall
    clock because entries may be shared between processes through Redis)
    and ``random`` (a callable returning a float in (0, 1]) are injectable.
    """

    def __init__(self, cache: Any, loader: Optional[Callable[[Any], Any]] = None, *,
                 ttl: Optional[float] = None, negative_ttl: Optional[float] = None,
                 refresh_threshold: Optional[float] = None,
                 stale_while_revalidate: Optional[float] = None, stale_if_error: Optional[float] = None,
                 xfetch_beta: Optional[float] = None, timeout: Optional[float] = None,
                 lease: Any = None, timer: Optional[Callable[[], float]] = None,
                 random: Optional[Callable[[], float]] = None, executor: Optional[Executor] = None) -> None:
        if cache is None or not hasattr(cache, "get"):
            raise TypeError(f"cache must be a fastcache cache with get(), not {type(cache).__name__}")
        if loader is not None and not callable(loader):
            raise TypeError("loader must be callable: loader(key)")
        self.cache = cache
        self.loader = loader
        self.ttl = _seconds("ttl", ttl, allow_zero=False)
        self.negative_ttl = _seconds("negative_ttl", negative_ttl, allow_zero=False)
        self.stale_while_revalidate = _seconds("stale_while_revalidate", stale_while_revalidate)
        self.stale_if_error = _seconds("stale_if_error", stale_if_error)
        self.timeout = _seconds("timeout", timeout)
        if refresh_threshold is not None:
            if isinstance(refresh_threshold, bool) or not isinstance(refresh_threshold, (int, float)):
                raise TypeError(f"refresh_threshold must be a number, got {refresh_threshold!r}")
            if not 0 < refresh_threshold < 1:
                raise ValueError(f"refresh_threshold must be between 0 and 1 (exclusive), got {refresh_threshold!r}")
        self.refresh_threshold = refresh_threshold
        self.xfetch_beta = _seconds("xfetch_beta", xfetch_beta, allow_zero=False)
        self._fresh_fraction = refresh_threshold if refresh_threshold is not None else 1.0
        self.enveloped = any(v is not None for v in (negative_ttl, refresh_threshold, stale_while_revalidate,
                                                      stale_if_error, xfetch_beta))
        if self.enveloped and self.ttl is None and (refresh_threshold is not None or xfetch_beta is not None
                                                    or stale_while_revalidate is not None
                                                    or stale_if_error is not None):
            raise ValueError("refresh_threshold, stale_while_revalidate, stale_if_error and xfetch_beta need a ttl")
        if lease is not None and not callable(getattr(lease, "load_once", None)):
            raise TypeError("lease must be a RedisLease or AsyncRedisLease")
        self.lease = lease
        self._lease_is_async = lease is not None and inspect.iscoroutinefunction(lease.load_once)
        self.timer = timer if timer is not None else time.time
        self.random = random if random is not None else _random.random
        self.is_async = is_async_cache(cache)
        self._has_ttl = callable(getattr(cache, "set", None))
        if self.ttl is not None and not self.enveloped and not self._has_ttl:
            raise TypeError(f"{type(cache).__name__} has no per-item TTL; use a TTLCache, RedisCache "
                            "or TieredCache, or a freshness option (the entry then carries its own expiry)")
        self._executor = executor
        self._own_executor: Optional[ThreadPoolExecutor] = None
        self._flight = SingleFlight()
        self._aflight: Optional[AsyncSingleFlight] = None
        self._refreshing: set[Hashable] = set()
        self._lock = threading.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stats = CacheAsideStats()

    # -- shared bookkeeping -------------------------------------------------------

    def stats(self) -> CacheAsideStats:
        """A copy of the counters."""
        return CacheAsideStats(**{f.name: getattr(self._stats, f.name) for f in fields(CacheAsideStats)})

    def _loader(self, loader: Optional[Callable[[Any], Any]]) -> Callable[[Any], Any]:
        fn = loader if loader is not None else self.loader
        if fn is None:
            raise TypeError("no loader: pass loader= to CacheAside or to get()")
        return fn

    def _serve_window(self) -> float:
        return max(self.stale_while_revalidate or 0.0, self.stale_if_error or 0.0)

    def _store_ttl(self, is_error: bool) -> Any:
        """The TTL handed to the cache for a new entry (None: the cache's default)."""
        if not self._has_ttl:
            return None                         # the entry's own timestamps still expire it
        if is_error:
            return self.negative_ttl
        if self.ttl is None:
            return None
        return self.ttl + (self._serve_window() if self.enveloped else 0.0)

    def _entry(self, value: Any, started: float, is_error: bool = False) -> Any:
        if not self.enveloped:
            return value
        now = self.timer()
        return (ENTRY_MARK, value, now, self.negative_ttl if is_error else self.ttl,
                max(0.0, now - started), is_error)

    def _decide(self, raw: Any) -> tuple[Action, Any]:
        """What a cached item means now: (action, value); see :class:`Action`."""
        if raw is _MISS:
            return _MISS_ACTION, None
        if not self.enveloped:
            return _HIT, raw
        if not (type(raw) is tuple and len(raw) == 6 and raw[0] == ENTRY_MARK):
            return _HIT, raw                    # a plain value someone else stored
        _, value, loaded_at, ttl, delta, is_error = raw
        age = self.timer() - loaded_at
        if is_error:
            return (_ERROR, value) if ttl is not None and age < ttl else (_MISS_ACTION, None)
        if ttl is None or age < ttl:
            if ttl is not None and self.xfetch_beta is not None and delta > 0:
                u = self.random()
                if u > 0 and age - delta * self.xfetch_beta * math.log(u) >= ttl:
                    return _EARLY, value
            if ttl is not None and self.refresh_threshold is not None and age >= ttl * self.refresh_threshold:
                return _REFRESH, value
            return _HIT, value
        over = age - ttl
        if self.stale_while_revalidate is not None and over < self.stale_while_revalidate:
            return _STALE, value
        if self.stale_if_error is not None and over < self.stale_if_error:
            return _STALE_IF_ERROR, value
        return _MISS_ACTION, None

    def _count(self, action: Action) -> None:
        """Count a read's decision (the same counters whichever mode reads)."""
        st = self._stats
        if action is _HIT or action is _REFRESH:
            st.hits += 1
        elif action is _STALE:
            st.hits += 1
            st.stale_served += 1
        elif action is _MISS_ACTION:
            st.misses += 1
        elif action is _ERROR:
            st.negative_hits += 1
        elif action is _EARLY:
            st.early_reloads += 1

    def _reload_failed(self, key: Any, action: Action, exc: BaseException) -> None:
        """A foreground reload of a still-servable value failed: the value is served."""
        if action is _STALE_IF_ERROR:
            self._stats.stale_served += 1
            log.warning("cache-aside: reload of %r failed (%s: %s); serving the stale value "
                        "(stale_if_error)", key, type(exc).__name__, exc)
        else:
            log.warning("cache-aside: early reload of %r failed (%s: %s); serving the cached value",
                        key, type(exc).__name__, exc)

    # -- sync ---------------------------------------------------------------------

    def get(self, key: Any, loader: Optional[Callable[[Any], Any]] = None) -> Any:
        """The value for key, loading it (once across threads) on a miss."""
        return self.get_call(key, None, (key,), None, loader)

    def get_call(self, key: Any, func: Optional[Callable[..., Any]], args: tuple[Any, ...],
                 kwargs: Optional[dict[str, Any]], loader: Optional[Callable[[Any], Any]] = None) -> Any:
        """``get`` for a memoized call: on a miss ``func(*args, **kwargs)`` is the loader
        (``loader(key)`` when func is None).  The hit path creates no closure."""
        if self.is_async:
            raise TypeError(f"{type(self.cache).__name__} is asynchronous: use await aget()")
        raw = self.cache.get(key, _MISS)
        if raw is not _MISS:
            if not self.enveloped:
                self._stats.hits += 1
                return raw
            # A fresh entry before its refresh point (and no XFetch draw to make): a plain hit.
            if (type(raw) is tuple and len(raw) == 6 and raw[0] == ENTRY_MARK and not raw[5]
                    and raw[3] is not None and self.xfetch_beta is None
                    and self.timer() - raw[2] < raw[3] * self._fresh_fraction):
                self._stats.hits += 1
                return raw[1]
        if func is None:
            fn = self._loader(loader)
        elif kwargs:
            fn = lambda _key: func(*args, **kwargs)     # noqa: E731
        else:
            fn = lambda _key: func(*args)               # noqa: E731
        return self._resolve(key, raw, fn)

    def _resolve(self, key: Any, raw: Any, fn: Callable[[Any], Any]) -> Any:
        """Everything but a plain hit: refresh, stale windows, negative entries, loads."""
        action, value = self._decide(raw)
        self._count(action)
        if action is _HIT:
            return value
        if action is _REFRESH or action is _STALE:
            self._refresh_in_background(key, fn)
            return value
        if action is _ERROR:
            raise value
        if action is _MISS_ACTION:
            return self._flight.do(key, lambda: self._load_once_everywhere(key, fn), self.timeout)[0]
        try:                                    # EARLY or STALE_IF_ERROR: reload, else serve value
            return self._flight.do(key, lambda: self._load(key, fn, negative=False), self.timeout)[0]
        except Exception as exc:
            self._reload_failed(key, action, exc)
            return value

    def load_missing(self, key: Any, loader: Optional[Callable[[Any], Any]] = None) -> Any:
        """Load key after the caller's own lookup missed (single-flight; no second lookup)."""
        fn = self._loader(loader)
        self._stats.misses += 1
        return self._flight.do(key, lambda: self._load_once_everywhere(key, fn), self.timeout)[0]

    def _load_once_everywhere(self, key: Any, fn: Callable[[Any], Any]) -> Any:
        if self.lease is None:
            return self._load(key, fn)

        def check() -> tuple[bool, Any]:
            action, value = self._decide(self.cache.get(key, _MISS))
            if action is _ERROR:
                raise value
            return action is not _MISS_ACTION, value

        if self._lease_is_async:
            raise TypeError("an AsyncRedisLease works with CacheAside.aget(); use RedisLease for sync code")
        return self.lease.load_once(key, lambda: self._load(key, fn), check)

    def _load(self, key: Any, fn: Callable[[Any], Any], negative: bool = True) -> Any:
        """Call the loader and store its value; a failure is stored as a negative
        entry only when ``negative`` (a reload of a value still servable - refresh,
        stale-if-error, early - must not replace that value with the error)."""
        started = self.timer()
        self._stats.loads += 1
        try:
            value = fn(key)
        except Exception as exc:
            self._stats.load_errors += 1
            if negative and self.negative_ttl is not None:
                self._put(key, self._entry(exc, started, True), True)
            raise
        if inspect.isawaitable(value):
            if inspect.iscoroutine(value):
                value.close()                   # never awaited: no "was never awaited" warning
            self._stats.load_errors += 1
            raise LoaderReturnedAwaitable("the loader returned an awaitable: use aget() (or an async "
                                          "cache) for async loaders")
        self._put(key, self._entry(value, started), False)
        return value

    def _put(self, key: Any, item: Any, is_error: bool) -> None:
        ttl = self._store_ttl(is_error)
        try:
            if ttl is None:
                setter = getattr(self.cache, "set", None)
                if setter is not None:
                    setter(key, item)
                else:
                    self.cache[key] = item
            else:
                self.cache.set(key, item, ttl=ttl)
        except ValueError:
            pass                                # too large for the cache: returned uncached
        except Exception as exc:
            log.warning("cache-aside: could not store %r (%s: %s); returning it uncached",
                        key, type(exc).__name__, exc)

    def _refresh_in_background(self, key: Any, fn: Callable[[Any], Any]) -> None:
        with self._lock:
            if key in self._refreshing:
                return
            self._refreshing.add(key)
        self._stats.refreshes += 1

        def run() -> None:
            try:
                self._flight.do(key, lambda: self._load(key, fn, negative=False))
            except Exception as exc:
                log.warning("cache-aside: background refresh of %r failed (%s: %s); keeping the "
                            "current value until it expires", key, type(exc).__name__, exc)
            finally:
                with self._lock:
                    self._refreshing.discard(key)

        executor = self._executor
        if executor is None:
            with self._lock:
                if self._own_executor is None:
                    self._own_executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="fastcache-refresh")
                executor = self._own_executor
        executor.submit(run)

    def refreshing(self) -> int:
        """Background reloads in progress."""
        return len(self._refreshing)

    def wait_refreshes(self, timeout: float = 5.0) -> bool:
        """Block until no background reload is running (for tests and shutdown)."""
        deadline = time.monotonic() + timeout
        while self._refreshing:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.001)
        return True

    def invalidate(self, key: Any) -> None:
        """Drop key from the cache (the next read loads it)."""
        deleter = getattr(self.cache, "delete", None)
        if deleter is not None:
            deleter(key)
        else:
            self.cache.pop(key, None)

    def close(self) -> None:
        """Stop the background-refresh threads this object started."""
        if self._own_executor is not None:
            self._own_executor.shutdown(wait=True)
            self._own_executor = None

    # -- asyncio --------------------------------------------------------------------

    async def aget(self, key: Any, loader: Optional[Callable[[Any], Any]] = None) -> Any:
        """``get`` for asyncio: async or sync caches and loaders, single-flight across tasks."""
        raw = (await self.cache.get(key, _MISS)) if self.is_async else self.cache.get(key, _MISS)
        if raw is not _MISS and not self.enveloped:
            self._stats.hits += 1
            return raw
        fn = self._loader(loader)
        action, value = self._decide(raw)
        self._count(action)
        if self._aflight is None:
            self._aflight = AsyncSingleFlight()
        flight = self._aflight
        if action is _HIT:
            return value
        if action is _REFRESH or action is _STALE:
            self._arefresh_in_background(key, fn)
            return value
        if action is _ERROR:
            raise value
        if action is not _MISS_ACTION:          # EARLY or STALE_IF_ERROR: reload, else serve value
            try:
                return (await flight.do(key, lambda: self._aload(key, fn, negative=False), self.timeout))[0]
            except Exception as exc:
                self._reload_failed(key, action, exc)
                return value
        if self.lease is not None:
            return await self._aflight_do(key, fn)
        # Lead or follow here, not in a helper coroutine: between this frame and
        # the loader's there is none, so a recursive memoized coroutine reaches
        # the depth it reaches unmemoized (less one frame per level, this one).
        fut, lead = flight.begin(key)
        if not lead:
            return await flight.wait(fut, self.timeout, key)
        started = self.timer()
        self._stats.loads += 1
        try:
            value = fn(key)
            if inspect.isawaitable(value):
                value = await value
        except BaseException as exc:
            if isinstance(exc, Exception):
                self._stats.load_errors += 1
                if self.negative_ttl is not None:
                    await self._aput(key, self._entry(exc, started, True), True)
            flight.settle(key, fut, None, exc)
            raise
        try:
            await self._aput(key, self._entry(value, started), False)
        finally:
            flight.settle(key, fut, value, None)
        return value

    async def _aflight_do(self, key: Any, loader: Optional[Callable[[Any], Any]]) -> Any:
        fn = self._loader(loader)
        if self._aflight is None:
            self._aflight = AsyncSingleFlight()
        return (await self._aflight.do(key, lambda: self._aload_once_everywhere(key, fn), self.timeout))[0]

    async def _aload_once_everywhere(self, key: Any, fn: Callable[[Any], Any]) -> Any:
        if self.lease is None:
            return await self._aload(key, fn)

        async def check() -> tuple[bool, Any]:
            raw = (await self.cache.get(key, _MISS)) if self.is_async else self.cache.get(key, _MISS)
            action, value = self._decide(raw)
            if action is _ERROR:
                raise value
            return action is not _MISS_ACTION, value

        if not self._lease_is_async:
            raise TypeError("a RedisLease works with CacheAside.get(); use AsyncRedisLease in asyncio code")
        return await self.lease.load_once(key, lambda: self._aload(key, fn), check)

    async def _aload(self, key: Any, fn: Callable[[Any], Any], negative: bool = True) -> Any:
        started = self.timer()
        self._stats.loads += 1
        try:
            value = fn(key)
            if inspect.isawaitable(value):
                value = await value
        except Exception as exc:
            self._stats.load_errors += 1
            if negative and self.negative_ttl is not None:
                await self._aput(key, self._entry(exc, started, True), True)
            raise
        await self._aput(key, self._entry(value, started), False)
        return value

    async def _aput(self, key: Any, item: Any, is_error: bool) -> None:
        if not self.is_async:
            self._put(key, item, is_error)
            return
        ttl = self._store_ttl(is_error)
        try:
            if ttl is None:
                await self.cache.set(key, item)
            else:
                await self.cache.set(key, item, ttl=ttl)
        except Exception as exc:
            log.warning("cache-aside: could not store %r (%s: %s); returning it uncached",
                        key, type(exc).__name__, exc)

    def _arefresh_in_background(self, key: Any, fn: Callable[[Any], Any]) -> None:
        if key in self._refreshing:
            return
        self._refreshing.add(key)
        self._stats.refreshes += 1
        assert self._aflight is not None
        flight = self._aflight

        async def run() -> None:
            try:
                await flight.do(key, lambda: self._aload(key, fn, negative=False))
            except Exception as exc:
                log.warning("cache-aside: background refresh of %r failed (%s: %s); keeping the "
                            "current value until it expires", key, type(exc).__name__, exc)
            finally:
                self._refreshing.discard(key)

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def await_refreshes(self) -> None:
        """Wait for the background reloads started from asyncio."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


def load_missing(cache: Any, key: Any, loader: Callable[[Any], Any], ttl: Any = None) -> Any:
    """What a cache's own ``get_or_load`` calls after its lookup missed."""
    return _shared_engine(cache, None if ttl is DEFAULT else ttl).load_missing(key, loader)


async def aload_missing(cache: Any, key: Any, loader: Callable[[Any], Any], ttl: Any = None) -> Any:
    """What an asyncio cache's own ``get_or_load`` awaits after its lookup missed."""
    engine = _shared_engine(cache, None if ttl is DEFAULT else ttl)
    engine._stats.misses += 1
    return await engine._aflight_do(key, loader)


def get_or_load(cache: Any, key: Any, loader: Callable[[Any], Any], ttl: Any = None, **options: Any) -> Any:
    """``cache``'s value for key; on a miss ``loader(key)`` runs once across the
    process's threads and its result is stored (with ``ttl`` where the cache
    takes one).  ``options`` are :class:`CacheAside`'s; calls on one cache with
    the same ttl and options share one engine (its single-flight table and its
    background refreshes)."""
    return _shared_engine(cache, None if ttl is DEFAULT else ttl, options).get(key, loader)


async def aget_or_load(cache: Any, key: Any, loader: Callable[[Any], Any], ttl: Any = None,
                       **options: Any) -> Any:
    """:func:`get_or_load` for asyncio (async caches or loaders)."""
    return await _shared_engine(cache, None if ttl is DEFAULT else ttl, options).aget(key, loader)


# One engine per (cache, ttl, options), so concurrent get_or_load calls on one
# cache share a single-flight table.  Keyed by id: the engine holds the cache,
# so the id cannot be reused while the entry lives; entries go when the cache
# is collected (the weakref callback) - caches that cannot be weakly referenced
# get a fresh engine per call and therefore single-flight only per call.
_engines: dict[tuple[Any, ...], tuple["weakref.ref[Any]", CacheAside]] = {}
_engines_lock = threading.Lock()


def _shared_engine(cache: Any, ttl: Optional[float], options: Optional[dict[str, Any]] = None) -> CacheAside:
    try:
        k = (id(cache), ttl, tuple(sorted(options.items())) if options else ())
        hash(k)
    except TypeError:                           # an unhashable option value: a one-off engine
        return CacheAside(cache, ttl=ttl, **(options or {}))
    entry = _engines.get(k)
    if entry is not None and entry[0]() is cache:
        return entry[1]
    with _engines_lock:
        entry = _engines.get(k)
        if entry is not None and entry[0]() is cache:
            return entry[1]
        engine = CacheAside(cache, ttl=ttl, **(options or {}))
        try:
            ref = weakref.ref(cache, lambda _: _engines.pop(k, None))
        except TypeError:
            return engine
        # the registered engine must not keep the cache alive, or it is never forgotten
        engine.cache = weakref.proxy(cache)
        _engines[k] = (ref, engine)
    return engine
