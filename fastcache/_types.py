"""Small value types shared by the compiled and the pure-Python caches."""
from __future__ import annotations

import enum
import math
from typing import Any, NamedTuple, Optional, Union

__all__ = ("RemovalCause", "CacheStats", "CacheInfo")


class RemovalCause(str, enum.Enum):
    """Why an item left a cache, as passed to ``on_evict(key, value, cause)``.

    ``SIZE`` and ``EXPIRED`` are evictions by the cache itself; ``EXPLICIT``
    is a ``del``/``pop``/``popitem``/``clear`` by the user; ``REPLACED`` is a
    value overwritten by a new one for the same key (the old value is passed).
    The values equal the strings moka-py uses.
    """

    EXPLICIT = "explicit"
    REPLACED = "replaced"
    SIZE = "size"
    EXPIRED = "expired"

    @property
    def was_evicted(self) -> bool:
        """True if the cache removed the item by itself (size or expiry)."""
        return self in (RemovalCause.SIZE, RemovalCause.EXPIRED)


class CacheStats(NamedTuple):
    """Counters returned by ``cache.stats()``.

    ``hits``/``misses`` count lookups through ``cache[key]`` and ``get``
    (``peek`` and ``in`` are not counted); ``evictions`` counts items removed
    to make room; ``expirations`` counts expired items removed.
    """

    hits: int
    misses: int
    evictions: int
    expirations: int
    currsize: int
    maxsize: Optional[Union[int, float]]

    @property
    def hit_ratio(self) -> float:
        """hits / (hits + misses), 0.0 before the first lookup."""
        total = self.hits + self.misses
        return self.hits / total if total else 0.0


class CacheInfo(NamedTuple):
    """Decorator statistics, the same four fields as ``functools`` and cachetools."""

    hits: int
    misses: int
    maxsize: Optional[Union[int, float]]
    currsize: int


class _DefaultTTL:
    """The type of :data:`DEFAULT`."""

    _instance: "_DefaultTTL | None" = None

    def __new__(cls) -> "_DefaultTTL":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "DEFAULT"

    def __reduce__(self) -> str:
        return "DEFAULT"


#: A ``ttl=`` argument meaning "the tier's default TTL" (``None`` means "never expire").
DEFAULT: Any = _DefaultTTL()


def check_ttl(ttl: Any, what: str = "ttl") -> Optional[float]:
    """A time-to-live argument: None (no expiry) or a positive, finite number of seconds."""
    if ttl is None:
        return None
    if isinstance(ttl, bool) or not isinstance(ttl, (int, float)):
        raise TypeError(f"{what} must be a number of seconds or None, not {type(ttl).__name__}")
    if not math.isfinite(ttl) or ttl <= 0:
        raise ValueError(f"{what} must be positive and finite, got {ttl!r}")
    return float(ttl)
