"""Flask-Caching backends on fastcache: ``CACHE_TYPE = "fastcache.flask.TieredCache"``.

Three backends, chosen by ``CACHE_TYPE``:

- ``fastcache.flask.LocalCache``: in process, on a compiled cache (``CACHE_OPTIONS``:
  ``{"policy": "lru" | "lfu" | "fifo" | "adaptive"}``; ``CACHE_THRESHOLD`` is its maxsize).
- ``fastcache.flask.RedisCache``: Redis at ``CACHE_REDIS_URL`` through fastcache's
  ``RedisCache``.
- ``fastcache.flask.TieredCache``: an in-process L1 plus that Redis as L2, with
  cross-process invalidation: every process sees a write at once (``CACHE_OPTIONS``
  ``{"coherence": "tracking"}``: also writes by any other client, see ``fastcache.tiered``).

Values are Python objects (views return responses), so the Redis backends pickle them
**signed with HMAC** (the key is derived from the app's ``SECRET_KEY``): a payload that
is not signed with it is a miss and a log line, never unpickled.  ``CACHE_KEY_PREFIX``
prefixes every key; ``CACHE_DEFAULT_TIMEOUT`` is the default TTL (0: never expires).
The local and tiered backends register their cache with :mod:`fastcache.metrics` under
``CACHE_OPTIONS["name"]`` (default ``"flask"``).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import threading
from typing import Any, Optional, Union

from flask_caching.backends.base import BaseCache

from . import metrics
from ._impl import AdaptiveCache, FIFOCache, LFUCache, LRUCache

__all__ = ("LocalCache", "RedisCache", "TieredCache")

_MISSING: Any = object()
_POLICIES = {"lru": LRUCache, "lfu": LFUCache, "fifo": FIFOCache, "adaptive": AdaptiveCache}


def _local(maxsize: int, policy: str) -> Any:
    try:
        return _POLICIES[policy](maxsize)
    except KeyError:
        raise ValueError(f"unknown policy {policy!r}; expected one of {', '.join(_POLICIES)}") from None


def _signing_key(config: dict[str, Any]) -> bytes:
    secret = config.get("SECRET_KEY")
    if not secret:
        raise RuntimeError("fastcache's Redis backends sign what they pickle with a key derived from "
                           "SECRET_KEY: set app.config['SECRET_KEY']")
    raw = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
    return hashlib.sha256(b"fastcache.flask:" + raw).digest()


def _our_options(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Take fastcache's own CACHE_OPTIONS out of the constructor arguments Flask-Caching
    built (it merges CACHE_OPTIONS into them)."""
    return {k: kwargs.pop(k) for k in ("policy", "name", "l1_ttl", "coherence") if k in kwargs}


class _FastcacheBackend(BaseCache):
    """The Flask-Caching API over one fastcache cache (``self.cache``)."""

    def __init__(self, cache: Any, default_timeout: int = 300, key_prefix: str = "",
                 ignore_delete_many_errors: bool = False) -> None:
        super().__init__(default_timeout=default_timeout, ignore_delete_many_errors=ignore_delete_many_errors)
        self.cache = cache
        self.key_prefix = key_prefix
        self._lock = threading.Lock()        # inc/dec: read-modify-write in this process

    def _key(self, key: str) -> str:
        return self.key_prefix + key

    def _ttl(self, timeout: Union[int, dt.timedelta, None]) -> Optional[float]:
        """Flask-Caching's timeout: None the default, 0 never expires; seconds (> 0) else."""
        seconds = self._normalize_timeout(timeout)
        return None if seconds == 0 else float(seconds)

    def get(self, key: str) -> Any:
        value = self.cache.get(self._key(key), _MISSING)
        return None if value is _MISSING else value

    def set(self, key: str, value: Any, timeout: Union[int, dt.timedelta, None] = None) -> bool:
        ttl = self._ttl(timeout)
        if ttl is not None and ttl < 0:
            self.delete(key)                 # already expired
            return True
        self.cache.set(self._key(key), value, ttl=ttl)
        return True

    def add(self, key: str, value: Any, timeout: Union[int, dt.timedelta, None] = None) -> bool:
        if self.has(key):
            return False
        return self.set(key, value, timeout)

    def delete(self, key: str) -> bool:
        return bool(self._delete(self._key(key)))

    def _delete(self, key: str) -> bool:
        return self.cache.pop(key, _MISSING) is not _MISSING

    def has(self, key: str) -> bool:
        return self.cache.get(self._key(key), _MISSING) is not _MISSING

    def get_many(self, *keys: str) -> list[Any]:
        return [self.get(k) for k in keys]

    def set_many(self, mapping: dict[str, Any], timeout: Union[int, dt.timedelta, None] = None) -> list[Any]:
        return [k for k, v in mapping.items() if self.set(k, v, timeout)]

    def clear(self) -> bool:
        self.cache.clear()
        return True

    def inc(self, key: str, delta: int = 1) -> Optional[int]:
        with self._lock:
            value = (self.get(key) or 0) + delta
            self.set(key, value)
            return int(value)

    def dec(self, key: str, delta: int = 1) -> Optional[int]:
        return self.inc(key, -delta)


class LocalCache(_FastcacheBackend):
    """An in-process backend on a compiled cache (the policy from ``CACHE_OPTIONS``)."""

    @classmethod
    def factory(cls, app: Any, config: dict[str, Any], args: list[Any], kwargs: dict[str, Any]) -> "LocalCache":
        options = _our_options(kwargs)
        cache = _local(int(config.get("CACHE_THRESHOLD", 10_000)), options.get("policy", "lru"))
        metrics.register(cache, name=options.get("name", "flask"))
        return cls(cache, key_prefix=config.get("CACHE_KEY_PREFIX") or "", **kwargs)


class RedisCache(_FastcacheBackend):
    """Redis (``CACHE_REDIS_URL``) through fastcache's ``RedisCache``, values pickled and signed."""

    def _delete(self, key: str) -> bool:
        return bool(self.cache.delete(key))

    @classmethod
    def factory(cls, app: Any, config: dict[str, Any], args: list[Any], kwargs: dict[str, Any]) -> "RedisCache":
        from .redis import RedisCache as Redis
        from .serializers import PickleSerializer
        _our_options(kwargs)
        prefix = "fastcache-flask:" + (config.get("CACHE_KEY_PREFIX") or "")
        cache = Redis(config.get("CACHE_REDIS_URL", "redis://localhost:6379/0"), prefix=prefix,
                      serializer=PickleSerializer(_signing_key(config)))
        return cls(cache, **kwargs)          # (a RedisCache keeps no statistics of its own)


class TieredCache(_FastcacheBackend):
    """An in-process L1 plus Redis as L2 (``CACHE_REDIS_URL``), kept coherent across processes."""

    def _delete(self, key: str) -> bool:
        return bool(self.cache.delete(key))

    @classmethod
    def factory(cls, app: Any, config: dict[str, Any], args: list[Any], kwargs: dict[str, Any]) -> "TieredCache":
        from .redis import RedisCache as Redis
        from .serializers import PickleSerializer
        from .tiered import TieredCache as Tiered
        options = _our_options(kwargs)
        prefix = "fastcache-flask:" + (config.get("CACHE_KEY_PREFIX") or "")
        l2 = Redis(config.get("CACHE_REDIS_URL", "redis://localhost:6379/0"), prefix=prefix,
                   serializer=PickleSerializer(_signing_key(config)))
        tiered = Tiered(_local(int(config.get("CACHE_THRESHOLD", 10_000)), options.get("policy", "lru")), l2,
                        l1_ttl=options.get("l1_ttl"), coherence=options.get("coherence", "pubsub"))
        metrics.register(tiered, name=options.get("name", "flask"))
        return cls(tiered, **kwargs)
