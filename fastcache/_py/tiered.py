"""Pure-Python twin of ``fastcache._core.tiered`` (the L1 hit path of TieredCache)."""
from __future__ import annotations

import math
import time
from typing import Any, Callable, Optional

_MISSING: Any = object()


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
        self.l1 = l1
        self._l1_get = l1.get
        if timer is not None and not callable(timer):
            raise TypeError(f"timer must be callable, not {type(timer).__name__}")
        self._timer = timer or time.monotonic
        self.clock_slack = 0.0
        self.l1_hits = 0

    def now(self) -> float:
        """The time on this cache's clock (what deadlines are measured on)."""
        t = self._timer()
        if isinstance(t, bool) or not isinstance(t, (int, float)):
            raise TypeError(f"timer must return a number of seconds, not {type(t).__name__}")
        return float(t)

    def _lookup_l1(self, key: Any) -> Any:
        v = self._l1_get(key, _MISSING)
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

    def _store(self, key: Any, value: Any, expires: float = math.inf) -> None:
        """Put value in L1 with a deadline (on this cache's clock)."""
        self.l1[key] = L1Entry(value, expires)

    def l1_deadline(self, key: Any) -> Optional[float]:
        """The deadline of key's L1 copy (None: no deadline); KeyError if L1 has none."""
        v = self._l1_get(key, _MISSING)
        if type(v) is not L1Entry:
            raise KeyError(key)
        return None if v.expires == math.inf else v.expires

    def _get_miss(self, key: Any, default: Any) -> Any:
        raise NotImplementedError
