"""Invalidation listeners on a Redis Cluster, one per master, kept equal to the cluster's
masters.  Written once, for asyncio; ``_sync_cluster_listeners.py`` is generated from it by
``scripts/unasync.py``.

A supervisor asks the cluster for its masters and their slots (``CLUSTER NODES``, from any
node that answers) every ``refresh_interval`` seconds, and at once whenever a master's
connection is lost or (re)established, and starts and stops per-master listeners to match:

- **tracking** (:class:`AsyncClusterTrackingListener`): a key's changes are reported by the
  master that holds it, so every master is tracked (BCAST + the namespace prefix, as on a
  single server - an :class:`AsyncTrackingListener` per master);
- **sharded pub/sub** (:class:`AsyncClusterPubSubListener`, Redis >= 7.0): each master's
  listener subscribes (SSUBSCRIBE) to the namespace's shard channels whose slots it owns;
  on an older cluster, one classic subscription on one master (PUBLISH reaches every node).

What a failover or a slot move does: the old master's connection is lost, or the server
drops the shard channels that moved (L1 flushed); the new owner is found in the next
answer, and its listener's (re)subscription flushes L1 again (whatever it applied before was
not reported).  ``connected`` is set while every master the cluster last reported is
listened to; until the first answer, or while a master is not, it is clear.
"""
from __future__ import annotations

import logging
import threading
from typing import Any, Callable, Hashable, Optional

import redis.asyncio

from .._concurrency import AsyncSignal, async_sleep, async_spawn
from .invalidation import (TRACKING_CHANNEL, AsyncInvalidationListener, AsyncTrackingListener, OnKeys,
                           cluster_shards, node_client, shard_channels)
from .._impl import key_slot

__all__ = ("AsyncClusterTrackingListener", "AsyncClusterPubSubListener")

log = logging.getLogger("fastcache.invalidation")

Address = tuple[str, int]
Shards = dict[Address, list[tuple[int, int]]]


class _AllListening:
    """``connected`` of a cluster listener: an event-like view (``is_set``) of whether every
    master is listened to."""

    def __init__(self, owner: "AsyncClusterListener") -> None:
        self._owner = owner

    def is_set(self) -> bool:
        nodes = self._owner.nodes()
        return self._owner.known and bool(nodes) and all(n.connected.is_set() for n in nodes)


class AsyncClusterListener:
    """The supervisor: a listener per master (subclasses say which, in :meth:`_plan`)."""

    channel: bytes

    def __init__(self, cluster: Any, on_keys: OnKeys, on_reset: Callable[[], None],
                 *, refresh_interval: float = 1.0, **options: Any) -> None:
        if not refresh_interval > 0:
            raise ValueError("refresh_interval must be a positive number of seconds")
        self._cluster = cluster
        self._on_keys = on_keys
        self._on_reset = on_reset
        self._options = options
        self._refresh = float(refresh_interval)
        self._listeners: dict[Hashable, Any] = {}
        self._probes: dict[Address, Any] = {}          # a client per address, for CLUSTER NODES
        self._wake = AsyncSignal()
        self._lock = threading.Lock()           # the supervisor's _apply against close (threads)
        self._template_node: Any = None
        self._closed = False
        self._done = False
        self.known = False                      # the cluster has answered at least once
        self.connected = _AllListening(self)
        self.refreshes = 0                      # answers to CLUSTER NODES applied
        async_spawn(self._supervise)

    # -- what the tiered cache reads ----------------------------------------------------

    def nodes(self) -> list[Any]:
        """The per-master listeners now."""
        return list(self._listeners.values())

    def masters(self) -> list[Address]:
        """The addresses of the masters listened to now."""
        return [key[0] for key in self._listeners if isinstance(key, tuple)]

    @property
    def received(self) -> int:
        """Messages passed on, over every master's listener (current ones)."""
        return sum(n.received for n in self.nodes())

    @property
    def resets(self) -> int:
        """(Re)connects and losses, over every master's listener (current ones)."""
        return sum(n.resets for n in self.nodes())

    # -- what a kind of listener says ---------------------------------------------------------

    async def _plan(self, shards: Shards) -> dict[Hashable, Callable[[], Any]]:
        """The listeners the cluster needs now: ``{key: start one}`` (a key that stays the
        same keeps its listener)."""
        raise NotImplementedError

    def _client(self, address: Address) -> Any:
        """A plain client to one node, with the cluster's connection options."""
        return node_client(self._template_node, address[0], address[1], redis.asyncio.Redis,
                           redis.asyncio.ConnectionPool)

    # -- the supervisor -------------------------------------------------------------------

    def _node_reset(self) -> None:
        """A master's connection was (re)established or lost: flush, and look at the
        cluster again (a failover, a new master, a slot moved)."""
        self._on_reset()
        self._wake.set()

    async def _template(self) -> Any:
        """A node of redis-py's view of the cluster: its connection options are every node's."""
        nodes = self._cluster.get_nodes()
        if not nodes:                       # an asyncio cluster client connects on first use
            await self._cluster.initialize()  # sync: self._cluster.nodes_manager.initialize()
            nodes = self._cluster.get_nodes()
        return nodes[0]

    def _seeds(self) -> list[Address]:
        """Where to ask for the masters: those listened to, then every node redis-py knows."""
        return list(dict.fromkeys([*self.masters(), *((n.host, int(n.port)) for n in self._cluster.get_nodes())]))

    def _probe(self, address: Address) -> Any:
        probe = self._probes.get(address)
        if probe is None:
            probe = node_client(self._template_node, address[0], address[1], redis.asyncio.Redis,
                                redis.asyncio.ConnectionPool, timeout=2.0)
            self._probes[address] = probe
        return probe

    async def _ask(self, command: str, *args: Any) -> Any:
        """A command's reply from the first node that answers (the masters first)."""
        error: Optional[BaseException] = None
        for address in self._seeds():
            try:
                return await self._probe(address).execute_command(command, *args)
            except Exception as exc:
                log.debug("no answer from %s:%s (%s: %s)", *address, type(exc).__name__, exc)
                error = exc
        raise ConnectionError(f"no node of the cluster answered {command}") from error

    async def _discover(self) -> Optional[Shards]:
        """The cluster's masters and their slots; None if no node answers."""
        try:
            self._template_node = await self._template()
            shards = cluster_shards(await self._ask("CLUSTER", "NODES"))
        except Exception as exc:
            log.debug("cluster not reachable (%s: %s)", type(exc).__name__, exc)
            return None
        return shards or None

    def _apply(self, plan: dict[Hashable, Callable[[], Any]]) -> list[Any]:
        """Start the planned listeners not running; those no longer planned (to close)."""
        with self._lock:
            if self._closed:
                return []
            gone = [self._listeners.pop(k) for k in list(self._listeners) if k not in plan]
            for key, start in plan.items():
                if key not in self._listeners:
                    self._listeners[key] = start()
        if gone:
            log.info("cluster changed: listening to %s", sorted(map(repr, self._listeners)))
        return gone

    async def _supervise(self) -> None:
        try:
            while not self._closed:
                shards = await self._discover()
                if shards is not None and not self._closed:
                    self.refreshes += 1
                    try:
                        gone = self._apply(await self._plan(shards))
                    except Exception as exc:
                        log.warning("could not follow the cluster's masters (%s: %s)", type(exc).__name__, exc)
                        gone, shards = [], None
                    else:
                        self.known = True
                    for listener in gone:
                        await listener.close()
                await self._wake.wait(self._refresh if shards is not None else min(self._refresh, 0.1))
        finally:
            self._done = True

    # -- lifecycle --------------------------------------------------------------------------

    async def wait_connected(self, timeout: float = 5.0) -> bool:
        """Wait until every master is listened to (or timeout); whether it is."""
        waited = 0.0
        while not self.connected.is_set():
            if waited >= timeout:
                return False
            await async_sleep(0.01)
            waited += 0.01
        return True

    async def close(self, timeout: float = 2.0) -> None:
        """Stop listening everywhere."""
        with self._lock:
            self._closed = True
            listeners = list(self._listeners.values())
            self._listeners.clear()
        self._wake.set()
        for listener in listeners:
            await listener.close(timeout)
        waited = 0.0
        while not self._done and waited < timeout:          # the supervisor ends its round
            await async_sleep(0.01)
            waited += 0.01
        for probe in list(self._probes.values()):
            try:
                await probe.aclose()
            except Exception:
                pass
        self._probes.clear()


class AsyncClusterTrackingListener(AsyncClusterListener):
    """Tracking of ``prefix`` on every master of ``cluster`` (a redis-py ``RedisCluster``):
    ``on_keys(keys, reason, None)`` for each change a master reports (keys None: flush),
    ``on_reset()`` on every (re)connect and loss of a master's tracking connection.
    ``options`` go to each master's listener (retry delays, health checks)."""

    def __init__(self, cluster: Any, prefix: bytes, on_keys: OnKeys, on_reset: Callable[[], None],
                 **options: Any) -> None:
        self._prefix = prefix
        self.channel = TRACKING_CHANNEL
        super().__init__(cluster, on_keys, on_reset, **options)

    async def _plan(self, shards: Shards) -> dict[Hashable, Callable[[], Any]]:
        def start(address: Address) -> Callable[[], Any]:
            return lambda: AsyncTrackingListener([self._client(address)], self._prefix, self._on_keys,
                                                 self._node_reset, **self._options)
        return {(address, "tracking"): start(address) for address in shards}


class AsyncClusterPubSubListener(AsyncClusterListener):
    """fastcache's own invalidation messages on a cluster: on Redis >= 7.0 sharded pub/sub -
    each master's listener subscribes to the shard channels (:func:`shard_channels`) whose
    slots it owns - and on older servers a classic subscription to ``channel`` on one master
    (every PUBLISH is broadcast to every node), moved to another when it fails.  ``sharded`` says which (None
    until the cluster has answered): the publisher follows it."""

    def __init__(self, cluster: Any, channel: bytes, origin: str, on_keys: OnKeys,
                 on_reset: Callable[[], None], **options: Any) -> None:
        self.channel = channel
        self._origin = origin
        self.shard_channel_names = shard_channels(channel)
        self.sharded: Optional[bool] = None
        super().__init__(cluster, on_keys, on_reset, **options)

    async def _version(self) -> tuple[int, ...]:
        info = await self._ask("INFO", "server")
        text = info.decode("utf-8", "replace") if isinstance(info, bytes) else str(info)
        if isinstance(info, dict):
            text = f"redis_version:{info.get('redis_version', '')}"
        for line in text.splitlines():
            if line.startswith("redis_version:"):
                return tuple(int(p) for p in line.split(":", 1)[1].strip().split(".")[:2] if p.isdigit())
        raise ValueError("no redis_version in INFO")

    async def _plan(self, shards: Shards) -> dict[Hashable, Callable[[], Any]]:
        if self.sharded is None:
            self.sharded = await self._version() >= (7, 0)
            log.info("invalidations on %r: %s", self.channel, "sharded pub/sub" if self.sharded else "pub/sub")
        if not self.sharded:
            # Classic PUBLISH reaches every node, so one subscription on any master will do:
            # the one listened to while it stays a master, else the first reported.
            held = [k[0] for k in self._listeners if isinstance(k, tuple) and k[1] == "classic"]
            address = held[0] if held and held[0] in shards else next(iter(shards))
            return {(address, "classic"): self._starter(address, ())}
        plan: dict[Hashable, Callable[[], Any]] = {}
        for address, ranges in shards.items():
            owned = tuple(c for c in self.shard_channel_names
                          if any(lo <= key_slot(c) <= hi for lo, hi in ranges))
            if owned:
                plan[(address, owned)] = self._starter(address, owned)
        return plan

    def _starter(self, address: Address, owned: tuple[bytes, ...]) -> Callable[[], Any]:
        return lambda: AsyncInvalidationListener([self._client(address)], self.channel, self._origin, self._on_keys,
                                                 self._node_reset, shard_channels=owned, **self._options)
