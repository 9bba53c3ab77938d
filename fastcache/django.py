"""Django cache backends on fastcache (Django >= 4.2)::

    CACHES = {
        "default": {"BACKEND": "fastcache.django.TieredCache", "LOCATION": "redis://localhost:6379/0"},
        "local": {"BACKEND": "fastcache.django.LocalCache", "OPTIONS": {"POLICY": "adaptive", "MAX_ENTRIES": 10_000}},
        "redis": {"BACKEND": "fastcache.django.RedisCache", "LOCATION": ["redis://a:6379", "redis://b:6379"]},
    }

- :class:`LocalCache`: in process, on a compiled cache: the drop-in for ``LocMemCache``.
  ``OPTIONS["POLICY"]`` is ``lru`` (default), ``lfu``, ``fifo`` or ``adaptive``;
  ``MAX_ENTRIES`` is the maxsize (default 300, as LocMemCache).  One store per ``LOCATION``,
  shared by every backend instance of the process.  Values are pickled, as LocMemCache does,
  so a caller mutating what it stored or read never changes the cache.
- :class:`RedisCache`: Redis through fastcache's ``RedisCache``: ``LOCATION`` one URL, a list
  of URLs (a sharded ring), or a URL with ``OPTIONS={"CLUSTER": True}``.  Integers are stored
  as Redis integers (``incr``/``decr`` are atomic, one script); everything else is pickled and
  **signed with HMAC** under a key derived from ``SECRET_KEY`` (``SECRET_KEY_FALLBACKS``
  still verify, for rotation): an unsigned or forged payload is a miss and a log line, never
  unpickled.
- :class:`TieredCache`: an in-process L1 plus that Redis as L2, with cross-process
  invalidation: every Django process sees a write at once.  ``OPTIONS``: ``POLICY``,
  ``MAX_ENTRIES`` (the L1's), ``L1_TTL``, ``COHERENCE`` (``"pubsub"``, or ``"tracking"``:
  Redis reports writes by any client, see ``fastcache.tiered``).

Redis keys are Django's keys under ``OPTIONS["NAMESPACE"]`` (default ``"django:"``), so
``clear()`` deletes this namespace's keys only (Django's own RedisCache runs FLUSHDB).
``TIMEOUT`` semantics are Django's: ``None`` never expires, ``0`` or negative expires at
once (``set`` deletes; ``add`` reports whether the key was absent).  Beyond ``BaseCache``:
``get_or_set`` runs the default's callable once per key in the process however many
threads miss at once (single-flight), and the Redis-backed caches have ``invalidate_tag``
(``set(..., tags=[...])`` through ``set_tagged``) and ``lock(name)``, a lock across processes.
The local and tiered backends register their cache with :mod:`fastcache.metrics` under
``OPTIONS["NAME"]``, else their alias in ``CACHES``, else ``"django"``.
"""
from __future__ import annotations

import hashlib
import pickle
import re
import threading
from typing import Any, Iterable, Optional

from django.conf import settings
from django.core.cache.backends.base import DEFAULT_TIMEOUT, BaseCache

from . import metrics
from ._impl import AdaptiveCache, FIFOCache, LFUCache, LRUCache
from .serializers import PickleSerializer, SerializationError
from .singleflight import SingleFlight

__all__ = ("LocalCache", "RedisCache", "TieredCache")

_MISSING: Any = object()
_POLICIES = {"lru": LRUCache, "lfu": LFUCache, "fifo": FIFOCache, "adaptive": AdaptiveCache}
_INT = re.compile(rb"-?[0-9]+")
_INCR = """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
return redis.call('INCRBY', KEYS[1], ARGV[1])
"""


def _policy(options: dict[str, Any], default_maxsize: int) -> Any:
    name = str(options.get("POLICY", "lru")).lower()
    try:
        cls = _POLICIES[name]
    except KeyError:
        raise ValueError(f"unknown POLICY {name!r}; expected one of {', '.join(_POLICIES)}") from None
    return cls(int(options.get("MAX_ENTRIES", default_maxsize)))


# One flight for the process: Django builds a backend instance per thread (and per async
# context), so a flight per instance would not keep two threads from loading one key.
_flight = SingleFlight()


class _Backend(BaseCache):
    """What the three backends share: Django's timeouts as fastcache TTLs, single-flight get_or_set."""

    def __init__(self, location: Any, params: dict[str, Any]) -> None:
        super().__init__(params)
        self._options = dict(params.get("OPTIONS") or {})
        self._flight_scope = (type(self).__qualname__, repr(location))   # one flight key is within it

    def _ttl(self, timeout: Any) -> Optional[float]:
        """None: never expires; <= 0: expired already; else seconds."""
        if timeout is DEFAULT_TIMEOUT:
            timeout = self.default_timeout
        return None if timeout is None else float(timeout)

    def _register(self, cache: Any, location: Any) -> None:
        """Name the cache for fastcache.metrics: OPTIONS["NAME"], else its alias in CACHES
        (Django does not pass the alias: the one entry with this backend, LOCATION and
        OPTIONS), else "django"."""
        name = self._options.get("NAME")
        if name is None:
            path = f"{type(self).__module__}.{type(self).__qualname__}"
            aliases = [alias for alias, conf in getattr(settings, "CACHES", {}).items()
                       if conf.get("BACKEND") == path and conf.get("LOCATION", "") == location
                       and dict(conf.get("OPTIONS") or {}) == self._options]
            name = aliases[0] if len(aliases) == 1 else "django"
        metrics.register(cache, name=str(name))

    def get_or_set(self, key: Any, default: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None) -> Any:
        """The value of key; on a miss, ``default`` (called once per key across this process's
        threads if callable) is added and returned."""
        val = self.get(key, _MISSING, version=version)
        if val is not _MISSING:
            return val

        def load() -> Any:
            current = self.get(key, _MISSING, version=version)
            if current is not _MISSING:
                return current
            value = default() if callable(default) else default
            self.add(key, value, timeout=timeout, version=version)
            return self.get(key, value, version=version)
        return _flight.do((self._flight_scope, self.make_and_validate_key(key, version=version)), load)[0]


# -- in process ------------------------------------------------------------------------

_stores: dict[str, tuple[Any, threading.RLock]] = {}
_stores_lock = threading.Lock()


class LocalCache(_Backend):
    """The drop-in for ``LocMemCache`` on a compiled cache (see the module docstring)."""

    def __init__(self, location: str, params: dict[str, Any]) -> None:
        super().__init__(location, params)
        with _stores_lock:
            if location not in _stores:
                _stores[location] = (_policy(self._options, 300), threading.RLock())
            self._cache, self._lock = _stores[location]
        self._register(self._cache, location)

    def _store(self, key: str, value: Any, ttl: Optional[float]) -> None:
        data = pickle.dumps(value, pickle.HIGHEST_PROTOCOL)
        if ttl is not None and ttl <= 0:
            self._cache.pop(key, None)
        else:
            self._cache.set(key, data, ttl=ttl)

    def _load(self, data: Any, default: Any) -> Any:
        return default if data is _MISSING else pickle.loads(data)

    def add(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None) -> bool:
        key = self.make_and_validate_key(key, version=version)
        with self._lock:
            if key in self._cache:
                return False
            self._store(key, value, self._ttl(timeout))
            return True

    def get(self, key: Any, default: Any = None, version: Any = None) -> Any:
        key = self.make_and_validate_key(key, version=version)
        return self._load(self._cache.get(key, _MISSING), default)

    def set(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None) -> None:
        key = self.make_and_validate_key(key, version=version)
        self._store(key, value, self._ttl(timeout))

    def touch(self, key: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None) -> bool:
        key = self.make_and_validate_key(key, version=version)
        with self._lock:
            data = self._cache.peek(key, _MISSING)
            if data is _MISSING:
                return False
            ttl = self._ttl(timeout)
            if ttl is not None and ttl <= 0:
                self._cache.pop(key, None)
            else:
                self._cache.set(key, data, ttl=ttl)
            return True

    def delete(self, key: Any, version: Any = None) -> bool:
        key = self.make_and_validate_key(key, version=version)
        return self._cache.pop(key, _MISSING) is not _MISSING

    def has_key(self, key: Any, version: Any = None) -> bool:
        return self.make_and_validate_key(key, version=version) in self._cache

    def incr(self, key: Any, delta: int = 1, version: Any = None) -> Any:
        made = self.make_and_validate_key(key, version=version)
        with self._lock:                     # atomic within the process, as LocMemCache
            data = self._cache.get(made, _MISSING)
            if data is _MISSING:
                raise ValueError(f"Key '{key}' not found")
            value = pickle.loads(data) + delta
            self._cache._store_until(made, pickle.dumps(value, pickle.HIGHEST_PROTOCOL),
                                     self._cache.expires_at(made))        # the same deadline
            return value

    def clear(self) -> None:
        self._cache.clear()


# -- Redis -------------------------------------------------------------------------------

class _DjangoSerializer:
    """Integers as Redis integers (so INCRBY works on them); anything else pickled and signed."""

    def __init__(self) -> None:
        def derive(secret: Any) -> bytes:
            raw = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
            return hashlib.sha256(b"fastcache.django:" + raw).digest()
        if not settings.SECRET_KEY:
            raise RuntimeError("fastcache's Redis backends sign what they pickle with a key derived from "
                               "SECRET_KEY: set it")
        fallbacks = getattr(settings, "SECRET_KEY_FALLBACKS", ()) or ()
        self._signed = PickleSerializer(derive(settings.SECRET_KEY), old_secrets=[derive(s) for s in fallbacks])

    def dumps(self, value: Any) -> bytes:
        if type(value) is int:
            return b"%d" % value
        try:
            return self._signed.dumps(value)
        except SerializationError as exc:
            if exc.__cause__ is not None:        # pickle's own error, as Django's backends raise it
                raise exc.__cause__ from None
            raise

    @staticmethod
    def bare(value: Any) -> bool:
        """Integers are stored without fastcache's expiry header, as Redis integers."""
        return type(value) is int

    def loads(self, data: bytes) -> Any:
        if _INT.fullmatch(data):
            return int(data)
        return self._signed.loads(data)


def _redis_l2(location: Any, options: dict[str, Any]) -> Any:
    from .redis import RedisCache as Redis
    from .redis import ShardedRedisCache
    serializer = _DjangoSerializer()
    prefix = str(options.get("NAMESPACE", "django:"))
    if isinstance(location, (list, tuple)):
        urls = list(location)
        if len(urls) > 1:
            return ShardedRedisCache(urls, prefix=prefix, serializer=serializer)
        location = urls[0]
    if isinstance(location, str) and "," in location:
        return ShardedRedisCache([u.strip() for u in location.split(",")], prefix=prefix, serializer=serializer)
    return Redis(location or "redis://localhost:6379/0", prefix=prefix, serializer=serializer,
                 cluster=bool(options.get("CLUSTER", options.get("cluster", False))))


class RedisCache(_Backend):
    """Redis through fastcache's ``RedisCache`` (see the module docstring)."""

    def __init__(self, location: Any, params: dict[str, Any]) -> None:
        super().__init__(location, params)
        self._cache = self._l2 = _redis_l2(location, self._options)

    def _redis_of(self, key: str) -> tuple[Any, bytes]:
        """(the client owning key, its Redis key) in L2."""
        cache = self._l2
        node_cache = getattr(cache, "node_cache", None)
        if node_cache is not None:
            cache = node_cache(cache.node_for(key))
        return cache.client, cache.redis_key(key)

    def add(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None) -> bool:
        key = self.make_and_validate_key(key, version=version)
        ttl = self._ttl(timeout)
        if ttl is not None and ttl <= 0:
            added = self._cache.add(key, value, ttl=None)
            if added:
                self._cache.delete(key)
            return bool(added)
        return bool(self._cache.add(key, value, ttl=ttl))

    def get(self, key: Any, default: Any = None, version: Any = None) -> Any:
        return self._cache.get(self.make_and_validate_key(key, version=version), default)

    def set(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None) -> None:
        key = self.make_and_validate_key(key, version=version)
        ttl = self._ttl(timeout)
        if ttl is not None and ttl <= 0:
            self._cache.delete(key)
        else:
            self._cache.set(key, value, ttl=ttl)

    def set_tagged(self, key: Any, value: Any, tags: Iterable[str], timeout: Any = DEFAULT_TIMEOUT,
                   version: Any = None) -> None:
        """``set`` with tags, for :meth:`invalidate_tag`."""
        key = self.make_and_validate_key(key, version=version)
        self._cache.set(key, value, ttl=self._ttl(timeout), tags=list(tags))

    def invalidate_tag(self, tag: str) -> int:
        """Delete every key set with tag; how many."""
        return len(self._cache.invalidate_tag(tag))

    def lock(self, name: str, timeout: Optional[float] = 10.0, blocking_timeout: Optional[float] = None,
             version: Any = None) -> Any:
        """A lock shared by every process on this Redis (redis-py's ``Lock``: ``with
        cache.lock("job"):``); ``timeout`` releases it if its holder dies."""
        client, rkey = self._redis_of(self.make_and_validate_key(f"lock:{name}", version=version))
        return client.lock(rkey, timeout=timeout, blocking_timeout=blocking_timeout)

    def touch(self, key: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None) -> bool:
        client, rkey = self._redis_of(self.make_and_validate_key(key, version=version))
        ttl = self._ttl(timeout)
        if ttl is None:
            return bool(client.persist(rkey)) or bool(client.exists(rkey))
        if ttl <= 0:
            return bool(client.delete(rkey))
        return bool(client.pexpire(rkey, max(1, int(ttl * 1000))))

    def delete(self, key: Any, version: Any = None) -> bool:
        return bool(self._cache.delete(self.make_and_validate_key(key, version=version)))

    def has_key(self, key: Any, version: Any = None) -> bool:
        return bool(self._cache.exists(self.make_and_validate_key(key, version=version)))

    def get_many(self, keys: Iterable[Any], version: Any = None) -> dict[Any, Any]:
        made = {self.make_and_validate_key(k, version=version): k for k in keys}
        found = self._cache.get_many(list(made))
        return {made[k]: v for k, v in found.items()}

    def set_many(self, data: dict[Any, Any], timeout: Any = DEFAULT_TIMEOUT, version: Any = None) -> list[Any]:
        ttl = self._ttl(timeout)
        made = {self.make_and_validate_key(k, version=version): v for k, v in data.items()}
        if ttl is not None and ttl <= 0:
            self._cache.delete_many(list(made))
        else:
            self._cache.set_many(made, ttl=ttl)
        return []

    def delete_many(self, keys: Iterable[Any], version: Any = None) -> None:
        self._cache.delete_many([self.make_and_validate_key(k, version=version) for k in keys])

    def incr(self, key: Any, delta: int = 1, version: Any = None) -> Any:
        client, rkey = self._redis_of(self.make_and_validate_key(key, version=version))
        value = client.eval(_INCR, 1, rkey, delta)
        if value is None:
            raise ValueError(f"Key '{key}' not found")
        return int(value)

    def clear(self) -> None:
        self._cache.clear()

    def close(self, **kwargs: Any) -> None:
        """Connections stay pooled across requests (Django calls this after each one)."""


class _Frozen(bytes):
    """A mutable value, pickled: the L1 keeps this, so a caller mutating what it stored or
    read never changes the cache (as with Django's own backends)."""


_IMMUTABLE = (int, float, str, bytes, bool, type(None))


def _freeze(value: Any) -> Any:
    return value if type(value) in _IMMUTABLE else _Frozen(pickle.dumps(value, pickle.HIGHEST_PROTOCOL))


def _thaw(value: Any) -> Any:
    return pickle.loads(value) if type(value) is _Frozen else value


class TieredCache(RedisCache):
    """An in-process L1 plus Redis as L2, coherent across processes (see the module docstring).

    Immutable values (int, float, str, bytes, bool, None) are kept as they are; any other is
    kept pickled and unpickled on each read, so callers get copies, as from LocMemCache."""

    def get(self, key: Any, default: Any = None, version: Any = None) -> Any:
        return _thaw(super().get(key, default, version))

    def set(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None) -> None:
        super().set(key, _freeze(value), timeout, version)

    def set_tagged(self, key: Any, value: Any, tags: Iterable[str], timeout: Any = DEFAULT_TIMEOUT,
                   version: Any = None) -> None:
        super().set_tagged(key, _freeze(value), tags, timeout, version)

    def get_many(self, keys: Iterable[Any], version: Any = None) -> dict[Any, Any]:
        return {k: _thaw(v) for k, v in super().get_many(keys, version).items()}

    def set_many(self, data: dict[Any, Any], timeout: Any = DEFAULT_TIMEOUT, version: Any = None) -> list[Any]:
        return super().set_many({k: _freeze(v) for k, v in data.items()}, timeout, version)

    def __init__(self, location: Any, params: dict[str, Any]) -> None:
        _Backend.__init__(self, location, params)
        from .tiered import TieredCache as Tiered
        self._l2 = _redis_l2(location, self._options)
        self._cache = Tiered(_policy(self._options, 10_000), self._l2, l1_ttl=self._options.get("L1_TTL"),
                             coherence=self._options.get("COHERENCE", "pubsub"))
        self._register(self._cache, location)

    def add(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None) -> bool:
        made = self.make_and_validate_key(key, version=version)
        ttl = self._ttl(timeout)
        added = bool(self._l2.add(made, _freeze(value), ttl=None if ttl is not None and ttl <= 0 else ttl))
        if added and ttl is not None and ttl <= 0:
            self._l2.delete(made)
        self._cache.invalidate_local(made)   # another process's value, or none: L1 must not guess
        return added

    def touch(self, key: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None) -> bool:
        touched = super().touch(key, timeout, version)
        self._cache.invalidate_local(self.make_and_validate_key(key, version=version))
        return touched

    def has_key(self, key: Any, version: Any = None) -> bool:
        return self.get(key, _MISSING, version=version) is not _MISSING

    def incr(self, key: Any, delta: int = 1, version: Any = None) -> Any:
        value = super().incr(key, delta, version)
        self._cache.invalidate(self.make_and_validate_key(key, version=version))   # every L1
        return value
