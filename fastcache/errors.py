"""The exceptions the tiers treat as "L2 could not answer".

``L2_ERRORS`` is what ``TieredCache`` counts as an L2 failure (a miss on
reads, the breaker's input) and what ``ShardedRedisCache`` treats as a node
being down: redis-py's errors when redis-py is installed, and the OS's
connection errors and timeouts always.  It lives below both layers, so
neither imports the other for it.
"""
from __future__ import annotations

__all__ = ("L2_ERRORS",)

try:
    import redis as _redis
    L2_ERRORS: tuple[type[BaseException], ...] = (_redis.RedisError, OSError, TimeoutError)
except ImportError:                     # pragma: no cover - redis is optional
    L2_ERRORS = (OSError, TimeoutError)
