"""coherence="tracking": Redis's client tracking keeps L1s coherent, whoever writes.

Written once, for asyncio; ``tests/_sync/test_tracking.py`` is generated from this file
by ``scripts/unasync.py``.  Every writer here is outside fastcache: ``redis-cli`` (another
OS process and another client), plain redis-py, a Lua script, Redis's own expiry and
eviction.  Each test waits for the effect to reach L1 (a real server, real messages).
"""
from __future__ import annotations

import subprocess

import pytest
import redis

from concurrency import async_sleep, async_wait_for
from redis_servers import find_binary
from fastcache import LRUCache
from fastcache.redis import AsyncRedisCache, AsyncShardedRedisCache
from fastcache.tiered import AsyncTieredCache

pytestmark = pytest.mark.redis


@pytest.fixture
def make(redis_url, cleanup):
    async def build(url=None, prefix="tr:", **kwargs):
        l2 = AsyncRedisCache(url or redis_url, prefix=prefix, ttl=60)
        tc = AsyncTieredCache(LRUCache(1000), l2, coherence="tracking", **kwargs)
        cleanup.append(l2.close)
        cleanup.append(tc.close)
        assert await tc.wait_ready(5)
        return tc
    return build


async def fill(tc, raw, key, value=b"j1", px=None):
    """An L2 entry written by someone else, read once so L1 holds a copy (after the write's
    own invalidation arrived: a read that races one is served but not kept)."""
    before = tc.stats().invalidations_received
    raw.set(b"tr:" + str(key).encode(), value, px=px)
    assert await async_wait_for(lambda: tc.stats().invalidations_received > before)
    await tc.get(key)
    assert tc.get_l1(key) is not None


async def test_writes_by_any_client_reach_l1(make, redis_url):
    tc = await make()
    raw = redis.Redis.from_url(redis_url)
    cli = find_binary("redis-cli")
    port = redis_url.rsplit(":", 1)[1].split("/")[0]
    await fill(tc, raw, "a")
    subprocess.run([str(cli), "-p", port, "SET", "tr:a", "j2"], check=True, capture_output=True)
    assert await async_wait_for(lambda: tc.get_l1("a") is None)                 # another OS process
    assert await tc.get("a") == 2
    await fill(tc, raw, "b")
    raw.delete(b"tr:b")                                                           # DEL
    assert await async_wait_for(lambda: tc.get_l1("b") is None)
    await fill(tc, raw, "c")
    raw.eval("redis.call('SET', KEYS[1], 'j3')", 1, b"tr:c")                      # a Lua script
    assert await async_wait_for(lambda: tc.get_l1("c") is None) and await tc.get("c") == 3
    await fill(tc, raw, "d")
    raw.pexpire(b"tr:d", 60_000)                                                  # EXPIRE changes it too
    assert await async_wait_for(lambda: tc.get_l1("d") is None)
    await fill(tc, raw, 42)                                                       # an int key
    raw.append(b"tr:42", b"0")                                                    # APPEND: j10
    assert await async_wait_for(lambda: tc.get_l1(42) is None) and await tc.get(42) == 10
    await fill(tc, raw, "e")
    raw.set(b"other:e", b"x")                                                     # outside the namespace
    await async_sleep(0.2)
    assert tc.get_l1("e") == 1
    raw.flushdb()                                                                 # everything
    assert await async_wait_for(lambda: tc.get_l1("e") is None)


async def test_redis_expiry_reaches_l1(make, redis_url):
    tc = await make()
    raw = redis.Redis.from_url(redis_url)
    # Its header says "no expiry", so the L1 copy has no deadline of its own: only the
    # invalidation Redis sends when the key expires (PX 400) can end it.
    await fill(tc, raw, "x", b"\xfe\x01" + bytes(8) + b"j1", px=400)
    assert tc.l1_deadline("x") is None
    assert await async_wait_for(lambda: tc.get_l1("x") is None, timeout=3)
    assert not raw.exists(b"tr:x")


async def test_eviction_reaches_l1(make, own_redis):
    raw = redis.Redis.from_url(own_redis.url)
    raw.config_set("maxmemory-policy", "allkeys-random")
    tc = await make(url=own_redis.url)
    for i in range(50):
        await fill(tc, raw, f"k{i}")
    raw.config_set("maxmemory", str(raw.info("memory")["used_memory"] + 256 * 1024))
    for i in range(400):                                                          # push keys out
        raw.set(f"tr:big{i}".encode(), b"x" * 2048)
    assert raw.info("stats")["evicted_keys"] > 0

    def coherent():
        held = [f"k{i}" for i in range(50) if tc.get_l1(f"k{i}") is not None]
        return all(raw.exists(b"tr:" + k.encode()) for k in held)
    assert await async_wait_for(coherent, timeout=3)        # what L1 still holds, Redis still has
    assert sum(tc.get_l1(f"k{i}") is None for i in range(50)) > 0


async def test_own_writes_and_other_processes(make, redis_url):
    a, b = await make(), await make()
    seen = b.stats().invalidations_received
    await a.set("k", [1])
    assert await async_wait_for(lambda: b.stats().invalidations_received > seen)   # the write's own report
    assert await b.get("k") == [1] and b.get_l1("k") == [1]
    await a.set("k", [2])
    assert await async_wait_for(lambda: b.get_l1("k") is None)
    assert await b.get("k") == [2]
    sent = a.stats().invalidations_sent
    await a.delete("k")
    assert a.stats().invalidations_sent == sent                 # nothing published: Redis reports it
    assert await async_wait_for(lambda: b.get_l1("k") is None)


async def test_losing_the_tracking_connection_flushes_l1(make, redis_url):
    tc = await make()
    raw = redis.Redis.from_url(redis_url)
    await fill(tc, raw, "a")
    flushes = tc.stats().l1_flushes
    killed = 0
    for c in raw.client_list():
        if "t" in c.get("flags", ""):                             # 't': the client tracks keys
            raw.client_kill_filter(_id=c["id"])
            killed += 1
    assert killed >= 1
    assert await async_wait_for(lambda: tc.stats().l1_flushes > flushes and tc.get_l1("a") is None)
    assert await tc.wait_ready(5)                                # re-established
    await fill(tc, raw, "b")
    raw.set(b"tr:b", b"j9")
    assert await async_wait_for(lambda: tc.get_l1("b") is None)  # tracking works again


async def test_sharded_ring_tracks_every_node(redis_server, own_redis, cleanup):
    l2 = AsyncShardedRedisCache([redis_server.url, own_redis.url], prefix="trs:", ttl=60)
    tc = AsyncTieredCache(LRUCache(1000), l2, coherence="tracking")
    cleanup.append(l2.close)
    cleanup.append(tc.close)
    assert await tc.wait_ready(5)
    keys = [f"k{i}" for i in range(20)]
    await tc.set_many({k: 0 for k in keys})
    clients = {name: redis.Redis.from_url(url) for name, url in
               zip(l2.nodes, [redis_server.url, own_redis.url])}
    for k in keys:
        await tc.get(k)
        clients[l2.node_for(k)].set(b"trs:" + k.encode(), b"j5")               # written on its node
    assert await async_wait_for(lambda: all(tc.get_l1(k) is None for k in keys))
    assert {l2.node_for(k) for k in keys} == set(l2.nodes)


async def test_bad_options(redis_url, cleanup):
    l2 = AsyncRedisCache(redis_url, prefix="tr:")
    cleanup.append(l2.close)
    with pytest.raises(ValueError, match="pubsub"):
        AsyncTieredCache(LRUCache(10), l2, coherence="gossip")
    with pytest.raises(ValueError, match="invalidation"):
        AsyncTieredCache(LRUCache(10), l2, coherence="tracking", invalidation=False)



async def test_resp3_tracking_reads_push_messages(make, redis_url):
    """An L2 client on RESP3 gets a RESP3 tracking connection: no REDIRECT, no subscription -
    Redis pushes ``invalidate`` messages on the tracking connection itself."""
    tc = await make(url=redis_url + ("&" if "?" in redis_url else "?") + "protocol=3")
    assert tc.l2.client.connection_pool.connection_kwargs.get("protocol") in (3, "3")
    raw = redis.Redis.from_url(redis_url)

    def trackers():
        return [c for c in raw.client_list() if "t" in c.get("flags", "")]
    assert await async_wait_for(lambda: len(trackers()) >= 1)
    assert all(c.get("sub") == "0" and c.get("redir", "-1") in ("-1", "0") for c in trackers())
    await fill(tc, raw, "r3")
    raw.set(b"tr:r3", b"j8")
    assert await async_wait_for(lambda: tc.get_l1("r3") is None) and await tc.get("r3") == 8
    await fill(tc, raw, "r4")
    raw.flushdb()                                                   # a null push: everything
    assert await async_wait_for(lambda: tc.get_l1("r4") is None)
    await fill(tc, raw, "r5")
    flushes = tc.stats().l1_flushes
    for c in trackers():
        raw.client_kill_filter(_id=c["id"])
    assert await async_wait_for(lambda: tc.stats().l1_flushes > flushes and tc.get_l1("r5") is None)
    assert await tc.wait_ready(5)
    await fill(tc, raw, "r6")                                       # re-established
    raw.set(b"tr:r6", b"j9")
    assert await async_wait_for(lambda: tc.get_l1("r6") is None)
