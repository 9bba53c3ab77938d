"""Shadow LRU of key hashes (pure-Python twin of ``fastcache._core.hash_lru``).

Tracks, for large capacities, a spatial sample of the keys (1 in ``rate``,
chosen by hash bits) in an LRU of ``capacity / rate`` slots, as the
compiled twin does.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Iterable

__all__ = ("HashLRU",)

MAX_SLOTS = 256


class HashLRU:
    """An LRU set of mixed 64-bit hashes, spatially sampled for large capacities."""

    __slots__ = ("order", "capacity", "rate", "sample_mask")

    def __init__(self, capacity: int = 1) -> None:
        self.configure(capacity)

    def configure(self, capacity: int) -> None:
        """Track an LRU of ``capacity`` keys (sampled past MAX_SLOTS); forgets everything."""
        capacity = max(1, capacity)
        rate = 1
        while capacity // rate > MAX_SLOTS:
            rate <<= 1
        self.capacity = capacity // rate
        self.rate = rate
        self.sample_mask = rate - 1
        self.order: OrderedDict[int, None] = OrderedDict()

    def touch(self, x: int) -> int:
        """Record an access: 1 if LRU would have hit, 0 if not, -1 if x is not sampled."""
        if (x >> 40) & self.sample_mask:
            return -1
        order = self.order
        if x in order:
            order.move_to_end(x)
            return 1
        if len(order) == self.capacity:
            order.popitem(last=False)
        order[x] = None
        return 0

    access = touch

    def clear(self) -> None:
        self.order.clear()

    def __len__(self) -> int:
        return len(self.order)

    def state(self) -> list[int]:
        """The tracked hashes, least recently used first."""
        return list(self.order)

    def set_state(self, hashes: Iterable[int]) -> None:
        """Replay ``state()`` into this (cleared) shadow."""
        self.order.clear()
        for x in hashes:
            self.touch(x)
