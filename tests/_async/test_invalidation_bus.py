"""The invalidation bus over a real Redis, in both modes.

Written once, for asyncio; ``tests/_sync/test_invalidation_bus.py`` is generated
from it.  Two buses on one channel stand for two processes.
"""
from __future__ import annotations

import uuid

import pytest

from concurrency import async_wait_for
from fastcache import AsyncTieredCache, LRUCache
from fastcache.patterns import AsyncInvalidationBus
from fastcache.redis import AsyncRedisCache
from fastcache.tags import TaggedCache


def fresh(name):
    return f"{name}-{uuid.uuid4().hex[:8]}"


async def test_key_tag_and_flush_events_reach_other_subscribers(redis_url, cleanup):
    channel = fresh("events")
    pub = AsyncInvalidationBus(redis_url, channel=channel)
    sub = AsyncInvalidationBus(redis_url, channel=channel)     # another process's bus
    cleanup.append(pub.close)
    cleanup.append(sub.close)
    assert await pub.wait_ready() and await sub.wait_ready()
    plain = sub.subscribe(LRUCache(100))
    tagged = sub.subscribe(TaggedCache(LRUCache(100)))
    seen = []
    sub.on(seen.append)
    plain.update({"user:1": 1, "user:2": 2})
    tagged.set("a", 1, tags=["team:7"])
    tagged.set("b", 2, tags=["team:8"])
    assert await pub.publish(keys=["user:1"], reason="row-updated") >= 2
    assert await async_wait_for(lambda: "user:1" not in plain)
    assert plain["user:2"] == 2
    await pub.publish(tags=["team:7"], reason="team-renamed")
    assert await async_wait_for(lambda: "a" not in tagged)
    assert tagged["b"] == 2
    await pub.publish(reason="full-reload")                  # neither keys nor tags: everything
    assert await async_wait_for(lambda: len(plain) == 0 and len(tagged) == 0)
    assert [(e.keys, e.tags, e.reason, e.local) for e in seen] == [
        (("user:1",), (), "row-updated", False), ((), ("team:7",), "team-renamed", False),
        (None, (), "full-reload", False)]
    assert sub.received == 3 and pub.published == 3
    with pytest.raises(TypeError, match="tags must be str"):
        await pub.publish(tags=[3])
    with pytest.raises(TypeError, match="no pop"):
        sub.subscribe(object())
    sub.unsubscribe(plain)
    plain["user:3"] = 3
    await pub.publish(keys=["user:3"])
    assert await async_wait_for(lambda: sub.received == 4)
    assert plain["user:3"] == 3                              # unsubscribed: left alone


async def test_tag_event_purges_tiered_caches_in_every_tier(redis_url, cleanup):
    channel, prefix = fresh("events"), fresh("t") + ":"
    bus_a = AsyncInvalidationBus(redis_url, channel=channel)
    bus_b = AsyncInvalidationBus(redis_url, channel=channel)
    a = AsyncTieredCache(LRUCache(100), AsyncRedisCache(redis_url, prefix=prefix, ttl=60))
    b = AsyncTieredCache(LRUCache(100), AsyncRedisCache(redis_url, prefix=prefix, ttl=60))
    for closer in (a.l2.close, b.l2.close, a.close, b.close, bus_a.close, bus_b.close):
        cleanup.append(closer)                               # run newest first: the L2s last
    bus_a.subscribe(a)
    bus_b.subscribe(b)
    for x in (a, b, bus_a, bus_b):
        assert await x.wait_ready()
    await a.set("k1", 1, tags=["feed"])
    await b.set("k2", 2)
    assert await b.get("k1") == 1
    await bus_a.publish(tags=["feed"], reason="feed-changed")
    assert await a.l2.get("k1") is None
    assert await async_wait_for(lambda: b.get_l1("k1") is None)
    assert await b.get("k1") is None and await b.get("k2") == 2
    await bus_a.publish(keys=["k2"])
    assert await async_wait_for(lambda: b.get_l1("k2") is None)
    assert await b.get("k2") == 2                            # a key event drops L1 copies, not L2


async def test_subscribers_are_flushed_when_the_connection_is_lost(own_redis, cleanup):
    bus = AsyncInvalidationBus(own_redis.url, channel="events")
    cleanup.append(bus.close)
    assert await bus.wait_ready()
    cache = bus.subscribe(LRUCache(10))
    cache["k"] = 1
    own_redis.kill()
    assert await async_wait_for(lambda: len(cache) == 0)     # events may be lost: nothing stale is kept
    own_redis.restart()
    assert await bus.wait_ready(10)
