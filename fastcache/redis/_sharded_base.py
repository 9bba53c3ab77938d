"""What the sync and asyncio sharded caches share: ring, nodes, health, routing,
and the two fan-out drivers (threads vs tasks: the one place the modes differ)."""
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
from ..breaker import Admission
from ..errors import PartialOutage
from ..serializers import Serializer
from ._common import Key, check_ttl, key_to_bytes, unique

log = logging.getLogger("fastcache.redis")

_FAILURES = (redis.ConnectionError, redis.TimeoutError, OSError, TimeoutError)


class NodeUnavailable(redis.ConnectionError, PartialOutage):
    """The node that owns a key is down (or backing off); the write did not happen.

    Only part of the tier is down (a :class:`~fastcache.errors.PartialOutage`):
    a TieredCache's circuit breaker does not trip on it."""


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
    """One shard: its cache and its health.

    Down after a failure, for ``delay`` seconds; then one call probes it (the others
    still see it down) and the delay doubles only when that probe fails, once per
    round.  Calls admitted before the node went down fail late; those failures change
    nothing, so concurrency cannot multiply the back-off (eight threads failing at once
    used to push 0.5 s to 30 s).
    """

    def __init__(self, name: str, cache: Any, retry_delay: float, max_retry_delay: float) -> None:
        self.name = name
        self.cache = cache
        self.retry_delay = retry_delay
        self.max_retry_delay = max_retry_delay
        self.down_until = 0.0
        self.delay = 0.0
        self.failures = 0
        self.probing = False
        self.lock = threading.Lock()

    def available(self, now: float) -> bool:
        """Up, or its back-off is over (where to publish; takes no probe)."""
        return self.delay == 0.0 or now >= self.down_until

    def admit(self, now: float) -> Admission:
        """May a call go to this node now: CALL (up), TRIAL (the one probe of a down node), SKIP."""
        if not self.delay:
            return Admission.CALL
        with self.lock:
            if not self.delay:
                return Admission.CALL
            if now < self.down_until or self.probing:
                return Admission.SKIP
            self.probing = True
            return Admission.TRIAL

    def succeeded(self) -> None:
        if self.delay:
            with self.lock:
                if self.delay:
                    log.warning("Redis node %s is answering again; it rejoins", self.name)
                self.delay = 0.0
                self.down_until = 0.0
                self.probing = False

    def failed(self, exc: BaseException, now: float, admission: Admission = Admission.CALL) -> None:
        with self.lock:
            self.failures += 1
            if not self.delay:
                log.warning("Redis node %s failed (%s: %s); its keys are misses until it answers",
                            self.name, type(exc).__name__, exc)
                self.delay = self.retry_delay
                self.down_until = now + self.delay
            elif admission is Admission.TRIAL:
                self.delay = min(self.max_retry_delay, self.delay * 2)
                self.down_until = now + self.delay
                self.probing = False
            # else: a call admitted before the node went down, failing late: no change

    def down_error(self) -> "NodeUnavailable":
        """What a call to this node raises (or a fan-out reports) while it is down."""
        return NodeUnavailable(f"Redis node {self.name} is down")

    def failure_error(self, exc: BaseException, now: float, admission: Admission) -> "NodeUnavailable":
        """Record a failed call (see :meth:`failed`); the NodeUnavailable it surfaces as."""
        self.failed(exc, now, admission)
        error = NodeUnavailable(f"Redis node {self.name} failed: {exc}")
        error.__cause__ = exc
        return error

    def abandon(self, admission: Admission) -> None:
        """The probe ended without a verdict (cancelled): the next call probes."""
        if admission is Admission.TRIAL:
            with self.lock:
                self.probing = False


class _ShardedBase:
    """Ring, nodes and health shared by the sync and async sharded caches."""

    _cache_class: Any = None       # RedisCache or AsyncRedisCache: set by each class

    def __init__(self, nodes: Union[Sequence[Any], Mapping[str, Any]], *, prefix: Union[str, bytes] = "",
                 ttl: Optional[float] = None, serializer: Optional[Serializer] = None,
                 weights: Optional[Mapping[str, int]] = None, retry_delay: float = 0.5,
                 max_retry_delay: float = 30.0, timer: Optional[Callable[[], float]] = None,
                 auto_batch: Optional[bool] = None, **connection_kwargs: Any) -> None:
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
        # each node's cache batches its own reads (None: the node class's default)
        self._node_options: dict[str, Any] = {} if auto_batch is None else {"auto_batch": bool(auto_batch)}
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
                                  **self._node_options,
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
        """Raise the first node's failure, else the first error among a node's replies."""
        for r in results.values():
            if isinstance(r, BaseException):
                raise r
        for r in results.values():
            if isinstance(r, list):
                for reply in r:
                    if isinstance(reply, BaseException):
                        raise reply

    def __repr__(self) -> str:
        return f"{type(self).__name__}({list(self._nodes)!r}, prefix={self.prefix!r})"


Commands = list[tuple[Any, ...]]
BuildCommands = Callable[[Any, Any], Commands]


def _read_reply(conn: Any) -> Any:
    """One reply from a connection; a command's own error (ResponseError) as the object."""
    try:
        return conn.read_response()
    except redis.ResponseError as exc:
        return exc


def _discard(node: Any, conn: Any) -> None:
    """Give back a connection whose replies will not be read (or that failed)."""
    conn.disconnect()
    node.cache.client.connection_pool.release(conn)


class ShardFanOut:
    """Run work on every node at once (sync): commands are written to all the nodes'
    connections before any reply is read, so n nodes cost about one round trip, with no
    thread; other calls (``clear``, ``invalidate_tag``) go through a thread pool."""

    _nodes: dict[str, Any]
    _pool: Optional[ThreadPoolExecutor]
    _timer: Callable[[], float]

    def _fan_out_commands(self, groups: Mapping[str, Any], build: BuildCommands) -> dict[str, Any]:
        """{node: its replies (a per-command error as the exception object), or
        NodeUnavailable}; ``build(node cache, group)`` gives the node's commands (all
        built before anything is sent: a value that cannot be encoded writes nothing)."""
        plans = {name: build(self._nodes[name].cache, group) for name, group in groups.items()}
        results: dict[str, Any] = {}
        sent: list[tuple[str, Any, Admission, Any, int]] = []     # replies still to read
        try:
            for name, commands in plans.items():
                node = self._nodes[name]
                admission = node.admit(self._timer())
                if not admission:
                    results[name] = node.down_error()
                    continue
                try:
                    conn = node.cache.client.connection_pool.get_connection()
                except _FAILURES as exc:
                    results[name] = node.failure_error(exc, self._timer(), admission)
                    continue
                except BaseException:
                    node.abandon(admission)
                    raise
                sent.append((name, node, admission, conn, len(commands)))
                try:
                    conn.send_packed_command(conn.pack_commands(commands))
                except _FAILURES as exc:
                    sent.pop()
                    _discard(node, conn)
                    results[name] = node.failure_error(exc, self._timer(), admission)
            while sent:
                name, node, admission, conn, n = sent[0]
                try:
                    results[name] = [_read_reply(conn) for _ in range(n)]
                except _FAILURES as exc:
                    sent.pop(0)
                    _discard(node, conn)
                    results[name] = node.failure_error(exc, self._timer(), admission)
                else:
                    sent.pop(0)
                    node.cache.client.connection_pool.release(conn)
                    node.succeeded()
        finally:
            for name, node, admission, conn, n in sent:     # interrupted: replies unread
                node.abandon(admission)
                _discard(node, conn)
        return results

    def _fan_out_calls(self, calls: Mapping[str, Callable[[], Any]]) -> dict[str, Any]:
        """{node: what its call returned}; the calls catch their own errors."""
        if len(calls) == 1:
            name, call = next(iter(calls.items()))
            return {name: call()}
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=min(32, max(2, len(self._nodes))),
                                            thread_name_prefix="fastcache-shard")
        futures = {name: self._pool.submit(call) for name, call in calls.items()}
        return {name: f.result() for name, f in futures.items()}

    def _close_fan_out(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False)
            self._pool = None


class AsyncShardFanOut:
    """Run work on every node at once, as tasks of the running loop (asyncio)."""

    _nodes: dict[str, Any]
    _timer: Callable[[], float]

    async def _fan_out_commands(self, groups: Mapping[str, Any], build: BuildCommands) -> dict[str, Any]:
        """{node: its replies (a per-command error as the exception object), or
        NodeUnavailable}: one pipeline per node, all awaited together (all built first)."""
        plans = {name: build(self._nodes[name].cache, group) for name, group in groups.items()}

        async def one(name: str) -> Any:
            node = self._nodes[name]
            admission = node.admit(self._timer())
            if not admission:
                return node.down_error()
            try:
                async with node.cache.client.pipeline(transaction=False) as pipe:
                    for command in plans[name]:
                        pipe.execute_command(*command)
                    replies = await pipe.execute(raise_on_error=False)
            except _FAILURES as exc:
                return node.failure_error(exc, self._timer(), admission)
            except BaseException:
                node.abandon(admission)
                raise
            node.succeeded()
            return replies
        names = list(plans)
        return dict(zip(names, await asyncio.gather(*(one(n) for n in names))))

    async def _fan_out_calls(self, calls: Mapping[str, Callable[[], Awaitable[Any]]]) -> dict[str, Any]:
        """{node: what its call returned}; the calls catch their own errors."""
        names = list(calls)
        return dict(zip(names, await asyncio.gather(*(calls[n]() for n in names))))

    async def _close_fan_out(self) -> None:
        """Nothing to stop: the tasks end with their calls."""
