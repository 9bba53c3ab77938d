"""ShardedRedisCache over three real redis-server processes."""
from __future__ import annotations

import logging
import time

import pytest
import redis

from conftest import FakeTimer, command_calls, reset_stats
from fastcache import HashRing, LRUCache, TieredCache
from fastcache.redis import NodeUnavailable, ShardedRedisCache
from redis_servers import RedisServer


@pytest.fixture
def servers(redis_binary):
    started = [RedisServer(redis_binary).start() for _ in range(3)]
    yield started
    for s in started:
        s.stop()


def urls(servers):
    return [s.url for s in servers]


def test_routes_by_ketama_and_stores_on_the_owner(servers):
    sc = ShardedRedisCache(urls(servers), prefix="s:")
    assert sc.nodes == tuple(f"127.0.0.1:{s.port}" for s in servers)
    ring = HashRing(sc.nodes)
    keys = [f"user:{i}" for i in range(300)]
    sc.set_many({k: i for i, k in enumerate(keys)})
    by_port = {s.port: redis.Redis(port=s.port) for s in servers}
    for k in keys:
        owner = ring.get_node(b"s:" + k.encode())
        assert sc.node_for(k) == owner
        port = int(owner.rsplit(":", 1)[1])
        assert by_port[port].exists(b"s:" + k.encode())
        assert sum(c.exists(b"s:" + k.encode()) for c in by_port.values()) == 1
    counts = [c.dbsize() for c in by_port.values()]
    assert sum(counts) == 300 and min(counts) > 50           # spread over all three
    assert sc.get("user:7") == 7 and sc.get("nope", "d") == "d"
    assert sc.delete("user:7") and sc.get("user:7") is None
    assert sc.ttl("user:8") is None
    sc.set("user:8", 8, ttl=30)
    assert 29 < sc.ttl("user:8") <= 30
    with pytest.raises(KeyError):
        sc.ttl("user:7")
    assert sc.clear() == 299
    sc.close()


def test_get_many_is_one_mget_per_node(servers):
    sc = ShardedRedisCache(urls(servers), prefix="m:")
    keys = [f"k{i}" for i in range(100)]
    sc.set_many({k: k for k in keys})
    for s in servers:
        reset_stats(s.url)
    assert sc.get_many(keys + ["absent"]) == {k: k for k in keys}
    assert [command_calls(s.url, "mget") for s in servers] == [1, 1, 1]
    assert sum(command_calls(s.url, "get") for s in servers) == 0
    found = sc.get_many_with_ttl(keys[:10])
    assert set(found) == set(keys[:10])
    assert sc.delete_many(keys[:50]) == 50
    assert len(sc.get_many(keys)) == 50
    sc.close()


def test_adding_a_node_moves_about_one_in_n_plus_one(servers, redis_binary):
    # Named nodes, so the figure does not depend on the ports the servers got.
    sc = ShardedRedisCache({name: s.url for name, s in zip(("shard-a", "shard-b", "shard-c"), servers)},
                           prefix="g:")
    keys = [f"key:{i}" for i in range(20_000)]
    before = {k: sc.node_for(k) for k in keys}
    extra = RedisServer(redis_binary).start()
    try:
        sc.add_node("shard-d", extra.url)
        moved = [k for k in keys if sc.node_for(k) != before[k]]
        assert all(sc.node_for(k) == "shard-d" for k in moved)
        assert len(moved) / len(keys) <= 1 / 4 + 0.01             # 25.6% here
        sc.set("moved", 1)
        assert sc.get("moved") == 1
        sc.remove_node("shard-d")
        assert {k: sc.node_for(k) for k in keys} == before
    finally:
        extra.stop()
        sc.close()


def test_dead_node_keys_miss_others_serve_backoff_and_rejoin(servers, caplog):
    timer = FakeTimer()
    sc = ShardedRedisCache(urls(servers), prefix="d:", retry_delay=1, max_retry_delay=8, timer=timer,
                           socket_timeout=0.3, socket_connect_timeout=0.3)
    keys = [f"k{i}" for i in range(200)]
    sc.set_many({k: k for k in keys})
    victim = servers[1]
    dead = f"127.0.0.1:{victim.port}"
    on_dead = [k for k in keys if sc.node_for(k) == dead]
    alive = [k for k in keys if sc.node_for(k) != dead]
    victim.kill()
    with caplog.at_level(logging.WARNING, logger="fastcache.redis"):
        assert sc.get(on_dead[0], "miss") == "miss"
        assert sc.down_nodes() == [dead]
        assert all(sc.get(k) == k for k in alive)          # the other nodes keep serving
        got = sc.get_many(keys)
        assert got == {k: k for k in alive}
        with pytest.raises(NodeUnavailable):
            sc.set(on_dead[0], "x")
        with pytest.raises(NodeUnavailable):
            sc.set_many({k: 1 for k in keys[:20]})
    failures = sc._nodes[dead].failures
    for _ in range(20):                                     # backing off: no new attempts
        assert sc.get(on_dead[0]) is None
    assert sc._nodes[dead].failures == failures
    timer.tick(1)                                           # back-off over: one retry, fails again
    assert sc.get(on_dead[0]) is None
    assert sc._nodes[dead].failures == failures + 1 and sc._nodes[dead].delay == 2
    victim.start()
    timer.tick(2)
    sc.set(on_dead[0], "back")                              # answers again: rejoins
    assert sc.down_nodes() == [] and sc.get(on_dead[0]) == "back"
    assert sum("failed" in r.getMessage() for r in caplog.records) == 1
    assert any("answering again" in r.getMessage() for r in caplog.records)
    sc.close()


def test_tiered_over_shards_falls_back_to_loader_for_dead_node(servers):
    sc = ShardedRedisCache(urls(servers), prefix="t:", retry_delay=60, socket_timeout=0.3,
                           socket_connect_timeout=0.3)
    tc = TieredCache(LRUCache(1000), sc)
    assert tc.wait_ready()
    keys = [f"k{i}" for i in range(60)]
    tc.set_many({k: k for k in keys})
    for k in keys:
        tc.invalidate_local(k)
    servers[0].kill()
    dead = f"127.0.0.1:{servers[0].port}"
    loaded = []
    values = [tc.get_or_load(k, lambda key: loaded.append(key) or f"loaded {key}") for k in keys]
    assert [v for v in values if v.startswith("loaded")] == [f"loaded {k}" for k in loaded]
    assert set(loaded) == {k for k in keys if sc.node_for(k) == dead}
    assert tc.stats().breaker == "closed"                   # one dead shard is not an L2 outage
    on_dead = [k for k in keys if sc.node_for(k) == dead]
    for k in on_dead * 3:
        with pytest.raises(NodeUnavailable):
            tc.set(k, "new")                                # writes to it fail loudly ...
    assert tc.stats().breaker == "closed"                   # ... without tripping the breaker
    alive = next(k for k in keys if sc.node_for(k) != dead)
    tc.invalidate_local(alive)
    assert tc.get(alive) == alive                           # the other shards still serve reads
    tc.close()
    sc.close()


def test_invalidation_across_shards(servers):
    a = TieredCache(LRUCache(100), ShardedRedisCache(urls(servers), prefix="i:"))
    seen = []
    b = TieredCache(LRUCache(100), ShardedRedisCache(urls(servers), prefix="i:"),
                    on_invalidate=lambda k, r: seen.append(k))
    assert a.wait_ready() and b.wait_ready()
    a.set("x", 1)
    deadline = time.monotonic() + 5
    while not seen and time.monotonic() < deadline:
        time.sleep(0.005)
    assert b.get("x") == 1
    n = len(seen)
    a.set("x", 2)
    while len(seen) == n and time.monotonic() < deadline + 5:
        time.sleep(0.005)
    assert b.get_l1("x") is None and b.get("x") == 2
    a.set_many({f"m{i}": i for i in range(30)})          # spread over the shards
    while sum(len(k) for k in seen[n + 1:]) < 30 and time.monotonic() < deadline + 10:
        time.sleep(0.005)
    time.sleep(0.2)
    announced = [k for keys in seen[n + 1:] for k in keys]
    assert sorted(announced) == sorted(f"m{i}" for i in range(30))   # each key once, on its owner
    assert len(seen) - (n + 1) == len({sc_node for sc_node in map(a.l2.node_for, announced)})
    a.close()
    b.close()


def test_bad_configuration(servers):
    with pytest.raises(ValueError, match="at least one"):
        ShardedRedisCache([])
    with pytest.raises(TypeError):
        ShardedRedisCache("redis://x")
    with pytest.raises(ValueError, match="same name"):
        ShardedRedisCache([servers[0].url, servers[0].url])
    with pytest.raises(ValueError, match="unknown"):
        ShardedRedisCache(urls(servers), weights={"nope": 2})
    named = ShardedRedisCache({"a": servers[0].url, "b": servers[1].url}, weights={"a": 3})
    assert named.nodes == ("a", "b") and named.ring.weights == {"a": 3, "b": 1}
    named.close()


def test_async_sharded(servers):
    import asyncio

    from fastcache import AsyncTieredCache
    from fastcache.redis import AsyncShardedRedisCache

    async def main():
        sc = AsyncShardedRedisCache(urls(servers), prefix="as:", socket_timeout=0.3, socket_connect_timeout=0.3)
        keys = [f"k{i}" for i in range(90)]
        await sc.set_many({k: k for k in keys})
        for s in servers:
            reset_stats(s.url)
        assert await sc.get_many(keys) == {k: k for k in keys}
        assert [command_calls(s.url, "mget") for s in servers] == [1, 1, 1]
        assert await sc.get("k1") == "k1" and (await sc.get_with_ttl("k1"))[0]
        assert set(await sc.get_many_with_ttl(keys[:5])) == set(keys[:5])
        assert await sc.delete("k1") and await sc.delete_many(["k2", "k3", "zz"]) == 2
        await sc.set("t", 1, ttl=30)
        assert 29 < await sc.ttl("t") <= 30 and await sc.add("t", 2) is False
        dead = f"127.0.0.1:{servers[2].port}"
        servers[2].kill()
        alive = [k for k in keys[4:] if sc.node_for(k) != dead]
        on_dead = [k for k in keys[4:] if sc.node_for(k) == dead]
        assert await sc.get(on_dead[0], "miss") == "miss" and sc.down_nodes() == [dead]
        assert await sc.get_many(keys[4:]) == {k: k for k in alive}
        with pytest.raises(NodeUnavailable):
            await sc.set(on_dead[0], 1)
        tc = AsyncTieredCache(LRUCache(100), sc)
        assert await tc.get_or_load(on_dead[0], lambda k: "loaded") == "loaded"
        assert await tc.get(alive[0]) == alive[0]
        await tc.close()
        await sc.remove_node(dead)
        assert dead not in sc.nodes
        await sc.close()
    asyncio.run(main())
