"""Memoizing decorators: ``lru_cache`` (functools' contract) and ``cached`` /
``cachedmethod`` (cachetools' contract)."""
from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, MutableMapping
from typing import Any, Optional, TypeVar, Union, overload

from . import _impl
from ._method import CachedMethod
from ._types import CacheInfo, check_ttl
from .keys import hashkey, methodkey
from .singleflight import SingleFlight

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


_ASIDE_OPTIONS = ("ttl", "negative_ttl", "refresh_threshold", "stale_while_revalidate", "stale_if_error",
                  "xfetch_beta", "timeout", "lease", "timer", "random")


def cached(cache: Any, key: Callable[..., Any] = hashkey, lock: Any = None,
           condition: Any = None, info: bool = False, *, single_flight: bool = True,
           **options: Any) -> Callable[[F], F]:
    """Memoize a function in ``cache``, following ``cachetools.cached``.

    ``key`` builds the key from the arguments (``fastcache.keys``); ``lock``
    (a context manager) guards the cache, the function runs outside it;
    ``condition`` (a ``threading.Condition``) also makes concurrent callers of
    one key wait for the first one's result; ``info=True`` adds
    ``cache_info()``.  A value too large for the cache is returned uncached.

    Beyond cachetools: without a lock, concurrent misses of one key call the
    function once (``single_flight=False`` turns that off); on a method, the
    default key names the instance by a weak token, so the cache does not
    keep instances alive; ``async def`` functions are cached too (single-flight
    across tasks), and so is anything over a ``RedisCache``/``TieredCache``.
    The keyword options of :class:`fastcache.patterns.CacheAside` (``ttl``,
    ``negative_ttl``, ``refresh_threshold``, ``stale_while_revalidate``,
    ``stale_if_error``, ``xfetch_beta``, ``timeout``, ``lease``, ``timer``)
    select that engine.
    """
    if cache is None:
        raise TypeError("cache must not be None")
    unknown = set(options) - set(_ASIDE_OPTIONS)
    if unknown:
        raise TypeError(f"cached() got unexpected keyword argument(s): {', '.join(sorted(unknown))}")
    is_mapping = hasattr(cache, "__getitem__") and hasattr(cache, "__setitem__")

    # ttl alone on a mapping with per-item TTLs keeps the compiled hit path
    ttl_only = set(options) <= {"ttl"} and lock is None and condition is None
    ttl = options.get("ttl")
    if ttl_only and ttl is not None and is_mapping:
        if not callable(getattr(cache, "set", None)):
            raise TypeError(f"{type(cache).__name__} has no per-item TTL; use a fastcache cache, or a freshness "
                            "option (stale_while_revalidate...) whose entries carry their own expiry")
        check_ttl(ttl)

    def decorator(func: F) -> F:
        if (options and not ttl_only) or not is_mapping or inspect.iscoroutinefunction(func):
            if lock is not None or condition is not None:
                raise TypeError("lock/condition apply to the cachetools-style wrapper; async functions, "
                                "non-mapping caches and CacheAside options synchronise by single-flight")
            from .patterns.cache_aside import CacheAside
            from .patterns.cached_function import CachedFunction
            engine = CacheAside(cache, **options)
            return functools.update_wrapper(CachedFunction(func, engine, key), func)  # type: ignore[return-value]
        cls = _impl.CachedInfoWrapper if info else _impl.CachedWrapper
        flight = SingleFlight() if single_flight and lock is None and condition is None else None
        return cls(func, cache, key, lock, condition, flight, ttl)  # type: ignore[return-value]   # wraps func itself

    return decorator


def cachedmethod(cache: Callable[[Any], MutableMapping[Any, Any]],
                 key: Callable[..., Any] = methodkey, lock: Optional[Callable[[Any], Any]] = None,
                 condition: Optional[Callable[[Any], Any]] = None, info: bool = False) -> Callable[[F], F]:
    """Memoize a method in a per-instance cache: ``cache(self)`` returns it (cachetools 8's contract).

    ``key(self, *args, **kwargs)`` builds the key (``self`` left out by
    default); ``lock(self)``/``condition(self)`` as for ``cached``;
    ``info=True`` adds ``cache_info()`` per instance.  ``obj.method`` has
    ``cache``, ``cache_key``, ``cache_lock``, ``cache_condition`` and
    ``cache_clear()``; ``Class.method(obj, ...)`` works too.  It must be the
    outermost decorator of a method defined in a class body, and instances
    need a writable ``__dict__`` (each keeps its bound wrapper there).
    """
    if not callable(cache):
        raise TypeError("cache must be callable")

    def decorator(method: F) -> F:
        return CachedMethod(method, cache, key, lock, condition, info)  # type: ignore[return-value]

    return decorator
