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

Where the code lives: :mod:`._cache_aside_core` decides without I/O (options,
entries, the :class:`Action` table, counters) and holds the two background
refreshers; :mod:`._async_cache_aside` is the one source of the reads and
loads, and :mod:`._sync_cache_aside` is generated from it by
``scripts/unasync.py``.  ``get`` and ``aget`` therefore decide, count and
store alike (``tests/test_mode_parity.py`` checks it).
"""
from __future__ import annotations

import weakref
from typing import Any, Callable, Optional

from .._types import DEFAULT
from ..loading import aload_missing as aload_missing  # re-exported: where get_or_load used to live
from ..loading import attached
from ..loading import load_missing as load_missing
from ..singleflight import LoadTimeout
from ._async_cache_aside import AsyncCacheAsideIO
from ..loading import LoaderReturnedAwaitable
from ._cache_aside_core import ENTRY_MARK, Action, CacheAsideStats
from ._sync_cache_aside import CacheAsideIO
from .._impl import AsideFront

__all__ = ("CacheAside", "CacheAsideStats", "get_or_load", "aget_or_load", "LoadTimeout", "ENTRY_MARK",
           "Action", "LoaderReturnedAwaitable")


class CacheAside(CacheAsideIO, AsyncCacheAsideIO, AsideFront):
    """Cache-aside over ``cache`` with single-flight loads and freshness options.

    ``loader(key)`` (sync or async) may be given here or per call.  ``ttl``
    is the freshness lifetime (None: the cache's default); see the module
    docstring for the other options.  ``timer`` (default ``time.time``, wall
    clock because entries may be shared between processes through Redis)
    and ``random`` (a callable returning a float in (0, 1]) are injectable.
    ``get``/``get_call``/``load_missing``/``invalidate`` read from threads,
    ``aget``/``aget_call``/``aload_missing``/``ainvalidate`` from asyncio.
    """

    # The hit path of a sync cache is the compiled front's (fastcache._core.aside): it
    # hands the engine's get_call what it read when it cannot decide the read itself.
    get = AsideFront.get


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
# cache share a single-flight table, kept while the cache lives (loading.attached).
def _shared_engine(cache: Any, ttl: Optional[float], options: Optional[dict[str, Any]] = None) -> CacheAside:
    try:
        kind = ("cache-aside", ttl, tuple(sorted(options.items())) if options else ())
        hash(kind)
    except TypeError:                           # an unhashable option value: a one-off engine
        return CacheAside(cache, ttl=ttl, **(options or {}))

    def make() -> CacheAside:
        engine = CacheAside(cache, ttl=ttl, **(options or {}))
        try:                                    # the registered engine must not keep the cache alive
            engine.cache = weakref.proxy(cache)
        except TypeError:
            pass
        else:
            engine._forget_cache()              # nor its compiled front
        return engine
    return attached(cache, kind, make)  # type: ignore[no-any-return]
