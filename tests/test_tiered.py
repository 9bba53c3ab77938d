"""TieredCache and AsyncTieredCache: what is not a behaviour test.

The behaviour of both classes, on both L1 hit paths, is tested in
tests/_async/test_tiered.py (tests/_sync/test_tiered.py is generated from it).
"""
from __future__ import annotations

import inspect

from fastcache import AsyncTieredCache, LRUCache, TieredCache
from fastcache.redis import AsyncRedisCache, RedisCache
from fastcache._impl import TieredFront


def test_same_methods_sync_and_async(impl):
    # on instances: the pure front keeps l1, l1_hits and clock_slack as attributes
    public = lambda obj: {n for n in dir(obj) if not n.startswith("_")}  # noqa: E731
    url = "redis://127.0.0.1:1/0"                       # never connected to
    sync = impl.TieredCache(LRUCache(2), RedisCache(url), invalidation=False)
    asynchronous = impl.AsyncTieredCache(LRUCache(2), AsyncRedisCache(url), invalidation=False)
    assert public(sync) == public(asynchronous) == public(AsyncTieredCache(LRUCache(2), AsyncRedisCache(url)))


def test_each_mode_has_its_own_kind_of_method():
    for name in ("get", "get_or_load", "get_many", "set", "set_many", "delete", "delete_many", "clear",
                 "invalidate_tag", "start", "wait_ready", "close"):
        assert inspect.iscoroutinefunction(getattr(AsyncTieredCache, name)), name
        assert not inspect.iscoroutinefunction(getattr(TieredCache, name)), name


def test_sync_reads_l1_through_the_compiled_front():
    # TieredCache.get is the front's own method (no Python frame on an L1 hit),
    # and the generated methods look L1 up through the same one.
    assert TieredCache.get is TieredFront.get
    assert TieredCache._get_l1 is TieredFront.get_l1
