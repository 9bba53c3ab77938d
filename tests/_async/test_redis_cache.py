"""RedisCache and AsyncRedisCache against a real redis-server: one behaviour, both modes.

Written once, for asyncio; ``tests/_sync/test_redis_cache.py`` is generated from this
file by ``scripts/unasync.py``, so every test here runs on both classes.
"""
from __future__ import annotations

import logging
import pickle

import pytest
import redis

from conftest import command_calls, reset_stats
from fastcache.redis import AsyncRedisCache, PickleSerializer


async def test_get_set_delete_ttl(redis_url):
    async with AsyncRedisCache(redis_url, prefix="t:", ttl=60) as cache:
        assert await cache.get("a") is None and await cache.get("a", 7) == 7
        await cache.set("a", {"x": (1, 2)})
        assert await cache.get("a") == {"x": (1, 2)}
        assert 59 < await cache.ttl("a") <= 60
        await cache.set("b", 1, ttl=None)
        assert await cache.ttl("b") is None
        await cache.set("c", 1, ttl=0.5)
        assert 0 < await cache.ttl("c") <= 0.5
        with pytest.raises(KeyError):
            await cache.ttl("missing")
        assert await cache.exists("a") and not await cache.exists("zz")
        assert await cache.delete("a") is True and await cache.delete("a") is False
        raw = redis.Redis.from_url(redis_url)
        assert raw.exists(b"t:b") and not raw.exists(b"b")          # the prefix is applied
        assert await cache.get_with_ttl("b") == (True, 1, None)
        found, value, remaining = await cache.get_with_ttl("c")
        assert found and value == 1 and 0 < remaining <= 0.5
        assert await cache.get_with_ttl("nope") == (False, None, None)
        await cache.set(42, "int key")
        assert await cache.get(42) == "int key" and raw.get(b"t:42") is not None
        assert await cache.add("new", 1) is True and await cache.add("new", 2) is False
        assert await cache.get("new") == 1
        assert await cache.ping() is True


async def test_bad_arguments(redis_url):
    async with AsyncRedisCache(redis_url, prefix="t:", ttl=60) as cache:
        with pytest.raises(TypeError, match="str, bytes or int"):
            await cache.get(1.5)
        with pytest.raises(TypeError):
            await cache.set(("a",), 1)
        with pytest.raises(ValueError, match="positive"):
            await cache.set("a", 1, ttl=0)
        with pytest.raises(ValueError):
            await cache.set("a", 1, ttl=float("nan"))
        with pytest.raises(TypeError):
            await cache.set("a", 1, ttl="10")
        with pytest.raises(TypeError):
            await cache.set("a", 1, tags=["ok", 3])
    with pytest.raises(TypeError, match="expected a URL"):
        AsyncRedisCache(12)
    with pytest.raises(TypeError, match="expected a URL"):
        AsyncRedisCache(object())
    with pytest.raises(TypeError, match="only apply"):
        AsyncRedisCache(redis.asyncio.Redis(), socket_timeout=1)


async def test_get_many_is_one_mget_and_set_many_one_pipeline(redis_url):
    async with AsyncRedisCache(redis_url, prefix="t:", ttl=60) as cache:
        await cache.set_many({f"k{i}": i for i in range(100)}, ttl=30)
        reset_stats(redis_url)
        got = await cache.get_many([f"k{i}" for i in range(100)] + ["absent", "k1"])
        assert got == {f"k{i}": i for i in range(100)}
        assert command_calls(redis_url, "mget") == 1 and command_calls(redis_url, "get") == 0
        with_ttl = await cache.get_many_with_ttl(["k1", "k2", "absent"])
        assert set(with_ttl) == {"k1", "k2"} and with_ttl["k1"][0] == 1 and 0 < with_ttl["k1"][1] <= 30
        assert await cache.get_many([]) == {} and await cache.get_many_with_ttl([]) == {}
        await cache.set_many({})
        assert await cache.delete_many(["k1", "k2", "absent"]) == 2
        assert await cache.delete_many([]) == 0
        assert await cache.get_many(["k1", "k2", "k3"]) == {"k3": 3}


async def test_clear_streams_batches_and_removes_only_its_prefix(redis_url):
    raw = redis.Redis.from_url(redis_url)
    raw.set(b"other:1", b"keep")
    raw.set(b"t*:1", b"glob lookalike")
    async with AsyncRedisCache(redis_url, prefix="t:") as a:
        await a.set_many({f"k{i}": i for i in range(2500)})
        reset_stats(redis_url)
        assert await a.clear() == 2500
        assert command_calls(redis_url, "unlink") == 3        # batches of 1000, as the scan finds them
        assert raw.get(b"other:1") == b"keep" and raw.get(b"t*:1") == b"glob lookalike"
        assert await a.get("k1") is None
    async with AsyncRedisCache(redis_url) as no_prefix:
        with pytest.raises(ValueError, match="prefix"):
            await no_prefix.clear()
    async with AsyncRedisCache(redis_url, prefix="t*:") as star:    # glob characters are literal
        assert await star.clear() == 1 and raw.get(b"other:1") == b"keep"


async def test_corrupt_payload_is_a_miss_and_a_warning(redis_url, caplog):
    raw = redis.Redis.from_url(redis_url)
    raw.set(b"t:bad", b"j{not json")
    raw.set(b"t:pickled", pickle.dumps({"evil": 1}))       # never unpickled by the default
    raw.rpush(b"t:list", b"x")                             # wrong Redis type
    async with AsyncRedisCache(redis_url, prefix="t:", ttl=60) as cache:
        with caplog.at_level(logging.WARNING, logger="fastcache.redis"):
            assert await cache.get("bad", "dflt") == "dflt"
            assert await cache.get("pickled") is None
            assert await cache.get("list", "dflt") == "dflt"
            assert await cache.get_with_ttl("list") == (False, None, None)
            assert await cache.get_many(["bad", "list", "pickled"]) == {}
        assert sum("undecodable" in r.getMessage() for r in caplog.records) >= 3
        assert any("WRONGTYPE" in r.getMessage() for r in caplog.records)
        assert cache.codec.corrupt >= 3


async def test_signed_pickle_opt_in(redis_url):
    raw = redis.Redis.from_url(redis_url)
    async with AsyncRedisCache(redis_url, prefix="p:", serializer=PickleSerializer(b"s" * 32)) as c:
        await c.set("obj", {1, 2, 3})
        assert await c.get("obj") == {1, 2, 3}
        data = raw.get(b"p:obj")
        raw.set(b"p:obj", data[:-2] + b"X.")                  # tampered body
        assert await c.get("obj", "refused") == "refused"
        raw.set(b"p:planted", b"p" + b"\0" * 32 + pickle.dumps(1))
        assert await c.get("planted", "refused") == "refused"


async def test_tags_and_invalidate_tag(redis_url):
    async with AsyncRedisCache(redis_url, prefix="tg:", ttl=60) as c:
        await c.set("a", 1, tags=["user:1"])
        await c.set("b", 2, tags=["user:1", "team"])
        await c.set("c", 3)
        assert sorted(await c.invalidate_tag("user:1")) == ["a", "b"]
        assert await c.get_many(["a", "b", "c"]) == {"c": 3}
        assert await c.invalidate_tag("user:1") == []


async def test_ready_client_is_not_closed_by_cache(redis_url):
    client = redis.asyncio.Redis.from_url(redis_url)
    c = AsyncRedisCache(client, prefix="r:")
    await c.set("a", 1)
    await c.close()
    assert await client.ping()
    await client.aclose()


async def test_get_or_load_loads_once_and_stores(redis_url):
    calls = []

    def loader(key):
        calls.append(key)
        return {"loaded": key}

    async with AsyncRedisCache(redis_url, prefix="gl:", ttl=60) as c:
        assert await c.get_or_load("k", loader) == {"loaded": "k"}
        assert await c.get_or_load("k", loader) == {"loaded": "k"}
        assert calls == ["k"] and await c.get("k") == {"loaded": "k"}


async def test_expiry_header_gives_the_lifetime_in_the_same_get(redis_url):
    raw = redis.Redis.from_url(redis_url)
    async with AsyncRedisCache(redis_url, prefix="h:", ttl=60) as cache:
        await cache.set("a", {"v": 1})
        await cache.set("forever", 2, ttl=None)
        assert raw.get(b"h:a")[:2] == b"\xfe\x01"                  # the header, then the payload
        reset_stats(redis_url)
        found, value, remaining = await cache.get_with_ttl("a")
        assert found and value == {"v": 1} and 59 < remaining <= 60
        assert await cache.get_with_ttl("forever") == (True, 2, None)
        many = await cache.get_many_with_ttl(["a", "forever", "missing"])
        assert set(many) == {"a", "forever"} and many["forever"] == (2, None) and 59 < many["a"][1] <= 60
        assert command_calls(redis_url, "pttl") == 0                 # no second command


async def test_payloads_without_the_header_still_read(redis_url):
    """Entries written by fastcache < 0.16 (or with expiry_header=False): same values, and
    their lifetime comes from a PTTL."""
    raw = redis.Redis.from_url(redis_url)
    async with AsyncRedisCache(redis_url, prefix="o:", ttl=30, expiry_header=False) as old:
        await old.set("a", [1, 2])
        await old.set("b", "x", ttl=None)
        assert raw.get(b"o:a")[:1] == b"j"                          # the serializer's own format
    async with AsyncRedisCache(redis_url, prefix="o:", ttl=60) as cache:
        assert await cache.get("a") == [1, 2] and await cache.get_many(["a", "b"]) == {"a": [1, 2], "b": "x"}
        reset_stats(redis_url)
        found, value, remaining = await cache.get_with_ttl("a")
        assert found and value == [1, 2] and 29 < remaining <= 30
        assert await cache.get_with_ttl("b") == (True, "x", None)
        many = await cache.get_many_with_ttl(["a", "b", "nope"])
        assert many["b"] == ("x", None) and 29 < many["a"][1] <= 30 and "nope" not in many
        assert command_calls(redis_url, "pttl") == 4
        await cache.set("a", [3])                                    # rewritten: with the header
        assert raw.get(b"o:a")[:2] == b"\xfe\x01" and await cache.get("a") == [3]
