"""Cache-aside: get_or_load on every cache, @cached on functions, async functions and
methods, single-flight, waiter timeouts, negative caching, refresh-ahead,
stale-while-revalidate, stale-if-error and XFetch, with real threads, real tasks
and a real Redis."""
from __future__ import annotations

import asyncio
import gc
import threading
import time
import uuid
import weakref

import pytest

import fastcache
from conftest import FakeTimer
from fastcache import LRUCache, TTLCache, cached
from fastcache.patterns import CacheAside, LoadTimeout, RefreshAhead, get_or_load
from fastcache.patterns.cache_aside import Action
from fastcache.redis import AsyncRedisCache, RedisCache
from fastcache.singleflight import SingleFlight


class Loader:
    """Counts calls; can be slowed down, failed, or held at a gate."""

    def __init__(self, delay=0.0, fail=0):
        self.calls = 0
        self.delay = delay
        self.fail = fail
        self.lock = threading.Lock()
        self.gate = threading.Event()
        self.gate.set()

    def __call__(self, key):
        with self.lock:
            self.calls += 1
            n = self.calls
        self.gate.wait(10)
        if self.delay:
            time.sleep(self.delay)
        if self.fail:
            self.fail -= 1
            raise LookupError(f"store failed for {key!r}")
        return f"{key}#{n}"


def run_threads(n, target):
    results, errors = [], []
    start = threading.Barrier(n)

    def body():
        start.wait()
        try:
            results.append(target())
        except BaseException as exc:       # noqa: BLE001 - collected for the assertions
            errors.append(exc)
    threads = [threading.Thread(target=body) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    return results, errors


def l1_caches(impl):
    return [impl.LRUCache(100), impl.LFUCache(100), impl.FIFOCache(100), impl.TTLCache(100, ttl=60)]


# -- get_or_load on every cache ----------------------------------------------------

def test_get_or_load_on_every_l1_class(impl):
    for cache in l1_caches(impl):
        load = Loader()
        assert cache.get_or_load("k", load) == "k#1"
        assert cache.get_or_load("k", load) == "k#1" and load.calls == 1
        assert cache["k"] == "k#1"


def test_get_or_load_ttl_where_the_cache_takes_one(impl):
    t = FakeTimer()
    cache = impl.TTLCache(100, ttl=60, timer=t)
    assert cache.get_or_load("k", str.upper, ttl=5) == "K"
    assert cache.expires_at("k") == 5
    t.tick(6)
    assert cache.get_or_load("k", lambda k: "again") == "again"
    lru = impl.LRUCache(10, timer=t)                 # every L1 class takes a per-item TTL
    assert lru.get_or_load("k", str.upper, ttl=5) == "K" and lru.expires_at("k") == t() + 5
    with pytest.raises(TypeError, match="no per-item TTL"):
        get_or_load({}, "k", str.upper, ttl=5)        # a dict does not


@pytest.mark.parametrize("threads", [16])
def test_single_flight_across_threads_on_every_l1_class(impl, threads):
    for cache in l1_caches(impl):
        load = Loader(delay=0.2)
        results, errors = run_threads(threads, lambda: cache.get_or_load("hot", load))
        assert errors == [] and load.calls == 1
        assert results == ["hot#1"] * threads


def test_loader_error_reaches_every_waiter_and_is_not_cached(impl):
    cache = impl.LRUCache(10)
    load = Loader(delay=0.2, fail=1)
    results, errors = run_threads(8, lambda: cache.get_or_load("k", load))
    assert results == [] and len(errors) == 8 and load.calls == 1
    assert all(isinstance(e, LookupError) for e in errors)
    assert "k" not in cache
    assert cache.get_or_load("k", load) == "k#2"          # the next call retries


def test_recursive_loader_does_not_deadlock(impl):
    cache = impl.LRUCache(10)

    def load(key):
        if key == "parent":
            return ("parent", cache.get_or_load("child", load))
        if key == "self":
            return cache.get_or_load("self-child", load) + "!"
        return key.upper()
    done = []
    t = threading.Thread(target=lambda: done.append(cache.get_or_load("parent", load)))
    t.start()
    t.join(5)
    assert done == [("parent", "CHILD")] and cache["child"] == "CHILD"


def test_waiters_can_time_out_and_the_leader_still_stores(impl):
    cache = impl.LRUCache(10)
    load = Loader()
    load.gate.clear()
    aside = CacheAside(cache, timeout=0.1)
    leader = threading.Thread(target=lambda: aside.get("k", load))
    leader.start()
    while load.calls == 0:
        time.sleep(0.001)
    t0 = time.monotonic()
    with pytest.raises(LoadTimeout, match="waiting for the load"):
        aside.get("k", load)
    assert time.monotonic() - t0 < 5
    load.gate.set()
    leader.join(5)
    assert cache["k"] == "k#1" and load.calls == 1


def test_negative_caching_has_its_own_ttl(impl):
    t = FakeTimer()
    cache = impl.LRUCache(10)
    aside = CacheAside(cache, negative_ttl=5, timer=t)
    load = Loader(fail=1)
    with pytest.raises(LookupError):
        aside.get("k", load)
    with pytest.raises(LookupError):
        aside.get("k", load)                               # the cached failure, no new call
    assert load.calls == 1 and aside.stats().negative_hits == 1
    t.tick(5)
    assert aside.get("k", load) == "k#2" and load.calls == 2


def test_bad_options_are_rejected_clearly():
    with pytest.raises(ValueError, match="between 0 and 1"):
        CacheAside(LRUCache(1), ttl=1, refresh_threshold=1.5)
    with pytest.raises(ValueError, match="need a ttl"):
        CacheAside(LRUCache(1), stale_while_revalidate=3)
    with pytest.raises(TypeError, match="seconds"):
        CacheAside(LRUCache(1), ttl="10")
    with pytest.raises(TypeError, match="no loader"):
        CacheAside(LRUCache(1)).get("k")
    with pytest.raises(TypeError, match="get"):
        CacheAside(object())
    with pytest.raises(TypeError, match="unexpected keyword"):
        cached(LRUCache(1), tll=3)


# -- @cached ------------------------------------------------------------------------

def test_cached_sync_uses_the_compiled_wrapper_with_single_flight(impl):
    cache = impl.LRUCache(10)
    load = Loader(delay=0.2)
    wrapper = impl.CachedWrapper(load, cache, fastcache.keys.hashkey, None, None, SingleFlight())
    results, errors = run_threads(12, lambda: wrapper("x"))
    assert errors == [] and load.calls == 1 and results == ["x#1"] * 12
    if impl.compiled and fastcache.USING_EXTENSIONS:
        assert type(cached(LRUCache(1))(len)).__module__ == "fastcache._core._functools"


def test_cached_single_flight_shares_the_leaders_exception_then_retries(impl):
    cache = impl.LRUCache(10)
    load = Loader(delay=0.2, fail=1)            # the first call fails
    wrapper = impl.CachedWrapper(load, cache, fastcache.keys.hashkey, None, None, SingleFlight())
    results, errors = run_threads(8, lambda: wrapper("x"))
    assert load.calls == 1 and results == [] and len(errors) == 8
    assert all(type(e) is type(errors[0]) for e in errors) and "x" not in cache    # nothing cached
    assert wrapper("x") == "x#2" and load.calls == 2 and wrapper.flight.in_flight() == 0


def test_cached_single_flight_can_be_turned_off():
    load = Loader(delay=0.2)
    f = cached(LRUCache(10), single_flight=False)(load)
    results, errors = run_threads(4, lambda: f("x"))
    assert errors == [] and load.calls == 4


def test_cached_method_does_not_keep_self_alive(impl):
    calls = []

    class Repo:
        def __init__(self, name):
            self.name = name

        def find(self, user_id):
            calls.append((self.name, user_id))
            return f"{self.name}:{user_id}"

    cache = impl.LRUCache(100)
    Repo.find = impl.CachedWrapper(Repo.find, cache, fastcache.keys.hashkey, None, None, SingleFlight())
    a, b = Repo("a"), Repo("b")
    assert a.find(1) == "a:1" and a.find(1) == "a:1" and b.find(1) == "b:1"
    assert a.find(user_id=2) == "a:2" and a.find(user_id=2) == "a:2"
    assert calls == [("a", 1), ("b", 1), ("a", 2)]
    ref = weakref.ref(a)
    del a
    gc.collect()
    assert ref() is None                                  # the cache did not keep it alive
    assert len(cache) == 3                                # its entries age out like cold ones
    assert b.find(1) == "b:1" and len(calls) == 3


def test_cached_method_through_the_engine_and_custom_keys_get_self():
    class Svc:
        def __init__(self):
            self.n = 0

        @cached(TTLCache(10, ttl=60), ttl=30)
        def get(self, x):
            self.n += 1
            return x * 2

        @cached(LRUCache(10), key=lambda self, x: ("by-id", x))
        def shared(self, x):
            self.n += 1
            return x

    s = Svc()
    assert s.get(2) == 4 and s.get(2) == 4 and s.n == 1
    assert Svc().shared(1) == 1 and s.shared(1) == 1 and s.n == 1    # custom key: shared entry
    ref = weakref.ref(s)
    del s
    gc.collect()
    assert ref() is None


def test_cached_async_function_single_flight_errors_and_retry():
    calls = []

    @cached(LRUCache(10))
    async def fetch(x):
        calls.append(x)
        await asyncio.sleep(0.05)
        if x < 0:
            raise ValueError("negative")
        return x * 10

    assert asyncio.iscoroutinefunction(fetch)

    async def main():
        got = await asyncio.gather(*(fetch(3) for _ in range(20)))
        assert got == [30] * 20 and calls == [3]
        errs = await asyncio.gather(*(fetch(-1) for _ in range(5)), return_exceptions=True)
        assert all(isinstance(e, ValueError) for e in errs) and calls == [3, -1]
        await asyncio.gather(fetch(-1), return_exceptions=True)
        assert calls == [3, -1, -1]                       # not cached: retried
        assert fetch.cache_info().hits == 0                # every concurrent caller missed ...
        assert await fetch(3) == 30 and fetch.cache_info().hits == 1 and calls == [3, -1, -1]
    asyncio.run(main())


def test_cached_async_waiter_timeout():
    @cached(LRUCache(10), timeout=0.05)
    async def slow(x):
        await asyncio.sleep(0.3)
        return x

    async def main():
        first = asyncio.ensure_future(slow(1))
        await asyncio.sleep(0.01)
        with pytest.raises(LoadTimeout):
            await slow(1)
        assert await first == 1
        assert await slow(1) == 1
    asyncio.run(main())


# -- over Redis and the tiered cache --------------------------------------------------

def test_get_or_load_and_cached_over_redis_and_tiered(redis_url):
    prefix = f"ca-{uuid.uuid4().hex[:8]}:"
    r = RedisCache(redis_url, prefix=prefix, ttl=60)
    load = Loader(delay=0.2)
    results, errors = run_threads(10, lambda: r.get_or_load("k", load, ttl=30))
    assert errors == [] and load.calls == 1 and results == ["k#1"] * 10
    assert 29 < r.ttl("k") <= 30

    tc = fastcache.TieredCache(LRUCache(100), RedisCache(redis_url, prefix=prefix + "t:", ttl=60),
                               invalidation=False)
    try:
        @cached(tc)
        def user(uid):
            return load(uid)
        with pytest.raises(TypeError, match="str, bytes or int, not tuple"):
            user(7)                                   # the default key is a tuple: say so, clearly
        assert load.calls == 1
    finally:
        tc.close()


def test_cached_over_a_redis_tier_with_a_string_key(redis_url):
    prefix = f"ca-{uuid.uuid4().hex[:8]}:"
    tc = fastcache.TieredCache(LRUCache(100), RedisCache(redis_url, prefix=prefix, ttl=60), invalidation=False)
    load = Loader()
    try:
        @cached(tc, key=lambda uid: f"user:{uid}")
        def user(uid):
            return load(uid)
        assert user(7) == "7#1" and user(7) == "7#1" and load.calls == 1
        assert tc.l2.get("user:7") == "7#1"
    finally:
        tc.close()


def test_async_redis_get_or_load_single_flight(redis_url):
    prefix = f"ca-{uuid.uuid4().hex[:8]}:"

    async def main():
        r = AsyncRedisCache(redis_url, prefix=prefix, ttl=60)
        calls = []

        async def load(key):
            calls.append(key)
            await asyncio.sleep(0.05)
            return {"k": key}
        got = await asyncio.gather(*(r.get_or_load("a", load) for _ in range(10)))
        assert got == [{"k": "a"}] * 10 and calls == ["a"]
        assert await r.get("a") == {"k": "a"}

        @cached(r, key=lambda x: f"f:{x}", ttl=10)
        async def f(x):
            calls.append(x)
            return x + 1
        assert await f(1) == 2 and await f(1) == 2 and calls == ["a", 1]
        assert 9 < await r.ttl("f:1") <= 10
        await r.close()
    asyncio.run(main())


# -- freshness: refresh-ahead, SWR, SIE, XFetch ------------------------------------------

def test_refresh_ahead_serves_current_value_and_refreshes_once(impl):
    t = FakeTimer()
    cache = impl.LRUCache(10)
    load = Loader()
    ra = RefreshAhead(cache, load, ttl=10, refresh_threshold=0.8, timer=t)
    assert ra.get("k") == "k#1"
    t.tick(7.9)
    assert ra.get("k") == "k#1" and load.calls == 1         # before 80 %: plain hit
    t.tick(0.2)
    load.gate.clear()                                        # hold the refresh in flight
    results, errors = run_threads(8, lambda: ra.get("k"))
    assert errors == [] and results == ["k#1"] * 8           # answered at once with the current value
    load.gate.set()
    assert ra.wait_refreshes()
    assert load.calls == 2 and ra.stats().refreshes == 1     # one refresh for all eight readers
    assert ra.get("k") == "k#2"
    ra.close()


def test_failed_refresh_keeps_old_value_until_it_really_expires(impl):
    t = FakeTimer()
    load = Loader()
    ra = RefreshAhead(impl.LRUCache(10), load, ttl=10, timer=t)
    assert ra.get("k") == "k#1"
    t.tick(9)
    load.fail = 100
    assert ra.get("k") == "k#1"
    assert ra.wait_refreshes()
    assert ra.get("k") == "k#1"                              # still the old one
    assert ra.wait_refreshes()
    t.tick(1.5)                                              # now really expired: the error shows
    with pytest.raises(LookupError):
        ra.get("k")
    ra.close()


def test_stale_while_revalidate_window(impl):
    t = FakeTimer()
    load = Loader()
    aside = CacheAside(impl.LRUCache(10), load, ttl=10, stale_while_revalidate=5, timer=t)
    assert aside.get("k") == "k#1"
    t.tick(12)                                               # stale, inside the window
    assert aside.get("k") == "k#1"
    assert aside.wait_refreshes()
    assert aside.get("k") == "k#2" and aside.stats().stale_served == 1
    t.tick(16)                                               # past ttl + swr: a plain miss
    assert aside.get("k") == "k#3"
    aside.close()


def test_stale_if_error_window(impl):
    t = FakeTimer()
    load = Loader()
    aside = CacheAside(impl.TTLCache(10, ttl=1000, timer=t), load, ttl=10, stale_if_error=30, timer=t)
    assert aside.get("k") == "k#1"
    t.tick(15)
    load.fail = 1
    assert aside.get("k") == "k#1"                           # the loader failed: stale served
    assert aside.get("k") == "k#3"                           # the next read reloads
    t.tick(45)
    load.fail = 1
    with pytest.raises(LookupError):                         # beyond the window: the error
        aside.get("k")


def test_xfetch_reloads_early_with_rising_probability(impl):
    t = FakeTimer()
    draws = iter([0.999, 1e-9])
    slow = Loader()

    def load(key):
        t.tick(2)                                            # the recomputation takes 2 s
        return slow(key)
    aside = CacheAside(impl.LRUCache(10), load, ttl=100, xfetch_beta=1.0, timer=t, random=lambda: next(draws))
    assert aside.get("k") == "k#1"
    t.tick(90)
    assert aside.get("k") == "k#1"                           # -2·ln(0.999) ≈ 0.002: not yet
    assert aside.get("k") == "k#2"                           # -2·ln(1e-9) ≈ 41 s: reload now
    assert aside.stats().early_reloads == 1


def test_xfetch_spreads_reloads_over_many_readers():
    # Statistical check of the rule itself: with beta 1 and delta 1 s, at 1 s before
    # expiry a reader reloads with probability exp(-1) ~ 0.37; at 10 s, exp(-10).
    import random
    rng = random.Random(7)
    t = FakeTimer()
    aside = CacheAside(LRUCache(10), ttl=100, xfetch_beta=1.0, timer=t, random=rng.random)
    entry = ("fastcache.entry/1", "v", 0.0, 100.0, 1.0, False)
    t.time = 99
    near = sum(aside._decide(entry)[0] is Action.EARLY for _ in range(4000)) / 4000
    t.time = 90
    far = sum(aside._decide(entry)[0] is Action.EARLY for _ in range(4000)) / 4000
    assert 0.32 < near < 0.42 and far < 0.005


def test_async_refresh_ahead_and_swr():
    t = FakeTimer()
    calls = []

    async def load(key):
        calls.append(key)
        await asyncio.sleep(0.01)
        return f"{key}#{len(calls)}"

    async def main():
        ra = RefreshAhead(LRUCache(10), load, ttl=10, timer=t)
        assert await ra.aget("k") == "k#1"
        t.tick(9)
        got = await asyncio.gather(*(ra.aget("k") for _ in range(5)))
        assert got == ["k#1"] * 5
        await ra.await_refreshes()
        assert calls == ["k", "k"] and await ra.aget("k") == "k#2"
    asyncio.run(main())


def test_freshness_entries_live_in_redis_between_engines(redis_url):
    prefix = f"ca-{uuid.uuid4().hex[:8]}:"
    t = FakeTimer(1000.0)
    load = Loader()
    a = CacheAside(RedisCache(redis_url, prefix=prefix), load, ttl=10, stale_while_revalidate=20, timer=t)
    b = CacheAside(RedisCache(redis_url, prefix=prefix), load, ttl=10, stale_while_revalidate=20, timer=t)
    assert a.get("k") == "k#1" and b.get("k") == "k#1" and load.calls == 1
    assert 29 < a.cache.ttl("k") <= 30                      # kept for ttl + the stale window
    t.tick(15)
    assert b.get("k") == "k#1"
    assert b.wait_refreshes() and a.get("k") == "k#2"
    a.close()
    b.close()


def test_get_or_load_function_and_stats(impl):
    cache = impl.LRUCache(10)
    assert get_or_load(cache, "a", str.upper) == "A"
    assert get_or_load(cache, "a", lambda k: 1 / 0) == "A"
    aside = CacheAside(cache, str.upper)
    aside.get("a")
    aside.get("b")
    s = aside.stats()
    assert (s.hits, s.misses, s.loads) == (1, 1, 1)


# -- distributed single-flight: a Redis lease ---------------------------------------------

LEASE_PROBE = r"""
import sys, time, json, redis
from fastcache.patterns import CacheAside, RedisLease
from fastcache.redis import RedisCache
url, prefix, start = sys.argv[1], sys.argv[2], float(sys.argv[3])
raw = redis.Redis.from_url(url)
def load(key):
    raw.incr(prefix + "loads")
    time.sleep(0.5)
    return {"key": key, "by": sys.argv[4]}
aside = CacheAside(RedisCache(url, prefix=prefix), lease=RedisLease(url, prefix=prefix + "lease:", ttl=0.3))
while time.time() < start:
    time.sleep(0.001)
print(json.dumps(aside.get("report", load)))
"""


def test_lease_loads_once_across_processes(redis_url, tmp_path):
    import json
    import subprocess
    import sys
    import redis as redis_py
    prefix = f"lease-{uuid.uuid4().hex[:8]}:"
    script = tmp_path / "probe.py"
    script.write_text(LEASE_PROBE)
    start = time.time() + 1.5                                 # every process imports first, then all go at once
    procs = [subprocess.Popen([sys.executable, str(script), redis_url, prefix, str(start), str(i)],
                              stdout=subprocess.PIPE, text=True) for i in range(4)]
    outs = [p.communicate(timeout=30)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs)
    values = [json.loads(o) for o in outs]
    assert len({v["by"] for v in values}) == 1               # everyone got the one loader's value
    # one load although it took 0.5 s and the lease TTL is 0.3 s: renewal kept it
    assert int(redis_py.Redis.from_url(redis_url).get(prefix + "loads")) == 1


def test_lease_of_a_crashed_holder_expires_and_is_taken_over(redis_url):
    from fastcache.patterns import RedisLease
    prefix = f"lease-{uuid.uuid4().hex[:8]}:"
    lease = RedisLease(redis_url, prefix=prefix, ttl=0.3, poll_interval=0.01)
    assert lease.acquire("k") is not None                    # a holder that never finishes
    assert lease.acquire("k") is None
    load = Loader()
    aside = CacheAside(RedisCache(redis_url, prefix=prefix + "v:"), lease=lease)
    t0 = time.monotonic()
    assert aside.get("k", load) == "k#1" and load.calls == 1
    assert 0.2 < time.monotonic() - t0 < 3                   # waited for the expiry, then loaded
    quick = RedisLease(redis_url, prefix=prefix + "q:", ttl=5, wait_timeout=0.1)
    assert quick.acquire("z") is not None
    with pytest.raises(LoadTimeout, match="another process"):
        CacheAside(RedisCache(redis_url, prefix=prefix + "q:v:"), lease=quick).get("z", load)


def test_lease_down_redis_loads_locally(caplog):
    from fastcache.patterns import RedisLease
    lease = RedisLease("redis://127.0.0.1:1/0", ttl=1)
    aside = CacheAside(LRUCache(10), lease=lease)
    assert aside.get("k", str.upper) == "K"
    assert "loading without it" in caplog.text


def test_async_lease_loads_once_across_engines(redis_url):
    from fastcache.patterns import AsyncRedisLease
    prefix = f"lease-{uuid.uuid4().hex[:8]}:"
    calls = []

    async def load(key):
        calls.append(key)
        await asyncio.sleep(0.3)
        return key * 2

    async def main():
        engines = [CacheAside(AsyncRedisCache(redis_url, prefix=prefix),
                              lease=AsyncRedisLease(redis_url, prefix=prefix + "l:", ttl=0.2, poll_interval=0.01))
                   for _ in range(3)]                         # three engines: as if three processes
        got = await asyncio.gather(*(e.aget("ab", load) for e in engines))
        assert got == ["abab"] * 3 and calls == ["ab"]
        for e in engines:
            await e.cache.close()
    asyncio.run(main())


def test_cached_ttl_alone_keeps_the_compiled_wrapper(impl):
    t = FakeTimer()
    cache = impl.TTLCache(100, ttl=60, timer=t)
    calls = []
    f = impl.CachedWrapper(lambda x: calls.append(x) or x * 2, cache, fastcache.keys.hashkey, None, None,
                           SingleFlight(), 5)
    assert f(1) == 2 and f(1) == 2 and calls == [1]
    assert cache.expires_at((1,)) == 5
    t.tick(5)
    assert f(1) == 2 and calls == [1, 1]
    g = cached(TTLCache(10, ttl=60), ttl=5)(len)
    if fastcache.USING_EXTENSIONS:
        assert type(g).__module__ == "fastcache._core._functools"
    h = cached(LRUCache(10), ttl=5)(len)             # every L1 class takes a per-item TTL
    if fastcache.USING_EXTENSIONS:
        assert type(h).__module__ == "fastcache._core._functools"
    with pytest.raises(TypeError, match="no per-item TTL"):
        cached({}, ttl=5)
    with pytest.raises(TypeError, match="ttl"):
        cached(TTLCache(10, ttl=60), ttl="5")


def test_get_or_load_with_options_shares_one_engine_per_cache(impl):
    t = FakeTimer()
    cache = impl.LRUCache(10)
    load = Loader()
    opts = dict(ttl=10, stale_while_revalidate=5, timer=t)
    assert get_or_load(cache, "k", load, **opts) == "k#1"
    t.tick(12)
    assert get_or_load(cache, "k", load, **opts) == "k#1"     # stale, refreshed in the background
    from fastcache.patterns.cache_aside import _shared_engine
    engine = _shared_engine(cache, 10, dict(stale_while_revalidate=5, timer=t))
    assert engine.wait_refreshes() and load.calls == 2
    assert get_or_load(cache, "k", load, **opts) == "k#2"
    ref = weakref.ref(cache)
    del cache, engine
    gc.collect()
    assert ref() is None                                     # the registry does not keep caches alive


def test_recursive_cached_function_is_single_flight_per_key_without_deadlock(impl):
    calls = []

    def fib(n):
        calls.append(n)
        return n if n < 2 else wrapped(n - 1) + wrapped(n - 2)
    wrapped = impl.CachedWrapper(fib, impl.LRUCache(100), fastcache.keys.hashkey, None, None, SingleFlight())
    results, errors = run_threads(4, lambda: wrapped(60))
    assert errors == [] and results == [1548008755920] * 4
    assert sorted(calls) == list(range(61))               # each argument computed exactly once


def test_failed_stale_if_error_reload_keeps_the_stale_value_despite_negative_caching(impl):
    # found by the state machine: a failing reload must not replace a servable value
    t = FakeTimer()
    load = Loader()
    aside = CacheAside(impl.LRUCache(10), load, ttl=5, stale_if_error=4, negative_ttl=2, timer=t)
    assert aside.get("a") == "a#1"
    load.fail = 10
    t.tick(7)
    assert aside.get("a") == "a#1" and aside.get("a") == "a#1"
    t.tick(3)                                              # past ttl + stale_if_error: now the error shows
    with pytest.raises(LookupError):
        aside.get("a")
