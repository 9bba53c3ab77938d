"""A million operations leave reference counts and traced memory flat."""
from __future__ import annotations

import gc
import random
import sys
import tracemalloc
from typing import Any

import pytest

from conftest import FakeTimer

KINDS = ["lru", "fifo", "lfu", "ttl", "adaptive", "adaptive-weighted", "adaptive-ttl", "lru-weighted", "wrapper",
         "lru-item-ttl", "fifo-item-ttl", "lfu-item-ttl"]
ITEM_TTL = {"lru-item-ttl": "LRUCache", "fifo-item-ttl": "FIFOCache", "lfu-item-ttl": "LFUCache"}


def build(impl: Any, kind: str) -> Any:
    if kind in ITEM_TTL:                # per-item TTLs: eleven distinct ones, rings and heap
        return getattr(impl, ITEM_TTL[kind])(500, timer=FakeTimer())
    if kind == "lru":
        return impl.LRUCache(500, on_evict=lambda k, v, c: None)
    if kind == "lru-weighted":
        return impl.LRUCache(500, getsizeof=lambda v: 1 + (v[0] % 3))
    if kind == "fifo":
        return impl.FIFOCache(500)
    if kind == "lfu":
        return impl.LFUCache(500)
    if kind == "adaptive":
        return impl.AdaptiveCache(500, on_evict=lambda k, v, c: None)
    if kind == "adaptive-weighted":
        return impl.AdaptiveCache(500, getsizeof=lambda v: 1 + (v[0] % 3))
    if kind == "adaptive-ttl":
        return impl.AdaptiveCache(500, ttl=5, timer=FakeTimer())
    return impl.TTLCache(500, 5, FakeTimer())


@pytest.mark.parametrize("kind", KINDS)
def test_flat_refcounts_and_memory(impl: Any, kind: str) -> None:
    ops = 1_000_000 if impl.compiled else 100_000
    keys = [("key", i) for i in range(2000)]          # fixed objects: no new allocations needed
    values = [(i, "value") for i in range(2000)]
    rng = random.Random(1)
    plan = [(rng.randrange(2000), rng.random()) for _ in range(4096)]

    if kind == "wrapper":
        import fastcache
        cache = impl.LRUCacheWrapper(lambda k: values[k[1]], 500, False, fastcache.CacheInfo)

        def run(n: int) -> None:
            for j in range(n):
                cache(keys[plan[j & 4095][0]])
    else:
        cache = build(impl, kind)

        def run(n: int) -> None:
            timer = cache.timer if kind in ("ttl", "adaptive-ttl") or kind in ITEM_TTL else None
            item_ttl = kind in ITEM_TTL
            for j in range(n):
                i, r = plan[j & 4095]
                k = keys[i]
                if item_ttl and r < 0.3:
                    cache.set(k, values[i], ttl=1 + i % 11)
                elif r < 0.5:
                    cache[k] = values[i]
                elif r < 0.85:
                    cache.get(k)
                elif r < 0.95:
                    cache.pop(k, None)
                else:
                    try:
                        cache[k]
                    except KeyError:
                        pass
                if timer is not None and j % 1000 == 0:
                    timer.tick(1)

    # Trace from before the warm-up: objects allocated untraced and replaced
    # later would otherwise show up as growth (the pure twins' node objects).
    tracemalloc.start()
    run(50_000)                                          # warm up: reach steady-state sizes
    gc.collect()
    before_refs = [sys.getrefcount(o) for o in keys[:50] + values[:50]]
    start = tracemalloc.get_traced_memory()[0]
    run(ops)
    gc.collect()
    growth = tracemalloc.get_traced_memory()[0] - start
    tracemalloc.stop()
    after_refs = [sys.getrefcount(o) for o in keys[:50] + values[:50]]
    # Refcounts differ only by whether each object is in the cache right now:
    # clear it, and every count must be back where an empty cache leaves it.
    getattr(cache, "cache_clear", getattr(cache, "clear", None))()
    gc.collect()
    cleared = [sys.getrefcount(o) for o in keys[:50] + values[:50]]
    getattr(cache, "cache_clear", getattr(cache, "clear", None))()
    assert cleared == [sys.getrefcount(o) for o in keys[:50] + values[:50]]
    if impl.compiled:       # the table holds an item's key and value once each
        assert all(0 <= a - c <= 1 for a, c in zip(after_refs, cleared))
        assert all(0 <= b - c <= 1 for b, c in zip(before_refs, cleared))
    assert min(cleared) >= 2
    baseline = [sys.getrefcount(o) for o in (keys[0], values[0])]
    assert growth < 256 * 1024, "traced memory grew by %d bytes over %d operations" % (growth, ops)
    del cache
    gc.collect()
    assert [sys.getrefcount(o) for o in (keys[0], values[0])] == baseline
    assert [sys.getrefcount(o) for o in keys[:50] + values[:50]] == [c for c in cleared]


def test_hashring_and_tiered_front_flat(impl: Any) -> None:
    ops = 1_000_000 if impl.compiled else 100_000
    keys = ["user:%d" % i for i in range(6000)]          # more than the ring's memo holds
    values = [(i, "value") for i in range(6000)]
    ring = impl.HashRing(["a", "b", "c"])
    front = impl.TieredFront()
    front._setup_front(impl.LRUCache(500), FakeTimer())
    rng = random.Random(2)
    plan = [(rng.randrange(6000), rng.random()) for _ in range(4096)]

    def run(n: int) -> None:
        for j in range(n):
            i, r = plan[j & 4095]
            k = keys[i]
            ring.get_node(k)
            if r < 0.4:
                front._store(k, values[i], 100.0 if r < 0.2 else float("inf"))
            elif r < 0.9:
                front.get_l1(k)
            else:
                front.l1.pop(k, None)
    run(50_000)
    gc.collect()
    tracemalloc.start()
    start = tracemalloc.get_traced_memory()[0]
    run(ops)
    gc.collect()
    growth = tracemalloc.get_traced_memory()[0] - start
    tracemalloc.stop()
    assert growth < 256 * 1024, "traced memory grew by %d bytes" % growth
    front.l1.clear()
    ring.add_node("d")                                    # a rebuild empties the memo
    gc.collect()
    refs = [sys.getrefcount(o) for o in keys[:50] + values[:50]]
    assert all(r == refs[0] for r in refs[:50]) and all(r == refs[50] for r in refs[50:])
    del ring, front
    gc.collect()
    assert [sys.getrefcount(o) for o in keys[:50] + values[:50]] == refs


def test_cached_wrapper_single_flight_ttl_and_methods_flat(impl: Any) -> None:
    """@cached's compiled paths added for cache-aside: single-flight misses, per-item
    TTL stores and bound-method calls keyed by a weak token."""
    import fastcache
    from fastcache.singleflight import SingleFlight
    ops = 1_000_000 if impl.compiled else 100_000
    values = [(i, "value") for i in range(3000)]
    timer = FakeTimer()
    cache = impl.TTLCache(500, 60, timer)
    f = impl.CachedWrapper(lambda *a: values[a[-1]], cache, fastcache.keys.hashkey, None, None, SingleFlight(), 5)

    class Owner:
        find = f
    owner = Owner()
    rng = random.Random(3)
    # mostly hits on 400 hot keys, 2 % misses over 3000 (evictions), TTL expiry every 100k calls
    plan = [rng.randrange(3000) if rng.random() < 0.02 else rng.randrange(400) for _ in range(4096)]

    def run(n: int) -> None:
        find = owner.find
        for j in range(n):
            i = plan[j & 4095]
            if j & 7:
                f(i)
            else:
                find(i)                                   # one call in eight through the bound method
            if j % 20_000 == 0:
                timer.tick(1)
    run(50_000)
    # Allocated blocks rather than tracemalloc: every call allocates its argument tuple,
    # and tracing each one would make the million calls take minutes.
    gc.collect()
    start = sys.getallocatedblocks()
    run(ops)
    gc.collect()
    growth = sys.getallocatedblocks() - start
    assert growth < 2000, "%d more allocated blocks after %d calls" % (growth, ops)
    cache.clear()
    gc.collect()
    refs = [sys.getrefcount(v) for v in values[:50]]
    assert all(r == refs[0] for r in refs)
    del f, Owner, owner, cache
    gc.collect()
    assert [sys.getrefcount(v) for v in values[:50]] == refs
