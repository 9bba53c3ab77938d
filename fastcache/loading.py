"""Calling user code that may be sync or async (the one place that knows a
loader, a store's write function or a cache's method may return an awaitable),
and the load-on-miss behind every cache's ``get_or_load``.

``call_async`` (used by the asyncio code) awaits what it gets back;
``call_sync`` is its twin in the code that ``scripts/unasync.py`` generates
from the asyncio source (sync callables only).
"""
from __future__ import annotations

import inspect
import logging
import threading
import weakref
from typing import Any, Callable, Hashable, Optional

from ._types import DEFAULT
from .singleflight import AsyncSingleFlight, SingleFlight

__all__ = ("call_async", "call_sync", "load_missing", "aload_missing", "store_value", "check_ttl_support",
           "LoaderReturnedAwaitable", "reject_coroutine_function")

log = logging.getLogger("fastcache")


async def call_async(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)``, awaited if it returned an awaitable."""
    value = fn(*args)
    if inspect.isawaitable(value):
        value = await value
    return value


class LoaderReturnedAwaitable(TypeError):
    """Sync code got an awaitable from a user's function (a usage error: never cached or stored)."""


def returned_awaitable(value: Any) -> LoaderReturnedAwaitable:
    """The usage error for sync code handed an awaitable (closed, so it is never awaited)."""
    if inspect.iscoroutine(value):
        value.close()                           # no "was never awaited" warning
    return LoaderReturnedAwaitable("a function returned an awaitable in sync code: use the asyncio "
                                   "class (or aget()) for coroutine functions")


def reject_coroutine_function(fn: Any, what: str) -> None:
    """TypeError, when a sync class is built, for a coroutine function it could never await."""
    if inspect.iscoroutinefunction(fn):
        raise TypeError(f"{what} is a coroutine function: use the asyncio class for it")


def call_sync(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)``; an awaitable result is a usage error (:class:`LoaderReturnedAwaitable`)."""
    value = fn(*args)
    if inspect.isawaitable(value):
        raise returned_awaitable(value)
    return value


# -- get_or_load on a cache ------------------------------------------------------------
#
# What every cache's own ``get_or_load`` runs after its lookup missed: the loader
# once per key across concurrent callers (one single-flight table per cache, so
# concurrent get_or_load calls on one cache share it), then the value stored.
# Tables are kept per cache id while the cache lives (a weakref callback forgets
# them); a cache that cannot be weakly referenced gets a table per call.

_registry: dict[tuple[Any, ...], tuple["weakref.ref[Any]", Any]] = {}
_registry_lock = threading.Lock()


def attached(owner: Any, kind: Hashable, make: Callable[[], Any]) -> Any:
    """The object of ``kind`` attached to ``owner`` (made by ``make()`` on first use),
    kept while owner lives and forgotten when it is collected; an owner that
    cannot be weakly referenced gets a new one per call."""
    k = (id(owner), kind)
    entry = _registry.get(k)
    if entry is not None and entry[0]() is owner:
        return entry[1]
    with _registry_lock:
        entry = _registry.get(k)
        if entry is not None and entry[0]() is owner:
            return entry[1]
        obj = make()
        try:
            ref = weakref.ref(owner, lambda _: _registry.pop(k, None))
        except TypeError:
            return obj
        _registry[k] = (ref, obj)
        return obj


def check_ttl_support(cache: Any, ttl: Optional[float]) -> None:
    """TypeError, before anything is written, when a TTL is asked of a cache without them."""
    if ttl is not None and not callable(getattr(cache, "set", None)):
        raise TypeError(f"{type(cache).__name__} has no per-item TTL (no set(key, value, ttl=)); use a fastcache cache "
                        "(every L1 class takes one), RedisCache or TieredCache")


def store_value(cache: Any, key: Any, value: Any, ttl: Optional[float] = None) -> Any:
    """Store value in any fastcache cache, with ttl where given (TypeError if the cache has no
    per-item TTL); what an asyncio cache's ``set`` returned, for the caller to await."""
    setter = getattr(cache, "set", None)
    if setter is None:
        check_ttl_support(cache, ttl)
        cache[key] = value
        return None
    return setter(key, value) if ttl is None else setter(key, value, ttl=ttl)


def _store_failed(key: Any, exc: BaseException) -> None:
    if not isinstance(exc, ValueError):         # ValueError: too large for the cache
        log.warning("get_or_load: could not store %r (%s: %s); returning it uncached",
                    key, type(exc).__name__, exc)


def load_missing(cache: Any, key: Any, loader: Callable[[Any], Any], ttl: Any = None) -> Any:
    """``loader(key)`` once across this process's threads, its value stored in cache (with ttl)."""
    ttl = None if ttl is DEFAULT else ttl
    check_ttl_support(cache, ttl)

    def load() -> Any:
        value = call_sync(loader, key)
        try:
            store_value(cache, key, value, ttl)
        except Exception as exc:
            _store_failed(key, exc)
        return value
    return attached(cache, SingleFlight, SingleFlight).do(key, load)[0]


async def aload_missing(cache: Any, key: Any, loader: Callable[[Any], Any], ttl: Any = None) -> Any:
    """``loader(key)`` (sync or async) once across this loop's tasks, its value stored in cache."""
    ttl = None if ttl is DEFAULT else ttl
    if not inspect.iscoroutinefunction(getattr(cache, "set", None)):
        check_ttl_support(cache, ttl)

    async def load() -> Any:
        value = await call_async(loader, key)
        try:
            stored = store_value(cache, key, value, ttl)
            if inspect.isawaitable(stored):
                await stored
        except Exception as exc:
            _store_failed(key, exc)
        return value
    return (await attached(cache, AsyncSingleFlight, AsyncSingleFlight).do(key, load))[0]
