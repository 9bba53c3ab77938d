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
    """

    __slots__ = ()
