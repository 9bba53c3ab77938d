"""Client-side sharding over independent Redis nodes, routed by ``HashRing``.

``ShardedRedisCache(["redis://a:6379", "redis://b:6379", "redis://c:6379"])``
places each key on one node by ketama consistent hashing, so adding an
N+1-th node moves about 1/(N+1) of the keys.  Multi-key calls are split
per node and sent as one pipeline per node, all nodes at once (a thread
per node, or a task per node in the asyncio cache).

A node that fails (connection refused, timeout) is marked down: its keys
read as misses and writes to them raise ``NodeUnavailable``, while the
other nodes keep serving.  It is retried after a back-off (doubling from
``retry_delay`` up to ``max_retry_delay``) and rejoins as soon as it
answers.  Keys are not re-routed while a node is down: moving them would
serve stale copies when it came back.

Where the code lives: :mod:`._sharded_base` (ring, nodes, health, routing and
the two fan-out drivers), :mod:`._async_sharded` (the methods, written once)
and :mod:`._sync_sharded` (generated from it by ``scripts/unasync.py``).
"""
from __future__ import annotations

from ._async_sharded import AsyncShardedRedisCache
from ._sharded_base import NodeUnavailable, node_name
from ._sync_sharded import ShardedRedisCache

__all__ = ("ShardedRedisCache", "AsyncShardedRedisCache", "NodeUnavailable", "node_name")
