"""The speed comparison's cases: which contender runs which workload."""
from __future__ import annotations

from typing import Callable

from . import workloads as w

__all__ = ("cases", "Case")

Case = tuple[str, str, Callable[[], Callable[[], None]], int]


def cases() -> list[Case]:
    """Every (group, contender name, batch builder, operations per batch) of the speed comparison."""
    out: list[Case] = []

    def add(group: str, name: str, build: Callable[[], Callable[[], None]], ops: int) -> None:
        out.append((group, name, build, ops))

    for group, keys in (("hit-int", w.int_keys), ("hit-str", w.str_keys)):
        add(group, "dict", lambda keys=keys: w.dict_hit_batch(keys()), w.HIT_ENTRIES)
        for kind in ("lru", "fifo", "lfu", "ttl", "adaptive"):
            for name, factory in w.mapping_contenders(kind).items():
                if kind != "lru" and not name.startswith("fastcache"):
                    continue
                add(group, name, lambda f=factory, keys=keys: w.hit_batch(f, keys()), w.HIT_ENTRIES)
        for name in w.getset_contenders():
            add(group, name, lambda n=name, keys=keys: w.getset_hit_batch(n, keys()), w.HIT_ENTRIES)

    add("hit-int-1k", "dict", lambda: w.dict_hit_batch(w.small_int_keys()), 1000)
    for kind in ("lru", "adaptive"):
        for name, factory in w.mapping_contenders(kind).items():
            if name.startswith("fastcache"):
                add("hit-int-1k", name, lambda f=factory: w.hit_batch(f, w.small_int_keys()), 1000)

    for name, factory in {**w.mapping_contenders("lru"), **w.mapping_contenders("adaptive")}.items():
        add("miss-insert-evict", name, lambda f=factory: w.evict_batch(f), w.STREAM)
        add("zipf-cache-aside", name, lambda f=factory: w.zipf_batch(f), w.STREAM)
    for name, deco in w.capacity_decorators().items():
        add("miss-insert-evict", name, lambda d=deco: w.decorated_miss_batch(d), w.STREAM)
        add("zipf-cache-aside", name, lambda d=deco: w.decorated_zipf_batch(d), w.STREAM)
    for name in w.getset_contenders():
        add("miss-insert-evict", name, lambda n=name: w.getset_evict_batch(n), w.STREAM)
        add("zipf-cache-aside", name, lambda n=name: w.getset_zipf_batch(n), w.STREAM)

    for name, factory in w.mapping_contenders("ttl").items():
        add("ttl-set-get", name, lambda f=factory: w.ttl_batch(f), w.STREAM)
    for name in w.getset_contenders():
        add("ttl-set-get", name, lambda n=name: w.getset_ttl_batch(n), w.STREAM)

    for name, deco in w.decorators().items():
        add("decorator-hit", name, lambda d=deco: w.decorator_hit_batch(d), w.STREAM)

    if w._have("redis") is not None:
        add("tiered-l1-hit", "fastcache.LRUCache.get", lambda: w.lru_get_batch(w.str_keys()), w.HIT_ENTRIES)
        add("tiered-l1-hit", "fastcache.TieredCache.get", lambda: w.tiered_hit_batch(w.str_keys()),
            w.HIT_ENTRIES)
        add("tiered-l1-hit", "fastcache.TieredCache.get (pure)",
            lambda: w.tiered_hit_batch(w.str_keys(), pure=True), w.HIT_ENTRIES)
    for name, ring in w.ring_contenders().items():
        add("ring-distinct-keys", name, lambda r=ring: w.ring_batch(r, w.str_keys()), w.HIT_ENTRIES)
        add("ring-hot-keys", name, lambda r=ring: w.ring_batch(r, w.hot_str_keys()), w.STREAM)
    add("cached-hit-overhead", "bare LRUCache[k] hit", w.bare_hit_batch, w.STREAM)
    for name, build in w.cached_variants().items():
        add("cached-hit-overhead", name, build, w.STREAM)
    add("write-behind-set", "fastcache.LRUCache[k] = v", w.plain_set_batch, w.STREAM)
    add("write-behind-set", "fastcache.patterns.WriteBehind.set", w.write_behind_set_batch, w.STREAM)
    return out
