"""Client tracking on a Redis Cluster: one tracking connection per master, kept equal to
the cluster's masters.  Written once, for asyncio; ``_sync_cluster_tracking.py`` is
generated from it by ``scripts/unasync.py``.

A key's changes are reported by the master that holds it, so every master is tracked (BCAST
+ the namespace prefix, as on a single server, by :class:`AsyncTrackingListener` - one per
master).  A supervisor asks the cluster for its masters (``CLUSTER NODES``, from any node
that answers) every ``refresh_interval`` seconds, and at once whenever a master's tracking
connection is lost or re-established, and starts and stops per-master listeners to match:

- a failover: the old master's connection is lost (L1 flushed); the promoted replica is
  found as a master, and its tracking established (L1 flushed again: whatever it applied
  before was not reported);
- a slot moved to a master not tracked yet (a new node): its tracking is established when
  it appears as a master, and that flushes L1; the keys MIGRATE removes from the old owner
  are reported by it.

``connected`` is set while every master the cluster last reported is tracked; until the
first answer, or while a master is untracked, it is clear (and L1 copies may be stale up to
the moment it is set again, when L1 is flushed - the same bound as pub/sub's reconnects).
"""
from __future__ import annotations

import logging
import threading
from typing import Any, Callable, Optional

import redis.asyncio

from .._concurrency import AsyncSignal, async_sleep, async_spawn
from .invalidation import TRACKING_CHANNEL, AsyncTrackingListener, OnKeys, cluster_masters, node_client

__all__ = ("AsyncClusterTrackingListener",)

log = logging.getLogger("fastcache.invalidation")

Address = tuple[str, int]


class _AllTracked:
    """``connected`` of the cluster listener: an event-like view (``is_set``) of whether
    every master is tracked."""

    def __init__(self, owner: "AsyncClusterTrackingListener") -> None:
        self._owner = owner

    def is_set(self) -> bool:
        nodes = self._owner.nodes()
        return self._owner.known and bool(nodes) and all(n.connected.is_set() for n in nodes)


class AsyncClusterTrackingListener:
    """Tracking of ``prefix`` on every master of ``cluster`` (a redis-py ``RedisCluster``):
    ``on_keys(keys, reason, None)`` for each change a master reports (keys None: flush),
    ``on_reset()`` on every (re)connect and loss of a master's tracking connection.
    ``options`` go to each master's listener (retry delays, health checks)."""

    def __init__(self, cluster: Any, prefix: bytes, on_keys: OnKeys, on_reset: Callable[[], None],
                 *, refresh_interval: float = 1.0, **options: Any) -> None:
        if not refresh_interval > 0:
            raise ValueError("refresh_interval must be a positive number of seconds")
        self._cluster = cluster
        self._prefix = prefix
        self._on_keys = on_keys
        self._on_reset = on_reset
        self._options = options
        self._refresh = float(refresh_interval)
        self._listeners: dict[Address, AsyncTrackingListener] = {}
        self._probes: dict[Address, Any] = {}          # a client per address, for CLUSTER NODES
        self._wake = AsyncSignal()
        self._lock = threading.Lock()           # the supervisor's _apply against close (threads)
        self._template_node: Any = None
        self._closed = False
        self._done = False
        self.known = False                      # the cluster has answered at least once
        self.channel = TRACKING_CHANNEL
        self.connected = _AllTracked(self)
        self.refreshes = 0                      # answers to CLUSTER NODES applied
        async_spawn(self._supervise)

    # -- what the tiered cache reads ----------------------------------------------------

    def nodes(self) -> list[AsyncTrackingListener]:
        """The masters' listeners now."""
        return list(self._listeners.values())

    def masters(self) -> list[Address]:
        """The addresses of the masters tracked now."""
        return list(self._listeners)

    @property
    def received(self) -> int:
        """Messages passed on, over every master's listener (current ones)."""
        return sum(n.received for n in self.nodes())

    @property
    def resets(self) -> int:
        """(Re)connects and losses, over every master's listener (current ones)."""
        return sum(n.resets for n in self.nodes())

    # -- the supervisor -------------------------------------------------------------------

    def _node_reset(self) -> None:
        """A master's tracking connection was (re)established or lost: flush, and look at
        the cluster again (a failover, a new master)."""
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
        """Where to ask for the masters: those tracked, then every node redis-py knows."""
        return list(dict.fromkeys([*self._listeners, *((n.host, int(n.port)) for n in self._cluster.get_nodes())]))

    def _probe(self, address: Address, template: Any) -> Any:
        probe = self._probes.get(address)
        if probe is None:
            probe = node_client(template, address[0], address[1], redis.asyncio.Redis,
                                redis.asyncio.ConnectionPool, timeout=2.0)
            self._probes[address] = probe
        return probe

    async def _discover(self) -> Optional[list[Address]]:
        """The cluster's masters, from the first node that answers; None if none does."""
        try:
            template = await self._template()
        except Exception as exc:
            log.debug("cluster not reachable (%s: %s)", type(exc).__name__, exc)
            return None
        self._template_node = template
        for address in self._seeds():
            try:
                reply = await self._probe(address, template).execute_command("CLUSTER", "NODES")
                masters = cluster_masters(reply)
            except Exception as exc:
                log.debug("no CLUSTER NODES from %s:%s (%s: %s)", *address, type(exc).__name__, exc)
                continue
            if masters:
                return masters
        return None

    def _apply(self, masters: list[Address]) -> list[AsyncTrackingListener]:
        """Start a listener for each new master; the listeners of those no longer masters
        (to close)."""
        with self._lock:
            if self._closed:
                return []
            gone = [self._listeners.pop(a) for a in list(self._listeners) if a not in masters]
            for address in masters:
                if address not in self._listeners:
                    client = node_client(self._template_node, address[0], address[1], redis.asyncio.Redis,
                                         redis.asyncio.ConnectionPool)
                    self._listeners[address] = AsyncTrackingListener([client], self._prefix, self._on_keys,
                                                                     self._node_reset, **self._options)
        if gone:
            log.info("cluster masters changed: tracking %s", sorted(self._listeners))
        return gone

    async def _supervise(self) -> None:
        try:
            while not self._closed:
                masters = await self._discover()
                if masters is not None and not self._closed:
                    self.refreshes += 1
                    gone = self._apply(masters)
                    self.known = True
                    for listener in gone:
                        await listener.close()
                await self._wake.wait(self._refresh if masters is not None else min(self._refresh, 0.1))
        finally:
            self._done = True

    # -- lifecycle --------------------------------------------------------------------------

    async def wait_connected(self, timeout: float = 5.0) -> bool:
        """Wait until every master is tracked (or timeout); whether it is."""
        waited = 0.0
        while not self.connected.is_set():
            if waited >= timeout:
                return False
            await async_sleep(0.01)
            waited += 0.01
        return True

    async def close(self, timeout: float = 2.0) -> None:
        """Stop tracking on every master."""
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
