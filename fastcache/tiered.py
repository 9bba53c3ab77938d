"""Two-tier caching: a local L1 in front of a shared L2 (Redis).

``TieredCache(l1=LRUCache(50_000), l2=RedisCache(...))``:

* ``get`` answers from L1 (compiled path, no network), else from L2 (and
  keeps a copy in L1 no longer than the L2 entry has left to live), else
  returns the default.  ``get_or_load`` calls the loader on a miss, once
  per key per process however many threads miss together.
* ``set``/``delete`` write L2 first, then L1, then tell other processes to
  drop their L1 copies (pub/sub, see :mod:`fastcache.redis.invalidation`).
* L2 failures never raise from reads: they count in ``stats()``, are
  logged once per incident, and after ``breaker_threshold`` consecutive
  failures a circuit breaker skips L2 for ``breaker_cooldown`` seconds.
  Writes that cannot reach L2 raise (after dropping the L1 copy), because
  a write that silently did not happen is worse than an error.

Where the code lives: :mod:`fastcache._tiered_logic` decides without I/O
(L1 fills, epochs, breaker accounting, tags, stats);
:mod:`fastcache._async_tiered` is the one hand-written source of the methods
that wait on L2, and :mod:`fastcache._sync_tiered` is generated from it by
``scripts/unasync.py``.  This module adds only what differs between the
modes: the sync class inherits the compiled L1 hit path and starts its
listener thread at once; the asyncio class composes the same front and
starts its listener task in the running loop on first use.

The L1 is owned by the tiered cache: write it only through the tiered cache
(each copy's deadline is kept beside it, and a value written around the
tiered cache has none, so it is never served).
"""
from __future__ import annotations

from typing import Any, Callable, Optional

from ._async_tiered import AsyncTieredMethods
from ._impl import TieredFront
from ._sync_tiered import TieredMethods
from ._tiered_logic import MISS, TieredStats
from ._types import DEFAULT
from .errors import L2_ERRORS
from .protocols import L2, AsyncL2, L1Cache
from .singleflight import AsyncSingleFlight, SingleFlight

__all__ = ("TieredCache", "AsyncTieredCache", "TieredStats", "DEFAULT", "L2_ERRORS")


def _check_l1(l1: Any) -> None:
    if not isinstance(l1, L1Cache):
        missing = [n for n in ("get", "pop", "clear", "__setitem__", "__contains__", "__len__") if not hasattr(l1, n)]
        raise TypeError(f"l1 must be a mutable mapping (a fastcache cache); it has no {', '.join(missing)}")


class SyncTieredMethods(TieredMethods):
    """Everything of :class:`TieredCache` but the compiled L1 hit path
    (over the compiled or the pure-Python front)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # the shared methods look L1 up through _get_l1: here the front's own
        # get_l1 (a class attribute, so no bound-method cycle and no extra frame)
        front_get_l1 = getattr(cls, "get_l1", None)
        if front_get_l1 is not None:
            cls._get_l1 = front_get_l1

    def __init__(self, l1: Any, l2: L2, *, l1_ttl: Optional[float] = None,
                 invalidation: Optional[bool] = None,
                 on_invalidate: Optional[Callable[[Optional[list[Any]], str], None]] = None,
                 breaker_threshold: int = 5, breaker_cooldown: float = 1.0,
                 timer: Optional[Callable[[], float]] = None, coherence: Any = "pubsub",
                 coalesce: float = 0.0) -> None:
        _check_l1(l1)
        self._setup_front(l1, timer)          # type: ignore[attr-defined]
        self._setup(l2, l1_ttl, invalidation, on_invalidate, breaker_threshold, breaker_cooldown, timer,
                    coherence, coalesce)
        self._flight = SingleFlight()
        self._started = False
        self.start()                          # the listener thread runs from the start


class TieredCache(SyncTieredMethods, TieredFront):
    """L1 (in-process) in front of L2 (Redis), with cross-process invalidation.

    ``l1``: a fastcache cache (LRUCache, LFUCache, FIFOCache get the compiled
    hit path; any mapping with ``get``/``pop``/``clear`` works).  ``l2``: a
    ``RedisCache`` or ``ShardedRedisCache`` (or anything with their
    methods).  ``l1_ttl`` caps how long L1 keeps a copy; copies never
    outlive the L2 entry.  ``invalidation`` (default: on when L2 is Redis)
    subscribes to the namespace's invalidation channel;
    ``on_invalidate(keys, reason)`` is called for each remote invalidation.
    ``coherence``: ``"pubsub"`` (default: each process publishes after its own writes) or
    ``"tracking"`` (Redis's client tracking reports every change under the namespace,
    whoever makes it: another service, ``redis-cli``, a script, an expiry or eviction
    inside Redis; Redis >= 6.0, a single server, a sharded ring or a Redis Cluster - every
    master tracked).  ``coalesce`` (pub/sub mode; seconds, default 0: off): instead of a
    message per write, the keys written within that window go out together, one message per
    node, at most ``coalesce`` seconds after the first of them (``set`` no longer waits for
    the PUBLISH); other processes learn of a write up to that much later.
    ``timer`` is the clock for L1 deadlines and the breaker (for tests).
    """


class AsyncTieredCache(AsyncTieredMethods):
    """:class:`TieredCache` for asyncio: the same methods, awaited.

    ``l2`` is an ``AsyncRedisCache`` (or anything with its coroutine
    methods).  L1 lookups use the same compiled path as the sync cache;
    ``get_l1`` stays synchronous.  The invalidation listener is a task
    started on first use (or by ``async with`` / :meth:`start`) in the
    running loop.  ``get_or_load`` accepts a sync or async loader.
    """

    _front_class: Any = TieredFront     # the L1 hit path (compiled, or its pure twin in the tests)

    def __init__(self, l1: Any, l2: AsyncL2, *, l1_ttl: Optional[float] = None,
                 invalidation: Optional[bool] = None,
                 on_invalidate: Optional[Callable[[Optional[list[Any]], str], None]] = None,
                 breaker_threshold: int = 5, breaker_cooldown: float = 1.0,
                 timer: Optional[Callable[[], float]] = None, coherence: Any = "pubsub",
                 coalesce: float = 0.0) -> None:
        _check_l1(l1)
        self._front = self._front_class()
        self._front._setup_front(l1, timer)
        self._get_l1 = self._front.get_l1     # bound to the front, not to self: no cycle
        self._store_for = self._front._store_for
        self._setup(l2, l1_ttl, invalidation, on_invalidate, breaker_threshold, breaker_cooldown, timer,
                    coherence, coalesce)
        self._flight = AsyncSingleFlight()
        self._started = False

    @property
    def l1(self) -> Any:
        """The local tier."""
        return self._front.l1

    @property
    def l1_hits(self) -> int:  # type: ignore[override]
        """L1 hits so far."""
        return int(self._front.l1_hits)

    @property
    def clock_slack(self) -> float:  # type: ignore[override]
        """How far the L1 clock may lag real time (subtracted from deadlines)."""
        return float(self._front.clock_slack)

    def now(self) -> float:
        """The time on this cache's clock."""
        return float(self._front.now())

    def _store(self, key: Any, value: Any, expires: float = float("inf")) -> None:
        self._front._store(key, value, expires)

    def l1_deadline(self, key: Any) -> Optional[float]:
        """The deadline of key's L1 copy (None: no deadline); KeyError if L1 has none."""
        deadline: Optional[float] = self._front.l1_deadline(key)
        return deadline

    def get_l1(self, key: Any, default: Any = None) -> Any:
        """The value if L1 holds a live copy, else default (no L2)."""
        return self._front.get_l1(key, default)

    async def get(self, key: Any, default: Any = None) -> Any:
        """The value for key: from L1, else L2 (filling L1), else default."""
        v = self._get_l1(key, MISS)
        if v is not MISS:
            return v
        found, v = await self._read_l2(key)
        return v if found else default
