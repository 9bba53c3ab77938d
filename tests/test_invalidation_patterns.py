"""Invalidation: tags (surrogate keys) on L1, Redis, sharded and tiered caches; the
InvalidationBus; invalidate_on_write - with real Redis servers and real processes."""
from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid

import pytest
import redis

from conftest import wait_for

from fastcache import AsyncTieredCache, LRUCache, TieredCache
from fastcache.patterns import InvalidationBus, ainvalidate_on_write, invalidate_on_write
from fastcache.redis import AsyncRedisCache, RedisCache, ShardedRedisCache
from fastcache.tags import TaggedCache, TagIndex


def prefix():
    return f"t-{uuid.uuid4().hex[:8]}:"


# -- L1 tags --------------------------------------------------------------------------

def test_tagged_l1_cache(impl):
    for cache in (impl.LRUCache(100), impl.LFUCache(100), impl.TTLCache(100, ttl=60)):
        tc = TaggedCache(cache)
        tc.set("u1", 1, tags=["team:a", "all"])
        tc.set("u2", 2, tags=["team:b", "all"])
        tc.set("u3", 3)
        assert sorted(tc.invalidate_tag("team:a")) == ["u1"]
        assert "u1" not in tc and tc["u2"] == 2 and tc.get("u3") == 3
        assert sorted(tc.invalidate_tag("all")) == ["u2"]
        assert list(cache) == ["u3"] and tc.invalidate_tag("nothing") == []
        tc.set("u3", 4, tags=["x"])
        tc["u3"] = 5                                     # a plain store drops the old tags
        assert tc.invalidate_tag("x") == [] and tc["u3"] == 5


def test_tag_arguments_are_checked():
    tc = TaggedCache(LRUCache(10))
    with pytest.raises(TypeError, match="single string"):
        tc.set("k", 1, tags="team")
    with pytest.raises(TypeError, match="tags must be str"):
        tc.set("k", 1, tags=[1])
    with pytest.raises(ValueError, match="empty"):
        tc.invalidate_tag("")
    assert "k" not in tc                                 # nothing stored by the failed calls
    with pytest.raises(TypeError, match="mutable mapping"):
        TaggedCache(object())


def test_tag_index_forgets_evicted_keys_in_amortised_constant_time(impl):
    cache = impl.LRUCache(50)
    tc = TaggedCache(cache)
    tc.tags = TagIndex(lambda k: k in cache, lambda: 50, min_prune=100)
    for i in range(10_000):
        tc.set(i, i, tags=[f"t{i % 7}"])
        assert len(tc.tags) <= 101                       # never more than max(min_prune, 2 x size) + 1
    live = {k for k in cache if k % 7 == 3}
    assert live and set(tc.invalidate_tag("t3")) == live   # exactly the live tagged entries
    assert all(k % 7 != 3 for k in cache) and len(cache) == 50 - len(live)


# -- Redis tags -----------------------------------------------------------------------

def test_redis_tags_purge_and_tag_set_lifetime(redis_url):
    p = prefix()
    c = RedisCache(redis_url, prefix=p, ttl=60)
    raw = redis.Redis.from_url(redis_url)
    c.set("a", 1, tags=["t1"], ttl=10)
    c.set(7, 2, tags=["t1", "t2"], ttl=30)
    c.set(b"\x00bin", 3, tags=["t1"], ttl=20)
    c.set("untagged", 4)
    assert 29 < raw.pttl(c.tag_key("t1")) / 1000 <= 30   # the set lives as long as its longest member
    c.set("forever", 5, tags=["t2"], ttl=None)
    assert raw.pttl(c.tag_key("t2")) == -1               # a member without expiry: so is the set
    assert sorted(map(repr, c.invalidate_tag("t1"))) == sorted(map(repr, ["a", 7, b"\x00bin"]))
    assert c.get("a") is None and c.get(7) is None and c.get(b"\x00bin") is None
    assert c.get("untagged") == 4 and c.get("forever") == 5
    assert raw.exists(c.tag_key("t1")) == 0
    assert c.invalidate_tag("t1") == []                  # idempotent
    raw.sadd(c.tag_key("t2"), b"not json")              # a foreign member is skipped, not fatal
    named = c.invalidate_tag("t2")                       # 7 was purged with t1 already: still named
    assert sorted(map(repr, named)) == ["'forever'", "7"] and c.get("forever") is None
    with pytest.raises(TypeError, match="tags must be str"):
        c.set("x", 1, tags=[b"bytes"])
    assert c.clear() >= 0 and not list(raw.scan_iter(match=p + "*"))


def test_sharded_tags_span_every_node(redis_binary):
    from redis_servers import RedisServer
    servers = [RedisServer(redis_binary).start() for _ in range(3)]
    try:
        sc = ShardedRedisCache([s.url for s in servers], prefix=prefix(), ttl=60)
        keys = [f"k{i}" for i in range(60)]
        for k in keys:
            sc.set(k, k, tags=["all"] if k != "k0" else None)
        assert len({sc.node_for(k) for k in keys}) == 3
        assert sorted(sc.invalidate_tag("all")) == sorted(keys[1:])
        assert sc.get_many(keys) == {"k0": "k0"}
        sc.close()
    finally:
        for s in servers:
            s.stop()


def test_tiered_tags_across_instances(impl, redis_url):
    p = prefix()
    a = impl.TieredCache(LRUCache(100), RedisCache(redis_url, prefix=p, ttl=60))
    b = impl.TieredCache(LRUCache(100), RedisCache(redis_url, prefix=p, ttl=60))
    try:
        assert a.wait_ready() and b.wait_ready()
        for i in range(5):
            a.set(f"p{i}", i, tags=["product", f"cat{i % 2}"])
        a.set("other", "x")
        assert wait_for(lambda: b.stats().invalidations_received >= 6)   # A's "set" messages are in
        assert b.get("p1") == 1 and b.get("p2") == 2 and b.get_l1("p1") == 1   # B holds L1 copies
        removed = a.invalidate_tag("cat1")
        assert sorted(removed) == ["p1", "p3"]
        assert a.get("p1") is None and a.l2.get("p3") is None
        assert wait_for(lambda: b.get_l1("p1") is None)  # B's L1 copy is gone too
        assert b.get("p1") is None and b.get("p2") == 2 and b.get("other") == "x"
        b.invalidate_tag("product")                       # purged from B: A's L1 follows
        assert wait_for(lambda: a.get_l1("p0") is None and a.get_l1("p4") is None)
        assert a.get("other") == "x"
    finally:
        a.close()
        b.close()


PURGE_PROBE = r"""
import sys, time
from fastcache import LRUCache, TieredCache
from fastcache.redis import RedisCache
url, p = sys.argv[1], sys.argv[2]
tc = TieredCache(LRUCache(100), RedisCache(url, prefix=p, ttl=60))
tc.wait_ready()
assert tc.get("a") == 1 and tc.get("b") == 2 and tc.get("c") == 3
print("ready", flush=True)
deadline = time.monotonic() + 10
while time.monotonic() < deadline and (tc.get_l1("a") is not None or tc.get_l1("b") is not None):
    time.sleep(0.002)
print("purged" if tc.get_l1("a") is None and tc.get_l1("b") is None else "stale",
      "kept" if tc.get_l1("c") == 3 else "lost", flush=True)
"""


def test_tag_purge_reaches_another_process(redis_url):
    p = prefix()
    tc = TieredCache(LRUCache(100), RedisCache(redis_url, prefix=p, ttl=60))
    try:
        tc.set("a", 1, tags=["promo"])
        tc.set("b", 2, tags=["promo"])
        tc.set("c", 3, tags=["other"])
        child = subprocess.Popen([sys.executable, "-c", PURGE_PROBE, redis_url, p],
                                 stdout=subprocess.PIPE, text=True)
        assert child.stdout.readline().strip() == "ready"
        t0 = time.monotonic()
        assert sorted(tc.invalidate_tag("promo")) == ["a", "b"]
        out = child.stdout.readline().split()
        child.wait(10)
        child.stdout.close()
        assert out == ["purged", "kept"] and time.monotonic() - t0 < 5
    finally:
        tc.close()


def test_async_tiered_and_redis_tags(redis_url):
    p = prefix()

    async def main():
        a = AsyncTieredCache(LRUCache(100), AsyncRedisCache(redis_url, prefix=p, ttl=60))
        b = AsyncTieredCache(LRUCache(100), AsyncRedisCache(redis_url, prefix=p, ttl=60))
        await a.start()
        await b.start()
        assert await a.wait_ready() and await b.wait_ready()
        await a.set("x", 1, tags=["g"])
        await a.set("y", 2, tags=["g"])
        for _ in range(500):                              # let A's "set" messages reach B first
            if b.stats().invalidations_received >= 2:
                break
            await asyncio.sleep(0.01)
        assert await b.get("x") == 1 and b.get_l1("x") == 1
        assert sorted(await b.invalidate_tag("g")) == ["x", "y"]
        for _ in range(500):
            if a.get_l1("x") is None:
                break
            await asyncio.sleep(0.01)
        assert a.get_l1("x") is None and await a.get("y") is None
        await a.close()
        await b.close()
    asyncio.run(main())


# -- the InvalidationBus: tests/_async/test_invalidation_bus.py (both modes) --------------


# -- invalidate_on_write --------------------------------------------------------------

def test_invalidate_on_write_after_commit_only(redis_url):
    import sqlite3
    p, channel = prefix(), f"events-{uuid.uuid4().hex[:6]}"
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
    db.execute("INSERT INTO users VALUES (1, 'ada')")
    db.commit()
    cache = TieredCache(LRUCache(100), RedisCache(redis_url, prefix=p, ttl=60))
    other_bus = InvalidationBus(redis_url, channel=channel)
    bus = InvalidationBus(redis_url, channel=channel)
    elsewhere = other_bus.subscribe(LRUCache(10))
    try:
        assert bus.wait_ready() and other_bus.wait_ready()
        cache.set("user:1", "ada", tags=["team:1"])
        elsewhere["user:1"] = "ada"
        with pytest.raises(sqlite3.IntegrityError):
            with invalidate_on_write(cache, "user:1", bus=bus):
                db.execute("UPDATE users SET name = 'bob' WHERE id = 1")
                db.execute("INSERT INTO users VALUES (1, 'dup')")   # fails: no commit
        db.rollback()
        assert cache.get("user:1") == "ada" and elsewhere["user:1"] == "ada"   # untouched
        with invalidate_on_write(cache, "user:1", tags=["team:1"], bus=bus):
            db.execute("UPDATE users SET name = 'bob' WHERE id = 1")
            db.commit()
        assert cache.get_l1("user:1") is None and cache.l2.get("user:1") is None
        assert wait_for(lambda: "user:1" not in elsewhere)
    finally:
        for x in (cache, bus, other_bus):
            x.close()


def test_async_invalidate_on_write(redis_url):
    p = prefix()

    async def main():
        cache = AsyncTieredCache(LRUCache(10), AsyncRedisCache(redis_url, prefix=p, ttl=60))
        await cache.start()
        await cache.set("k", 1, tags=["t"])
        await cache.set("j", 2, tags=["t"])
        async with ainvalidate_on_write(cache, "k"):
            pass
        assert await cache.get("k") is None and await cache.get("j") == 2
        async with ainvalidate_on_write(cache, tags=["t"]):
            pass
        assert await cache.get("j") is None
        await cache.close()
    asyncio.run(main())
