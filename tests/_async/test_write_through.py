"""Write-through over real caches, in both modes.

Written once, for asyncio; ``tests/_sync/test_write_through.py`` is generated from
this file by ``scripts/unasync.py``.  That the asyncio class also takes sync caches
and functions is tested in tests/test_patterns.py.
"""
from __future__ import annotations

import pytest

from fastcache import LRUCache, TTLCache
from fastcache.patterns import AsyncWriteThrough
from fastcache.redis import AsyncRedisCache


class Store:
    """A dict-backed store whose writes can be made to fail."""

    def __init__(self):
        self.data = {}
        self.deleted = []
        self.fail_next = 0

    async def write(self, key, value):
        if self.fail_next:
            self.fail_next -= 1
            raise ConnectionError("store down")
        self.data[key] = value

    async def delete(self, key):
        self.deleted.append(key)
        self.data.pop(key, None)


async def test_store_first_then_cache():
    store, cache = Store(), LRUCache(100)
    wt = AsyncWriteThrough(cache, store.write)
    await wt.set("a", 1)
    assert store.data == {"a": 1} and cache["a"] == 1 and await wt.get("a") == 1
    store.fail_next = 1
    with pytest.raises(ConnectionError):
        await wt.set("a", 2)
    assert cache["a"] == 1 and store.data["a"] == 1      # the rejected value reached neither


async def test_invalidate_option_and_ttl():
    store, cache = Store(), TTLCache(100, ttl=1000)
    wt = AsyncWriteThrough(cache, store.write, invalidate=True)
    cache["a"] = "old"
    await wt.set("a", "new")
    assert "a" not in cache and store.data["a"] == "new"
    await AsyncWriteThrough(cache, store.write).set("b", 1, ttl=5)
    assert cache.expires_at("b") == pytest.approx(cache.timer() + 5, abs=1)
    lru = LRUCache(10)                                   # every L1 class takes a per-item TTL
    await AsyncWriteThrough(lru, store.write).set("d", 1, ttl=5)
    assert lru.expires_at("d") == pytest.approx(lru.timer() + 5, abs=1)
    with pytest.raises(TypeError, match="per-item TTL"):
        await AsyncWriteThrough({}, store.write).set("c", 1, ttl=5)     # a dict does not
    assert "c" not in store.data                         # refused before the store was written


async def test_cache_failure_invalidates():
    store = Store()
    cache = LRUCache(100, getsizeof=lambda v: len(v))
    cache["k"] = "old"
    wt = AsyncWriteThrough(cache, store.write)
    await wt.set("k", "x" * 1000)                        # too large for the cache: ValueError inside
    assert store.data["k"] == "x" * 1000 and "k" not in cache   # readers fall back to the store


async def test_delete():
    store, cache = Store(), LRUCache(10)
    wt = AsyncWriteThrough(cache, store.write, delete=store.delete)
    await wt.set("a", 1)
    await wt.delete("a")
    assert store.deleted == ["a"] and "a" not in cache
    with pytest.raises(TypeError, match="without delete"):
        await AsyncWriteThrough(cache, store.write).delete("a")
    with pytest.raises(TypeError):
        AsyncWriteThrough(cache, "not callable")
    with pytest.raises(TypeError):
        AsyncWriteThrough(cache, store.write, delete=3)


async def test_over_a_redis_cache(redis_url, cleanup):
    store = Store()
    cache = AsyncRedisCache(redis_url, prefix="wt:", ttl=60)
    cleanup.append(cache.close)
    wt = AsyncWriteThrough(cache, store.write, delete=store.delete)
    await wt.set("a", 1, ttl=5)
    assert store.data == {"a": 1} and await wt.get("a") == 1 and 4 < await cache.ttl("a") <= 5
    store.fail_next = 1
    with pytest.raises(ConnectionError):
        await wt.set("a", "rejected")
    assert await cache.get("a") == 1                     # the rejected value reached neither
    await wt.delete("a")
    assert store.data == {} and await cache.get("a") is None
