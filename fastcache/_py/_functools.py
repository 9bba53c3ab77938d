"""Pure-Python twin of ``fastcache._core._functools``: the ``lru_cache`` wrapper."""
from __future__ import annotations

import functools
import threading
import types
from collections.abc import MutableMapping
from typing import Any, Callable, Optional

from .._types import CacheInfo
from .._weakself import WeakMethodBinding
from ..singleflight import FOLLOW, REENTER
from .lru import LRUCache

__all__ = ("LRUCacheWrapper", "CachedWrapper", "CachedInfoWrapper", "HashedArgs", "call_locked")

_KWD_MARK = object()
_len = len     # bound at import: a program may replace builtins.len with a cached len
_missing = object()


class HashedArgs(list):  # type: ignore[type-arg]
    """An argument sequence that hashes its items once, when it is built.

    CPython's ``lru_cache`` calls each argument's ``__hash__`` exactly once
    per call; the lookup, the store and the eviction of a key built here
    reuse the hash computed in the constructor.
    """

    __slots__ = ("hashvalue",)

    def __init__(self, items: tuple[Any, ...]) -> None:
        super().__init__(items)
        self.hashvalue = hash(items)

    def __hash__(self) -> int:  # type: ignore[override]
        return self.hashvalue


def make_key(args: tuple[Any, ...], kwds: dict[str, Any], typed: bool) -> Any:
    """Build a key as functools.lru_cache does (kwargs in call order)."""
    if not kwds and not typed:
        if _len(args) == 1 and type(args[0]) in (int, str):
            return args[0]
        return HashedArgs(args)
    key = args
    if kwds:
        key += (_KWD_MARK,)
        for item in kwds.items():
            key += item
    if typed:
        key += tuple(type(v) for v in args)
        if kwds:
            key += tuple(type(v) for v in kwds.values())
    return HashedArgs(key)


class FunctionWrapper:
    """What the decorators share: a function's stand-in.

    ``functools.update_wrapper`` fills its ``__dict__``; it binds as a method,
    pickles by qualified name and copies as itself, as CPython's
    ``functools.lru_cache`` wrapper does.
    """

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        return self if obj is None else types.MethodType(self, obj)  # type: ignore[arg-type]

    def __reduce__(self) -> str:
        return self.__qualname__  # type: ignore[no-any-return, attr-defined]

    def __copy__(self) -> "FunctionWrapper":
        return self

    def __deepcopy__(self, memo: Any) -> "FunctionWrapper":
        return self


class LRUCacheWrapper(FunctionWrapper):
    """A function wrapped by ``lru_cache``; see ``functools.lru_cache``."""

    def __init__(self, func: Callable[..., Any], maxsize: Optional[int], typed: bool,
                 cache_info_type: Callable[..., Any]) -> None:
        self._func = func
        self._typed = typed
        self._info = cache_info_type
        self._maxsize_obj = maxsize
        self._maxsize = -1 if maxsize is None else maxsize
        self._lru: Optional[LRUCache[Any, Any]] = LRUCache(self._maxsize) if self._maxsize > 0 else None
        self._unbounded: dict[Any, Any] = {}
        self._hits = self._misses = 0
        self._lock = threading.RLock()    # re-entrant: a key's __eq__ may call the wrapper (functools allows it)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._maxsize == 0:
            self._misses += 1
            return self._func(*args, **kwargs)
        key = make_key(args, kwargs, self._typed)
        store: Any = self._lru if self._lru is not None else self._unbounded
        with self._lock:
            result = store.get(key, _missing)
            if result is not _missing:
                self._hits += 1
                return result
            self._misses += 1
        result = self._func(*args, **kwargs)
        with self._lock:
            if key not in store:        # a recursive or concurrent call may have stored it
                store[key] = result
        return result

    def cache_info(self) -> Any:
        """Report cache statistics: CacheInfo(hits, misses, maxsize, currsize)."""
        with self._lock:
            store: Any = self._lru if self._lru is not None else self._unbounded
            return self._info(self._hits, self._misses, self._maxsize_obj, len(store))

    def cache_clear(self) -> None:
        """Clear the cache and its statistics."""
        with self._lock:
            if self._lru is not None:
                self._lru.clear()
            self._unbounded.clear()
            self._hits = self._misses = 0

    def cache_parameters(self) -> dict[str, Any]:
        """Return {'maxsize': ..., 'typed': ...}."""
        return {"maxsize": self._maxsize_obj, "typed": self._typed}


def _make_info(cache: Any, hits: int, misses: int) -> CacheInfo:
    if hasattr(cache, "maxsize") and hasattr(cache, "currsize"):
        return CacheInfo(hits, misses, cache.maxsize, cache.currsize)
    return CacheInfo(hits, misses, None, len(cache))


def _store(cache: Any, key: Any, value: Any, ttl: Optional[float]) -> None:
    """cache[key] = value, or cache.set(key, value, ttl=ttl); a value too large stays uncached."""
    try:
        if ttl is None:
            cache[key] = value
        else:
            cache.set(key, value, ttl=ttl)
    except ValueError:
        pass


def call_locked(counts: Any, cache: Any, key: Any, lock: Any, condition: Any,
                func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """cachetools' protocol with a lock, for ``cached`` and ``cachedmethod`` alike.

    The lookup and the store run under ``lock``, the call does not.  Without a
    condition a value stored meanwhile wins; with one, one caller per key
    computes while the others wait (an exception reaches its caller, and the
    waiters retry).  ``counts`` has ``_hits``, ``_misses`` and ``_pending``.
    """
    if condition is None:
        with lock:
            try:
                result = cache[key]
            except KeyError:
                counts._misses += 1
            else:
                counts._hits += 1
                return result
        value = func(*args, **kwargs)
        with lock:
            try:
                return cache.setdefault(key, value)     # a value stored meanwhile wins
            except ValueError:
                return value                            # too large to cache
    pending = counts._pending
    with lock:
        while key in pending:
            condition.wait()
        try:
            result = cache[key]
        except KeyError:
            counts._misses += 1
            pending.add(key)
        else:
            counts._hits += 1
            return result
    try:
        value = func(*args, **kwargs)
        with lock:
            try:
                cache[key] = value
            except ValueError:
                pass
            return value
    finally:
        with lock:
            pending.discard(key)
            condition.notify_all()      # waiters retry: an exception is never cached


def _call_and_store(func: Callable[..., Any], cache: Any, key: Any, args: tuple[Any, ...],
                    kwargs: dict[str, Any], ttl: Optional[float]) -> Any:
    """A single-flight leader's work for a bound method: call, store."""
    value = func(*args, **kwargs)
    _store(cache, key, value, ttl)
    return value


class CachedWrapper(WeakMethodBinding, FunctionWrapper):
    """A function wrapped by ``fastcache.cached``: cachetools' call protocol."""

    def __init__(self, func: Callable[..., Any], cache: MutableMapping[Any, Any],
                 key: Callable[..., Any], lock: Any, condition: Any, flight: Any = None,
                 ttl: Optional[float] = None) -> None:
        # first, so a stacked wrapper's attributes (in func.__dict__) cannot override ours
        functools.update_wrapper(self, func)
        self.flight = flight
        self.ttl = ttl
        self.cache = cache
        self.cache_key = key
        self.cache_lock = lock if lock is not None else condition
        self.cache_condition = condition
        self._func = func
        self._hits = self._misses = 0
        self._pending: set[Any] = set()

    def _lookup(self, key: Any) -> Any:
        """cache[key], counted as a hit; _missing, counted as a miss, on KeyError."""
        try:
            result = self.cache[key]
        except KeyError:
            self._misses += 1
            return _missing
        self._hits += 1
        return result

    def __call__(self, /, *args: Any, **kwargs: Any) -> Any:
        key = self.cache_key(*args, **kwargs)
        if self.cache_lock is not None:
            return self._call_keyed(key, args, kwargs)
        # The common case written out here, not in a helper: between a recursive
        # memoized function's levels there is this frame only, as in cachetools.
        cache = self.cache
        try:
            result = cache[key]
        except KeyError:
            self._misses += 1
        else:
            self._hits += 1
            return result
        flight = self.flight
        if flight is None:
            value = self._func(*args, **kwargs)
            _store(cache, key, value, self.ttl)
            return value
        call, role = flight.begin(key)
        if role == FOLLOW:
            return flight.wait(call, None, key)
        if role == REENTER:
            value = self._func(*args, **kwargs)
            _store(cache, key, value, self.ttl)
            return value
        try:
            value = self._func(*args, **kwargs)
            _store(cache, key, value, self.ttl)
        except BaseException as exc:
            flight.settle(key, call, None, exc)
            raise
        flight.settle(key, call, value, None)
        return value

    def _call_keyed(self, key: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        cache, func = self.cache, self._func
        lock, cond = self.cache_lock, self.cache_condition
        if lock is None:
            result = self._lookup(key)
            if result is not _missing:
                return result
            if self.flight is not None:     # concurrent misses of one key: one call
                return self.flight.do(key, lambda: _call_and_store(func, cache, key, args, kwargs, self.ttl))[0]
            value = func(*args, **kwargs)
            _store(cache, key, value, self.ttl)
            return value
        return call_locked(self, cache, key, lock, cond, func, args, kwargs)

    def cache_clear(self) -> None:
        """Clear the cache (and the statistics, with ``info=True``)."""
        lock = self.cache_lock
        if lock is None:
            self.cache.clear()
            self._hits = self._misses = 0
        else:
            with lock:
                self.cache.clear()
                self._hits = self._misses = 0

    def __repr__(self) -> str:
        return "<cached %r>" % (self._func,)


class CachedInfoWrapper(CachedWrapper):
    """``cached(..., info=True)``: adds ``cache_info()``."""

    def cache_info(self) -> CacheInfo:
        """Return CacheInfo(hits, misses, maxsize, currsize) (maxsize None for plain mappings)."""
        lock = self.cache_lock
        if lock is None:
            return _make_info(self.cache, self._hits, self._misses)
        with lock:
            return _make_info(self.cache, self._hits, self._misses)
