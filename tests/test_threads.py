"""Many threads on one cache: no exception, no corruption, no lost entry.

The switch interval is lowered and keys run Python code in __hash__/__eq__,
so threads interleave inside lookups, not just between operations.
"""
from __future__ import annotations

import random
import sys
import threading
from typing import Any, Callable, Iterator

import pytest

from conftest import FakeTimer

THREADS = 8


class SlowKey:
    """A key whose hash and equality run Python code (points where threads can switch)."""

    __slots__ = ("n",)

    def __init__(self, n: int) -> None:
        self.n = n

    def __hash__(self) -> int:
        return self.n % 61          # deliberate collisions

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SlowKey) and other.n == self.n

    def __repr__(self) -> str:
        return "SlowKey(%d)" % self.n


@pytest.fixture(autouse=True)
def fast_switching() -> Iterator[None]:
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(old)


def run_threads(target: Callable[[int], None]) -> None:
    errors: list[BaseException] = []

    def wrapped(i: int) -> None:
        try:
            target(i)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=wrapped, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors[:3]


CACHES: dict[str, Callable[[Any, int, Any], Any]] = {
    "lru": lambda impl, n, kw: impl.LRUCache(n, **kw),
    "fifo": lambda impl, n, kw: impl.FIFOCache(n, **kw),
    "lfu": lambda impl, n, kw: impl.LFUCache(n, **kw),
    "adaptive": lambda impl, n, kw: impl.AdaptiveCache(n, **kw),
    "adaptive-ttl": lambda impl, n, kw: impl.AdaptiveCache(n, ttl=1000, timer=FakeTimer(), **kw),
    "ttl": lambda impl, n, kw: impl.TTLCache(n, 1000, FakeTimer(), **kw),
}


@pytest.mark.parametrize("kind", sorted(CACHES))
def test_no_lost_entries(impl: Any, kind: str) -> None:
    cache = CACHES[kind](impl, THREADS * 2000, {})

    def writer(t: int) -> None:
        for i in range(2000):
            cache[SlowKey(t * 2000 + i)] = (t, i)
            assert cache[SlowKey(t * 2000 + i)] == (t, i)

    run_threads(writer)
    assert len(cache) == THREADS * 2000 == cache.currsize
    for t in range(THREADS):
        for i in range(0, 2000, 97):
            assert cache.peek(SlowKey(t * 2000 + i)) == (t, i)


@pytest.mark.parametrize("kind", sorted(CACHES))
def test_mixed_operations_stay_consistent(impl: Any, kind: str) -> None:
    removed = []
    cache = CACHES[kind](impl, 64, {"getsizeof": lambda v: 1 + v % 2,
                                    "on_evict": lambda k, v, c: removed.append(c)})

    def worker(t: int) -> None:
        rng = random.Random(t)
        for _ in range(3000):
            key = SlowKey(rng.randrange(200))
            op = rng.random()
            if op < 0.4:
                cache[key] = rng.randrange(10)
            elif op < 0.7:
                cache.get(key)
            elif op < 0.8:
                cache.pop(key, None)
            elif op < 0.85:
                try:
                    cache.popitem()
                except KeyError:
                    pass
            elif op < 0.9:
                try:
                    del cache[key]
                except KeyError:
                    pass
            elif op < 0.95:
                len(cache), cache.currsize, key in cache, cache.peek(key)
            else:
                try:
                    list(cache)
                except RuntimeError:
                    pass                 # mutated by another thread while iterating: allowed

    run_threads(worker)
    keys = list(cache)
    assert len(keys) == len(set(keys)) == len(cache)
    assert cache.currsize == sum(1 + cache.peek(k) % 2 for k in keys) <= 64
    assert all(cache.peek(k) is not None for k in keys)
    assert removed                                      # the listener ran, from many threads


def test_lru_cache_wrapper_threads(impl: Any) -> None:
    import functools

    import fastcache
    wrapped = functools.update_wrapper(
        impl.LRUCacheWrapper(lambda x: x * 2, 50, False, fastcache.CacheInfo), abs)

    def caller(t: int) -> None:
        rng = random.Random(t)
        for _ in range(5000):
            x = rng.randrange(100)
            assert wrapped(x) == x * 2

    run_threads(caller)
    info = wrapped.cache_info()
    assert info.hits + info.misses == THREADS * 5000 and info.currsize <= 50
