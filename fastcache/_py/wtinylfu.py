"""W-TinyLFU with an adaptive window: the policy core of the coming ``AdaptiveCache``.

Keys only (no values, no sizes): the simulator drives it with ``access(key)``.
A small LRU *window* admits every new key; what the window evicts competes for
a place in the *main* segmented LRU (probation, then protected after a second
hit) against main's next victim, and gets in only if a count-min sketch says it
is used more often (TinyLFU, Einziger, Friedman and Manes, 2017).  The sketch
has four rows of 4-bit counters, halved every ``10 × capacity`` increments so
old popularity fades; a doorkeeper bit set absorbs keys seen once.  A hill
climber resizes the window (Caffeine's idea): every sample period it compares
the hit ratio with the previous period's and keeps moving the window the same
way while that helps, reversing when it does not, with a decaying step - a
large window behaves like LRU (recency-heavy traces), a small one like LFU.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any

__all__ = ("WTinyLFUPolicy",)

_SEEDS = (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93)
_MASK64 = (1 << 64) - 1


class _Sketch:
    """Count-min sketch, 4 rows of 4-bit counters, periodic halving, doorkeeper."""

    def __init__(self, capacity: int) -> None:
        width = 1
        while width < max(16, capacity):
            width <<= 1
        self.mask = width - 1
        self.rows = [bytearray(width) for _ in range(4)]
        self.door: set[int] = set()
        self.sample = 10 * max(capacity, 1)
        self.additions = 0

    def _indexes(self, h: int) -> list[int]:
        out = []
        for i, seed in enumerate(_SEEDS):
            x = ((h ^ seed) * 0xFF51AFD7ED558CCD) & _MASK64
            x ^= x >> 33
            out.append(x & self.mask)
        return out

    def frequency(self, key: Any) -> int:
        h = hash(key)
        f = min(row[i] for row, i in zip(self.rows, self._indexes(h)))
        return f + (1 if h in self.door else 0)

    def increment(self, key: Any) -> None:
        h = hash(key)
        if h not in self.door:
            self.door.add(h)
        else:
            idx = self._indexes(h)
            low = min(row[i] for row, i in zip(self.rows, idx))
            if low < 15:
                for row, i in zip(self.rows, idx):
                    if row[i] == low:          # conservative update
                        row[i] += 1
        self.additions += 1
        if self.additions >= self.sample:
            for row in self.rows:
                for i in range(len(row)):
                    row[i] >>= 1
            self.door.clear()
            self.additions //= 2


class WTinyLFUPolicy:
    """The policy over keys; ``access(key)`` returns whether it was a hit."""

    def __init__(self, capacity: int, window_fraction: float = 0.01, protected_fraction: float = 0.8,
                 climb: bool = True) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self.window_max = max(1, round(capacity * window_fraction)) if capacity > 1 else 0
        self.protected_fraction = protected_fraction
        self.window: OrderedDict[Any, None] = OrderedDict()
        self.probation: OrderedDict[Any, None] = OrderedDict()
        self.protected: OrderedDict[Any, None] = OrderedDict()
        self.sketch = _Sketch(capacity)
        self.climb = climb
        self.sample_size = max(100, 10 * capacity) if capacity > 100 else 1000
        self.step = max(1.0, capacity * 0.0625)
        self.direction = 1
        self.sample_hits = 0
        self.sample_count = 0
        self.previous_rate = -1.0
        # A shadow LRU of the same capacity (keys only) says what plain recency would
        # have hit in the same period; falling behind it pushes the window up fast.
        self.shadow: OrderedDict[Any, None] = OrderedDict()
        self.shadow_hits = 0

    def _main_max(self) -> int:
        return self.capacity - self.window_max

    def access(self, key: Any) -> bool:
        self.sketch.increment(key)
        hit = True
        if key in self.window:
            self.window.move_to_end(key)
        elif key in self.protected:
            self.protected.move_to_end(key)
        elif key in self.probation:
            del self.probation[key]
            self.protected[key] = None
            self._demote()
        else:
            hit = False
            self.window[key] = None
            self._evict()
        if self.climb:
            self._sample(hit, key)
        return hit

    def _demote(self) -> None:
        limit = int(self._main_max() * self.protected_fraction)
        while len(self.protected) > limit and self.protected:
            k, _ = self.protected.popitem(last=False)
            self.probation[k] = None

    def _evict(self) -> None:
        while len(self.window) > self.window_max:
            candidate, _ = self.window.popitem(last=False)
            if len(self.probation) + len(self.protected) < self._main_max():
                self.probation[candidate] = None
                continue
            victim_queue = self.probation if self.probation else self.protected
            if not victim_queue:
                continue                        # main has no room at all: the candidate is dropped
            victim = next(iter(victim_queue))
            if self.sketch.frequency(candidate) > self.sketch.frequency(victim):
                del victim_queue[victim]
                self.probation[candidate] = None
        while len(self.probation) + len(self.protected) > self._main_max():
            q = self.probation if self.probation else self.protected
            q.popitem(last=False)

    def _sample(self, hit: bool, key: Any = None) -> None:
        self.sample_hits += hit
        self.sample_count += 1
        shadow = self.shadow
        if key in shadow:
            shadow.move_to_end(key)
            self.shadow_hits += 1
        else:
            shadow[key] = None
            if len(shadow) > self.capacity:
                shadow.popitem(last=False)
        if self.sample_count < self.sample_size:
            return
        rate = self.sample_hits / self.sample_count
        lru_rate = self.shadow_hits / self.sample_count
        if lru_rate > rate + 0.005:
            self.direction = 1                  # recency wins here: widen the window quickly
            self.step = max(self.step, self.capacity * 0.25)
        elif self.previous_rate >= 0 and rate < self.previous_rate:
            self.direction = -self.direction
        self.previous_rate = rate
        self.sample_hits = self.sample_count = self.shadow_hits = 0
        self._resize(int(round(self.window_max + self.direction * self.step)))
        self.step = max(1.0, self.step * 0.98)

    def _resize(self, window: int) -> None:
        new = max(0, min(self.capacity - 1, window))
        if new != self.window_max:
            self.window_max = new
            self._evict()
            self._demote()
