"""Checked by `mypy --strict` in .ci/run (not run by pytest): the cache classes are generic.

Each marked line must be an error: with ``warn_unused_ignores`` (part of --strict), an
ignore that no longer matches an error fails the check, so this file fails if mypy stops
checking keys and values.
"""
from __future__ import annotations

import time
from datetime import datetime, timedelta

import fastcache
from fastcache import AdaptiveCache, FIFOCache, LFUCache, LRUCache, TTLCache

lru: LRUCache[str, int] = LRUCache(100)
lfu: LFUCache[str, int] = LFUCache(100)
fifo: FIFOCache[str, int] = FIFOCache(100)
ttl: TTLCache[str, int] = TTLCache(100, ttl=60)
adaptive: AdaptiveCache[str, int] = AdaptiveCache(100)
by_date: TTLCache[str, int] = TTLCache(100, ttl=timedelta(days=1), timer=datetime.now)

for cache in (lru, lfu, fifo, ttl, adaptive, by_date):
    cache["a"] = 1
    value: int = cache["a"]

lru[1] = 1          # type: ignore[index]
lru["b"] = "x"      # type: ignore[assignment]
wrong: str = lru["a"]   # type: ignore[assignment]
ttl[2] = 2          # type: ignore[index]
adaptive["c"] = b"x"    # type: ignore[assignment]

# every L1 class takes timer= and a per-item TTL
timed: LRUCache[str, int] = LRUCache(10, timer=time.monotonic)
for cache in (timed, lfu, fifo, ttl, adaptive):
    cache.set("a", 1, ttl=5)
    when: float = cache.expires_at("a", 0.0)
    gone: list[tuple[str, int]] = cache.expire()
timed.set("a", "x", ttl=5)  # type: ignore[arg-type]


class Service:
    def __init__(self) -> None:
        self.cache: LRUCache[tuple[int], int] = LRUCache(10)

    @fastcache.cachedmethod(lambda self: self.cache, info=True)
    def double(self, x: int) -> int:
        return x * 2

