"""Automatic batching of Redis reads (fastcache.redis.batching), against real Redis servers.

asyncio: on by default; reads issued in one loop iteration share one MGET.  Threads:
opt-in (``auto_batch=True``); a read that finds one in flight joins the next batch.
Every test checks the values each caller got, and what the server ran (INFO
commandstats), so a batcher that merged wrongly, or did not merge, fails.
"""
from __future__ import annotations

import asyncio
import threading
import time

import pytest
import redis
import redis.cluster

from conftest import command_calls, reset_stats
from faultproxy import FaultProxy
from fastcache import key_slot
from fastcache.redis import AsyncRedisCache, AsyncShardedRedisCache, RedisCache
from fastcache.redis.batching import AsyncReadBatcher, ReadBatcher

pytestmark = pytest.mark.redis


# -- asyncio ------------------------------------------------------------------------

async def test_concurrent_gets_share_one_mget(redis_url):
    async with AsyncRedisCache(redis_url, prefix="b:", ttl=60) as cache:
        assert cache.auto_batch
        await cache.set_many({f"k{i}": {"n": i} for i in range(150)})
        reset_stats(redis_url)
        keys = [f"k{i}" for i in range(200)] + ["k3", "k3", "k7"]      # misses and repeats
        values = await asyncio.gather(*(cache.get(k, "miss") for k in keys))
        assert values == [{"n": int(k[1:])} if int(k[1:]) < 150 else "miss" for k in keys]
        # the first read went alone, at once; the other 202 joined one MGET
        assert command_calls(redis_url, "get") == 1 and command_calls(redis_url, "mget") == 1
        stats = cache._batcher.stats
        assert stats.batches == 1 and stats.joined == 3          # the repeats asked once


async def test_a_lone_get_is_sent_at_once_as_a_get(redis_url):
    async with AsyncRedisCache(redis_url, prefix="b:", ttl=60) as cache:
        await cache.set("a", 1)
        reset_stats(redis_url)
        for _ in range(5):
            assert await cache.get("a") == 1
        assert command_calls(redis_url, "get") == 5 and command_calls(redis_url, "mget") == 0
        assert cache._batcher.stats.batches == 0


async def test_auto_batch_off(redis_url):
    async with AsyncRedisCache(redis_url, prefix="b:", ttl=60, auto_batch=False) as cache:
        await cache.set("a", 1)
        reset_stats(redis_url)
        assert await asyncio.gather(*(cache.get("a") for _ in range(20))) == [1] * 20
        assert command_calls(redis_url, "get") == 20 and command_calls(redis_url, "mget") == 0
        assert not cache.auto_batch


async def test_wrong_type_and_corrupt_values_in_a_batch_are_misses(redis_url, caplog):
    raw = redis.Redis.from_url(redis_url)
    raw.rpush(b"b:list", b"x")
    raw.set(b"b:bad", b"not a payload")
    async with AsyncRedisCache(redis_url, prefix="b:", ttl=60) as cache:
        await cache.set("ok", [1])
        got = await asyncio.gather(cache.get("ok"), cache.get("list", "d"), cache.get("bad", "d"),
                                   cache.get("ok"), cache.get("list", "d"))
        assert got == [[1], "d", "d", [1], "d"]


async def test_cancelling_one_caller_leaves_the_batch_to_the_others(redis_url):
    async with AsyncRedisCache(redis_url, prefix="b:", ttl=60) as cache:
        await cache.set_many({"a": 1, "b": 2, "c": 3})
        lone = asyncio.ensure_future(cache.get("a"))            # sent at once
        joined = [asyncio.ensure_future(cache.get(k)) for k in ("a", "b", "c", "b")]
        await asyncio.sleep(0)          # all started: "lone" sent, the rest in the open batch
        joined[1].cancel()              # a caller of the batch
        lone.cancel()                   # the one sent alone
        results = await asyncio.gather(*joined, return_exceptions=True)
        assert isinstance(results[1], asyncio.CancelledError)
        assert results[0] == 1 and results[2] == 3 and results[3] == 2
        assert await cache.get("b") == 2


async def test_a_failed_batch_fails_exactly_its_callers(redis_server):
    with FaultProxy(redis_server.port) as proxy:
        async with AsyncRedisCache(proxy.url, prefix="b:", ttl=60, socket_timeout=0.5) as cache:
            await cache.set_many({"a": 1, "b": 2})
            proxy.reset()                           # every connection is reset
            results = await asyncio.gather(*(cache.get(k) for k in ("a", "b", "a")), return_exceptions=True)
            assert all(isinstance(r, redis.ConnectionError) for r in results)
            proxy.heal()
            assert await asyncio.gather(*(cache.get(k) for k in ("a", "b", "a"))) == [1, 2, 1]


async def test_batcher_delivers_errors_per_batch_and_per_key():
    """The batcher alone, with a fetch of our own: a batch whose command fails raises in
    its callers only; a per-key error reaches only that key's callers."""
    sent: list[list[bytes]] = []

    async def fetch(keys: list[bytes]) -> list[object]:
        sent.append(keys)
        await asyncio.sleep(0.01)
        if b"boom" in keys:
            raise OSError("batch failed")
        return [ValueError(k) if k == b"bad" else k.upper() for k in keys]

    batcher = AsyncReadBatcher(fetch)
    first = await asyncio.gather(batcher.get(b"x"), batcher.get(b"boom"), batcher.get(b"y"),
                                 return_exceptions=True)
    assert first[0] == b"X"                             # sent alone: not in the failed batch
    assert isinstance(first[1], OSError) and isinstance(first[2], OSError)
    second = await asyncio.gather(batcher.get(b"p"), batcher.get(b"bad"), batcher.get(b"q"))
    assert second[0] == b"P" and isinstance(second[1], ValueError) and second[2] == b"Q"
    assert sent == [[b"x"], [b"boom", b"y"], [b"p"], [b"bad", b"q"]]


async def test_batches_per_slot_on_a_cluster(redis_cluster):
    client = redis.asyncio.cluster.RedisCluster.from_url(redis_cluster.url)
    try:
        cache = AsyncRedisCache(client, prefix="bc:", ttl=60)
        keys = [f"k{i}" for i in range(300)]
        assert len({key_slot(b"bc:" + k.encode()) for k in keys}) > 200
        await cache.set_many({k: i for i, k in enumerate(keys[:250])})

        def calls(command: str) -> int:
            return sum(command_calls(redis.Redis(port=srv.port), command) for srv in redis_cluster.servers
                       if srv.proc and srv.proc.poll() is None)
        before = (calls("get"), calls("mget"))
        values = await asyncio.gather(*(cache.get(k, -1) for k in keys))
        assert values == [i if i < 250 else -1 for i in range(300)]
        assert cache._batcher.stats.batches == 1
        slots = {key_slot(b"bc:" + k.encode()) for k in keys[1:]}      # the first went alone
        assert (calls("get") - before[0], calls("mget") - before[1]) == (1, len(slots))   # one MGET per slot
        found, value, remaining = (await asyncio.gather(*(cache.get_with_ttl(k) for k in keys[:50])))[7]
        assert found and value == 7 and 59 < remaining <= 60
    finally:
        await client.aclose()


async def test_sharded_nodes_batch_each(redis_server, own_redis):
    async with AsyncShardedRedisCache([redis_server.url, own_redis.url], prefix="bs:", ttl=60) as cache:
        keys = [f"k{i}" for i in range(100)]
        await cache.set_many({k: k for k in keys})
        assert await asyncio.gather(*(cache.get(k) for k in keys)) == keys
        stats = [cache.node_cache(n)._batcher.stats for n in cache.nodes]
        assert all(s.batches >= 1 for s in stats)
    client = redis.asyncio.Redis.from_url(own_redis.url)
    async with AsyncShardedRedisCache([redis_server.url, client], auto_batch=False) as off:
        assert not any(off.node_cache(n).auto_batch for n in off.nodes)      # URL and client nodes alike
    await client.aclose()
    from fastcache.redis import ShardedRedisCache
    with ShardedRedisCache([redis_server.url, own_redis.url], auto_batch=True) as on:
        assert all(on.node_cache(n).auto_batch for n in on.nodes)


# -- threads ------------------------------------------------------------------------

def test_threads_share_mgets_when_opted_in(redis_url):
    with RedisCache(redis_url, prefix="bt:", ttl=60, auto_batch=True) as cache:
        cache.set_many({f"k{i}": i for i in range(64)})
        reset_stats(redis_url)
        errors: list[BaseException] = []
        start = threading.Barrier(16)

        def reader(n: int) -> None:
            try:
                start.wait()
                for i in range(300):
                    k = (n * 7 + i) % 80
                    assert cache.get(f"k{k}", -1) == (k if k < 64 else -1)
            except BaseException as exc:    # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=reader, args=(n,)) for n in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        stats = cache._batcher.stats
        commands = command_calls(redis_url, "get") + command_calls(redis_url, "mget")
        assert commands == stats.commands < 16 * 300       # fewer commands than reads
        # a batch of one distinct key goes out as a GET
        assert stats.batches > 0 and 0 < command_calls(redis_url, "mget") <= stats.batches


def test_sync_is_off_by_default_and_a_lone_read_is_a_get(redis_url):
    with RedisCache(redis_url, prefix="bt:", ttl=60) as cache:
        assert not cache.auto_batch
    with RedisCache(redis_url, prefix="bt:", ttl=60, auto_batch=True) as cache:
        cache.set("a", 1)
        reset_stats(redis_url)
        assert [cache.get("a") for _ in range(5)] == [1] * 5
        assert command_calls(redis_url, "get") == 5 and command_calls(redis_url, "mget") == 0


def test_thread_batcher_errors_reach_their_batch_only():
    """The thread batcher with a fetch of our own that holds the first command until the
    others have queued: they form one batch, whose failure is theirs alone."""
    release = threading.Event()
    sent: list[list[bytes]] = []

    def fetch(keys: list[bytes]) -> list[object]:
        sent.append(keys)
        if keys == [b"first"]:
            release.wait(5)
        if b"boom" in keys:
            raise OSError("batch failed")
        return [k.upper() for k in keys]

    batcher = ReadBatcher(fetch)
    results: dict[bytes, object] = {}

    def call(k: bytes) -> None:
        try:
            results[k] = batcher.get(k)
        except OSError as exc:
            results[k] = exc

    first = threading.Thread(target=call, args=(b"first",))
    first.start()
    while not sent:
        time.sleep(0.001)
    others = [threading.Thread(target=call, args=(k,)) for k in (b"boom", b"x", b"y")]
    for t in others:
        t.start()
    while len(batcher._next.keys if batcher._next else ()) < 3:
        time.sleep(0.001)
    release.set()
    for t in [first, *others]:
        t.join(5)
    assert results[b"first"] == b"FIRST"
    assert all(isinstance(results[k], OSError) for k in (b"boom", b"x", b"y"))
    assert sent[1] == [b"boom", b"x", b"y"]
    assert batcher.get(b"z") == b"Z" and not batcher._busy      # idle again


async def test_tiered_l1_misses_are_one_batch_and_carry_their_lifetime(redis_url):
    from fastcache import AsyncTieredCache, LRUCache
    async with AsyncRedisCache(redis_url, prefix="bti:", ttl=60) as l2:
        await l2.set_many({f"k{i}": i for i in range(100)})
        tc = AsyncTieredCache(LRUCache(1000), l2, invalidation=False)
        reset_stats(redis_url)
        assert await asyncio.gather(*(tc.get(f"k{i}") for i in range(100))) == list(range(100))
        assert command_calls(redis_url, "get") == 1 and command_calls(redis_url, "mget") == 1
        assert command_calls(redis_url, "pttl") == 0
        deadline = tc.l1_deadline("k5")
        assert deadline is not None and 50 < deadline - tc.now() <= 60    # the L2 entry's lifetime
        reset_stats(redis_url)
        many = await tc.get_many([f"k{i}" for i in range(100, 103)] + ["k1"])
        assert many == {"k1": 1} and command_calls(redis_url, "mget") == 1 and command_calls(redis_url, "pttl") == 0
