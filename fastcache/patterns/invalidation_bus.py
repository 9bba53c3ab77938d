"""Event-driven invalidation: an ``InvalidationBus`` on Redis pub/sub.

The Redis tier's own coherence runs on this mechanism; the bus exposes it
for events of the application's making, for example from a database's
change feed::

    bus = InvalidationBus("redis://cache:6379/0")
    bus.subscribe(local_users)                 # any cache: L1, TaggedCache, TieredCache
    bus.on(lambda ev: audit(ev))               # or a callback per event
    bus.publish(keys=["user:42"], reason="row-updated")
    bus.publish(tags=["team:7"], reason="team-renamed")

Every process subscribed to the channel (the publisher's other caches too)
applies each event: keys are dropped from each subscribed cache (a
``TieredCache`` drops them from L1 only - the publisher, or the writer that
caused the event, owns L2); tags are purged with the cache's
``invalidate_tag`` (a ``TieredCache`` purges L2's tag set too, which is
idempotent, and tells the other processes the keys; a cache without tags
holds no tagged entries and ignores them).  An event with neither
keys nor tags clears every subscribed cache.  Pub/sub is fire-and-forget, so
a (re)subscription or a lost connection clears every subscribed cache: what
was missed meanwhile cannot be served stale.
"""
from __future__ import annotations

import asyncio
import inspect
import logging
import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Optional, Union

import redis
import redis.asyncio

from ..redis.invalidation import AsyncInvalidationListener, InvalidationListener, encode_message, new_origin
from ..tags import check_tags

__all__ = ("InvalidationBus", "AsyncInvalidationBus", "InvalidationEvent")

log = logging.getLogger("fastcache.patterns")


@dataclass(frozen=True)
class InvalidationEvent:
    """One event: the keys and tags it names (None/empty: everything) and why."""

    keys: Optional[tuple[Any, ...]]
    tags: tuple[str, ...]
    reason: str
    local: bool                  # published by this bus (applied at once, not echoed)


def _apply_keys(cache: Any, keys: Optional[tuple[Any, ...]], tags: tuple[str, ...]) -> list[Any]:
    """Apply an event to one cache; the awaitables an asyncio cache returned."""
    pending: list[Any] = []
    if keys is None and not tags:
        flush = getattr(cache, "flush_local", None)     # a TieredCache: its L1, not the shared L2
        if flush is not None:
            flush()
        elif not inspect.iscoroutinefunction(getattr(cache, "clear", None)):
            cache.clear()
        return pending
    drop = getattr(cache, "invalidate_local", None) or (lambda k: cache.pop(k, None))
    for k in keys or ():
        drop(k)
    purge = getattr(cache, "invalidate_tag", None)
    if purge is not None:               # a cache without tags holds no tagged entries
        for t in tags:
            result = purge(t)
            if inspect.isawaitable(result):
                pending.append(result)
    return pending


class _BusBase:
    """Subscriptions, callbacks and applying events; the subclasses do the I/O."""

    _listener: Any

    def _init_bus(self, client: Any, channel: Union[str, bytes]) -> None:
        self.client = client
        self.channel = channel.encode("utf-8") if isinstance(channel, str) else bytes(channel)
        self.origin = new_origin()
        self._caches: list[Any] = []
        self._callbacks: list[Callable[[InvalidationEvent], Any]] = []
        self._lock = threading.Lock()
        self.published = 0

    @staticmethod
    def _event(keys: Optional[Iterable[Any]], tags: Optional[Iterable[str]], reason: str,
               origin: str) -> tuple["InvalidationEvent", bytes]:
        tag_list = check_tags(tags)
        key_list = list(keys) if keys is not None else ([] if tag_list else None)
        if not isinstance(reason, str):
            raise TypeError("reason must be a str")
        payload = encode_message(origin, reason, key_list, list(tag_list) if tag_list else None)
        return InvalidationEvent(None if key_list is None else tuple(key_list), tag_list, reason, True), payload

    def _on_pending(self, pending: list[Any]) -> None:
        for aw in pending:              # an asyncio cache on the thread bus: it cannot run them
            aw.close()
            log.warning("invalidation bus: a tag purge of an asyncio cache was skipped; subscribe "
                        "asyncio caches to an AsyncInvalidationBus")

    @property
    def received(self) -> int:
        """Events from other buses applied so far."""
        return int(self._listener.received)

    def subscribe(self, cache: Any) -> Any:
        """Apply every event to cache from now on; returns cache."""
        if not (hasattr(cache, "pop") or hasattr(cache, "invalidate_local")):
            raise TypeError(f"cannot invalidate entries of {type(cache).__name__}: it has no pop()")
        with self._lock:
            self._caches.append(cache)
        return cache

    def unsubscribe(self, cache: Any) -> None:
        """Stop applying events to cache."""
        with self._lock:
            self._caches = [c for c in self._caches if c is not cache]

    def on(self, callback: Callable[[InvalidationEvent], Any]) -> Callable[[InvalidationEvent], Any]:
        """Call ``callback(event)`` for every event (usable as a decorator)."""
        if not callable(callback):
            raise TypeError("callback must be callable: callback(event)")
        with self._lock:
            self._callbacks.append(callback)
        return callback

    def _on_remote(self, keys: Optional[list[Any]], reason: str, tags: Optional[list[str]]) -> None:
        self._apply(InvalidationEvent(None if keys is None else tuple(keys), tuple(tags or ()), reason, False))

    def _on_reset(self) -> None:
        # Whatever was published while we were not subscribed is lost: start clean.
        self._apply(InvalidationEvent(None, (), "resubscribed", True), callbacks=False)

    def _apply(self, event: InvalidationEvent, callbacks: bool = True) -> None:
        with self._lock:
            caches, cbs = list(self._caches), list(self._callbacks)
        for cache in caches:
            try:
                self._on_pending(_apply_keys(cache, event.keys, event.tags))
            except Exception:
                log.exception("invalidation bus: applying %r to %r failed", event, cache)
        if callbacks:
            for cb in cbs:
                try:
                    cb(event)
                except Exception:
                    log.exception("invalidation bus: callback %r failed", cb)


class InvalidationBus(_BusBase):
    """Publish and apply invalidation events over one Redis pub/sub channel (a listener thread)."""

    def __init__(self, client: Any = "redis://localhost:6379/0", *,
                 channel: Union[str, bytes] = "fastcache:events") -> None:
        if isinstance(client, str):
            client = redis.Redis.from_url(client, socket_timeout=2.0, socket_connect_timeout=2.0)
        self._init_bus(client, channel)
        self._listener = InvalidationListener([client], self.channel, self.origin, self._on_remote, self._on_reset)

    def publish(self, keys: Optional[Iterable[Any]] = None, tags: Optional[Iterable[str]] = None,
                reason: str = "event") -> int:
        """Apply the event here and send it to every other subscriber; how many
        processes received it (Redis' count of subscribers, this one included)."""
        event, payload = self._event(keys, tags, reason, self.origin)
        self._apply(event)
        self.published += 1
        return int(self.client.publish(self.channel, payload))

    def wait_ready(self, timeout: float = 5.0) -> bool:
        """Block until subscribed (True) or timeout."""
        return bool(self._listener.wait_connected(timeout))

    def close(self) -> None:
        """Stop listening."""
        self._listener.close()

    def __enter__(self) -> "InvalidationBus":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncInvalidationBus(_BusBase):
    """:class:`InvalidationBus` for asyncio: a listener task on a ``redis.asyncio``
    client; ``await start()`` (or ``async with``), ``await publish(...)``.  Asyncio
    caches (``AsyncTieredCache``) are purged by tag in tasks of the running loop."""

    def __init__(self, client: Any = "redis://localhost:6379/0", *,
                 channel: Union[str, bytes] = "fastcache:events") -> None:
        self._owns_client = isinstance(client, str)
        if isinstance(client, str):
            client = redis.asyncio.Redis.from_url(client, socket_timeout=2.0, socket_connect_timeout=2.0)
        self._init_bus(client, channel)
        self._listener = None
        self._tasks: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        """Start listening (idempotent)."""
        if self._listener is None:
            self._listener = AsyncInvalidationListener([self.client], self.channel, self.origin,
                                                       self._on_remote, self._on_reset)

    def _on_pending(self, pending: list[Any]) -> None:
        for aw in pending:
            task = asyncio.ensure_future(aw)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    @property
    def received(self) -> int:
        """Events from other buses applied so far."""
        return 0 if self._listener is None else int(self._listener.received)

    async def publish(self, keys: Optional[Iterable[Any]] = None, tags: Optional[Iterable[str]] = None,
                      reason: str = "event") -> int:
        """Apply the event here and send it to every other subscriber; how many received it."""
        event, payload = self._event(keys, tags, reason, self.origin)
        self._apply(event)
        await self.settle()
        self.published += 1
        return int(await self.client.publish(self.channel, payload))

    async def settle(self) -> None:
        """Wait for the tag purges this bus started on asyncio caches."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def wait_ready(self, timeout: float = 5.0) -> bool:
        """Wait until subscribed (True) or timeout."""
        await self.start()
        assert self._listener is not None
        return bool(await self._listener.wait_connected(timeout))

    async def close(self) -> None:
        """Stop listening and close the client."""
        if self._listener is not None:
            await self._listener.close()
            self._listener = None
        await self.settle()
        if self._owns_client:
            await self.client.aclose()

    async def __aenter__(self) -> "AsyncInvalidationBus":
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
