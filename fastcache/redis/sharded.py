"""Client-side sharding over independent Redis nodes, routed by ``HashRing``.

``ShardedRedisCache(["redis://a:6379", "redis://b:6379", "redis://c:6379"])``
places each key on one node by ketama consistent hashing, so adding an
N+1-th node moves about 1/(N+1) of the keys.  Multi-key calls are split
per node and sent as one pipeline per node, all nodes at once (a thread
per node).

A node that fails (connection refused, timeout) is marked down: its keys
read as misses and writes to them raise ``NodeUnavailable``, while the
other nodes keep serving.  It is retried after a back-off (doubling from
``retry_delay`` up to ``max_retry_delay``) and rejoins as soon as it
answers.  Keys are not re-routed while a node is down: moving them would
serve stale copies when it came back.
"""
from __future__ import annotations

import asyncio
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Awaitable, Callable, Iterable, Mapping, Optional, Sequence, Union
from urllib.parse import urlsplit

import redis

from .._impl import HashRing
from ..tiered import L2_ERRORS
from ..serializers import Serializer
from ._common import DEFAULT, AsyncGetOrLoad, GetOrLoad, Key, check_ttl, key_to_bytes, unique
from .cache import AsyncRedisCache, RedisCache

__all__ = ("ShardedRedisCache", "AsyncShardedRedisCache", "NodeUnavailable")

log = logging.getLogger("fastcache.redis")

_FAILURES = (redis.ConnectionError, redis.TimeoutError, OSError, TimeoutError)


class NodeUnavailable(redis.ConnectionError):
    """The node that owns a key is down (or backing off); the write did not happen."""

    #: Only part of the tier is down: a TieredCache's circuit breaker ignores it.
    partial = True


def node_name(target: Any) -> str:
    """A ring name for a URL or client: ``host:port`` (or the socket path)."""
    if isinstance(target, str):
        parts = urlsplit(target)
        if parts.scheme == "unix":
            return parts.path
        return f"{parts.hostname or 'localhost'}:{parts.port or 6379}"
    kwargs = getattr(getattr(target, "connection_pool", None), "connection_kwargs", {})
    if "path" in kwargs:
        return str(kwargs["path"])
    return f"{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}"


class _Node:
    """One shard: its cache and its health."""

    def __init__(self, name: str, cache: Any, retry_delay: float, max_retry_delay: float) -> None:
        self.name = name
        self.cache = cache
        self.retry_delay = retry_delay
        self.max_retry_delay = max_retry_delay
        self.down_until = 0.0
        self.delay = 0.0
        self.failures = 0
        self.lock = threading.Lock()

    def available(self, now: float) -> bool:
        return self.delay == 0.0 or now >= self.down_until

    def succeeded(self) -> None:
        if self.delay:
            with self.lock:
                if self.delay:
                    log.warning("Redis node %s is answering again; it rejoins", self.name)
                self.delay = 0.0
                self.down_until = 0.0

    def failed(self, exc: BaseException, now: float) -> None:
        with self.lock:
            self.failures += 1
            if not self.delay:
                log.warning("Redis node %s failed (%s: %s); its keys are misses until it answers",
                            self.name, type(exc).__name__, exc)
            self.delay = min(self.max_retry_delay, self.delay * 2) if self.delay else self.retry_delay
            self.down_until = now + self.delay


class _ShardedBase:
    """Ring, nodes and health shared by the sync and async sharded caches."""

    _cache_class: Any = RedisCache

    def __init__(self, nodes: Union[Sequence[Any], Mapping[str, Any]], *, prefix: Union[str, bytes] = "",
                 ttl: Optional[float] = None, serializer: Optional[Serializer] = None,
                 weights: Optional[Mapping[str, int]] = None, retry_delay: float = 0.5,
                 max_retry_delay: float = 30.0, timer: Optional[Callable[[], float]] = None,
                 **connection_kwargs: Any) -> None:
        if isinstance(nodes, (str, bytes)):
            raise TypeError("nodes must be a list of URLs/clients or a mapping name -> URL/client")
        named = dict(nodes) if isinstance(nodes, Mapping) else {node_name(n): n for n in nodes}
        if len(named) != (len(nodes) if not isinstance(nodes, Mapping) else len(named)):
            raise ValueError("two nodes have the same name; name them with a mapping")
        if not named:
            raise ValueError(f"{type(self).__name__} needs at least one node")
        self.prefix = prefix.encode("utf-8") if isinstance(prefix, str) else prefix
        self.default_ttl = check_ttl(ttl)
        self._serializer = serializer
        self._connection_kwargs = connection_kwargs
        self._retry = (float(retry_delay), float(max_retry_delay))
        self._timer = timer or time.monotonic
        self._nodes: dict[str, _Node] = {}
        weights = dict(weights or {})
        self.ring = HashRing()
        for name, target in named.items():
            self.add_node(name, target, weight=weights.pop(name, 1))
        if weights:
            raise ValueError(f"weights for unknown nodes: {sorted(weights)}")
        self._pool: Optional[ThreadPoolExecutor] = None

    # -- nodes ------------------------------------------------------------------

    def add_node(self, name: str, target: Any = None, weight: int = 1) -> None:
        """Add a node (``target``: URL or client; default: ``redis://<name>``)."""
        if name in self._nodes:
            raise ValueError(f"node {name!r} is already in the ring")
        target = f"redis://{name}" if target is None else target
        cache = self._cache_class(target, prefix=self.prefix, ttl=self.default_ttl, serializer=self._serializer,
                                  **(self._connection_kwargs if isinstance(target, str) else {}))
        self.ring.add_node(name, weight)
        self._nodes[name] = _Node(name, cache, *self._retry)

    def _detach(self, name: str) -> "_Node":
        node = self._nodes.pop(name)
        self.ring.remove_node(name)
        return node

    @property
    def nodes(self) -> tuple[str, ...]:
        """Node names in ring order of addition."""
        return self.ring.nodes

    def node_for(self, key: Key) -> str:
        """The node that owns key."""
        return self.ring.get_node(self.prefix + key_to_bytes(key))

    def node_cache(self, name: str) -> Any:
        """The RedisCache (AsyncRedisCache) of one node."""
        return self._nodes[name].cache

    def down_nodes(self) -> list[str]:
        """Nodes currently marked down."""
        return [n.name for n in self._nodes.values() if n.delay]

    def invalidation_clients(self, live: bool = False) -> list[Any]:
        """Every node's client (live=True: only the ones not marked down)."""
        now = self._timer()
        return [n.cache.client for n in self._nodes.values() if not live or n.available(now)]

    def invalidation_routes(self, keys: Optional[list[Key]]) -> list[tuple[Any, Optional[list[Key]]]]:
        """(client, keys) to publish invalidations on: each key on its owner node
        (listeners subscribe on every node); a flush (None) on every live node."""
        now = self._timer()
        if keys is None:
            return [(n.cache.client, None) for n in self._nodes.values() if n.available(now)]
        routes: list[tuple[Any, Optional[list[Key]]]] = []
        for name, group in self._split(keys).items():
            node = self._nodes[name]
            if node.available(now):
                routes.append((node.cache.client, group))
        return routes

    # -- routing ---------------------------------------------------------------

    def _node(self, key: Key) -> _Node:
        return self._nodes[self.node_for(key)]

    def _split(self, keys: Iterable[Key]) -> dict[str, list[Key]]:
        groups: dict[str, list[Key]] = {}
        for k in unique(keys):
            groups.setdefault(self.node_for(k), []).append(k)
        return groups

    @staticmethod
    def _raise_first(results: Mapping[str, Any]) -> None:
        for r in results.values():
            if isinstance(r, BaseException):
                raise r

    def __repr__(self) -> str:
        return f"{type(self).__name__}({list(self._nodes)!r}, prefix={self.prefix!r})"


class ShardedRedisCache(_ShardedBase, GetOrLoad):
    """A cache spread over several Redis nodes by consistent hashing.

    ``nodes``: URLs or ``redis.Redis`` clients, or a mapping ``{name: url or
    client}`` (names are the ring labels; by default ``host:port``).
    ``weights`` optionally gives nodes more or less of the keyspace.  The
    other options are those of :class:`RedisCache`, applied to every node.
    """

    def remove_node(self, name: str) -> None:
        """Take a node out of the ring (its keys move to the others)."""
        self._detach(name).cache.close()

    def _call(self, node: _Node, fn: Callable[[RedisCache], Any]) -> Any:
        """fn(node cache), with node health bookkeeping; NodeUnavailable if down."""
        if not node.available(self._timer()):
            raise NodeUnavailable(f"Redis node {node.name} is down")
        try:
            result = fn(node.cache)
        except _FAILURES as exc:
            node.failed(exc, self._timer())
            raise NodeUnavailable(f"Redis node {node.name} failed: {exc}") from exc
        node.succeeded()
        return result

    def _fan_out(self, groups: Mapping[str, Any], fn: Callable[[RedisCache, Any], Any]) -> dict[str, Any]:
        """fn per node, concurrently; {node: result or the exception}."""
        def one(name: str) -> Any:
            try:
                return self._call(self._nodes[name], lambda c: fn(c, groups[name]))
            except L2_ERRORS as exc:
                return exc
        if len(groups) == 1:
            name = next(iter(groups))
            return {name: one(name)}
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=min(32, max(2, len(self._nodes))),
                                            thread_name_prefix="fastcache-shard")
        futures = {name: self._pool.submit(one, name) for name in groups}
        return {name: f.result() for name, f in futures.items()}

    # -- the cache API -----------------------------------------------------------

    def get(self, key: Key, default: Any = None) -> Any:
        """The value, or default (also when its node is down)."""
        try:
            return self._call(self._node(key), lambda c: c.get(key, default))
        except NodeUnavailable:
            return default

    def get_with_ttl(self, key: Key) -> tuple[bool, Any, Optional[float]]:
        """(found, value, remaining seconds or None); a down node is a miss."""
        try:
            return self._call(self._node(key), lambda c: c.get_with_ttl(key))  # type: ignore[no-any-return]
        except NodeUnavailable:
            return False, None, None

    def get_many(self, keys: Iterable[Key]) -> dict[Key, Any]:
        """``{key: value}`` for keys found; one MGET per node, nodes in parallel."""
        out: dict[Key, Any] = {}
        for result in self._fan_out(self._split(keys), lambda c, ks: c.get_many(ks)).values():
            if not isinstance(result, BaseException):
                out.update(result)
        return out

    def get_many_with_ttl(self, keys: Iterable[Key]) -> dict[Key, tuple[Any, Optional[float]]]:
        """``{key: (value, remaining)}`` for keys found; one pipeline per node."""
        out: dict[Key, Any] = {}
        for result in self._fan_out(self._split(keys), lambda c, ks: c.get_many_with_ttl(ks)).values():
            if not isinstance(result, BaseException):
                out.update(result)
        return out

    def set(self, key: Key, value: Any, ttl: Any = DEFAULT, tags: Optional[Iterable[str]] = None) -> None:
        """Store on the key's node (its tag sets live there too); NodeUnavailable if it is down."""
        self._call(self._node(key), lambda c: c.set(key, value, ttl, tags))

    def invalidate_tag(self, tag: str) -> list[Key]:
        """Purge tag on every node; the keys removed.  A node that cannot be
        reached raises NodeUnavailable after the others are purged."""
        results = self._fan_out({n: None for n in self._nodes}, lambda c, _: c.invalidate_tag(tag))
        self._raise_first(results)
        return [k for r in results.values() for k in r]

    def add(self, key: Key, value: Any, ttl: Any = DEFAULT) -> bool:
        """SET NX on the key's node."""
        return bool(self._call(self._node(key), lambda c: c.add(key, value, ttl)))

    def set_many(self, mapping: Mapping[Key, Any], ttl: Any = DEFAULT) -> None:
        """Store items, one pipeline per node; raises the first node failure after trying all."""
        groups: dict[str, dict[Key, Any]] = {}
        for k, v in mapping.items():
            groups.setdefault(self.node_for(k), {})[k] = v
        self._raise_first(self._fan_out(groups, lambda c, items: c.set_many(items, ttl)))

    def delete(self, key: Key) -> bool:
        """Remove key from its node."""
        return bool(self._call(self._node(key), lambda c: c.delete(key)))

    def delete_many(self, keys: Iterable[Key]) -> int:
        """Remove keys, one pipeline per node; how many existed."""
        results = self._fan_out(self._split(keys), lambda c, ks: c.delete_many(ks))
        self._raise_first(results)
        return sum(int(r) for r in results.values())

    def ttl(self, key: Key) -> Optional[float]:
        """Seconds key has left (None: no expiry); KeyError if absent."""
        return self._call(self._node(key), lambda c: c.ttl(key))  # type: ignore[no-any-return]

    def clear(self) -> int:
        """Clear this prefix on every node; how many keys were removed."""
        results = self._fan_out({n: None for n in self._nodes}, lambda c, _: c.clear())
        self._raise_first(results)
        return sum(int(r) for r in results.values())

    def close(self) -> None:
        """Close every node's connections and the worker threads."""
        for node in self._nodes.values():
            node.cache.close()
        if self._pool is not None:
            self._pool.shutdown(wait=False)
            self._pool = None

    def __enter__(self) -> "ShardedRedisCache":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncShardedRedisCache(_ShardedBase, AsyncGetOrLoad):
    """:class:`ShardedRedisCache` for asyncio: the same methods as coroutines; multi-key
    calls run one pipeline per node, all nodes at once (``asyncio.gather``)."""

    _cache_class = AsyncRedisCache

    async def remove_node(self, name: str) -> None:
        """Take a node out of the ring (its keys move to the others)."""
        await self._detach(name).cache.close()

    async def _call(self, node: _Node, fn: Callable[[Any], Awaitable[Any]]) -> Any:
        """await fn(node cache), with node health bookkeeping; NodeUnavailable if down."""
        if not node.available(self._timer()):
            raise NodeUnavailable(f"Redis node {node.name} is down")
        try:
            result = await fn(node.cache)
        except _FAILURES as exc:
            node.failed(exc, self._timer())
            raise NodeUnavailable(f"Redis node {node.name} failed: {exc}") from exc
        node.succeeded()
        return result

    async def _fan_out(self, groups: Mapping[str, Any],
                       fn: Callable[[Any, Any], Awaitable[Any]]) -> dict[str, Any]:
        async def one(name: str) -> Any:
            try:
                return await self._call(self._nodes[name], lambda c: fn(c, groups[name]))
            except L2_ERRORS as exc:
                return exc
        names = list(groups)
        return dict(zip(names, await asyncio.gather(*(one(n) for n in names))))

    async def get(self, key: Key, default: Any = None) -> Any:
        """The value, or default (also when its node is down)."""
        try:
            return await self._call(self._node(key), lambda c: c.get(key, default))
        except NodeUnavailable:
            return default

    async def get_with_ttl(self, key: Key) -> tuple[bool, Any, Optional[float]]:
        """(found, value, remaining seconds or None); a down node is a miss."""
        try:
            return await self._call(self._node(key), lambda c: c.get_with_ttl(key))  # type: ignore[no-any-return]
        except NodeUnavailable:
            return False, None, None

    async def get_many(self, keys: Iterable[Key]) -> dict[Key, Any]:
        """``{key: value}`` for keys found; one MGET per node, nodes concurrently."""
        out: dict[Key, Any] = {}
        for result in (await self._fan_out(self._split(keys), lambda c, ks: c.get_many(ks))).values():
            if not isinstance(result, BaseException):
                out.update(result)
        return out

    async def get_many_with_ttl(self, keys: Iterable[Key]) -> dict[Key, tuple[Any, Optional[float]]]:
        """``{key: (value, remaining)}`` for keys found; one pipeline per node."""
        out: dict[Key, Any] = {}
        for result in (await self._fan_out(self._split(keys),
                                           lambda c, ks: c.get_many_with_ttl(ks))).values():
            if not isinstance(result, BaseException):
                out.update(result)
        return out

    async def set(self, key: Key, value: Any, ttl: Any = DEFAULT, tags: Optional[Iterable[str]] = None) -> None:
        """Store on the key's node (its tag sets live there too); NodeUnavailable if it is down."""
        await self._call(self._node(key), lambda c: c.set(key, value, ttl, tags))

    async def invalidate_tag(self, tag: str) -> list[Key]:
        """Purge tag on every node; the keys removed (NodeUnavailable after the others if one is down)."""
        results = await self._fan_out({n: None for n in self._nodes}, lambda c, _: c.invalidate_tag(tag))
        self._raise_first(results)
        return [k for r in results.values() for k in r]

    async def add(self, key: Key, value: Any, ttl: Any = DEFAULT) -> bool:
        """SET NX on the key's node."""
        return bool(await self._call(self._node(key), lambda c: c.add(key, value, ttl)))

    async def set_many(self, mapping: Mapping[Key, Any], ttl: Any = DEFAULT) -> None:
        """Store items, one pipeline per node; raises the first node failure after trying all."""
        groups: dict[str, dict[Key, Any]] = {}
        for k, v in mapping.items():
            groups.setdefault(self.node_for(k), {})[k] = v
        self._raise_first(await self._fan_out(groups, lambda c, items: c.set_many(items, ttl)))

    async def delete(self, key: Key) -> bool:
        """Remove key from its node."""
        return bool(await self._call(self._node(key), lambda c: c.delete(key)))

    async def delete_many(self, keys: Iterable[Key]) -> int:
        """Remove keys, one pipeline per node; how many existed."""
        results = await self._fan_out(self._split(keys), lambda c, ks: c.delete_many(ks))
        self._raise_first(results)
        return sum(int(r) for r in results.values())

    async def ttl(self, key: Key) -> Optional[float]:
        """Seconds key has left (None: no expiry); KeyError if absent."""
        return await self._call(self._node(key), lambda c: c.ttl(key))  # type: ignore[no-any-return]

    async def clear(self) -> int:
        """Clear this prefix on every node; how many keys were removed."""
        results = await self._fan_out({n: None for n in self._nodes}, lambda c, _: c.clear())
        self._raise_first(results)
        return sum(int(r) for r in results.values())

    async def close(self) -> None:
        """Close every node's connections."""
        for node in self._nodes.values():
            await node.cache.close()

    async def __aenter__(self) -> "AsyncShardedRedisCache":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
