"""The exceptions the tiers agree on.

``L2_ERRORS`` is what ``TieredCache`` counts as an L2 failure (a miss on
reads, the breaker's input) and what ``ShardedRedisCache`` treats as a node
being down: redis-py's errors when redis-py is installed, and the OS's
connection errors and timeouts always.  :class:`PartialOutage` marks a
failure of part of the tier (one shard): the tiered cache counts it but its
circuit breaker does not trip on it.  Both live below the layers that raise
and catch them, so neither imports the other.
"""
from __future__ import annotations

__all__ = ("L2_ERRORS", "PartialOutage")

try:
    import redis as _redis
    L2_ERRORS: tuple[type[BaseException], ...] = (_redis.RedisError, OSError, TimeoutError)
except ImportError:                     # pragma: no cover - redis is optional
    L2_ERRORS = (OSError, TimeoutError)


class PartialOutage(Exception):
    """Only part of the L2 tier failed (one node of a sharded L2); the rest serves."""
