"""Pure-Python twin of ``fastcache._core.tiered`` (the L1 hit path of TieredCache).

With one of fastcache's caches as L1 (these pure classes here) an L1 copy's
deadline is the cache's own (its expiry layer, on its timer); any other
mapping holds :class:`L1Entry` objects (value plus deadline).
"""
from __future__ import annotations

import math
import time
from typing import Any, Callable, Optional

from .adaptive import AdaptiveCache
from .fifo import FIFOCache
from .lfu import LFUCache
from .lru import LRUCache
from .ttl import TTLCache

_MISSING: Any = object()


def _caches_with_expiry() -> tuple[type, ...]:
    """fastcache's L1 classes, pure and (where built) compiled: each keeps its items' deadlines."""
    out: list[type] = [LRUCache, LFUCache, FIFOCache, TTLCache, AdaptiveCache]
    try:
        from .._core import adaptive, fifo, lfu, lru, ttl
    except ImportError:
        return tuple(out)
    return (*out, lru.LRUCache, lfu.LFUCache, fifo.FIFOCache, ttl.TTLCache, adaptive.AdaptiveCache)


_OWN_EXPIRY = _caches_with_expiry()


class L1Entry:
    """A value held in L1, with the clock time at which it stops being served."""

    __slots__ = ("value", "expires")

    def __init__(self, value: Any, expires: float = math.inf) -> None:
        self.value = value
        self.expires = float(expires)

    def __repr__(self) -> str:
        return f"L1Entry({self.value!r}, expires={self.expires!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (L1Entry, (self.value, self.expires))


class TieredFront:
    """Base of ``TieredCache``: owns the L1 and answers L1 hits."""

    l1: Any
    clock_slack: float
    l1_hits: int

    def _setup_front(self, l1: Any, timer: Optional[Callable[[], float]] = None) -> None:
        if timer is not None and not callable(timer):
            raise TypeError(f"timer must be callable, not {type(timer).__name__}")
        self._table: Any = None
        if type(l1) in _OWN_EXPIRY:
            self._table = l1
            if timer is not None:
                l1._use_timer(timer)            # deadlines on one clock: the cache's
        self.l1 = l1
        self._l1_get = l1.get
        self._timer = timer or time.monotonic
        self.clock_slack = 0.0
        self.l1_hits = 0

    def now(self) -> float:
        """The time on this cache's clock (what deadlines are measured on)."""
        t = self._timer() if self._table is None else self._table.timer()
        if isinstance(t, bool) or not isinstance(t, (int, float)):
            raise TypeError(f"timer must return a number of seconds, not {type(t).__name__}")
        return float(t)

    def _lookup_l1(self, key: Any) -> Any:
        v = self._l1_get(key, _MISSING)
        if self._table is not None:
            if v is not _MISSING:
                self.l1_hits += 1
            return v
        if type(v) is L1Entry and (v.expires == math.inf or self.now() < v.expires):
            self.l1_hits += 1
            return v.value
        return _MISSING

    def get(self, key: Any, default: Any = None) -> Any:
        """The value for key: from L1, else L2 (filling L1), else default."""
        v = self._lookup_l1(key)
        if v is not _MISSING:
            return v
        return self._get_miss(key, default)

    def get_l1(self, key: Any, default: Any = None) -> Any:
        """The value for key if L1 holds a live copy, else default (no L2)."""
        v = self._lookup_l1(key)
        return default if v is _MISSING else v

    def _store_for(self, key: Any, value: Any, lifetime: Optional[float]) -> bool:
        """Put value in L1 for ``lifetime`` seconds less the clock slack (None: no deadline);
        False, storing nothing, when nothing is left of it."""
        expires = math.inf
        if lifetime is not None:
            life = float(lifetime) - self.clock_slack
            if life <= 0.0:
                return False
            expires = self.now() + life
        self._store(key, value, expires)
        return True

    def _store(self, key: Any, value: Any, expires: float = math.inf) -> None:
        """Put value in L1 with a deadline (on this cache's clock)."""
        if self._table is not None:
            self._table._store_until(key, value, expires)
        else:
            self.l1[key] = L1Entry(value, expires)

    def l1_deadline(self, key: Any) -> Optional[float]:
        """The deadline of key's live L1 copy (None: no deadline); KeyError if L1 has none."""
        if self._table is not None:
            deadline = self._table.expires_at(key, _MISSING)
            if deadline is _MISSING:
                raise KeyError(key)
            return None if deadline == math.inf else float(deadline)
        v = self._l1_get(key, _MISSING)
        if type(v) is not L1Entry:
            raise KeyError(key)
        return None if v.expires == math.inf else v.expires

    def _get_miss(self, key: Any, default: Any) -> Any:
        raise NotImplementedError
