"""Workloads and contenders for the speed comparison.

Every workload is a batch of operations built once; a contender is skipped
when its library is not installed.  Each library is called the way it is
fastest and idiomatic: ``c[k]`` on mappings, ``get``/``set`` where that is
the only API (theine, moka-py).
"""
from __future__ import annotations

import bisect
import functools
import importlib
import random
from datetime import timedelta
from typing import Any, Callable, Optional

HIT_ENTRIES = 100_000           # entries for the hit benchmarks
CAPACITY = 10_000               # capacity for the eviction, Zipf and TTL benchmarks
STREAM = 100_000                # operations per timed batch
ZIPF_UNIVERSE = 1_000_000
ZIPF_S = 0.99
TTL = 300.0


def _rng() -> random.Random:
    return random.Random(20261126)


@functools.lru_cache(maxsize=None)      # one set of key objects shared by all contenders
def int_keys() -> list[int]:
    keys = list(range(HIT_ENTRIES))
    _rng().shuffle(keys)
    return keys


def small_int_keys() -> list[int]:
    """1000 int keys: a cache that fits in the CPU caches, where per-hit work shows most."""
    return int_keys()[:1000]


@functools.lru_cache(maxsize=None)      # one set of key objects shared by all contenders
def str_keys() -> list[str]:
    return ["user:%d" % k for k in int_keys()]


@functools.lru_cache(maxsize=None)      # one set of key objects shared by all contenders
def fresh_keys() -> list[int]:
    """Keys never seen twice within a batch: every set misses and evicts."""
    return [10_000_000 + i for i in range(STREAM)]


@functools.lru_cache(maxsize=1)
def zipf_trace() -> list[int]:
    """STREAM draws from Zipf(0.99) over ZIPF_UNIVERSE keys (inverse-CDF sampling)."""
    weights = [1.0 / (i ** ZIPF_S) for i in range(1, ZIPF_UNIVERSE + 1)]
    total = 0.0
    cdf = []
    for w in weights:
        total += w
        cdf.append(total)
    rng = _rng()
    ranks = [bisect.bisect_left(cdf, rng.random() * total) for _ in range(STREAM)]
    # shuffle key identities so popularity is not correlated with key value
    ids = list(range(ZIPF_UNIVERSE))
    rng.shuffle(ids)
    return [ids[r] for r in ranks]


@functools.lru_cache(maxsize=None)      # one set of key objects shared by all contenders
def ttl_keys() -> list[int]:
    rng = _rng()
    return [rng.randrange(2 * CAPACITY) for _ in range(STREAM)]


def _have(module: str) -> Optional[Any]:
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


# ------------------------------------------------------------------ mappings

def mapping_contenders(kind: str) -> dict[str, Callable[[int], Any]]:
    """name -> factory(maxsize) for mapping-style caches of the given kind."""
    import fastcache
    out: dict[str, Callable[[int], Any]] = {}
    if kind == "lru":
        out["fastcache.LRUCache"] = fastcache.LRUCache
    elif kind == "fifo":
        out["fastcache.FIFOCache"] = fastcache.FIFOCache
    elif kind == "lfu":
        out["fastcache.LFUCache"] = fastcache.LFUCache
    elif kind == "ttl":
        out["fastcache.TTLCache"] = lambda n: fastcache.TTLCache(n, TTL)
    elif kind == "adaptive":
        out["fastcache.AdaptiveCache"] = fastcache.AdaptiveCache
        return out                      # no peer has a mapping class for it (theine, moka-py: get/set)
    cachetools = _have("cachetools")
    if cachetools:
        name = {"lru": "LRUCache", "fifo": "FIFOCache", "lfu": "LFUCache", "ttl": "TTLCache"}[kind]
        cls = getattr(cachetools, name)
        out["cachetools." + name] = (lambda n, cls=cls: cls(n, TTL)) if kind == "ttl" else cls
    cachebox = _have("cachebox")
    if cachebox:
        name = {"lru": "LRUCache", "fifo": "FIFOCache", "lfu": "LFUCache", "ttl": "TTLCache"}[kind]
        cls = getattr(cachebox, name)
        out["cachebox." + name] = (lambda n, cls=cls: cls(n, TTL)) if kind == "ttl" else cls
    if kind == "lru":
        lru = _have("lru")
        if lru:
            out["lru-dict LRU"] = lru.LRU
    return out


class GetSetAdapter:
    """theine and moka-py expose get/set only: wrap them for the workloads."""

    def __init__(self, name: str, maxsize: int, ttl: Optional[float] = None) -> None:
        self.name = name
        if name == "theine":
            import theine
            self.cache = theine.Cache(maxsize)
            self.ttl = timedelta(seconds=ttl) if ttl else None
        else:
            import moka_py
            self.cache = moka_py.Moka(maxsize, ttl=ttl) if ttl else moka_py.Moka(maxsize)


def getset_contenders() -> list[str]:
    return [name for name, mod in (("theine", "theine"), ("moka-py", "moka_py")) if _have(mod)]


# ------------------------------------------------------------ batch builders

def hit_batch(factory: Callable[[int], Any], keys: list[Any]) -> Callable[[], None]:
    cache = factory(len(keys))
    for k in keys:
        cache[k] = k
    for k in keys:                      # one use each: an adaptive cache's items reach their steady segment
        cache[k]

    def run() -> None:
        for k in keys:
            cache[k]
    return run


def dict_hit_batch(keys: list[Any]) -> Callable[[], None]:
    d = {k: k for k in keys}

    def run() -> None:
        for k in keys:
            d[k]
    return run


def getset_hit_batch(name: str, keys: list[Any]) -> Callable[[], None]:
    cache = GetSetAdapter(name, HIT_ENTRIES).cache
    for k in keys:
        cache.set(k, k)
    get = cache.get

    def run() -> None:
        for k in keys:
            get(k)
    return run


def evict_batch(factory: Callable[[int], Any]) -> Callable[[], None]:
    cache = factory(CAPACITY)
    keys = fresh_keys()

    def run() -> None:
        for k in keys:
            cache[k] = k
    run()
    return run


def getset_evict_batch(name: str) -> Callable[[], None]:
    cache = GetSetAdapter(name, CAPACITY).cache
    keys = fresh_keys()
    put = cache.set

    def run() -> None:
        for k in keys:
            put(k, k)
    run()
    return run


def decorated_miss_batch(decorator: Callable[[Callable[[int], int]], Any]) -> Callable[[], None]:
    f = decorator(lambda k: k)
    keys = fresh_keys()

    def run() -> None:
        for k in keys:
            f(k)
    run()
    return run


def zipf_batch(factory: Callable[[int], Any]) -> Callable[[], None]:
    cache = factory(CAPACITY)
    trace = zipf_trace()
    get = cache.get

    def run() -> None:
        for k in trace:
            if get(k) is None:
                cache[k] = k
    run()
    return run


def getset_zipf_batch(name: str) -> Callable[[], None]:
    cache = GetSetAdapter(name, CAPACITY).cache
    trace = zipf_trace()
    get, put = cache.get, cache.set
    if name == "theine":
        def run() -> None:
            for k in trace:
                if not get(k)[1]:
                    put(k, k)
    else:
        def run() -> None:
            for k in trace:
                if get(k) is None:
                    put(k, k)
    run()
    return run


def decorated_zipf_batch(decorator: Callable[[Callable[[int], int]], Any]) -> Callable[[], None]:
    f = decorator(lambda k: k)
    trace = zipf_trace()

    def run() -> None:
        for k in trace:
            f(k)
    run()
    return run


def zipf_hit_ratio(get: Callable[[int], bool], put: Callable[[int], None]) -> float:
    hits = 0
    for k in zipf_trace():
        if get(k):
            hits += 1
        else:
            put(k)
    return hits / STREAM


def ttl_batch(factory: Callable[[int], Any]) -> Callable[[], None]:
    cache = factory(CAPACITY)
    keys = ttl_keys()

    def run() -> None:
        for k in keys:
            cache[k] = k
            cache[k]
    run()
    return run


def getset_ttl_batch(name: str) -> Callable[[], None]:
    adapter = GetSetAdapter(name, CAPACITY, TTL)
    cache = adapter.cache
    keys = ttl_keys()
    get, put = cache.get, cache.set
    if name == "theine":
        ttl = adapter.ttl

        def run() -> None:
            for k in keys:
                put(k, k, ttl)
                get(k)
    else:
        def run() -> None:
            for k in keys:
                put(k, k)
                get(k)
    run()
    return run


def decorator_hit_batch(decorator: Callable[[Callable[[int], int]], Any]) -> Callable[[], None]:
    f = decorator(lambda k: k)
    keys = int_keys()[:1000] * (STREAM // 1000)
    for k in keys[:1000]:
        f(k)

    def run() -> None:
        for k in keys:
            f(k)
    return run


def decorators() -> dict[str, Callable[[Callable[[int], int]], Any]]:
    import fastcache
    out: dict[str, Callable[[Callable[[int], int]], Any]] = {
        "fastcache.lru_cache": fastcache.lru_cache(maxsize=2 * 1000),
        "functools.lru_cache": functools.lru_cache(maxsize=2 * 1000),
        "fastcache.cached(LRUCache)": lambda f: fastcache.cached(fastcache.LRUCache(2 * 1000))(f),
    }
    cachetools = _have("cachetools")
    if cachetools:
        out["cachetools.cached(LRUCache)"] = lambda f: cachetools.cached(cachetools.LRUCache(2000))(f)
    cachebox = _have("cachebox")
    if cachebox:
        out["cachebox.cached(LRUCache)"] = lambda f: cachebox.cached(cachebox.LRUCache(2000))(f)
    return out


def capacity_decorators() -> dict[str, Callable[[Callable[[int], int]], Any]]:
    """Decorators bounded at CAPACITY, for the miss and Zipf workloads."""
    import fastcache
    return {
        "fastcache.lru_cache": fastcache.lru_cache(maxsize=CAPACITY),
        "functools.lru_cache": functools.lru_cache(maxsize=CAPACITY),
    }


# -- two-tier and shard routing ----------------------------------------------------

def lru_get_batch(keys: list[Any]) -> Callable[[], None]:
    """A bare fastcache.LRUCache hit via ``get`` (the TieredCache baseline)."""
    import fastcache
    c = fastcache.LRUCache(len(keys))
    for k in keys:
        c[k] = k
    get = c.get

    def run() -> None:
        for k in keys:
            get(k)
    return run


def tiered_hit_batch(keys: list[Any], pure: bool = False) -> Callable[[], None]:
    """TieredCache.get answered by L1 (no L2 traffic: the L2 is never reached)."""
    import fastcache
    from fastcache.redis import RedisCache
    from fastcache.tiered import SyncTieredMethods
    if pure:
        from fastcache._py.tiered import TieredFront
        cls: Any = type("TieredCache", (SyncTieredMethods, TieredFront), {})
    else:
        cls = fastcache.TieredCache
    # The URL is never connected to: every get is an L1 hit, and invalidation is off.
    tc = cls(fastcache.LRUCache(len(keys)), RedisCache("redis://127.0.0.1:1/0", prefix="b:"),
             invalidation=False)
    for k in keys:
        tc._fill(k, k, 3600.0)
    get = tc.get

    def run() -> None:
        for k in keys:
            get(k)
    return run


NODES = ["10.0.0.%d:6379" % i for i in range(10)]
HOT_KEYS = 1000


def ring_contenders() -> dict[str, Any]:
    """name -> ring over NODES with a get_node(key) method."""
    out: dict[str, Any] = {}
    import fastcache
    out["fastcache.HashRing"] = fastcache.HashRing(NODES)
    from fastcache._py.hashring import HashRing as PyRing
    out["fastcache.HashRing (pure)"] = PyRing(NODES)
    uh = _have("uhashring")
    if uh is not None:
        out["uhashring (ketama)"] = uh.HashRing(NODES, hash_fn="ketama")
        out["uhashring (default md5)"] = uh.HashRing(NODES)
    return out


def ring_batch(ring: Any, keys: list[str]) -> Callable[[], None]:
    get = ring.get_node

    def run() -> None:
        for k in keys:
            get(k)
    return run


def hot_str_keys() -> list[str]:
    """STREAM lookups over HOT_KEYS distinct keys (hot keys repeat, as in real traffic)."""
    hot = str_keys()[:HOT_KEYS]
    return [hot[i % HOT_KEYS] for i in range(STREAM)]


# -- patterns -------------------------------------------------------------------

def plain_set_batch() -> Callable[[], None]:
    """LRUCache.__setitem__ over the Zipf trace (the write-behind baseline)."""
    import fastcache
    c = fastcache.LRUCache(CAPACITY)
    trace = zipf_trace()

    def run() -> None:
        for k in trace:
            c[k] = k
    return run


def write_behind_set_batch() -> Callable[[], None]:
    """WriteBehind.set over the Zipf trace, with a store that accepts everything."""
    import fastcache
    from fastcache.patterns import WriteBehind
    wb = WriteBehind(fastcache.LRUCache(CAPACITY), lambda batch: None, max_batch=1000, max_delay=0.05,
                     max_pending=1_000_000)
    trace = zipf_trace()
    set_ = wb.set

    def run() -> None:
        for k in trace:
            set_(k, k)
        wb.flush()
    return run


def coalescing_savings(max_delay: float = 0.05) -> tuple[int, int]:
    """(sets, store writes) for the Zipf trace written through WriteBehind."""
    import fastcache
    from fastcache.patterns import WriteBehind
    wb = WriteBehind(fastcache.LRUCache(CAPACITY), lambda batch: None, max_batch=1000,
                     max_delay=max_delay, max_pending=1_000_000)
    for k in zipf_trace():
        wb.set(k, k)
    wb.close()
    s = wb.stats()
    return s.sets, s.written


# -- the cost of @cached on a hit ---------------------------------------------------

def _hot_int_stream() -> list[int]:
    return int_keys()[:1000] * (STREAM // 1000)


def bare_hit_batch() -> Callable[[], None]:
    """``cache[k]`` on a warm fastcache.LRUCache (the @cached baseline)."""
    import fastcache
    cache = fastcache.LRUCache(2000)
    keys = _hot_int_stream()
    for k in keys[:1000]:
        cache[k] = k

    def run() -> None:
        for k in keys:
            cache[k]
    return run


def cached_variants() -> dict[str, Callable[[], Callable[[], None]]]:
    """name -> batch builder for the ways fastcache memoizes a call, all answering hits."""
    import fastcache
    from fastcache.patterns import CacheAside

    def function(deco: Any) -> Callable[[], Callable[[], None]]:
        def build() -> Callable[[], None]:
            f = deco(lambda k: k)
            keys = _hot_int_stream()
            for k in keys[:1000]:
                f(k)

            def run() -> None:
                for k in keys:
                    f(k)
            return run
        return build

    def method() -> Callable[[], None]:
        class Repo:
            @fastcache.cached(fastcache.LRUCache(2000))
            def find(self, k: int) -> int:
                return k
        repo = Repo()
        keys = _hot_int_stream()
        for k in keys[:1000]:
            repo.find(k)

        def run() -> None:
            find = repo.find
            for k in keys:
                find(k)
        return run

    def aside(**options: Any) -> Callable[[], None]:
        engine = CacheAside(fastcache.LRUCache(2000), lambda k: k, **options)
        keys = _hot_int_stream()
        for k in keys[:1000]:
            engine.get(k)

        def run() -> None:
            get = engine.get
            for k in keys:
                get(k)
        return run

    def async_function() -> Callable[[], None]:
        import asyncio

        @fastcache.cached(fastcache.LRUCache(2000))
        async def f(k: int) -> int:
            return k
        keys = _hot_int_stream()

        async def loop() -> None:
            for k in keys:
                await f(k)
        asyncio.run(loop())
        return lambda: asyncio.run(loop())

    return {
        "@cached(LRUCache) function": function(lambda fn: fastcache.cached(fastcache.LRUCache(2000))(fn)),
        "@cached(LRUCache) method (weak self)": method,
        "@cached(TTLCache, ttl=300) (compiled, per-item TTL)":
            function(lambda fn: fastcache.cached(fastcache.TTLCache(2000, ttl=600), ttl=300)(fn)),
        "@cached(LRUCache, stale_while_revalidate)":
            function(lambda fn: fastcache.cached(fastcache.LRUCache(2000), ttl=300, stale_while_revalidate=60)(fn)),
        "CacheAside.get": aside,
        "CacheAside.get (stale_while_revalidate)": lambda: aside(ttl=300, stale_while_revalidate=60),
        "@cached(LRUCache) async def (await, one loop)": async_function,
        "functools.lru_cache": function(functools.lru_cache(maxsize=2000)),
    }


def zipf_hit_ratios() -> dict[str, float]:
    """Hit ratio of each contender on the Zipf trace (the LRU ones should agree: same policy)."""
    out: dict[str, float] = {}
    for name, factory in {**mapping_contenders("lru"), **mapping_contenders("adaptive")}.items():
        cache = factory(CAPACITY)
        out[name] = zipf_hit_ratio(lambda k, c=cache: c.get(k) is not None,
                                   lambda k, c=cache: c.__setitem__(k, k))
    for name, deco in capacity_decorators().items():
        f = deco(lambda k: k)
        before = f.cache_info().hits
        for k in zipf_trace():
            f(k)
        out[name] = (f.cache_info().hits - before) / STREAM
    for name in getset_contenders():
        c = GetSetAdapter(name, CAPACITY).cache
        if name == "theine":
            out[name] = zipf_hit_ratio(lambda k: c.get(k)[1], lambda k: c.set(k, k))
        else:
            out[name] = zipf_hit_ratio(lambda k: c.get(k) is not None, lambda k: c.set(k, k))
    return out
