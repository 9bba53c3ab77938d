"""First In First Out cache (pure Python twin of ``fastcache._core.fifo``)."""
from __future__ import annotations

from ._ordered import OrderedTable
from ._table import KT, VT

__all__ = ("FIFOCache",)


class FIFOCache(OrderedTable[KT, VT]):
    """First In First Out (FIFO) cache: a drop-in for ``cachetools.FIFOCache``.

    ``popitem()`` removes the item stored longest ago; an update re-inserts.
    Reads do not change the order.  Structure: a dict plus an OrderedDict
    kept in write order.

    ``set(key, value, ttl=...)`` gives an item a time to live, measured on
    ``timer`` (``time.monotonic`` unless injected); expired items are never
    returned, counted or iterated, and the clock is never read until some
    item has a TTL.
    """

    __slots__ = ()
