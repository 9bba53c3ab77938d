"""Coherence on a real Redis Cluster (3 masters, 3 replicas): client tracking on every
master, and fastcache's own messages on sharded pub/sub (Redis >= 7.0; classic pub/sub on
older clusters) - through failovers and slot moves.

Written once, for asyncio; ``tests/_sync/test_cluster_coherence.py`` is generated from this
file by ``scripts/unasync.py``.
"""
from __future__ import annotations

import pytest
import redis
import redis.cluster

from concurrency import async_sleep, async_wait_for
from fastcache import LRUCache, key_slot
from fastcache.redis import AsyncRedisCache
from fastcache.tiered import AsyncTieredCache

pytestmark = pytest.mark.redis


# -- a Redis Cluster: every master tracked ----------------------------------------------------

def live_url(cluster, avoid=None):
    """A URL of a live node (not ``avoid``)."""
    node = next(s for s in cluster.servers if s.proc and s.proc.poll() is None and s is not avoid)
    return f"redis://127.0.0.1:{node.port}"


async def cluster_tiered(url, cleanup, prefix="trc:", coherence="tracking", **options):
    l2 = AsyncRedisCache(url, cluster=True, prefix=prefix, ttl=60, socket_timeout=1, socket_connect_timeout=1)
    tc = AsyncTieredCache(LRUCache(1000), l2, coherence=coherence, **options)
    cleanup.append(l2.close)
    cleanup.append(tc.close)
    assert await tc.wait_ready(10)
    return tc


async def cfill(tc, raw, key, value=b"j1"):
    """:func:`fill` on a cluster (keys under trc:)."""
    before = tc.stats().invalidations_received
    raw.set(b"trc:" + key.encode(), value)
    assert await async_wait_for(lambda: tc.stats().invalidations_received > before)
    await tc.get(key)
    assert tc.get_l1(key) is not None


def key_on(raw, server, taken=(), prefix=b"trc:"):
    """A key (under ``prefix``) held by the master ``server``."""
    for i in range(10_000):
        k = f"k{i}"
        if k not in taken and raw.get_node_from_key(prefix + k.encode()).port == server.port:
            return k
    raise AssertionError("no key on that master")


async def test_cluster_tracks_every_master(redis_cluster, cleanup):
    tc = await cluster_tiered(redis_cluster.url, cleanup)
    raw = redis.cluster.RedisCluster.from_url(redis_cluster.url)
    cleanup.append(raw.close)
    masters = redis_cluster.masters()
    assert sorted(p for _, p in tc._listener.masters()) == sorted(m.port for m in masters)
    keys = [key_on(raw, m) for m in masters]                                    # one per master
    for k in keys:
        await cfill(tc, raw, k)
    for k in keys:
        raw.set(b"trc:" + k.encode(), b"j2")                                   # by another client
    assert await async_wait_for(lambda: all(tc.get_l1(k) is None for k in keys))
    assert [await tc.get(k) for k in keys] == [2, 2, 2]
    for k in keys:
        raw.delete(b"trc:" + k.encode())
    assert await async_wait_for(lambda: all(tc.get_l1(k) is None for k in keys))
    assert tc.stats().extra["invalidation_connected"]


async def test_cluster_failover_moves_tracking_to_the_promoted_master(own_redis_cluster, cleanup):
    cluster = own_redis_cluster
    victim = next(m for m in cluster.masters() if m is not cluster.servers[0])
    tc = await cluster_tiered(live_url(cluster, victim), cleanup)
    raw = redis.cluster.RedisCluster.from_url(live_url(cluster, victim), socket_timeout=1, socket_connect_timeout=1)
    cleanup.append(raw.close)
    key = key_on(raw, victim)
    await cfill(tc, raw, key)
    flushes = tc.stats().l1_flushes
    victim.kill()
    assert await async_wait_for(lambda: tc.stats().l1_flushes > flushes, timeout=10)     # loss: L1 flushed
    assert tc.get_l1(key) is None
    deadline = 30.0
    while len(cluster.masters()) < 3 and deadline > 0:                          # a replica takes over
        await async_sleep(0.2)
        deadline -= 0.2
    assert len(cluster.masters()) == 3, "no replica was promoted"
    cluster.wait_ok(30)
    ports = sorted(m.port for m in cluster.masters())
    assert await async_wait_for(
        lambda: sorted(p for _, p in tc._listener.masters()) == ports and tc._listener.connected.is_set(), timeout=15)
    assert victim.port not in ports
    # the promoted master's writes reach L1 (redis-py's own cluster client finds it by MOVED)
    for _ in range(100):
        try:
            await cfill(tc, raw, key, b"j3")
            break
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, redis.exceptions.ClusterDownError):
            await async_sleep(0.2)
    assert tc.get_l1(key) == 3
    raw.set(b"trc:" + key.encode(), b"j4")
    assert await async_wait_for(lambda: tc.get_l1(key) is None)
    assert await tc.get(key) == 4


async def test_cluster_slot_moved_to_a_new_master(own_redis_cluster, redis_binary, cleanup):
    cluster = own_redis_cluster
    tc = await cluster_tiered(cluster.url, cleanup)
    raw = redis.cluster.RedisCluster.from_url(cluster.url)
    cleanup.append(raw.close)
    source = cluster.masters()[0]
    key = key_on(raw, source)
    await cfill(tc, raw, key)
    new = cluster.add_node(redis_binary)
    cleanup.append(new.stop)
    assert await async_wait_for(                                                # the new master is tracked
        lambda: ("127.0.0.1", new.port) in tc._listener.masters() and tc._listener.connected.is_set(), timeout=15)
    await cfill(tc, raw, key)                                                   # (that flushed L1)
    cluster.move_slot(key_slot(b"trc:" + key.encode()), source, new)
    assert await async_wait_for(lambda: tc.get_l1(key) is None)                 # MIGRATE removed it from source
    mover = redis.Redis(port=new.port)
    cleanup.append(mover.close)
    assert mover.exists(b"trc:" + key.encode())                                 # it lives on the new master
    await tc.get(key)
    assert tc.get_l1(key) == 1
    mover.set(b"trc:" + key.encode(), b"j5")                                    # written there
    assert await async_wait_for(lambda: tc.get_l1(key) is None)
    assert await tc.get(key) == 5


# -- a Redis Cluster: fastcache's own messages, on sharded pub/sub ----------------------------

def command_calls(cluster, command):
    """How many times the live nodes ran ``command`` (INFO commandstats), node by node."""
    calls = {}
    for s in cluster.servers:
        if s.proc and s.proc.poll() is None:
            stats = redis.Redis(port=s.port).info("commandstats")
            calls[s.port] = int(stats.get(f"cmdstat_{command}", {}).get("calls", 0))
    return calls


def server_version(cluster):
    info = redis.Redis(port=cluster.servers[0].port).info("server")
    return tuple(int(p) for p in info["redis_version"].split(".")[:2])


async def pfill(writer, reader, key, value):
    """writer sets key; once reader has heard of it, reader reads it into its L1."""
    before = reader.stats().invalidations_received
    await writer.set(key, value)
    assert await async_wait_for(lambda: reader.stats().invalidations_received > before)
    assert await reader.get(key) == value and reader.get_l1(key) == value


async def test_cluster_pubsub_goes_over_sharded_channels(redis_cluster, cleanup):
    a = await cluster_tiered(redis_cluster.url, cleanup, prefix="sp:", coherence="pubsub")
    b = await cluster_tiered(redis_cluster.url, cleanup, prefix="sp:", coherence="pubsub")
    sharded = server_version(redis_cluster) >= (7, 0)
    assert a._listener.sharded is sharded and b._listener.sharded is sharded
    raw = redis.cluster.RedisCluster.from_url(redis_cluster.url)
    cleanup.append(raw.close)
    keys = [f"k{i}" for i in range(30)]
    for k in keys:
        await pfill(a, b, k, 1)
    spublish, publish = command_calls(redis_cluster, "spublish"), command_calls(redis_cluster, "publish")
    sent = a.stats().invalidations_sent
    for k in keys:
        await a.set(k, 2)
    assert await async_wait_for(lambda: all(b.get_l1(k) is None for k in keys))
    assert [await b.get(k) for k in keys] == [2] * len(keys)
    messages = a.stats().invalidations_sent - sent
    assert messages == len(keys)
    spublished = sum(command_calls(redis_cluster, "spublish").values()) - sum(spublish.values())
    published = sum(command_calls(redis_cluster, "publish").values()) - sum(publish.values())
    if sharded:     # on the shard of each key's bucket, never broadcast over the cluster bus
        assert (spublished, published) == (messages, 0)
        masters = {m.port for m in redis_cluster.masters()}
        counts = command_calls(redis_cluster, "spublish")
        assert {p for p in counts if counts[p] > spublish.get(p, 0)} <= masters
        assert len(b._listener.nodes()) == len(masters)       # every master owns some bucket
    else:           # Redis 6.2: classic pub/sub through the cluster client
        assert (spublished, published) == (0, messages)
    await a.clear()
    assert await async_wait_for(lambda: len(b.l1) == 0)


async def test_cluster_pubsub_follows_a_failover(own_redis_cluster, cleanup):
    cluster = own_redis_cluster
    victim = next(m for m in cluster.masters() if m is not cluster.servers[0])
    url = live_url(cluster, victim)
    a = await cluster_tiered(url, cleanup, prefix="sp:", coherence="pubsub")
    b = await cluster_tiered(url, cleanup, prefix="sp:", coherence="pubsub")
    raw = redis.cluster.RedisCluster.from_url(url, socket_timeout=1, socket_connect_timeout=1)
    cleanup.append(raw.close)
    key = key_on(raw, victim, prefix=b"sp:")
    await pfill(a, b, key, 1)
    flushes = b.stats().l1_flushes
    listened = victim.port in [p for _, p in b._listener.masters()]     # sharded: always (it owns buckets)
    assert listened or not b._listener.sharded
    victim.kill()
    if listened:                                          # its subscription lost: L1 flushed
        assert await async_wait_for(lambda: b.stats().l1_flushes > flushes, timeout=10)
    deadline = 30.0
    while len(cluster.masters()) < 3 and deadline > 0:
        await async_sleep(0.2)
        deadline -= 0.2
    assert len(cluster.masters()) == 3, "no replica was promoted"
    cluster.wait_ok(30)
    assert await async_wait_for(lambda: b._listener.connected.is_set() and a._listener.connected.is_set()
                                and victim.port not in [p for _, p in b._listener.masters()], timeout=15)
    for _ in range(100):                                  # until redis-py's client finds the new master
        try:
            await pfill(a, b, key, 3)
            break
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError,
                redis.exceptions.ClusterDownError, AssertionError):
            await async_sleep(0.2)
    assert b.get_l1(key) == 3
    await a.set(key, 4)
    assert await async_wait_for(lambda: b.get_l1(key) is None)
    assert await b.get(key) == 4


async def test_cluster_pubsub_follows_a_moved_channel(own_redis_cluster, redis_binary, cleanup):
    cluster = own_redis_cluster
    a = await cluster_tiered(cluster.url, cleanup, prefix="sp:", coherence="pubsub")
    b = await cluster_tiered(cluster.url, cleanup, prefix="sp:", coherence="pubsub")
    from fastcache.redis.invalidation import shard_bucket, shard_channels
    channel = shard_channels(b"fastcache:invalidate:sp:")[0]
    key = next(f"k{i}" for i in range(10_000) if shard_bucket(b"sp:" + f"k{i}".encode()) == 0)
    await pfill(a, b, key, 1)
    new = cluster.add_node(redis_binary)
    cleanup.append(new.stop)
    slot = key_slot(channel)
    raw = redis.cluster.RedisCluster.from_url(cluster.url)
    cleanup.append(raw.close)
    source = next(m for m in cluster.masters() if m.port == raw.get_node_from_key(channel).port)
    cluster.move_slot(slot, source, new)                  # the bucket's channel moves to the new master
    if b._listener.sharded:
        assert await async_wait_for(lambda: ("127.0.0.1", new.port) in b._listener.masters()
                                    and b._listener.connected.is_set(), timeout=15)
    assert await async_wait_for(lambda: a._listener.connected.is_set() and b._listener.connected.is_set(), timeout=15)
    for _ in range(50):                                   # (the move flushed b's L1)
        try:
            await pfill(a, b, key, 5)
            break
        except AssertionError:
            await async_sleep(0.2)
    assert b.get_l1(key) == 5
    await a.set(key, 6)                                   # published on the channel's new master
    assert await async_wait_for(lambda: b.get_l1(key) is None)
    assert await b.get(key) == 6
