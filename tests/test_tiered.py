"""TieredCache (both L1 hit paths) and AsyncTieredCache over a real Redis L2."""
from __future__ import annotations

import asyncio
import logging
import threading
import time

import pytest
import redis

from conftest import FakeTimer, command_calls, reset_stats, wait_for
from fastcache import AsyncTieredCache, LRUCache, TTLCache
from fastcache.redis import AsyncRedisCache, RedisCache


@pytest.fixture
def make(impl, redis_url):
    made = []

    def build(l1=None, prefix="tc:", ttl=60, **kwargs):
        l2 = kwargs.pop("l2", None) or RedisCache(redis_url, prefix=prefix, ttl=ttl)
        tc = impl.TieredCache(l1 if l1 is not None else LRUCache(1000), l2, **kwargs)
        made.append(tc)
        return tc
    yield build
    for tc in made:
        tc.close()


def test_read_path_and_write_through(make, redis_url):
    tc = make(invalidation=False)
    assert tc.get("a") is None and tc.get("a", 5) == 5
    tc.set("a", {"v": 1})
    raw = redis.Redis.from_url(redis_url)
    assert raw.get(b"tc:a") is not None                  # written to L2
    assert tc.get_l1("a") == {"v": 1}                    # and kept in L1
    reset_stats(redis_url)
    for _ in range(100):
        assert tc.get("a") == {"v": 1}
    assert command_calls(redis_url, "get") == 0          # L1 hits never touch the network
    other = make(invalidation=False)                    # a second process's view: empty L1
    assert other.get_l1("a") is None
    assert other.get("a") == {"v": 1}                    # from L2 ...
    assert other.get_l1("a") == {"v": 1}                 # ... filling L1
    s = other.stats()
    assert s.l2_hits == 1 and s.l1_hits == 1 and s.l2_errors == 0
    assert tc.delete("a") is True
    assert tc.get("a") is None and raw.get(b"tc:a") is None


def test_l1_copy_never_outlives_l2_ttl(make, redis_url):
    timer = FakeTimer()
    writer = make(invalidation=False)
    writer.set("k", "v", ttl=10)
    reader = make(invalidation=False, timer=timer)
    remaining = redis.Redis.from_url(redis_url).pttl(b"tc:k") / 1000     # an upper bound for the read
    assert reader.get("k") == "v"
    assert reader.get_l1("k") == "v"
    deadline = reader.l1_deadline("k")
    assert 9 < deadline - timer() <= remaining            # deadline within L2's remaining TTL
    timer.tick(deadline - 0.001)
    assert reader.get_l1("k") == "v"
    timer.tick(0.001)
    assert reader.get_l1("k") is None                    # expired in L1 at L2's deadline
    # l1_ttl caps it further
    capped = make(invalidation=False, timer=timer, l1_ttl=1)
    assert capped.get("k") == "v"
    timer.tick(1.01)
    assert capped.get_l1("k") is None
    assert capped.get("k") == "v"                        # refetched from L2 (still alive there)


def test_default_clock_slack_is_subtracted(impl, redis_url):
    l2 = RedisCache(redis_url, prefix="tc:")
    tc = impl.TieredCache(LRUCache(10), l2, invalidation=False)
    tc.set("k", 1, ttl=5)
    assert tc.l1_deadline("k") <= tc.now() + 5 - tc.clock_slack + 1e-6
    tc.close()


def test_l1_deadlines_follow_entries_through_eviction_and_reuse(make):
    # A small L1 recycles its entries; each copy must keep its own deadline.
    import random
    timer = FakeTimer()
    tc = make(l1=LRUCache(8), invalidation=False, timer=timer)
    model = {}
    rng = random.Random(5)
    for step in range(3000):
        key = f"k{rng.randrange(20)}"
        op = rng.random()
        if op < 0.4:
            life = rng.choice([None, 0.5, 1, 3])
            tc._fill(key, step, life)
            model[key] = (step, float("inf") if life is None else timer() + life)
        elif op < 0.5:
            timer.tick(rng.random())
        elif op < 0.55:
            tc.invalidate_local(key)
            model.pop(key, None)
        else:
            got = tc.get_l1(key, "miss")
            if got != "miss":
                value, deadline = model[key]
                assert got == value and timer() < deadline, (step, key)
        for k in list(model):
            if k not in tc.l1:
                del model[k]                 # evicted by L1's LRU


def test_values_written_around_the_tiered_cache_are_not_served(make):
    tc = make(invalidation=False)
    tc.l1["sneaky"] = "no deadline known"
    assert tc.get_l1("sneaky") is None
    with pytest.raises(KeyError):
        tc.l1_deadline("sneaky")
    assert tc.get("sneaky", "from L2") == "from L2"


def test_other_l1_kinds(make):
    for l1 in (TTLCache(100, ttl=1000), {}):
        tc = make(l1=l1, invalidation=False)
        tc.set("a", 1)
        assert tc.get("a") == 1 and tc.get_l1("a") == 1
    with pytest.raises(TypeError, match="mutable mapping"):
        make(l1=[], invalidation=False)


def test_get_or_load_calls_loader_once_under_concurrency(make):
    tc = make(invalidation=False)
    calls = []
    gate = threading.Event()

    def loader(key):
        calls.append(key)
        gate.wait(2)
        return f"loaded {key}"
    results = []
    threads = [threading.Thread(target=lambda: results.append(tc.get_or_load("user:42", loader, ttl=30)))
               for _ in range(16)]
    for t in threads:
        t.start()
    time.sleep(0.1)
    gate.set()
    for t in threads:
        t.join()
    assert calls == ["user:42"]
    assert results == ["loaded user:42"] * 16
    assert tc.get_or_load("user:42", loader) == "loaded user:42" and len(calls) == 1
    fresh = make(invalidation=False)                    # another process: found in L2, no load
    assert fresh.get_or_load("user:42", loader) == "loaded user:42" and len(calls) == 1


def test_loader_errors_propagate_and_are_not_cached(make):
    tc = make(invalidation=False)

    def bad(key):
        raise LookupError("no such user")
    with pytest.raises(LookupError):
        tc.get_or_load("u", bad)
    assert tc.get("u") is None and tc.stats().load_errors == 1
    assert tc.get_or_load("u", lambda k: 3) == 3


def test_get_many_and_set_many_are_batched(make, redis_url):
    tc = make(invalidation=False)
    tc.set_many({f"k{i}": i for i in range(100)}, ttl=30)
    other = make(invalidation=False)
    assert other.get("k0") == 0                          # one in L1 already
    reset_stats(redis_url)
    got = other.get_many([f"k{i}" for i in range(100)] + ["missing"])
    assert got == {f"k{i}": i for i in range(100)}
    assert command_calls(redis_url, "mget") == 1 and command_calls(redis_url, "get") == 0
    assert all(other.get_l1(f"k{i}") == i for i in range(100))
    assert other.delete_many(["k1", "k2"]) == 2
    assert other.get_many(["k1", "k2", "k3"]) == {"k3": 3}


def test_l2_down_reads_never_raise_breaker_opens_and_recovers(impl, own_redis, caplog):
    timer = FakeTimer()
    l2 = RedisCache(own_redis.url, prefix="b:", socket_timeout=0.3, socket_connect_timeout=0.3)
    tc = impl.TieredCache(LRUCache(100), l2, invalidation=False, breaker_threshold=3,
                          breaker_cooldown=10, timer=timer)
    tc.set("a", 1)
    tc.invalidate_local("a")
    own_redis.kill()
    with caplog.at_level(logging.WARNING):
        for _ in range(10):
            assert tc.get("a", "fallback") == "fallback"
        assert tc.get_or_load("z", lambda k: "from loader") == "from loader"
        assert tc.get_many(["a", "b"]) == {}
    s = tc.stats()
    assert s.l2_errors == 3 and s.l2_skipped >= 8 and s.breaker == "open"   # the loaded value was not written to L2
    failures_logged = [r for r in caplog.records if "failed" in r.getMessage()]
    assert len(failures_logged) == 1                      # once per incident
    with pytest.raises(redis.ConnectionError):
        tc.set("w", 1)                                   # a write that did not happen says so
    assert tc.get_l1("w") is None
    own_redis.start()
    timer.tick(10)                                       # cool-down over: one trial goes through
    assert tc.get("a") is None                           # the server restarted empty
    assert tc.stats().breaker == "closed"
    tc.set("a", 2)
    assert tc.get("a") == 2
    assert any("answering again" in r.getMessage() for r in caplog.records)
    tc.close()


def test_slow_l2_times_out_into_a_miss(impl, own_redis):
    l2 = RedisCache(own_redis.url, prefix="s:", socket_timeout=0.2)
    tc = impl.TieredCache(LRUCache(100), l2, invalidation=False)
    tc.set("a", 1)
    tc.invalidate_local("a")
    own_redis.pause()
    try:
        start = time.monotonic()
        assert tc.get("a", "miss") == "miss"
        assert time.monotonic() - start < 3
        assert tc.stats().l2_errors == 1
    finally:
        own_redis.resume()
    tc.close()


def test_corrupt_l2_value_is_a_miss_then_loaded(make, redis_url, caplog):
    tc = make(invalidation=False)
    redis.Redis.from_url(redis_url).set(b"tc:x", b"\x80garbage")
    with caplog.at_level(logging.WARNING, logger="fastcache.redis"):
        assert tc.get_or_load("x", lambda k: "fresh") == "fresh"
    assert any("undecodable" in r.getMessage() for r in caplog.records)
    assert tc.get("x") == "fresh"


def test_invalidation_between_instances(make):
    seen = []
    a = make()
    b = make(on_invalidate=lambda keys, reason: seen.append((keys, reason)))
    assert a.wait_ready() and b.wait_ready()

    def heard(n):                 # b has processed n invalidations from a
        assert wait_for(lambda: len(seen) >= n), seen
    a.set("k", 1)
    heard(1)
    assert b.get("k") == 1 and b.get_l1("k") == 1
    a.set("k", 2)
    heard(2)
    assert b.get_l1("k") is None
    assert b.get("k") == 2
    a.delete("k")
    heard(3)
    assert b.get_l1("k") is None
    a.set_many({"x": 1, 7: 2, b"raw": 3})
    heard(4)
    assert b.get_many(["x", 7, b"raw"]) == {"x": 1, 7: 2, b"raw": 3}
    assert all(b.get_l1(k) is not None for k in ("x", 7, b"raw"))
    a.set_many({"x": 10, 7: 20, b"raw": 30})
    heard(5)
    assert all(b.get_l1(k) is None for k in ("x", 7, b"raw"))
    assert b.get("x") == 10
    a.clear()
    heard(6)
    assert len(b.l1) == 0
    assert seen[0] == (["k"], "set") and seen[2] == (["k"], "delete") and seen[5] == (None, "clear")
    assert sorted(map(repr, seen[3][0])) == sorted(map(repr, ["x", 7, b"raw"]))
    assert a.get_l1("x") is None                          # clear() flushed its own L1 too
    assert b.stats().invalidations_received == 6


def test_l1_flushed_when_invalidation_connection_is_lost(impl, own_redis):
    l2 = RedisCache(own_redis.url, prefix="f:", socket_timeout=0.5, socket_connect_timeout=0.5)
    tc = impl.TieredCache(LRUCache(100), l2)
    assert tc.wait_ready()
    tc.set("a", 1)
    assert tc.get_l1("a") == 1
    resets = tc._listener.resets
    own_redis.kill()
    assert wait_for(lambda: tc.get_l1("a") is None)       # flushed on loss
    own_redis.start()
    assert wait_for(lambda: tc._listener.connected.is_set(), timeout=10)
    assert tc._listener.resets >= resets + 2             # ... and again on resubscribe
    tc.set("a", 2)
    assert tc.get("a") == 2
    tc.close()


def test_fill_is_dropped_when_an_invalidation_races_it(make):
    tc = make(invalidation=False)
    tc.set("k", "old")
    tc.invalidate_local("k")
    epoch = tc._epoch
    tc._remote_invalidation(["k"], "set")                # arrives while a read is in flight
    tc._fill("k", "old", 60, epoch)
    assert tc.get_l1("k") is None


def test_async_tiered(redis_url):
    async def main():
        l2a = AsyncRedisCache(redis_url, prefix="at:", ttl=60)
        l2b = AsyncRedisCache(redis_url, prefix="at:", ttl=60)
        seen = []
        async with AsyncTieredCache(LRUCache(100), l2a) as a, \
                AsyncTieredCache(LRUCache(100), l2b, on_invalidate=lambda k, r: seen.append(k)) as b:
            assert await a.wait_ready() and await b.wait_ready()

            async def heard(n):
                for _ in range(500):
                    if len(seen) >= n:
                        return
                    await asyncio.sleep(0.01)
                raise AssertionError(seen)
            await a.set("k", 1)
            await heard(1)
            assert await b.get("k") == 1 and b.get_l1("k") == 1
            await a.set("k", 2)
            await heard(2)
            assert b.get_l1("k") is None and await b.get("k") == 2
            calls = []

            async def loader(key):
                calls.append(key)
                await asyncio.sleep(0.05)
                return key.upper()
            results = await asyncio.gather(*[a.get_or_load("abc", loader) for _ in range(20)])
            assert results == ["ABC"] * 20 and calls == ["abc"]
            assert await b.get_or_load("abc", lambda k: "sync loader unused") == "ABC"
            await a.set_many({"m1": 1, "m2": 2})
            assert await b.get_many(["m1", "m2", "m3"]) == {"m1": 1, "m2": 2}
            assert await a.delete_many(["m1"]) == 1 and await a.delete("m2")
            await a.clear()
            assert len(a.l1) == 0
        await l2a.close()
        await l2b.close()
    asyncio.run(main())


def test_async_l2_down_reads_fall_back(own_redis):
    async def main():
        l2 = AsyncRedisCache(own_redis.url, prefix="ad:", socket_timeout=0.3, socket_connect_timeout=0.3)
        tc = AsyncTieredCache(LRUCache(10), l2, invalidation=False, breaker_threshold=2)
        await tc.set("a", 1)
        tc.invalidate_local("a")
        own_redis.kill()
        assert await tc.get("a", "fb") == "fb"
        assert await tc.get_or_load("b", lambda k: "loaded") == "loaded"
        assert await tc.get_many(["a"]) == {}
        assert tc.stats().l2_errors >= 2
        with pytest.raises(redis.ConnectionError):
            await tc.set("c", 1)
        await tc.close()
    asyncio.run(main())


def test_same_methods_sync_and_async(impl):
    public = lambda cls: {n for n in dir(cls) if not n.startswith("_")}  # noqa: E731
    assert public(impl.TieredCache) - public(AsyncTieredCache) <= {"now"} | set()
