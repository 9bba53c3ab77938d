"""The tiers under network faults, through a real fault-injecting proxy (tests/faultproxy.py).

Written once, for asyncio; ``tests/_sync/test_faults.py`` is generated from it by
``scripts/unasync.py`` (tasks become threads).  Two "processes" (two tiered caches with
their own connections, L1s and listeners) share a namespace on one redis-server and both
reach it through the proxy; a third, direct connection is the truth.  Readers and a
writer run throughout; the proxy applies one fault for ``FAULT_SECONDS``, then heals.

What each scenario asserts (the README's guarantees, with default settings: 1 s socket
and connect timeouts):
- no read raises, and none takes longer than READ_BOUND seconds (a connect plus a read,
  each bounded by its timeout, plus scheduling slack);
- every value read is one that was written for that key (no wrong value, ever);
- no acknowledged write is lost or overwritten by an older one: Redis ends with the
  writer's last acknowledged version of each key, or a later attempt that timed out;
- within HEAL_BOUND seconds after healing, both processes serve what Redis holds, for
  every key (written before, during and after the fault), and both read L2 again.
"""
from __future__ import annotations

import random
import time

import pytest
import redis.asyncio

from concurrency import async_gather, async_sleep, async_wait_for
from faultproxy import FaultProxy
from fastcache import AsyncTieredCache, LRUCache
from fastcache.patterns import AsyncInvalidationBus, AsyncWriteBehind
from fastcache.patterns.journal import AsyncRedisStreamJournal
from fastcache.redis import AsyncRedisCache, AsyncShardedRedisCache
from redis_servers import RedisServer
from fastcache.redis import RedisCache as TruthCache

FAULT_SECONDS = 2.0         # the README's figures: `python benchmarks/faults.py` (5 s)
READ_BOUND = 2.5            # connect (1 s) + read (1 s) + slack
HEAL_BOUND = 2.0
REJOIN_BOUND = 3.0
KEYS = [f"k{i}" for i in range(12)]
FAULTS = ["partition", "latency", "reset", "refuse", "trickle"]


def apply(proxy, fault):
    if fault == "partition":
        proxy.partition()
    elif fault == "latency":
        proxy.latency(0.3)
    elif fault == "reset":
        proxy.reset()
    elif fault == "refuse":
        proxy.refuse()
    else:
        proxy.trickle(1, 0.002)


class Run:
    """What the readers and the writer saw."""

    def __init__(self):
        self.errors = []
        self.max_read = 0.0
        self.reads = 0
        self.acked = {}          # key -> last acknowledged version
        self.attempted = {}      # key -> last version attempted (acknowledged or not)
        self.stop = False
        self.stop_writes = False


async def reader(tc, run):
    rng = random.Random(id(tc))
    while not run.stop:
        key = rng.choice(KEYS)
        t0 = time.monotonic()
        try:
            value = await tc.get(key)
        except Exception as exc:             # noqa: BLE001 - a read must never raise
            run.errors.append(f"read {key}: {type(exc).__name__}: {exc}")
            value = None
        run.max_read = max(run.max_read, time.monotonic() - t0)
        run.reads += 1
        if value is not None and not (isinstance(value, list) and value[0] == key):
            run.errors.append(f"wrong value for {key}: {value!r}")
        await async_sleep(0.002)


async def writer(tc, run):
    version = 0
    rng = random.Random(7)
    while not run.stop_writes:
        key = rng.choice(KEYS)
        version += 1
        run.attempted[key] = version
        try:
            await tc.set(key, [key, version])
        except (redis.RedisError, OSError):
            pass                             # not acknowledged: may or may not have landed
        else:
            run.acked[key] = version
        await async_sleep(0.01)


async def fault_driver(proxy, fault, seconds, run, marks, a, b, truth_get):
    """Fault, heal; then (the writer stopped, the readers still running) poll until both
    caches serve what Redis holds for every key: marks["converged"], seconds after healing."""
    await async_sleep(0.5)
    apply(proxy, fault)
    marks["fault"] = time.monotonic()
    await async_sleep(seconds)
    proxy.heal()
    marks["healed"] = healed = time.monotonic()
    run.stop_writes = True                      # the writer's call in flight ends within its timeout
    await async_sleep(0)
    pending = set(KEYS)
    while pending and time.monotonic() < healed + 3 * HEAL_BOUND:
        for key in list(pending):
            held = await truth_get(key)
            if await a.get(key) == held and await b.get(key) == held:
                pending.discard(key)
        if pending:
            await async_sleep(0.02)
    marks["converged"] = None if pending else time.monotonic() - healed
    run.stop = True


@pytest.fixture
def pair(redis_server, redis_url, cleanup):
    proxies = []

    def build():
        proxy = FaultProxy(redis_server.port)
        proxies.append(proxy)
        caches = []
        for _ in range(2):
            l2 = AsyncRedisCache(proxy.url, prefix="flt:", ttl=600)
            tc = AsyncTieredCache(LRUCache(1000), l2)
            cleanup.append(l2.close)
            cleanup.append(tc.close)
            caches.append(tc)
        return proxy, caches
    yield build
    for p in proxies:
        p.close()


_truth = {}


async def truth(redis_url, key):
    """What Redis holds for key, read over a direct connection (decoded as the caches do)."""
    cache = _truth.get(redis_url)
    if cache is None:
        cache = _truth[redis_url] = TruthCache(redis_url, prefix="flt:")
    return cache.get(key)


async def scenario(proxy, a, b, fault, truth_get, seconds=None):
    """Run readers on a and b and a writer on a through one fault; what was measured:
    errors, the slowest read, how soon after healing both served what Redis holds for
    every key, how long a write after healing took to reach the other cache, and the
    keys whose last acknowledged write Redis does not hold."""
    assert await a.wait_ready() and await b.wait_ready()
    for key in KEYS:
        await a.set(key, [key, 0])
        assert await b.get(key) == [key, 0]
    run = Run()
    for key in KEYS:
        run.acked[key] = run.attempted[key] = 0
    marks = {}
    await async_gather(lambda: reader(a, run), lambda: reader(b, run), lambda: writer(a, run),
                       lambda: fault_driver(proxy, fault, seconds or FAULT_SECONDS, run, marks, a, b, truth_get))
    lost = []
    for key in KEYS:                                   # no acknowledged write lost or overwritten
        held = await truth_get(key)
        if held is None or not run.acked[key] <= held[1] <= run.attempted[key]:
            lost.append((key, held, run.acked[key]))
    # A write after healing reaches the other process's L1 (its invalidation, then a read).
    t0 = time.monotonic()
    await a.set(KEYS[0], [KEYS[0], 10**9])
    while await b.get(KEYS[0]) != [KEYS[0], 10**9] and time.monotonic() - t0 < 3 * HEAL_BOUND:
        await async_sleep(0.005)
    propagated = time.monotonic() - t0 if await b.get(KEYS[0]) == [KEYS[0], 10**9] else None
    return {"errors": run.errors, "max_read": run.max_read, "reads": run.reads,
            "converged": marks["converged"], "propagated": propagated, "lost": lost,
            "breakers": (a.stats().breaker, b.stats().breaker), "owed": a.stats().invalidations_owed}


@pytest.mark.parametrize("fault", FAULTS)
async def test_tiered_caches_through_a_fault(fault, pair, redis_url):
    proxy, (a, b) = pair()

    async def truth_get(key):
        return await truth(redis_url, key)

    out = await scenario(proxy, a, b, fault, truth_get)
    assert out["errors"] == [], out["errors"][:5]
    assert out["max_read"] <= READ_BOUND, out
    assert out["reads"] > 50
    assert out["converged"] is not None and out["converged"] <= HEAL_BOUND, out   # within 2 s of healing
    assert out["propagated"] is not None and out["propagated"] <= HEAL_BOUND, out
    assert out["lost"] == [], out["lost"]
    assert out["breakers"] == ("closed", "closed") and out["owed"] == 0


@pytest.mark.parametrize("fault", ["partition", "reset"])
async def test_sharded_cache_through_a_fault_on_one_node(fault, redis_binary, cleanup):
    # One of three nodes sits behind the proxy.  During the fault its keys are misses
    # (reads never raise, never wait past READ_BOUND; writes to it raise NodeUnavailable)
    # and the other nodes' keys are served as usual; within REJOIN_BOUND after healing
    # the node answers again.
    servers = [RedisServer(redis_binary).start() for _ in range(3)]
    try:
        with FaultProxy(servers[0].port) as proxy:
            sc = AsyncShardedRedisCache({"a": proxy.url, "b": servers[1].url, "c": servers[2].url},
                                        prefix="fs:")
            cleanup.append(sc.close)
            keys = [f"s{i}" for i in range(60)]
            await sc.set_many({k: k for k in keys})
            on_a = [k for k in keys if sc.node_for(k) == "a"]
            others = [k for k in keys if sc.node_for(k) != "a"]
            apply(proxy, fault)
            t_end = time.monotonic() + FAULT_SECONDS
            worst = 0.0
            while time.monotonic() < t_end:
                for key in (on_a[0], others[0], others[-1]):
                    t0 = time.monotonic()
                    value = await sc.get(key, "miss")
                    worst = max(worst, time.monotonic() - t0)
                    assert value in (key, "miss") and (key in on_a or value == key)
                await async_sleep(0.02)
            assert worst <= READ_BOUND, worst
            proxy.heal()
            healed = time.monotonic()
            while await sc.get(on_a[0], "miss") != on_a[0]:
                assert time.monotonic() - healed < REJOIN_BOUND, "the node did not rejoin"
                await async_sleep(0.05)
            assert [await sc.get(k) for k in keys] == keys
    finally:
        for s in servers:
            s.stop()


@pytest.mark.parametrize("fault", ["partition", "reset"])
async def test_write_behind_with_its_journal_through_a_fault(fault, redis_server, redis_url):
    # The journal sits behind the proxy.  While it cannot be written, set() raises
    # (nothing changed); every set that returned reaches the store, and a write whose
    # append failed never overwrites a later acknowledged one - here, or on replay by the
    # next writer of the same journal.
    store = {}

    async def write_batch(batch):
        store.update(batch)

    with FaultProxy(redis_server.port) as proxy:
        client = redis.asyncio.Redis(port=proxy.port, socket_timeout=1.0, socket_connect_timeout=1.0)
        journal = AsyncRedisStreamJournal(client, f"flt-{fault}")
        wb = AsyncWriteBehind(LRUCache(100), write_batch, journal=journal, max_delay=0.01)
        await wb.start()
        acked = {}
        version = 0
        rng = random.Random(3)
        marks = {}

        async def writes():
            nonlocal version
            t_end = time.monotonic() + FAULT_SECONDS + 1.5
            while time.monotonic() < t_end:
                key = rng.choice(KEYS[:4])
                version += 1
                try:
                    await wb.set(key, version)
                except (redis.RedisError, OSError):
                    pass
                else:
                    acked[key] = version
                await async_sleep(0.01)

        async def driver():
            await async_sleep(0.3)
            apply(proxy, fault)
            await async_sleep(FAULT_SECONDS)
            proxy.heal()
            marks["healed"] = time.monotonic()

        await async_gather(writes, driver)
        assert await wb.close(timeout=10)
        assert store == acked                              # every acknowledged write, the last one last
        await client.aclose()
    replayed = {}

    async def replay_batch(batch):
        replayed.update(batch)

    again = AsyncWriteBehind(LRUCache(100), replay_batch,
                             journal=AsyncRedisStreamJournal(redis_url, f"flt-{fault}"), max_delay=0)
    await again.start()
    assert await again.close(timeout=10)
    assert all(acked[k] == v for k, v in replayed.items()), (replayed, acked)   # nothing older replayed


async def test_invalidation_bus_subscriber_behind_a_partition(redis_server, redis_url, cleanup):
    # The subscriber's connection is partitioned while the publisher (elsewhere) sends an
    # invalidation: nothing reaches the subscriber, and nothing fails.  Its listener's
    # health check (a PING after 1 s of quiet, 1 s to answer) notices while the partition
    # lasts and flushes the subscribed caches: no entry outlives a partition in which its
    # invalidation may be lost.  After healing, events flow again.
    with FaultProxy(redis_server.port) as proxy:
        pub = AsyncInvalidationBus(redis_url, channel="flt-bus")
        sub = AsyncInvalidationBus(proxy.url, channel="flt-bus")
        cleanup.append(pub.close)
        cleanup.append(sub.close)
        assert await pub.wait_ready() and await sub.wait_ready()
        cache = sub.subscribe(LRUCache(100))
        cache["user:1"] = "old"
        cache["user:9"] = "unrelated"
        proxy.partition()
        await pub.publish(keys=["user:1"], reason="row-updated")    # held, not delivered
        assert await async_wait_for(lambda: "user:1" not in cache, 3.5)    # still partitioned
        assert "user:9" not in cache                                 # a flush, not the message
        proxy.heal()
        assert await async_wait_for(lambda: sub._listener.connected.is_set(), 5.0)
        cache["user:2"] = "old"
        await pub.publish(keys=["user:2"])
        assert await async_wait_for(lambda: "user:2" not in cache)
