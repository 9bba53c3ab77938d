"""ShardedRedisCache and AsyncShardedRedisCache: what is not a behaviour test.

Their behaviour is tested in tests/_async/test_sharded.py (tests/_sync is generated from it).
"""
from __future__ import annotations

import inspect

from fastcache.redis import AsyncShardedRedisCache, ShardedRedisCache


def test_same_methods_sync_and_async():
    public = lambda cls: {n for n in dir(cls) if not n.startswith("_")}  # noqa: E731
    assert public(ShardedRedisCache) == public(AsyncShardedRedisCache)
    for name in ("get", "get_many", "set", "set_many", "delete", "clear", "invalidate_tag", "remove_node",
                 "close", "exists"):
        assert inspect.iscoroutinefunction(getattr(AsyncShardedRedisCache, name)), name
        assert not inspect.iscoroutinefunction(getattr(ShardedRedisCache, name)), name
    assert hasattr(ShardedRedisCache, "__contains__") and not hasattr(AsyncShardedRedisCache, "__contains__")
