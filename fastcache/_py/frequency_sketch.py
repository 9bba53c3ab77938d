"""Count-min sketch for TinyLFU admission (pure-Python twin of ``fastcache._core.frequency_sketch``).

Computes the same bits as the compiled sketch (see its module docstring for
the design), so both ``AdaptiveCache`` implementations decide alike.
"""
from __future__ import annotations

from typing import Any

__all__ = ("FrequencySketch", "spread")

MASK64 = (1 << 64) - 1


def spread(h: int) -> int:
    """Mix a Python hash into 64 well-spread bits (the Murmur3 finaliser)."""
    x = h & MASK64
    x ^= x >> 33
    x = (x * 0xFF51AFD7ED558CCD) & MASK64
    x ^= x >> 33
    x = (x * 0xC4CEB9FE1A85EC53) & MASK64
    x ^= x >> 33
    return x


class FrequencySketch:
    """Count-min sketch with 4-bit counters and periodic halving."""

    __slots__ = ("table", "block_mask", "capacity", "sample_size", "additions")

    def __init__(self, capacity: int = 16) -> None:
        self.resize(capacity)

    def resize(self, capacity: int) -> None:
        """Size for ``capacity`` entries; forgets every count."""
        capacity = max(16, capacity)
        nblocks = 1
        while nblocks * 8 < capacity:
            nblocks <<= 1
        self.table = [0] * (nblocks * 8)
        self.block_mask = nblocks - 1
        self.capacity = capacity
        self.sample_size = 10 * capacity
        self.additions = 0

    def _counters(self, x: int) -> list[tuple[int, int]]:
        base = (x & self.block_mask) * 8
        choice = x >> 32
        out = []
        for row in range(4):
            bits = (choice >> (row * 8)) & 0xFF
            out.append((base + row * 2 + (bits & 1), ((bits >> 1) & 15) * 4))
        return out

    def increment(self, x: int) -> None:
        """Count one access of the key whose mixed hash is x (conservative update)."""
        table = self.table
        counters = self._counters(x)
        low = min((table[w] >> s) & 15 for w, s in counters)
        if low < 15:
            for w, s in counters:
                if (table[w] >> s) & 15 == low:
                    table[w] += 1 << s
        self.additions += 1
        if self.additions >= self.sample_size:
            self.halve()

    def frequency(self, x: int) -> int:
        """Estimated accesses of the key since about the last halving (0..15)."""
        table = self.table
        return min((table[w] >> s) & 15 for w, s in self._counters(x))

    def halve(self) -> None:
        self.table = [(w >> 1) & 0x7777777777777777 for w in self.table]
        self.additions //= 2

    def clear(self) -> None:
        self.table = [0] * len(self.table)
        self.additions = 0

    def add(self, key: Any) -> None:
        """Count one access of key."""
        self.increment(spread(hash(key)))

    def estimate(self, key: Any) -> int:
        """Estimated accesses of key (0..15)."""
        return self.frequency(spread(hash(key)))

    def state(self) -> tuple[int, int, list[int]]:
        """(capacity, additions, counter words), for pickling."""
        return (self.capacity, self.additions, list(self.table))

    def set_state(self, state: tuple[int, int, list[int]]) -> None:
        """Restore what ``state()`` returned."""
        capacity, additions, table = state
        self.resize(capacity)
        if len(table) != len(self.table):
            raise ValueError("sketch state does not match its capacity")
        self.table = list(table)
        self.additions = additions
