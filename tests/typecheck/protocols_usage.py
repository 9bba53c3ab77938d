"""Checked by ``mypy --strict`` in .ci/run (never run): each tier satisfies the protocol
the layer above it takes, so a cache that drifts from its contract fails CI."""
from __future__ import annotations

from fastcache import AsyncTieredCache, LRUCache, TieredCache, TTLCache
from fastcache.protocols import L2, AsyncL2, L1Cache
from fastcache.redis import AsyncRedisCache, AsyncShardedRedisCache, RedisCache, ShardedRedisCache


def contracts() -> None:
    sync_l2: list[L2] = [RedisCache("redis://localhost"), ShardedRedisCache(["redis://localhost"])]
    async_l2: list[AsyncL2] = [AsyncRedisCache("redis://localhost"),
                               AsyncShardedRedisCache(["redis://localhost"])]
    l1: list[L1Cache] = [LRUCache(10), TTLCache(10, ttl=5)]
    TieredCache(LRUCache(10), sync_l2[0])
    AsyncTieredCache(LRUCache(10), async_l2[0])
    print(l1)
