"""Memoizing decorators: ``lru_cache`` (functools' contract) and ``cached`` /
``cachedmethod`` (cachetools' contract)."""
from __future__ import annotations

import functools
import types
from collections.abc import Callable, MutableMapping
from typing import Any, Optional, TypeVar, Union, overload

from . import _impl
from ._types import CacheInfo
from .keys import hashkey, methodkey

__all__ = ("lru_cache", "cached", "cachedmethod")

F = TypeVar("F", bound=Callable[..., Any])


@overload
def lru_cache(maxsize: Callable[..., Any], typed: bool = False) -> Any: ...
@overload
def lru_cache(maxsize: Optional[int] = 128, typed: bool = False) -> Callable[[Callable[..., Any]], Any]: ...


def lru_cache(maxsize: Any = 128, typed: bool = False) -> Any:
    """Least-recently-used cache decorator, with ``functools.lru_cache``'s API.

    ``maxsize=None`` caches without bound, ``0`` (or a negative number)
    caches nothing but still counts misses; ``typed=True`` caches arguments
    of different types separately.  The wrapper has ``cache_info()``,
    ``cache_clear()``, ``cache_parameters()`` and ``__wrapped__``, binds as
    a method, and pickles by qualified name.  Usable bare: ``@lru_cache``.
    The hit path runs in C when the extension is built.
    """
    if isinstance(maxsize, int):
        if maxsize < 0:
            maxsize = 0
    elif callable(maxsize) and isinstance(typed, bool):
        user_function, maxsize = maxsize, 128
        wrapper = _impl.LRUCacheWrapper(user_function, maxsize, typed, CacheInfo)
        return functools.update_wrapper(wrapper, user_function)
    elif maxsize is not None:
        raise TypeError("Expected first argument to be an integer, a callable, or None")

    def decorating_function(user_function: Callable[..., Any]) -> Any:
        wrapper = _impl.LRUCacheWrapper(user_function, maxsize, typed, CacheInfo)
        return functools.update_wrapper(wrapper, user_function)

    return decorating_function


def _make_info(cache: Any, hits: int, misses: int) -> CacheInfo:
    if hasattr(cache, "maxsize") and hasattr(cache, "currsize"):
        return CacheInfo(hits, misses, cache.maxsize, cache.currsize)
    return CacheInfo(hits, misses, None, len(cache))


class _CachedFunction:
    """The wrapper ``cached`` returns (cachetools' call protocol)."""

    def __init__(self, func: Callable[..., Any], cache: MutableMapping[Any, Any],
                 key: Callable[..., Any], lock: Any, condition: Any, info: bool) -> None:
        functools.update_wrapper(self, func)
        self.cache = cache
        self.cache_key = key
        self.cache_lock = lock if lock is not None else condition
        self.cache_condition = condition
        self._func = func
        self._info = info
        self._hits = self._misses = 0
        self._pending: set[Any] = set()

    def __call__(self, /, *args: Any, **kwargs: Any) -> Any:
        cache, func = self.cache, self._func
        key = self.cache_key(*args, **kwargs)
        lock, cond = self.cache_lock, self.cache_condition
        if lock is None:
            try:
                result = cache[key]
                self._hits += 1
                return result
            except KeyError:
                self._misses += 1
            value = func(*args, **kwargs)
            try:
                cache[key] = value
            except ValueError:
                pass                    # value too large: return it uncached
            return value
        if cond is None:
            with lock:
                try:
                    result = cache[key]
                    self._hits += 1
                    return result
                except KeyError:
                    self._misses += 1
            value = func(*args, **kwargs)
            with lock:
                try:
                    # Another thread may have stored a value meanwhile: prefer it.
                    return cache.setdefault(key, value)
                except ValueError:
                    return value
        # With a condition, one caller per key computes; the others wait for it.
        with lock:
            while key in self._pending:
                cond.wait()
            try:
                result = cache[key]
                self._hits += 1
                return result
            except KeyError:
                self._pending.add(key)
                self._misses += 1
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
                self._pending.discard(key)
                cond.notify_all()       # waiters retry: an exception is never cached

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

    def __getattr__(self, name: str) -> Any:
        if name == "cache_info" and self.__dict__.get("_info"):
            return self._cache_info
        raise AttributeError(name)

    def _cache_info(self) -> CacheInfo:
        lock = self.cache_lock
        if lock is None:
            return _make_info(self.cache, self._hits, self._misses)
        with lock:
            return _make_info(self.cache, self._hits, self._misses)

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        return self if obj is None else types.MethodType(self, obj)

    def __copy__(self) -> "_CachedFunction":
        return self

    def __deepcopy__(self, memo: Any) -> "_CachedFunction":
        return self

    def __reduce__(self) -> str:
        return self.__qualname__  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        return "<cached %r>" % (self._func,)


def cached(cache: MutableMapping[Any, Any], key: Callable[..., Any] = hashkey, lock: Any = None,
           condition: Any = None, info: bool = False) -> Callable[[F], F]:
    """Memoize a function in ``cache``, following ``cachetools.cached``.

    ``key`` builds the key from the arguments (``fastcache.keys``); ``lock``
    (a context manager) guards the cache, the function runs outside it;
    ``condition`` (a ``threading.Condition``) also makes concurrent callers of
    one key wait for the first one's result; ``info=True`` adds
    ``cache_info()``.  A value too large for the cache is returned uncached.
    """
    if cache is None:
        raise TypeError("cache must not be None")

    def decorator(func: F) -> F:
        return _CachedFunction(func, cache, key, lock, condition, info)  # type: ignore[return-value]

    return decorator


def cachedmethod(cache: Callable[[Any], Optional[MutableMapping[Any, Any]]],
                 key: Callable[..., Any] = methodkey, lock: Optional[Callable[[Any], Any]] = None,
                 condition: Optional[Callable[[Any], Any]] = None) -> Callable[[F], F]:
    """Memoize a method in a per-instance cache: ``cache(self)`` returns it.

    ``key(self, *args, **kwargs)`` builds the key (``self`` left out by
    default); ``lock(self)``/``condition(self)`` as for ``cached``.  If
    ``cache(self)`` returns None, the method is called uncached.
    """
    if not callable(cache):
        raise TypeError("cache must be callable")

    def decorator(method: F) -> F:
        pending: dict[int, set[Any]] = {}

        @functools.wraps(method)
        def wrapper(self: Any, /, *args: Any, **kwargs: Any) -> Any:
            c = cache(self)
            if c is None:
                return method(self, *args, **kwargs)
            k = key(self, *args, **kwargs)
            lk = lock(self) if lock is not None else None
            cond = condition(self) if condition is not None else None
            if lk is None and cond is not None:
                lk = cond
            if lk is None:
                try:
                    return c[k]
                except KeyError:
                    pass
                value = method(self, *args, **kwargs)
                try:
                    c[k] = value
                except ValueError:
                    pass
                return value
            if cond is None:
                with lk:
                    try:
                        return c[k]
                    except KeyError:
                        pass
                value = method(self, *args, **kwargs)
                with lk:
                    try:
                        return c.setdefault(k, value)
                    except ValueError:
                        return value
            waiting = pending.setdefault(id(c), set())
            with lk:
                while k in waiting:
                    cond.wait()
                try:
                    return c[k]
                except KeyError:
                    waiting.add(k)
            try:
                value = method(self, *args, **kwargs)
                with lk:
                    try:
                        c[k] = value
                    except ValueError:
                        pass
                    return value
            finally:
                with lk:
                    waiting.discard(k)
                    cond.notify_all()

        wrapper.cache = cache  # type: ignore[attr-defined]
        wrapper.cache_key = key  # type: ignore[attr-defined]
        wrapper.cache_lock = lock  # type: ignore[attr-defined]
        wrapper.cache_condition = condition  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorator
