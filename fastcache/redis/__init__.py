"""Redis as a cache tier: ``RedisCache`` (sync), ``AsyncRedisCache`` (asyncio),
``ShardedRedisCache``/``AsyncShardedRedisCache`` (several nodes, consistent hashing).

Needs redis-py: ``pip install 'fastcache[redis]'`` (``[hiredis]`` for the C parser).
"""
from __future__ import annotations

from ..serializers import BytesSerializer, JSONSerializer, PickleSerializer, SerializationError, Serializer
from ._common import DEFAULT
from .cache import AsyncRedisCache, RedisCache
from .sharded import AsyncShardedRedisCache, NodeUnavailable, ShardedRedisCache

__all__ = ("RedisCache", "AsyncRedisCache", "ShardedRedisCache", "AsyncShardedRedisCache", "NodeUnavailable", "DEFAULT",
           "Serializer", "JSONSerializer", "PickleSerializer", "BytesSerializer", "SerializationError")
