"""One TTL rule for every class that takes one: a positive number of seconds, ``inf`` meaning
never expires, and the same TypeError / ValueError (and message) everywhere else."""
from __future__ import annotations

import math

import pytest

from conftest import FakeTimer
from fastcache import LRUCache, TieredCache, TTLCache, cached
from fastcache._types import TTL_VALUE_ERROR, check_ttl, ttl_seconds
from fastcache.patterns import CacheAside
from fastcache.redis import AsyncRedisCache, RedisCache, ShardedRedisCache

URL = "redis://127.0.0.1:1/0"          # never connected to


def makers(impl):
    return {
        "TTLCache(ttl)": lambda ttl: impl.TTLCache(10, ttl=ttl),
        "TTLCache.set(ttl)": lambda ttl: impl.TTLCache(10, ttl=5).set("k", 1, ttl=ttl),
        "RedisCache(ttl)": lambda ttl: RedisCache(URL, ttl=ttl),
        "AsyncRedisCache(ttl)": lambda ttl: AsyncRedisCache(URL, ttl=ttl),
        "ShardedRedisCache(ttl)": lambda ttl: ShardedRedisCache([URL], ttl=ttl),
        "TieredCache(l1_ttl)": lambda ttl: TieredCache(LRUCache(2), RedisCache(URL), l1_ttl=ttl, invalidation=False),
        "cached(ttl)": lambda ttl: cached(TTLCache(10, ttl=5), ttl=ttl),
        "CacheAside(ttl)": lambda ttl: CacheAside(TTLCache(10, ttl=5), ttl=ttl),
        "CacheAside(negative_ttl)": lambda ttl: CacheAside(LRUCache(10), negative_ttl=ttl),
    }


@pytest.mark.parametrize("bad", [0, -1, -0.5, float("nan"), -math.inf])
def test_the_same_value_error_everywhere(impl, bad):
    for name, make in makers(impl).items():
        with pytest.raises(ValueError) as info:
            make(bad)
        what = str(info.value).split(" must be")[0]
        assert str(info.value) == TTL_VALUE_ERROR % (what, bad), name


@pytest.mark.parametrize("bad", ["10", True, [1]])
def test_the_same_type_error_everywhere(impl, bad):
    for name, make in makers(impl).items():
        with pytest.raises(TypeError, match=r"must be a number of seconds"):
            make(bad)


def test_inf_means_never_expires_everywhere(impl):
    for name, make in makers(impl).items():
        make(math.inf)                          # accepted by every class
    assert check_ttl(math.inf) is None and ttl_seconds(math.inf) == math.inf
    t = FakeTimer()
    cache = impl.TTLCache(10, ttl=math.inf, timer=t)
    cache["a"] = 1
    cache.set("b", 2, ttl=math.inf)
    t.tick(1e300)
    assert cache["a"] == 1 and cache["b"] == 2 and len(cache) == 2
    assert RedisCache(URL, ttl=math.inf).default_ttl is None               # stored without an expiry
    tiered = TieredCache(LRUCache(2), RedisCache(URL), l1_ttl=math.inf, invalidation=False)
    assert tiered.l1_ttl is None                                          # no cap on L1 copies
    tiered.close()
