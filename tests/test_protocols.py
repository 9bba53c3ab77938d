"""The contracts between layers (fastcache.protocols): who satisfies what, and how the
tiered cache uses them (decided once, at construction)."""
from __future__ import annotations

import pytest

from fastcache import AsyncTieredCache, LFUCache, LRUCache, TieredCache, TTLCache
from fastcache.errors import PartialOutage
from fastcache.protocols import InvalidationRouter, InvalidationSource, L1Cache, Namespaced
from fastcache.redis import AsyncRedisCache, AsyncShardedRedisCache, NodeUnavailable, RedisCache, ShardedRedisCache

URL = "redis://127.0.0.1:1/0"          # never connected to


def test_the_redis_tiers_offer_their_capabilities():
    for cls in (RedisCache, AsyncRedisCache):
        c = cls(URL, prefix="p:", ttl=5)
        assert isinstance(c, Namespaced) and isinstance(c, InvalidationSource)
        assert not isinstance(c, InvalidationRouter)
    for cls in (ShardedRedisCache, AsyncShardedRedisCache):
        s = cls([URL], prefix="p:")
        assert isinstance(s, Namespaced) and isinstance(s, InvalidationSource) and isinstance(s, InvalidationRouter)


def test_l1_caches_and_mappings_are_l1_caches():
    for l1 in (LRUCache(2), LFUCache(2), TTLCache(2, ttl=1), {}):
        assert isinstance(l1, L1Cache)
    assert not isinstance([], L1Cache)
    with pytest.raises(TypeError, match="it has no get$"):
        TieredCache([], RedisCache(URL))


def test_a_node_down_is_a_partial_outage():
    assert issubclass(NodeUnavailable, PartialOutage)


class BareL2:
    """An L2 with only the L2 protocol: no namespace, no invalidation clients."""

    def __init__(self):
        self.data = {}

    def get_with_ttl(self, key):
        return (key in self.data, self.data.get(key), None)

    def get_many_with_ttl(self, keys):
        return {k: (self.data[k], None) for k in keys if k in self.data}

    def set(self, key, value, ttl=None, tags=None):
        self.data[key] = value

    def set_many(self, mapping, ttl=None):
        self.data.update(mapping)

    def delete(self, key):
        return self.data.pop(key, None) is not None

    def delete_many(self, keys):
        return sum(self.delete(k) for k in keys)

    def invalidate_tag(self, tag):
        return []

    def clear(self):
        n = len(self.data)
        self.data.clear()
        return n


def test_a_tiered_cache_over_an_l2_without_optional_capabilities():
    l2 = BareL2()
    tc = TieredCache(LRUCache(10), l2)                      # invalidation: off, nothing to subscribe on
    tc.set("a", 1)
    assert l2.data == {"a": 1} and tc.get("a") == 1 and tc.get_many(["a", "b"]) == {"a": 1}
    tc.invalidate_local("a")
    assert tc.get("a") == 1 and tc.stats().l2_hits == 1
    with pytest.raises(TypeError, match="invalidation_clients"):
        TieredCache(LRUCache(10), l2, invalidation=True)
    tc.close()


def test_the_asyncio_tiered_cache_takes_the_same_shapes():
    with pytest.raises(TypeError, match="no get, pop"):
        AsyncTieredCache(object(), AsyncRedisCache(URL))
