"""The tiered cache's I/O, written once for sync and asyncio (see :mod:`fastcache.tiered`).

Every method here waits on L2 or on the invalidation listener; what they
decide without I/O is in :mod:`fastcache._tiered_logic`.
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Iterable, Mapping, Optional

from ._concurrency import async_sleep, async_spawn
from ._types import DEFAULT
from .breaker import CircuitBreaker
from .errors import L2_ERRORS
from .loading import call_async
from .protocols import AsyncL2
from .singleflight import AsyncSingleFlight
from .tags import check_tags
from ._tiered_logic import MISS, Coherence, _TieredLogic

__all__ = ("AsyncTieredMethods",)

log = logging.getLogger("fastcache.tiered")


class AsyncTieredMethods(_TieredLogic):
    """Everything of the tiered cache that talks to L2 or the listener (but the L1 hit)."""

    l2: AsyncL2
    _flight: AsyncSingleFlight
    _started: bool

    async def start(self) -> None:
        """Start the invalidation listener (idempotent; the first L2 call does it too)."""
        if self._started:
            return
        self._started = True
        if self._invalidation and self._source is not None:
            from .redis.invalidation import AsyncInvalidationListener, AsyncTrackingListener
            if self.coherence is Coherence.TRACKING and self._tracking_cluster:
                from .redis._async_cluster_listeners import AsyncClusterTrackingListener
                self._listener = AsyncClusterTrackingListener(self._source.invalidation_clients()[0],
                                                              self._tracking_prefix, self._remote_invalidation,
                                                              self._flush_l1)
            elif self.coherence is Coherence.TRACKING:
                self._listener = AsyncTrackingListener(self._source.invalidation_clients(), self._tracking_prefix,
                                                       self._remote_invalidation, self._flush_l1)
            elif self._cluster_pubsub:
                from .redis._async_cluster_listeners import AsyncClusterPubSubListener
                self._listener = AsyncClusterPubSubListener(self._source.invalidation_clients()[0], self._channel,
                                                            self._origin, self._remote_invalidation,
                                                            self._flush_l1)
            else:
                self._listener = AsyncInvalidationListener(self._source.invalidation_clients(), self._channel,
                                                           self._origin, self._remote_invalidation,
                                                           self._flush_l1)

    async def wait_ready(self, timeout: float = 5.0) -> bool:
        """Wait until the invalidation listener is subscribed (True) or timeout."""
        await self.start()
        return self._listener is None or bool(await self._listener.wait_connected(timeout))

    # -- reads ------------------------------------------------------------------

    async def _get_miss(self, key: Any, default: Any) -> Any:
        found, value = await self._read_l2(key)
        return value if found else default

    async def _read_l2(self, key: Any) -> tuple[bool, Any]:
        if not self._started:
            await self.start()
        admission = self._may_read_l2()
        if not admission:
            return False, None
        epoch = self._epoch
        try:
            reply = await self.l2.get_with_ttl(key)
        except L2_ERRORS as exc:
            self._l2_failed(exc, admission)
            return False, None
        except BaseException:
            self._breaker.abandon(admission)    # cancelled: no verdict, the trial is given back
            raise
        self._breaker.success()
        found, value, remaining = reply
        if not found:
            self._stats.l2_misses += 1
            return False, None
        self._stats.l2_hits += 1
        self._fill(key, value, remaining, epoch)
        return True, value

    async def get_or_load(self, key: Any, loader: Callable[[Any], Any], ttl: Any = DEFAULT) -> Any:
        """The value for key; on a miss ``loader(key)`` runs once per key across
        concurrent callers of this process (threads, or the loop's tasks; the
        asyncio cache also takes a coroutine function), and its result is stored in
        both tiers."""
        value = self._get_l1(key, MISS)
        if value is not MISS:
            return value
        return (await self._flight.do(key, lambda: self._load(key, loader, ttl)))[0]

    async def _load(self, key: Any, loader: Callable[[Any], Any], ttl: Any) -> Any:
        found, value = await self._read_l2(key)      # another process may have loaded it
        if found:
            return value
        self._stats.loads += 1
        try:
            value = await call_async(loader, key)
        except BaseException:
            self._stats.load_errors += 1
            raise
        if self._breaker.state != CircuitBreaker.CLOSED:
            self._fill(key, value, self._l2_ttl(ttl))   # L2 is failing: keep it local only
            return value
        try:
            await self._write(key, value, ttl)
        except L2_ERRORS:
            pass                                # already counted; the caller still gets its value
        return value

    async def get_many(self, keys: Iterable[Any]) -> dict[Any, Any]:
        """``{key: value}`` for keys found in L1 or L2 (L2: one batched call)."""
        result, missing = self._split_by_l1(keys, self._get_l1)
        if not missing:
            return result
        if not self._started:
            await self.start()
        admission = self._may_read_l2(len(missing))
        if not admission:
            return result
        epoch = self._epoch
        try:
            found = await self.l2.get_many_with_ttl(missing)
        except L2_ERRORS as exc:
            self._l2_failed(exc, admission)
            return result
        except BaseException:
            self._breaker.abandon(admission)
            raise
        return self._absorb_many(missing, found, epoch, result)

    # -- writes -----------------------------------------------------------------

    async def _write(self, key: Any, value: Any, ttl: Any, tags: tuple[str, ...] = ()) -> None:
        remaining = self._l2_ttl(ttl)
        try:
            if tags:
                await self.l2.set(key, value, ttl=remaining, tags=tags)
            else:
                await self.l2.set(key, value, ttl=remaining)
        except L2_ERRORS as exc:
            self._drop_l1(key)
            self._l2_failed(exc)
            self._owe_invalidation([key])       # a timeout is not a "no": the server may have it
            raise
        self._fill(key, value, remaining)
        self._tagged(key, tags)
        await self._publish("set", [key])

    async def set(self, key: Any, value: Any, ttl: Any = DEFAULT, tags: Optional[Iterable[str]] = None) -> None:
        """Store in L2, then L1, then invalidate other processes' L1 copies.
        ``tags`` name the entry for :meth:`invalidate_tag`."""
        checked = check_tags(tags)
        if not self._started:
            await self.start()
        await self._write(key, value, ttl, checked)

    async def invalidate_tag(self, tag: str) -> list[Any]:
        """Remove every entry carrying tag from L2, this L1 and every other
        process's L1 (a surrogate-key purge); the keys removed.  O(tagged entries)."""
        if not self._started:
            await self.start()
        error: Optional[BaseException] = None
        try:
            remote = list(await self.l2.invalidate_tag(tag))
        except L2_ERRORS as exc:
            self._l2_failed(exc)
            error, remote = exc, []
        keys = self._purge_local(tag, remote)
        for i in range(0, len(keys), self._MESSAGE_KEYS):
            await self._publish("tag", keys[i:i + self._MESSAGE_KEYS], [tag])
        if error is not None:
            raise error
        return keys

    async def set_many(self, mapping: Mapping[Any, Any], ttl: Any = DEFAULT) -> None:
        """``set`` for many items: one L2 pipeline, one invalidation message."""
        if not self._started:
            await self.start()
        remaining = self._l2_ttl(ttl)
        try:
            await self.l2.set_many(mapping, ttl=remaining)
        except L2_ERRORS as exc:
            for k in mapping:
                self._drop_l1(k)
            self._l2_failed(exc)
            self._owe_invalidation(list(mapping))
            raise
        for k, v in mapping.items():
            self._fill(k, v, remaining)
        await self._publish("set", list(mapping))

    async def invalidate(self, key: Any) -> None:
        """Drop key from this L1 and every other process's (L2 untouched): after a change
        made to L2 by other means (an atomic INCRBY, a script)."""
        if not self._started:
            await self.start()
        self._drop_l1(key)
        await self._publish("delete", [key])

    async def delete(self, key: Any) -> bool:
        """Remove from both tiers (and other processes' L1); True if L2 had it."""
        if not self._started:
            await self.start()
        self._drop_l1(key)
        try:
            existed = bool(await self.l2.delete(key))
        except L2_ERRORS as exc:
            self._l2_failed(exc)
            self._owe_invalidation([key])
            raise
        await self._publish("delete", [key])
        return existed

    async def delete_many(self, keys: Iterable[Any]) -> int:
        """Remove keys from both tiers; how many L2 had."""
        if not self._started:
            await self.start()
        ks = list(keys)
        for k in ks:
            self._drop_l1(k)
        try:
            n = int(await self.l2.delete_many(ks))
        except L2_ERRORS as exc:
            self._l2_failed(exc)
            self._owe_invalidation(ks)
            raise
        await self._publish("delete", ks)
        return n

    async def clear(self) -> None:
        """Empty L1 and this namespace in L2, and every other process's L1."""
        if not self._started:
            await self.start()
        self._flush_l1()
        try:
            await self.l2.clear()
        except L2_ERRORS:
            self._owe_invalidation(None)        # part of it may be gone: everyone flushes
            raise
        await self._publish("clear", None)

    async def _publish(self, reason: str, keys: Optional[list[Any]], tags: Optional[list[str]] = None) -> None:
        if not self._invalidation or self.coherence is Coherence.TRACKING:
            return                              # tracking: Redis reports the change itself
        if self._coalesce and keys is not None and tags is None:
            if self._pend(reason, keys):
                async_spawn(self._flush_pending)
            return
        if not await self._send(reason, keys, tags):
            self._owe_invalidation(keys)

    async def _flush_pending(self) -> None:
        """Publish the coalesced keys, ``coalesce`` seconds after the first of them, for as
        long as writes keep coming (what cannot be published is owed)."""
        while True:
            await async_sleep(self._coalesce)
            if not await self._send_pending(self._take_pending()):
                return

    async def _send_pending(self, taken: Optional[tuple[str, list[Any]]]) -> bool:
        """Publish what _take_pending took, in messages of at most _MESSAGE_KEYS keys;
        whether there was anything."""
        if taken is None:
            return False
        reason, keys = taken
        for i in range(0, len(keys), self._MESSAGE_KEYS):
            chunk = keys[i:i + self._MESSAGE_KEYS]
            if not await self._send(reason, chunk):
                self._owe_invalidation(chunk)
        return True

    async def _send(self, reason: str, keys: Optional[list[Any]], tags: Optional[list[str]] = None,
                    quiet: bool = False) -> bool:
        """Publish one invalidation on every route; whether it reached them all (what did
        not is owed).  ``quiet``: a resend, whose failure was logged the first time."""
        from .redis.invalidation import encode_message
        routes = self._publications(keys)
        if not routes:
            return False                # no live node to publish on (or not known yet how)
        sent = True
        for client, channel, sharded, subset in routes:
            try:
                message = encode_message(self._origin, reason, subset, tags)
                if sharded:
                    await client.spublish(channel, message)
                else:
                    await client.publish(channel, message)
                self._stats.invalidations_sent += 1
            except L2_ERRORS as exc:
                (log.debug if quiet else log.warning)(
                    "could not publish an invalidation (%s: %s); resending it when Redis answers",
                    type(exc).__name__, exc)
                if subset is not None and keys is not None and len(routes) > 1:
                    self._owe_invalidation(subset)
                else:
                    sent = False
        return sent

    def _owe_invalidation(self, keys: Optional[list[Any]]) -> None:
        """Other processes must still drop keys (None: everything): resend in the background."""
        if self.coherence is Coherence.TRACKING:
            return                              # Redis reports what it applied; nothing to resend
        if self._owe(keys):
            async_spawn(self._resend_owed)

    async def _resend_owed(self) -> None:
        """Publish what is owed until it is all out (or invalidation is off): every 50 ms at
        first, backing off to 0.5 s while Redis does not answer."""
        delay = 0.05
        while True:
            await async_sleep(delay)
            owed = self._take_owed()
            if owed is None:
                return
            everything, keys = owed
            if everything:
                ok = await self._send("clear", None, quiet=True)
                if not ok:
                    self._owe(None)
            else:
                ok = True
                for i in range(0, len(keys), self._MESSAGE_KEYS):
                    chunk = keys[i:i + self._MESSAGE_KEYS]
                    if not await self._send("delete", chunk, quiet=True):
                        self._owe(keys[i:])
                        ok = False
                        break
            delay = 0.05 if ok else min(delay * 2, 0.5)

    # -- lifecycle --------------------------------------------------------------

    async def close(self) -> None:
        """Stop the invalidation listener (the tiers stay usable, without coherence); coalesced
        invalidations not yet published are published first."""
        if self._coalesce:
            await self._send_pending(self._take_pending(stop=True))
        if self._listener is not None:
            await self._listener.close()
            self._listener = None
            self._invalidation = False

    async def __aenter__(self) -> "AsyncTieredMethods":
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(l1={self.l1!r}, l2={self.l2!r})"
