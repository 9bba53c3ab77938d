"""The tiered cache over a real Redis L2: one behaviour, both modes, both L1 hit paths.

Written once, for asyncio (``AsyncTieredCache`` over ``AsyncRedisCache``);
``tests/_sync/test_tiered.py`` is generated from this file by
``scripts/unasync.py`` and runs the same tests on ``TieredCache`` over
``RedisCache``.  Each test runs on the compiled and the pure-Python front.
"""
from __future__ import annotations

import logging
import random

import pytest
import redis

from concurrency import async_gather, async_sleep, async_wait_for
from conftest import FakeTimer, command_calls, reset_stats
from faultproxy import FaultProxy
from fastcache import LRUCache, TTLCache
from fastcache.redis import AsyncRedisCache


@pytest.fixture
def make(impl, redis_url, cleanup):
    def build(l1=None, prefix="tc:", ttl=60, url=None, l2_options=None, **kwargs):
        l2 = AsyncRedisCache(url or redis_url, prefix=prefix, ttl=ttl, **(l2_options or {}))
        tc = impl.AsyncTieredCache(l1 if l1 is not None else LRUCache(1000), l2, **kwargs)
        cleanup.append(l2.close)
        cleanup.append(tc.close)
        return tc
    return build


async def test_read_path_and_write_through(make, redis_url):
    tc = make(invalidation=False)
    assert await tc.get("a") is None and await tc.get("a", 5) == 5
    await tc.set("a", {"v": 1})
    raw = redis.Redis.from_url(redis_url)
    assert raw.get(b"tc:a") is not None                  # written to L2
    assert tc.get_l1("a") == {"v": 1}                    # and kept in L1
    reset_stats(redis_url)
    for _ in range(100):
        assert await tc.get("a") == {"v": 1}
    assert command_calls(redis_url, "get") == 0          # L1 hits never touch the network
    other = make(invalidation=False)                    # a second process's view: empty L1
    assert other.get_l1("a") is None
    assert await other.get("a") == {"v": 1}              # from L2 ...
    assert other.get_l1("a") == {"v": 1}                 # ... filling L1
    s = other.stats()
    assert s.l2_hits == 1 and s.l1_hits == 1 and s.l2_errors == 0
    assert await tc.delete("a") is True
    assert await tc.get("a") is None and raw.get(b"tc:a") is None


async def test_l1_copy_never_outlives_l2_ttl(make, redis_url):
    timer = FakeTimer()
    writer = make(invalidation=False)
    await writer.set("k", "v", ttl=10)
    reader = make(invalidation=False, timer=timer)
    remaining = redis.Redis.from_url(redis_url).pttl(b"tc:k") / 1000     # an upper bound for the read
    assert await reader.get("k") == "v"
    assert reader.get_l1("k") == "v"
    deadline = reader.l1_deadline("k")
    assert 9 < deadline - timer() <= remaining            # deadline within L2's remaining TTL
    timer.tick(deadline - 0.001)
    assert reader.get_l1("k") == "v"
    timer.tick(0.001)
    assert reader.get_l1("k") is None                    # expired in L1 at L2's deadline
    capped = make(invalidation=False, timer=timer, l1_ttl=1)   # l1_ttl caps it further
    assert await capped.get("k") == "v"
    timer.tick(1.01)
    assert capped.get_l1("k") is None
    assert await capped.get("k") == "v"                  # refetched from L2 (still alive there)


async def test_default_clock_slack_is_subtracted(make):
    tc = make(l1=LRUCache(10), invalidation=False)
    await tc.set("k", 1, ttl=5)
    assert tc.l1_deadline("k") <= tc.now() + 5 - tc.clock_slack + 1e-6


async def test_l1_deadlines_follow_entries_through_eviction_and_reuse(make):
    # A small L1 recycles its entries; each copy must keep its own deadline.
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


async def test_values_written_straight_into_l1(make):
    # A fastcache L1 keeps its items' deadlines itself: an item written into it directly
    # is an L1 item like any other, served until its own TTL.  Any other mapping holds
    # L1Entry objects (value plus deadline), so a value written around the tiered cache
    # there has no known deadline and is never served.
    timer = FakeTimer()
    tc = make(invalidation=False, timer=timer)
    tc.l1.set("direct", "v", ttl=5)
    assert tc.get_l1("direct") == "v" and tc.l1_deadline("direct") == timer() + 5
    timer.tick(5)
    assert tc.get_l1("direct") is None
    plain = make(l1={}, invalidation=False)
    plain.l1["sneaky"] = "no deadline known"
    assert plain.get_l1("sneaky") is None
    with pytest.raises(KeyError):
        plain.l1_deadline("sneaky")
    assert await plain.get("sneaky", "from L2") == "from L2"


async def test_other_l1_kinds(make):
    for l1 in (TTLCache(100, ttl=1000), {}):
        tc = make(l1=l1, invalidation=False)
        await tc.set("a", 1)
        assert await tc.get("a") == 1 and tc.get_l1("a") == 1
    with pytest.raises(TypeError, match="mutable mapping"):
        make(l1=[], invalidation=False)


async def test_get_or_load_calls_loader_once_under_concurrency(make):
    tc = make(invalidation=False)
    calls = []

    async def loader(key):
        calls.append(key)
        await async_sleep(0.1)                  # the other callers arrive meanwhile
        return f"loaded {key}"
    results = await async_gather(*[lambda: tc.get_or_load("user:42", loader, ttl=30)] * 16)
    assert calls == ["user:42"]
    assert results == ["loaded user:42"] * 16
    assert await tc.get_or_load("user:42", loader) == "loaded user:42" and len(calls) == 1
    fresh = make(invalidation=False)                    # another process: found in L2, no load
    assert await fresh.get_or_load("user:42", loader) == "loaded user:42" and len(calls) == 1
    assert tc.stats().loads == 1 and fresh.stats().loads == 0


async def test_loader_errors_propagate_and_are_not_cached(make):
    tc = make(invalidation=False)

    def bad(key):
        raise LookupError("no such user")
    with pytest.raises(LookupError):
        await tc.get_or_load("u", bad)
    assert await tc.get("u") is None and tc.stats().load_errors == 1
    assert await tc.get_or_load("u", lambda k: 3) == 3


async def test_get_many_and_set_many_are_batched(make, redis_url):
    tc = make(invalidation=False)
    await tc.set_many({f"k{i}": i for i in range(100)}, ttl=30)
    other = make(invalidation=False)
    assert await other.get("k0") == 0                    # one in L1 already
    reset_stats(redis_url)
    got = await other.get_many([f"k{i}" for i in range(100)] + ["missing"])
    assert got == {f"k{i}": i for i in range(100)}
    assert command_calls(redis_url, "mget") == 1 and command_calls(redis_url, "get") == 0
    assert all(other.get_l1(f"k{i}") == i for i in range(100))
    assert await other.delete_many(["k1", "k2"]) == 2
    assert await other.get_many(["k1", "k2", "k3"]) == {"k3": 3}


async def test_l2_down_reads_never_raise_breaker_opens_and_recovers(make, own_redis, caplog):
    timer = FakeTimer()
    tc = make(url=own_redis.url, prefix="b:", l2_options={"socket_timeout": 0.3, "socket_connect_timeout": 0.3},
              invalidation=False, breaker_threshold=3, breaker_cooldown=10, timer=timer)
    await tc.set("a", 1)
    tc.invalidate_local("a")
    own_redis.kill()
    with caplog.at_level(logging.WARNING):
        for _ in range(10):
            assert await tc.get("a", "fallback") == "fallback"
        assert await tc.get_or_load("z", lambda k: "from loader") == "from loader"
        assert await tc.get_many(["a", "b"]) == {}
    s = tc.stats()
    assert s.l2_errors == 3 and s.l2_skipped >= 8 and s.breaker == "open"   # the loaded value was not written to L2
    failures_logged = [r for r in caplog.records if "failed" in r.getMessage()]
    assert len(failures_logged) == 1                      # once per incident
    with pytest.raises(redis.ConnectionError):
        await tc.set("w", 1)                             # a write that did not happen says so
    assert tc.get_l1("w") is None
    own_redis.start()
    timer.tick(10)                                       # cool-down over: one trial goes through
    assert await tc.get("a") is None                     # the server restarted empty
    assert tc.stats().breaker == "closed"
    await tc.set("a", 2)
    assert await tc.get("a") == 2
    assert any("answering again" in r.getMessage() for r in caplog.records)


async def test_slow_l2_times_out_into_a_miss(make, own_redis):
    import time
    tc = make(url=own_redis.url, prefix="s:", l2_options={"socket_timeout": 0.2}, invalidation=False)
    await tc.set("a", 1)
    tc.invalidate_local("a")
    own_redis.pause()
    try:
        start = time.monotonic()
        assert await tc.get("a", "miss") == "miss"
        assert time.monotonic() - start < 3
        assert tc.stats().l2_errors == 1
    finally:
        own_redis.resume()


async def test_corrupt_l2_value_is_a_miss_then_loaded(make, redis_url, caplog):
    tc = make(invalidation=False)
    redis.Redis.from_url(redis_url).set(b"tc:x", b"\x80garbage")
    with caplog.at_level(logging.WARNING, logger="fastcache.redis"):
        assert await tc.get_or_load("x", lambda k: "fresh") == "fresh"
    assert any("undecodable" in r.getMessage() for r in caplog.records)
    assert await tc.get("x") == "fresh"


async def test_invalidation_between_instances(make):
    seen = []
    a = make()
    b = make(on_invalidate=lambda keys, reason: seen.append((keys, reason)))
    assert await a.wait_ready() and await b.wait_ready()

    async def heard(n):           # b has processed n invalidations from a
        assert await async_wait_for(lambda: len(seen) >= n), seen
    await a.set("k", 1)
    await heard(1)
    assert await b.get("k") == 1 and b.get_l1("k") == 1
    await a.set("k", 2)
    await heard(2)
    assert b.get_l1("k") is None
    assert await b.get("k") == 2
    await a.delete("k")
    await heard(3)
    assert b.get_l1("k") is None
    await a.set_many({"x": 1, 7: 2, b"raw": 3})
    await heard(4)
    assert await b.get_many(["x", 7, b"raw"]) == {"x": 1, 7: 2, b"raw": 3}
    assert all(b.get_l1(k) is not None for k in ("x", 7, b"raw"))
    await a.set_many({"x": 10, 7: 20, b"raw": 30})
    await heard(5)
    assert all(b.get_l1(k) is None for k in ("x", 7, b"raw"))
    assert await b.get("x") == 10
    await a.clear()
    await heard(6)
    assert len(b.l1) == 0
    assert seen[0] == (["k"], "set") and seen[2] == (["k"], "delete") and seen[5] == (None, "clear")
    assert sorted(map(repr, seen[3][0])) == sorted(map(repr, ["x", 7, b"raw"]))
    assert a.get_l1("x") is None                          # clear() flushed its own L1 too
    assert b.stats().invalidations_received == 6
    await a.set("t1", 1, tags=["group"])
    await heard(7)
    assert await b.get("t1") == 1
    assert await a.invalidate_tag("group") == ["t1"]
    await heard(8)
    assert b.get_l1("t1") is None and await b.get("t1") is None


async def test_coalesced_invalidations_carry_many_keys_per_message(make):
    seen = []
    a = make(coalesce=0.05)
    b = make(on_invalidate=lambda keys, reason: seen.append((keys, reason)))
    assert await a.wait_ready() and await b.wait_ready()
    keys = [f"k{i}" for i in range(40)]
    await b.get_many(keys)
    for i, k in enumerate(keys):                          # filled in b's L1 first
        await a.set(k, i)
    assert await async_wait_for(lambda: sum(len(ks or ()) for ks, _ in seen) >= len(keys)), seen
    assert sorted(k for ks, _ in seen for k in ks) == sorted(keys)         # every key, each once
    assert len(seen) < len(keys) and a.stats().invalidations_sent == len(seen)   # fewer messages than writes
    assert all(reason == "set" for _, reason in seen)
    await b.get_many(keys)
    assert all(b.get_l1(k) == i for i, k in enumerate(keys))
    await a.set("k0", "new")
    await a.delete("k1")                                  # two reasons in one window
    assert await async_wait_for(lambda: b.get_l1("k0") is None and b.get_l1("k1") is None)
    assert seen[-1][1] == "changed" and sorted(seen[-1][0]) == ["k0", "k1"]
    await a.clear()                                       # a flush is not delayed
    assert await async_wait_for(lambda: seen[-1] == (None, "clear"))


async def test_close_publishes_coalesced_invalidations(make):
    seen = []
    a = make(coalesce=1.0)                                # a long window: close() must not wait it out
    b = make(on_invalidate=lambda keys, reason: seen.append((keys, reason)))
    assert await a.wait_ready() and await b.wait_ready()
    await a.set("k", 1)
    assert a.stats().invalidations_sent == 0              # pending
    await a.close()
    assert a.stats().invalidations_sent == 1              # published by close, not by the flusher
    assert await async_wait_for(lambda: seen == [(["k"], "set")])


async def test_coalesce_is_checked(make):
    for bad in (-0.1, 2, True, "1ms"):
        with pytest.raises(ValueError, match="coalesce"):
            make(coalesce=bad)


async def test_l1_flushed_when_invalidation_connection_is_lost(make, own_redis):
    tc = make(url=own_redis.url, prefix="f:", l2_options={"socket_timeout": 0.5, "socket_connect_timeout": 0.5})
    assert await tc.wait_ready()
    await tc.set("a", 1)
    assert tc.get_l1("a") == 1
    resets = tc._listener.resets
    own_redis.kill()
    assert await async_wait_for(lambda: tc.get_l1("a") is None)       # flushed on loss
    own_redis.start()
    assert await async_wait_for(lambda: tc._listener.connected.is_set(), timeout=10)
    assert tc._listener.resets >= resets + 2             # ... and again on resubscribe
    await tc.set("a", 2)
    assert await tc.get("a") == 2


async def test_fill_is_dropped_when_an_invalidation_races_it(make):
    tc = make(invalidation=False)
    await tc.set("k", "old")
    tc.invalidate_local("k")
    epoch = tc._epoch
    tc._remote_invalidation(["k"], "set")                # arrives while a read is in flight
    tc._fill("k", "old", 60, epoch)
    assert tc.get_l1("k") is None


async def test_close_stops_coherence_and_keeps_the_tiers(make):
    tc = make()
    assert await tc.wait_ready()
    await tc.close()
    await tc.set("k", 1)
    assert await tc.get("k") == 1 and tc.stats().extra.get("invalidation_connected") is None
    assert repr(tc).startswith(type(tc).__name__ + "(l1=")


async def test_a_write_that_timed_out_is_invalidated_once_redis_answers(make, redis_server, redis_url):
    # A's write times out in a partition, but the server applies it once the partition
    # heals (a timeout is not a "no").  A owes the other processes an invalidation and
    # sends it as soon as Redis answers: B stops serving its old copy within 2 s of
    # healing (it used to keep it with no time limit).
    with FaultProxy(redis_server.port) as proxy:
        a = make(url=proxy.url, l2_options={"socket_timeout": 0.5})
        b = make()
        assert await a.wait_ready() and await b.wait_ready()
        await a.set("k", 1)
        assert await async_wait_for(lambda: b.stats().invalidations_received >= 1)   # A's message is in
        assert await b.get("k") == 1 and b.get_l1("k") == 1
        proxy.partition()
        with pytest.raises(redis.TimeoutError):
            await a.set("k", 2)
        assert a.stats().invalidations_owed == 1
        proxy.heal()
        assert await async_wait_for(lambda: redis.Redis.from_url(redis_url).get(b"tc:k") is not None
                                    and b.get_l1("k") is None, 2.0)
        assert await b.get("k") == 2 and await a.get("k") == 2
        assert await async_wait_for(lambda: a.stats().invalidations_owed == 0, 2.0)


async def test_a_silent_partition_of_the_subscription_flushes_l1(make, redis_server):
    # Pub/sub over a partition: nothing arrives and nothing fails.  The listener's health
    # check (a PING after 1 s of quiet, 1 s to answer) notices and flushes L1, so no copy
    # outlives a partition in which invalidations may have been lost.
    with FaultProxy(redis_server.port) as proxy:
        b = make(url=proxy.url, l2_options={"socket_timeout": 0.5})
        assert await b.wait_ready()
        await b.set("k", 1)
        assert b.get_l1("k") == 1
        flushes = b.stats().l1_flushes
        proxy.partition()
        assert await async_wait_for(lambda: b.get_l1("k") is None, 3.5)
        assert b.stats().l1_flushes > flushes and not b.stats().extra["invalidation_connected"]
        proxy.heal()
        assert await async_wait_for(lambda: b.stats().extra["invalidation_connected"], 5.0)
