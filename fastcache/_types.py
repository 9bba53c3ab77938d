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


#: The one rule for a time-to-live, for every class that takes one: a positive number of
#: seconds; ``inf`` means never expires (a tier stores it without an expiry); NaN, zero
#: and negative numbers are refused with this message.
TTL_VALUE_ERROR = "%s must be a positive number of seconds (inf: never expires), got %r"
TTL_TYPE_ERROR = "%s must be a number of seconds, not %s"


def ttl_seconds(ttl: Any, what: str = "ttl") -> float:
    """A time-to-live as a float: positive, ``inf`` for never (TypeError / ValueError otherwise)."""
    if isinstance(ttl, bool) or not isinstance(ttl, (int, float)):
        raise TypeError(TTL_TYPE_ERROR % (what, type(ttl).__name__))
    t = float(ttl)
    if not t > 0:                                   # NaN, zero and negative numbers
        raise ValueError(TTL_VALUE_ERROR % (what, ttl))
    return t


def check_ttl(ttl: Any, what: str = "ttl") -> Optional[float]:
    """A tier's time-to-live argument: None or ``inf`` (no expiry: None), or positive seconds."""
    if ttl is None:
        return None
    t = ttl_seconds(ttl, what)
    return None if t == math.inf else t
