"""What the sync and asyncio invalidation buses share without I/O: events,
subscriptions, callbacks and applying an event to a cache; and the two ways
of running an asyncio cache's tag purges (the one place the modes differ)."""
from __future__ import annotations

import asyncio
import inspect
import logging
import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Optional, Union

from ..redis.invalidation import encode_message, new_origin
from ..tags import check_tags

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


class BusBase:
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

    def _on_pending(self, pending: list[Any]) -> None:  # pragma: no cover - provided by the mode's mixin
        raise NotImplementedError

    @property
    def received(self) -> int:
        """Events from other buses applied so far."""
        return 0 if self._listener is None else int(self._listener.received)

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


class PurgeTasks:
    """On the thread bus an asyncio cache's tag purge cannot run: it is skipped, with a warning."""

    def _init_purges(self) -> None:
        """Nothing to keep: nothing runs in the background."""

    def _on_pending(self, pending: list[Any]) -> None:
        for aw in pending:
            aw.close()
            log.warning("invalidation bus: a tag purge of an asyncio cache was skipped; subscribe "
                        "asyncio caches to an AsyncInvalidationBus")

    def settle(self) -> None:
        """Nothing to wait for on the thread bus."""


class AsyncPurgeTasks:
    """On the asyncio bus an asyncio cache's tag purge runs as a task of the running loop."""

    _tasks: set["asyncio.Task[Any]"]

    def _init_purges(self) -> None:
        self._tasks = set()             # the purges running, for settle()

    def _on_pending(self, pending: list[Any]) -> None:
        for aw in pending:
            task = asyncio.ensure_future(aw)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def settle(self) -> None:
        """Wait for the tag purges this bus started on asyncio caches."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
