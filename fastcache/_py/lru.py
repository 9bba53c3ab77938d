"""Least Recently Used cache (pure Python twin of ``fastcache._core.lru``)."""
from __future__ import annotations

from ._ordered import OrderedTable
from ._table import KT, VT

__all__ = ("LRUCache",)


class LRUCache(OrderedTable[KT, VT]):
    """Least Recently Used (LRU) cache: a drop-in for ``cachetools.LRUCache``.

    ``popitem()`` removes the least recently used item; ``cache[key]``,
    ``get`` and ``cache[key] = value`` count as uses, ``in`` and ``peek`` do
    not.  Structure: a dict plus an OrderedDict kept in use order.

    ``set(key, value, ttl=...)`` gives an item a time to live, measured on
    ``timer`` (``time.monotonic`` unless injected); expired items are never
    returned, counted or iterated, and the clock is never read until some
    item has a TTL.
    """

    __slots__ = ()
    _on_access = OrderedTable._on_update
