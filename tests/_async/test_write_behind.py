"""Write-behind over real caches, with a store that fails and hangs, in both modes.

Written once, for asyncio; ``tests/_sync/test_write_behind.py`` is generated from
it.  (Thread races and interpreter exit, sync by nature, and a plain store
under the asyncio queue: tests/test_patterns.py.)
"""
from __future__ import annotations

import random

import pytest
import redis.asyncio

from concurrency import AsyncGate, async_gather, async_sleep, async_wait_for
from fastcache import LRUCache, TTLCache
from fastcache.patterns import AsyncWriteBehind, WriteBehindFull
from fastcache.patterns.journal import AsyncRedisStreamJournal
from fastcache.redis import AsyncRedisCache
from faultproxy import FaultProxy


class Store:
    """A dict-backed store whose batch writes can be made to fail or hang."""

    def __init__(self):
        self.data = {}
        self.batches = []
        self.fail_next = 0
        self.gate = AsyncGate()

    async def write_batch(self, batch):
        await self.gate.wait()
        if self.fail_next:
            self.fail_next -= 1
            raise ConnectionError("store down")
        self.batches.append(dict(batch))
        self.data.update(batch)


async def test_coalesces_and_drains_on_close():
    store, cache = Store(), LRUCache(1000)
    store.gate.close()                                   # hold the first batch
    wb = AsyncWriteBehind(cache, store.write_batch, max_batch=10, max_delay=60)
    for i in range(10):
        await wb.set(f"k{i}", i)                         # a full batch: taken at once, held in the store
    await async_sleep(0.05)
    for n in range(1000):
        await wb.set("hot", n)                           # one key, many values
    assert cache["hot"] == 999 and await wb.get("hot") == 999   # the cache has it at once
    store.gate.open()
    assert await wb.close(timeout=10)
    assert store.data["hot"] == 999
    assert all(store.data[f"k{i}"] == i for i in range(10))
    s = wb.stats()
    assert s.sets == 1010 and s.coalesced == 999 and s.written == 11 and s.pending == 0
    with pytest.raises(RuntimeError, match="closed"):
        await wb.set("x", 1)


async def test_batches_by_size_and_flush():
    store = Store()
    wb = AsyncWriteBehind(LRUCache(1000), store.write_batch, max_batch=25, max_delay=60)
    for i in range(100):
        await wb.set(i, i)
    assert await wb.flush(timeout=10)
    assert store.data == {i: i for i in range(100)}
    assert all(len(b) <= 25 for b in store.batches) and len(store.batches) >= 4
    await wb.set("late", 1)
    assert await wb.flush(timeout=10) and store.data["late"] == 1
    assert await wb.close()


async def test_writes_after_max_delay():
    store = Store()
    wb = AsyncWriteBehind(LRUCache(10), store.write_batch, max_batch=100, max_delay=0.05)
    await wb.set("a", 1)
    assert await async_wait_for(lambda: store.data == {"a": 1})   # no flush(): the delay alone
    assert await wb.close()


async def test_store_failures_lose_nothing():
    store = Store()
    store.fail_next = 7
    wb = AsyncWriteBehind(LRUCache(1000), store.write_batch, max_batch=10, max_delay=0.01,
                          retry_delay=0.001, max_retry_delay=0.01)
    expected = {}
    rng = random.Random(3)
    for i in range(500):
        k = f"k{rng.randrange(80)}"
        await wb.set(k, i)
        expected[k] = i
    assert await wb.close(timeout=30)
    assert store.data == expected
    assert wb.stats().failures == 7 and wb.stats().dead_lettered == 0


async def test_dead_letter_after_attempts():
    store = Store()
    store.fail_next = 3
    dead = []
    wb = AsyncWriteBehind(LRUCache(10), store.write_batch, max_batch=5, max_delay=0, max_attempts=3,
                          retry_delay=0.001, dead_letter=lambda batch, exc: dead.append((batch, type(exc))))
    await wb.set("a", 1)
    assert await wb.flush(timeout=10)
    assert dead == [({"a": 1}, ConnectionError)] and "a" not in store.data
    await wb.set("b", 2)
    assert await wb.close(timeout=10) and store.data == {"b": 2}


async def test_backpressure_raise_and_block():
    store = Store()
    store.gate.close()                                   # the store hangs
    wb = AsyncWriteBehind(LRUCache(100), store.write_batch, max_batch=2, max_delay=60, max_pending=3,
                          on_full="raise")
    await wb.set("a", 1)
    await wb.set("b", 2)                                 # a full batch: taken, stuck in the store
    assert not await wb.flush(timeout=0.2)
    assert wb.stats().pending == 0 and wb.pending() == 2
    for k in "cde":
        await wb.set(k, 1)
    with pytest.raises(WriteBehindFull):
        await wb.set("f", 1)
    await wb.set("c", 2)                                 # a queued key still coalesces
    store.gate.open()
    assert await wb.close(timeout=10)

    store2 = Store()
    store2.gate.close()
    blocking = AsyncWriteBehind(LRUCache(100), store2.write_batch, max_batch=1, max_delay=0, max_pending=1,
                                block_timeout=0.2)
    await blocking.set("a", 1)
    await blocking.flush(timeout=0.2)
    await blocking.set("b", 1)
    with pytest.raises(WriteBehindFull, match="within"):
        await blocking.set("c", 1)
    blocking.block_timeout = None

    async def open_later():
        await async_sleep(0.1)
        store2.gate.open()

    await async_gather(open_later, lambda: blocking.set("c", 1))   # set blocks until the store frees room
    assert await blocking.close(timeout=10) and set(store2.data) == {"a", "b", "c"}


async def test_ttl_reaches_the_cache_and_is_checked_first():
    store = Store()
    cache = TTLCache(100, ttl=1000)
    wb = AsyncWriteBehind(cache, store.write_batch, max_delay=0)
    await wb.set("a", 1, ttl=5)
    assert cache.expires_at("a") == pytest.approx(cache.timer() + 5, abs=1)
    lru = LRUCache(10)                                   # every L1 class takes a per-item TTL
    assert await AsyncWriteBehind(lru, store.write_batch, max_delay=0).set("c", 1, ttl=5) is None
    assert lru.expires_at("c") == pytest.approx(lru.timer() + 5, abs=1)
    no_ttl = AsyncWriteBehind({}, store.write_batch)      # a dict does not
    with pytest.raises(TypeError, match="per-item TTL"):
        await no_ttl.set("b", 1, ttl=5)
    assert await wb.close(timeout=10) and await no_ttl.close(timeout=10) and "b" not in store.data


async def test_over_a_redis_cache(redis_url, cleanup):
    store = Store()
    cache = AsyncRedisCache(redis_url, prefix="wb:", ttl=60)
    cleanup.append(cache.close)
    wb = AsyncWriteBehind(cache, store.write_batch, max_batch=10, max_delay=0.01)
    await wb.set("a", {"v": 1}, ttl=5)
    assert await cache.get("a") == {"v": 1} and 4 < await cache.ttl("a") <= 5
    assert await wb.get("a") == {"v": 1}
    assert await wb.close(timeout=10)
    assert store.data == {"a": {"v": 1}}


async def test_bad_arguments():
    with pytest.raises(TypeError):
        AsyncWriteBehind(LRUCache(1), None)
    for bad in (dict(max_batch=0), dict(on_full="drop"), dict(max_delay=-1), dict(max_pending=True),
                dict(dead_letter=3)):
        with pytest.raises((ValueError, TypeError)):
            AsyncWriteBehind(LRUCache(1), print, **bad)


async def test_a_failed_journal_append_is_never_replayed_over_a_newer_write(redis_server, redis_url):
    # The repro: an XADD that timed out (so set() raised: nothing changed) still
    # lands in the stream once the partition heals.  It used to stay there unacknowledged
    # and the next writer replayed it over the newer, acknowledged value.  Now the writer's
    # next append deletes it first.
    raw = redis.Redis.from_url(redis_url)
    with FaultProxy(redis_server.port) as proxy:
        client = redis.asyncio.Redis(port=proxy.port, socket_timeout=0.5, socket_connect_timeout=0.5)
        store = Store()
        journal = AsyncRedisStreamJournal(client, "wb-void")
        wb = AsyncWriteBehind(LRUCache(10), store.write_batch, journal=journal, max_delay=0)
        await wb.start()
        proxy.partition()
        with pytest.raises(redis.TimeoutError):
            await wb.set("k", "v1")
        proxy.heal()
        assert await async_wait_for(lambda: raw.xlen(journal.stream) == 1, 3.0)   # it landed after all
        await wb.set("k", "v2")
        assert await wb.close(timeout=10) and store.data == {"k": "v2"}
        assert journal.voided == 1 and raw.xlen(journal.stream) == 0
        await client.aclose()
    replay = Store()
    again = AsyncWriteBehind(LRUCache(10), replay.write_batch,
                             journal=AsyncRedisStreamJournal(redis_url, "wb-void"), max_delay=0)
    await again.start()
    assert await again.close(timeout=10) and replay.data == {}      # nothing to replay
