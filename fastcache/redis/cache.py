"""A cache in Redis: ``RedisCache`` (sync) and ``AsyncRedisCache`` (asyncio).

Both have the same methods; the async ones are coroutines.  Every key is
stored under ``prefix + key``; values go through a serializer (JSON by
default, see :mod:`fastcache.serializers`).  A value that does not decode,
or a key holding another Redis type, reads as a miss and logs a warning.
Connection failures and timeouts are raised (as redis-py's exceptions):
``TieredCache`` and ``ShardedRedisCache`` are the layers that turn them
into misses.

Multi-key calls cost one round trip: ``get_many`` is one ``MGET`` (on a
cluster, one ``MGET`` per hash slot, sent as one pipeline that redis-py
splits per node, so one round trip per node); ``set_many``/``delete_many``
are one pipeline.  (redis-py refuses ``pipe.mget`` in cluster mode because
it cannot know the keys share a slot; we group by slot first, so we send
the raw command.)

Where the code lives: :mod:`._base` holds what does no I/O (keys, payloads,
reply decoding); :mod:`._async_cache` is the one hand-written source of the
methods, and :mod:`._sync_cache` is generated from it by
``scripts/unasync.py`` (CI fails if it is out of date).
"""
from __future__ import annotations

from ._async_cache import AsyncRedisCache
from ._base import describe
from ._common import DEFAULT
from ._sync_cache import RedisCache

__all__ = ("RedisCache", "AsyncRedisCache", "DEFAULT", "describe")
