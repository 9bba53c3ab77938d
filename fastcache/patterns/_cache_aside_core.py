"""What CacheAside decides without I/O, for both modes: options, entries, the
decision table (:class:`Action`) and the counters; and the two background
refreshers (a thread pool vs loop tasks: the one place the modes differ)."""
from __future__ import annotations

import asyncio
import enum
import inspect
import logging
import math
import random as _random
import threading
import time
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, fields
from typing import Any, Callable, Hashable, Optional

from .._types import ttl_seconds
from ..singleflight import AsyncSingleFlight, SingleFlight
from ._adapter import is_async_cache

log = logging.getLogger("fastcache.patterns")

ENTRY_MARK = "fastcache.entry/1"
_MISS = object()
_UNREAD = object()          # get_call's raw: the cache is still to be read


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


class CacheAsideCore:
    """Options, entries, decisions and counters of :class:`CacheAside` (no I/O)."""

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
        self.ttl = None if ttl is None else ttl_seconds(ttl, "ttl")            # the one TTL rule (_types)
        self.negative_ttl = None if negative_ttl is None else ttl_seconds(negative_ttl, "negative_ttl")
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
            raise TypeError(f"{type(cache).__name__} has no per-item TTL; use a fastcache cache "
                            "(every L1 class takes one), RedisCache or TieredCache, or a freshness option (the entry then carries its own expiry)")
        self._executor = executor
        self._own_executor: Optional[ThreadPoolExecutor] = None
        self._refreshing: set[Hashable] = set()
        self._refresh_lock = threading.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._flight = SingleFlight()
        self._aflight = AsyncSingleFlight()
        self._stats = CacheAsideStats()
        # the compiled hit path (fastcache._core.aside), where the engine is built on it
        setup_front = getattr(self, "_setup_front", None)
        if setup_front is not None:
            setup_front(cache, _MISS, _UNREAD, ENTRY_MARK, self.enveloped, self._fresh_fraction,
                        self.xfetch_beta is not None, self.timer, self.is_async)

    # -- shared bookkeeping -------------------------------------------------------

    def stats(self) -> CacheAsideStats:
        """A copy of the counters."""
        out = CacheAsideStats(**{f.name: getattr(self._stats, f.name) for f in fields(CacheAsideStats)})
        out.hits += getattr(self, "fast_hits", 0)       # the hits the compiled front answered
        return out

    def _call_loader(self, func: Optional[Callable[..., Any]], args: tuple[Any, ...],
                     kwargs: Optional[dict[str, Any]], loader: Optional[Callable[[Any], Any]]) -> Callable[[Any], Any]:
        """The loader of a read: ``func(*args, **kwargs)`` for a memoized call, else loader(key)."""
        if func is None:
            return self._loader(loader)
        if kwargs:
            return lambda _key: func(*args, **kwargs)
        return lambda _key: func(*args)

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

    def _claim_refresh(self, key: Hashable) -> bool:
        """True if no background reload of key runs yet (and one is now counted)."""
        with self._refresh_lock:
            if key in self._refreshing:
                return False
            self._refreshing.add(key)
        self._stats.refreshes += 1
        return True

    def _refresh_done(self, key: Hashable) -> None:
        with self._refresh_lock:
            self._refreshing.discard(key)

    def refreshing(self) -> int:
        """Background reloads in progress."""
        return len(self._refreshing)


class RefreshTasks:
    """Background reloads for the sync reads: on ``executor`` or a small pool of our own."""

    _refreshing: set[Hashable]
    _executor: Optional[Executor]
    _own_executor: Optional[ThreadPoolExecutor]
    _refresh_lock: threading.Lock

    def _spawn(self, run: Callable[[], Any]) -> None:
        executor = self._executor
        if executor is None:
            with self._refresh_lock:
                if self._own_executor is None:
                    self._own_executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="fastcache-refresh")
                executor = self._own_executor
        executor.submit(run)

    def wait_refreshes(self, timeout: float = 5.0) -> bool:
        """Block until no background reload is running (for tests and shutdown); whether none is."""
        deadline = time.monotonic() + timeout
        while self._refreshing:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.001)
        return True

    def close(self) -> None:
        """Stop the background-refresh threads this object started."""
        if self._own_executor is not None:
            self._own_executor.shutdown(wait=True)
            self._own_executor = None


class AsyncRefreshTasks:
    """Background reloads for the asyncio reads: tasks of the running loop."""

    _tasks: set["asyncio.Task[Any]"]

    async def _aspawn(self, run: Callable[[], Any]) -> None:
        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def await_refreshes(self, timeout: float = 5.0) -> bool:
        """Wait until no background reload started from asyncio is running; whether none is."""
        deadline = time.monotonic() + timeout
        while self._tasks:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            await asyncio.wait(list(self._tasks), timeout=left)
        return True
