"""The sharded Redis cache over three real redis-server processes, in both modes.

Written once, for asyncio; ``tests/_sync/test_sharded.py`` is generated from this
file by ``scripts/unasync.py``.
"""
from __future__ import annotations

import logging

import pytest
import redis

from concurrency import async_gather, async_wait_for
from conftest import FakeTimer, command_calls, reset_stats
from faultproxy import FaultProxy
from fastcache import AsyncTieredCache, HashRing, LRUCache
from fastcache.redis import AsyncShardedRedisCache, NodeUnavailable
from redis_servers import RedisServer


@pytest.fixture
def servers(redis_binary):
    started = [RedisServer(redis_binary).start() for _ in range(3)]
    yield started
    for s in started:
        s.stop()


def urls(servers):
    return [s.url for s in servers]


@pytest.fixture
def make(servers, cleanup):
    def build(nodes=None, **options):
        sc = AsyncShardedRedisCache(nodes if nodes is not None else urls(servers), **options)
        cleanup.append(sc.close)
        return sc
    return build


async def test_routes_by_ketama_and_stores_on_the_owner(make, servers):
    sc = make(prefix="s:")
    assert sc.nodes == tuple(f"127.0.0.1:{s.port}" for s in servers)
    ring = HashRing(sc.nodes)
    keys = [f"user:{i}" for i in range(300)]
    await sc.set_many({k: i for i, k in enumerate(keys)})
    by_port = {s.port: redis.Redis(port=s.port) for s in servers}
    for k in keys:
        owner = ring.get_node(b"s:" + k.encode())
        assert sc.node_for(k) == owner
        port = int(owner.rsplit(":", 1)[1])
        assert by_port[port].exists(b"s:" + k.encode())
        assert sum(c.exists(b"s:" + k.encode()) for c in by_port.values()) == 1
    counts = [c.dbsize() for c in by_port.values()]
    assert sum(counts) == 300 and min(counts) > 50           # spread over all three
    assert await sc.get("user:7") == 7 and await sc.get("nope", "d") == "d"
    assert await sc.exists("user:7") and not await sc.exists("nope")
    assert await sc.delete("user:7") and await sc.get("user:7") is None
    assert await sc.ttl("user:8") is None
    await sc.set("user:8", 8, ttl=30)
    assert 29 < await sc.ttl("user:8") <= 30
    assert await sc.add("user:8", 9) is False and await sc.add("new", 9) is True
    with pytest.raises(KeyError):
        await sc.ttl("user:7")
    assert await sc.clear() == 300


async def test_get_many_is_one_mget_per_node(make, servers):
    sc = make(prefix="m:")
    keys = [f"k{i}" for i in range(100)]
    await sc.set_many({k: k for k in keys})
    for s in servers:
        reset_stats(s.url)
    assert await sc.get_many(keys + ["absent"]) == {k: k for k in keys}
    assert [command_calls(s.url, "mget") for s in servers] == [1, 1, 1]
    assert sum(command_calls(s.url, "get") for s in servers) == 0
    found = await sc.get_many_with_ttl(keys[:10])
    assert set(found) == set(keys[:10])
    assert await sc.delete_many(keys[:50]) == 50
    assert len(await sc.get_many(keys)) == 50


async def test_tags_live_on_each_keys_node(make):
    sc = make(prefix="tg:")
    keys = [f"k{i}" for i in range(30)]
    for k in keys:
        await sc.set(k, k, tags=["all"])
    assert sorted(await sc.invalidate_tag("all")) == sorted(keys)
    assert await sc.get_many(keys) == {}


async def test_adding_a_node_moves_about_one_in_n_plus_one(make, servers, redis_binary):
    # Named nodes, so the figure does not depend on the ports the servers got.
    sc = make({name: s.url for name, s in zip(("shard-a", "shard-b", "shard-c"), servers)}, prefix="g:")
    keys = [f"key:{i}" for i in range(20_000)]
    before = {k: sc.node_for(k) for k in keys}
    extra = RedisServer(redis_binary).start()
    try:
        sc.add_node("shard-d", extra.url)
        moved = [k for k in keys if sc.node_for(k) != before[k]]
        assert all(sc.node_for(k) == "shard-d" for k in moved)
        assert len(moved) / len(keys) <= 1 / 4 + 0.01             # 25.6% here
        await sc.set("moved", 1)
        assert await sc.get("moved") == 1
        await sc.remove_node("shard-d")
        assert {k: sc.node_for(k) for k in keys} == before
    finally:
        extra.stop()


async def test_dead_node_keys_miss_others_serve_backoff_and_rejoin(make, servers, caplog):
    timer = FakeTimer()
    sc = make(prefix="d:", retry_delay=1, max_retry_delay=8, timer=timer,
              socket_timeout=0.3, socket_connect_timeout=0.3)
    keys = [f"k{i}" for i in range(200)]
    await sc.set_many({k: k for k in keys})
    victim = servers[1]
    dead = f"127.0.0.1:{victim.port}"
    on_dead = [k for k in keys if sc.node_for(k) == dead]
    alive = [k for k in keys if sc.node_for(k) != dead]
    victim.kill()
    with caplog.at_level(logging.WARNING, logger="fastcache.redis"):
        assert await sc.get(on_dead[0], "miss") == "miss"
        assert sc.down_nodes() == [dead]
        for k in alive:
            assert await sc.get(k) == k                     # the other nodes keep serving
        got = await sc.get_many(keys)
        assert got == {k: k for k in alive}
        with pytest.raises(NodeUnavailable):
            await sc.set(on_dead[0], "x")
        with pytest.raises(NodeUnavailable):             # a batch with keys on the dead node and others
            await sc.set_many({k: 1 for k in on_dead[:5] + alive[:15]})
    failures = sc._nodes[dead].failures
    for _ in range(20):                                     # backing off: no new attempts
        assert await sc.get(on_dead[0]) is None
    assert sc._nodes[dead].failures == failures
    timer.tick(1)                                           # back-off over: one retry, fails again
    assert await sc.get(on_dead[0]) is None
    assert sc._nodes[dead].failures == failures + 1 and sc._nodes[dead].delay == 2
    victim.start()
    timer.tick(2)
    await sc.set(on_dead[0], "back")                        # answers again: rejoins
    assert sc.down_nodes() == [] and await sc.get(on_dead[0]) == "back"
    assert sum("failed" in r.getMessage() for r in caplog.records) == 1
    assert any("answering again" in r.getMessage() for r in caplog.records)


async def test_tiered_over_shards_falls_back_to_loader_for_dead_node(make, servers, cleanup):
    sc = make(prefix="t:", retry_delay=60, socket_timeout=0.3, socket_connect_timeout=0.3)
    tc = AsyncTieredCache(LRUCache(1000), sc)
    cleanup.append(tc.close)
    assert await tc.wait_ready()
    keys = [f"k{i}" for i in range(60)]
    await tc.set_many({k: k for k in keys})
    for k in keys:
        tc.invalidate_local(k)
    servers[0].kill()
    dead = f"127.0.0.1:{servers[0].port}"
    loaded = []
    values = [await tc.get_or_load(k, lambda key: loaded.append(key) or f"loaded {key}") for k in keys]
    assert [v for v in values if v.startswith("loaded")] == [f"loaded {k}" for k in loaded]
    assert set(loaded) == {k for k in keys if sc.node_for(k) == dead}
    assert tc.stats().breaker == "closed"                   # one dead shard is not an L2 outage
    on_dead = [k for k in keys if sc.node_for(k) == dead]
    for k in on_dead * 3:
        with pytest.raises(NodeUnavailable):
            await tc.set(k, "new")                          # writes to it fail loudly ...
    assert tc.stats().breaker == "closed"                   # ... without tripping the breaker
    alive = next(k for k in keys if sc.node_for(k) != dead)
    tc.invalidate_local(alive)
    assert await tc.get(alive) == alive                     # the other shards still serve reads


async def test_invalidation_across_shards(make, cleanup):
    seen = []
    a = AsyncTieredCache(LRUCache(100), make(prefix="i:"))
    b = AsyncTieredCache(LRUCache(100), make(prefix="i:"), on_invalidate=lambda k, r: seen.append(k))
    cleanup.append(a.close)
    cleanup.append(b.close)
    assert await a.wait_ready() and await b.wait_ready()
    await a.set("x", 1)
    assert await async_wait_for(lambda: len(seen) == 1)
    assert await b.get("x") == 1
    await a.set("x", 2)
    assert await async_wait_for(lambda: len(seen) == 2)
    assert b.get_l1("x") is None and await b.get("x") == 2
    await a.set_many({f"m{i}": i for i in range(30)})     # spread over the shards
    nodes = {a.l2.node_for(f"m{i}") for i in range(30)}
    assert await async_wait_for(lambda: len(seen) == 2 + len(nodes))
    announced = [k for keys in seen[2:] for k in keys]
    assert sorted(announced) == sorted(f"m{i}" for i in range(30))   # each key once, on its owner


async def test_bad_configuration(make, servers):
    with pytest.raises(ValueError, match="at least one"):
        AsyncShardedRedisCache([])
    with pytest.raises(TypeError):
        AsyncShardedRedisCache("redis://x")
    with pytest.raises(ValueError, match="same name"):
        AsyncShardedRedisCache([servers[0].url, servers[0].url])
    with pytest.raises(ValueError, match="unknown"):
        AsyncShardedRedisCache(urls(servers), weights={"nope": 2})
    named = make({"a": servers[0].url, "b": servers[1].url}, weights={"a": 3})
    assert named.nodes == ("a", "b") and named.ring.weights == {"a": 3, "b": 1}


async def test_concurrent_failures_double_the_back_off_once_per_probe(make, servers):
    # Eight callers failing at once on a node that never answers (a partition) used to
    # double its back-off eight times (0.5 s -> 30 s at once); now the first failure
    # marks it down for retry_delay, late failures change nothing, and only a failed
    # probe (one call, after the back-off) doubles it.
    with FaultProxy(servers[0].port) as proxy:
        timer = FakeTimer()
        nodes = {"a": proxy.url, "b": servers[1].url, "c": servers[2].url}
        sc = make(nodes, retry_delay=0.5, max_retry_delay=30, timer=timer, socket_timeout=0.3)
        keys = [k for k in (f"k{i}" for i in range(200)) if sc.node_for(k) == "a"][:8]
        assert await sc.get(keys[0]) is None                 # connected while the network is fine
        proxy.partition()
        await async_gather(*(lambda k=k: sc.get(k, "miss") for k in keys))
        node = sc._nodes["a"]
        assert node.failures == 8 and node.delay == 0.5      # once, not 2**7 times
        assert await sc.get(keys[0], "miss") == "miss"       # down: skipped, not retried
        timer.tick(0.5)
        assert await sc.get(keys[0], "miss") == "miss"       # the probe fails ...
        assert node.delay == 1.0 and node.failures == 9      # ... and doubles the back-off once
        proxy.heal()
        timer.tick(1.0)
        await sc.set(keys[0], "back")                        # the next probe succeeds: rejoined
        assert node.delay == 0 and await sc.get(keys[0]) == "back"


async def test_multi_key_calls_are_one_command_per_node_without_threads(make, servers):
    """All nodes' commands are written before any reply is read (sync), or awaited
    together (asyncio): one MGET / pipeline per node, and no thread pool."""
    sc = make(prefix="mk:", ttl=60)
    keys = [f"k{i}" for i in range(90)]
    for s in servers:
        reset_stats(s.url)
    await sc.set_many({k: i for i, k in enumerate(keys)})
    assert await sc.get_many(keys + ["nope"]) == {k: i for i, k in enumerate(keys)}
    many = await sc.get_many_with_ttl(keys[:30])
    assert len(many) == 30 and all(v == int(k[1:]) and 59 < t <= 60 for k, (v, t) in many.items())
    assert await sc.delete_many(keys[:45] + ["nope"]) == 45
    assert len(await sc.get_many(keys)) == 45
    for s in servers:
        assert command_calls(s.url, "mget") == 3 and command_calls(s.url, "pttl") == 0
        assert command_calls(s.url, "del") == 1 and command_calls(s.url, "set") > 0
    assert sc._pool is None                         # no worker thread was started


async def test_multi_key_calls_skip_a_down_node_and_keep_the_others(make, servers):
    with FaultProxy(servers[2].port) as proxy:
        sc = make([servers[0].url, servers[1].url, proxy.url], prefix="dn:", ttl=60, socket_timeout=0.3)
        keys = [f"k{i}" for i in range(60)]
        await sc.set_many({k: i for i, k in enumerate(keys)})
        proxy.refuse()
        got = await sc.get_many(keys)
        down = [k for k in keys if sc.node_for(k) == sc.nodes[2]]
        assert down and got == {k: i for i, k in enumerate(keys) if k not in down}
        with pytest.raises(NodeUnavailable):
            await sc.set_many({k: -1 for k in keys})
        assert {k: v for k, v in (await sc.get_many(keys)).items()} == {k: -1 for k in keys if k not in down}
        proxy.heal()
