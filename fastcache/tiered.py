"""Two-tier caching: a local L1 in front of a shared L2 (Redis).

``TieredCache(l1=LRUCache(50_000), l2=RedisCache(...))``:

* ``get`` answers from L1 (compiled path, no network), else from L2 (and
  keeps a copy in L1 no longer than the L2 entry has left to live), else
  returns the default.  ``get_or_load`` calls the loader on a miss, once
  per key per process however many threads miss together.
* ``set``/``delete`` write L2 first, then L1, then tell other processes to
  drop their L1 copies (pub/sub, see :mod:`fastcache.redis.invalidation`).
* L2 failures never raise from reads: they count in ``stats()``, are
  logged once per incident, and after ``breaker_threshold`` consecutive
  failures a circuit breaker skips L2 for ``breaker_cooldown`` seconds.
  Writes that cannot reach L2 raise (after dropping the L1 copy), because
  a write that silently did not happen is worse than an error.

The L1 is owned by the tiered cache: write it only through the tiered cache
(each copy's deadline is kept beside it, and a value written around the
tiered cache has none, so it is never served).
"""
from __future__ import annotations

import asyncio
import itertools
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Iterable, Mapping, Optional

from ._impl import TieredFront
from ._types import DEFAULT, check_ttl
from .breaker import CircuitBreaker
from .singleflight import AsyncSingleFlight, SingleFlight
from .tags import TagIndex, check_tag, check_tags

__all__ = ("TieredCache", "AsyncTieredCache", "TieredStats", "DEFAULT")

log = logging.getLogger("fastcache.tiered")

try:
    import redis as _redis
    L2_ERRORS: tuple[type[BaseException], ...] = (_redis.RedisError, OSError, TimeoutError)
except ImportError:                     # pragma: no cover - redis is optional
    L2_ERRORS = (OSError, TimeoutError)


_MISS: Any = object()


@dataclass
class TieredStats:
    """Counters of a tiered cache (a snapshot)."""

    l1_hits: int = 0
    l2_hits: int = 0
    l2_misses: int = 0
    l2_errors: int = 0
    l2_skipped: int = 0                  # reads not sent because the breaker was open
    loads: int = 0
    load_errors: int = 0
    invalidations_received: int = 0
    l1_flushes: int = 0
    breaker: str = "closed"
    extra: dict[str, Any] = field(default_factory=dict)


class _TieredLogic:
    """What the sync and async tiered caches share: L1 fills, stats, invalidation."""

    l2: Any
    if TYPE_CHECKING:
        l1: Any
        l1_hits: int
        clock_slack: float

        def now(self) -> float: ...

        def _store(self, key: Any, value: Any, expires: float = ...) -> None: ...

    def _setup(self, l2: Any, l1_ttl: Optional[float], invalidation: Optional[bool],
               on_invalidate: Optional[Callable[[Optional[list[Any]], str], None]],
               breaker_threshold: int, breaker_cooldown: float, timer: Any) -> None:
        self.l2 = l2
        self.l1_ttl = check_ttl(l1_ttl, "l1_ttl")
        self._stats = TieredStats()
        self._breaker = CircuitBreaker(breaker_threshold, breaker_cooldown, timer=timer,
                                       name=f"L2 {l2!r}")
        # Bumped by every invalidation (see _fill).  next() on a count is one C
        # call, so concurrent bumps from the listener and callers never collapse.
        self._epochs = itertools.count(1)
        self._epoch = 0
        self._on_invalidate = on_invalidate
        l1 = self.l1
        self._tags = TagIndex(lambda k: k in l1, lambda: int(getattr(l1, "maxsize", 0) or len(l1)))
        self._listener: Any = None
        self._origin = ""
        if invalidation is None:
            invalidation = hasattr(l2, "invalidation_clients")
        if invalidation:
            if not hasattr(l2, "invalidation_clients"):
                raise TypeError("invalidation=True needs an L2 with invalidation_clients() (RedisCache, "
                                "ShardedRedisCache)")
            from .redis.invalidation import new_origin
            self._origin = new_origin()
        self._invalidation = bool(invalidation)
        self._channel = self._channel_for(l2)

    # -- L1 -------------------------------------------------------------------

    def _l1_lifetime(self, remaining: Optional[float]) -> Optional[float]:
        if self.l1_ttl is not None and (remaining is None or self.l1_ttl < remaining):
            return self.l1_ttl
        return remaining

    def _fill(self, key: Any, value: Any, remaining: Optional[float], epoch: Optional[int] = None) -> None:
        """Keep a copy in L1 for at most `remaining` seconds (None: no limit).

        ``epoch`` is the invalidation epoch seen before reading L2: if an
        invalidation arrived meanwhile the value may already be stale, so
        it is returned to the caller but not kept.
        """
        if epoch is not None and epoch != self._epoch:
            return
        lifetime = self._l1_lifetime(remaining)
        expires = float("inf")
        if lifetime is not None:
            lifetime -= self.clock_slack
            if lifetime <= 0:
                self._drop_l1(key)
                return
            expires = self.now() + lifetime
        try:
            self._store(key, value, expires)
        except ValueError:                   # too large for L1: serve it, do not keep it
            self._drop_l1(key)

    def _drop_l1(self, key: Any) -> None:
        self.l1.pop(key, None)
        if self._tags.tags_of(key):
            self._tags.discard(key)

    def _flush_l1(self) -> None:
        self._epoch = next(self._epochs)
        self._stats.l1_flushes += 1
        self.l1.clear()
        self._tags.clear()

    def _remote_invalidation(self, keys: Optional[list[Any]], reason: str,
                             tags: Optional[list[str]] = None) -> None:
        self._epoch = next(self._epochs)
        self._stats.invalidations_received += 1
        if keys is None and tags is None:
            self.l1.clear()
            self._tags.clear()
        else:
            for k in keys or ():
                self._drop_l1(k)
            for t in tags or ():
                for k in self._tags.pop_tag(t):
                    self.l1.pop(k, None)
        if self._on_invalidate is not None:
            self._on_invalidate(keys, reason)

    def _tagged(self, key: Any, tags: tuple[str, ...]) -> None:
        if tags or self._tags.tags_of(key):
            self._tags.add(key, tags)

    def _purge_local(self, tag: str, remote: list[Any]) -> list[Any]:
        """Drop tag's keys from L1 (the index's and L2's); all of them, for the message."""
        keys = list(dict.fromkeys(remote + list(self._tags.pop_tag(check_tag(tag)))))
        for k in keys:
            self._drop_l1(k)
        return keys

    _MESSAGE_KEYS = 1000                # keys per invalidation message for big tags

    @staticmethod
    def _channel_for(l2: Any) -> bytes:
        prefix = getattr(l2, "prefix", b"")
        if isinstance(prefix, str):
            prefix = prefix.encode("utf-8")
        return b"fastcache:invalidate:" + prefix

    # -- the parts of a read that do not wait on L2 (shared by sync and async) --

    def _may_read_l2(self, n: int = 1) -> bool:
        if self._breaker.allow():
            return True
        self._stats.l2_skipped += n
        return False

    def _l2_reply(self, key: Any, reply: tuple[bool, Any, Optional[float]], epoch: int) -> tuple[bool, Any]:
        """Account for a get_with_ttl answer and keep an L1 copy."""
        self._breaker.success()
        found, value, remaining = reply
        if not found:
            self._stats.l2_misses += 1
            return False, None
        self._stats.l2_hits += 1
        self._fill(key, value, remaining, epoch)
        return True, value

    def _split_by_l1(self, keys: Iterable[Any], get_l1: Callable[[Any, Any], Any]) -> tuple[dict[Any, Any], list[Any]]:
        """(found in L1, keys still missing)."""
        result: dict[Any, Any] = {}
        missing = []
        for k in keys:
            v = get_l1(k, _MISS)
            if v is _MISS:
                missing.append(k)
            else:
                result[k] = v
        return result, missing

    def _absorb_many(self, missing: list[Any], found: Mapping[Any, tuple[Any, Optional[float]]],
                     epoch: int, result: dict[Any, Any]) -> dict[Any, Any]:
        """Account for a get_many_with_ttl answer, keep L1 copies, merge into result."""
        self._breaker.success()
        self._stats.l2_hits += len(found)
        self._stats.l2_misses += len(set(missing)) - len(found)
        for k, (v, remaining) in found.items():
            self._fill(k, v, remaining, epoch)
            result[k] = v
        return result

    def _l2_ttl(self, ttl: Any) -> Optional[float]:
        if ttl is DEFAULT:
            return getattr(self.l2, "default_ttl", None)
        return check_ttl(ttl)

    def _routes(self, keys: Optional[list[Any]]) -> list[tuple[Any, Optional[list[Any]]]]:
        """Where to publish which keys: listeners subscribe on every node, so each
        key is announced once, on one node (its owner when L2 is sharded)."""
        route = getattr(self.l2, "invalidation_routes", None)
        if route is not None:
            return route(keys)  # type: ignore[no-any-return]
        clients = self.l2.invalidation_clients(live=True)
        return [(clients[0], keys)] if clients else []

    def _l2_failed(self, exc: BaseException) -> None:
        self._stats.l2_errors += 1
        if getattr(exc, "partial", False):
            return          # one shard down (ShardedRedisCache handles it): not an L2 outage
        self._breaker.failure(exc)

    def stats(self) -> TieredStats:
        """A snapshot of the counters."""
        s = TieredStats(**{k: v for k, v in vars(self._stats).items() if k != "extra"})
        s.l1_hits = self.l1_hits
        s.breaker = self._breaker.state
        s.extra = {"l1_len": len(self.l1)}
        if self._listener is not None:
            s.extra["invalidation_connected"] = self._listener.connected.is_set()
        return s

    @property
    def breaker(self) -> CircuitBreaker:
        """The L2 circuit breaker."""
        return self._breaker

    def invalidate_local(self, key: Any) -> None:
        """Drop key from this process's L1 only."""
        self._epoch = next(self._epochs)
        self._drop_l1(key)

    def flush_local(self) -> None:
        """Empty this process's L1 (L2 and other processes are untouched)."""
        self._flush_l1()


class SyncTieredMethods(_TieredLogic):
    """Everything of :class:`TieredCache` but the compiled L1 hit path."""

    if TYPE_CHECKING:
        def get_l1(self, key: Any, default: Any = None) -> Any: ...

        def _setup_front(self, l1: Any, timer: Optional[Callable[[], float]] = None) -> None: ...

    def __init__(self, l1: Any, l2: Any, *, l1_ttl: Optional[float] = None,
                 invalidation: Optional[bool] = None,
                 on_invalidate: Optional[Callable[[Optional[list[Any]], str], None]] = None,
                 breaker_threshold: int = 5, breaker_cooldown: float = 5.0,
                 timer: Optional[Callable[[], float]] = None) -> None:
        for name in ("get", "pop", "clear", "__setitem__"):
            if not hasattr(l1, name):
                raise TypeError(f"l1 must be a mutable mapping (a fastcache cache); it has no {name}")
        self._setup_front(l1, timer)
        self._setup(l2, l1_ttl, invalidation, on_invalidate, breaker_threshold, breaker_cooldown, timer)
        self._flight = SingleFlight()
        if self._invalidation:
            from .redis.invalidation import InvalidationListener
            self._listener = InvalidationListener(self.l2.invalidation_clients(), self._channel,
                                                  self._origin, self._remote_invalidation, self._flush_l1)

    # -- reads ------------------------------------------------------------------

    def _get_miss(self, key: Any, default: Any) -> Any:
        found, value = self._read_l2(key)
        return value if found else default

    def _read_l2(self, key: Any) -> tuple[bool, Any]:
        if not self._may_read_l2():
            return False, None
        epoch = self._epoch
        try:
            reply = self.l2.get_with_ttl(key)
        except L2_ERRORS as exc:
            self._l2_failed(exc)
            return False, None
        return self._l2_reply(key, reply, epoch)

    def get_or_load(self, key: Any, loader: Callable[[Any], Any], ttl: Any = DEFAULT) -> Any:
        """The value for key; on a miss ``loader(key)`` is called (once per key
        across this process's threads), and its result stored in both tiers."""
        value = self.get_l1(key, _MISS)
        if value is not _MISS:
            return value
        return self._flight.do(key, lambda: self._load(key, loader, ttl))[0]

    def _load(self, key: Any, loader: Callable[[Any], Any], ttl: Any) -> Any:
        found, value = self._read_l2(key)      # another process may have loaded it
        if found:
            return value
        self._stats.loads += 1
        try:
            value = loader(key)
        except BaseException:
            self._stats.load_errors += 1
            raise
        if self._breaker.state != CircuitBreaker.CLOSED:
            self._fill(key, value, self._l2_ttl(ttl))   # L2 is failing: keep it local only
            return value
        try:
            self._write(key, value, ttl)
        except L2_ERRORS:
            pass                                # already counted; the caller still gets its value
        return value

    def get_many(self, keys: Iterable[Any]) -> dict[Any, Any]:
        """``{key: value}`` for keys found in L1 or L2 (L2: one batched call)."""
        result, missing = self._split_by_l1(keys, self.get_l1)
        if not missing or not self._may_read_l2(len(missing)):
            return result
        epoch = self._epoch
        try:
            found = self.l2.get_many_with_ttl(missing)
        except L2_ERRORS as exc:
            self._l2_failed(exc)
            return result
        return self._absorb_many(missing, found, epoch, result)

    # -- writes -----------------------------------------------------------------

    def _write(self, key: Any, value: Any, ttl: Any, tags: tuple[str, ...] = ()) -> None:
        remaining = self._l2_ttl(ttl)
        try:
            if tags:
                self.l2.set(key, value, ttl=remaining, tags=tags)
            else:
                self.l2.set(key, value, ttl=remaining)
        except L2_ERRORS as exc:
            self._drop_l1(key)
            self._l2_failed(exc)
            raise
        self._fill(key, value, remaining)
        self._tagged(key, tags)
        self._publish("set", [key])

    def set(self, key: Any, value: Any, ttl: Any = DEFAULT, tags: Optional[Iterable[str]] = None) -> None:
        """Store in L2, then L1, then invalidate other processes' L1 copies.
        ``tags`` name the entry for :meth:`invalidate_tag`."""
        self._write(key, value, ttl, check_tags(tags))

    def invalidate_tag(self, tag: str) -> list[Any]:
        """Remove every entry carrying tag from L2, this L1 and every other
        process's L1 (a surrogate-key purge); the keys removed.  O(tagged entries)."""
        error: Optional[BaseException] = None
        try:
            remote = list(self.l2.invalidate_tag(tag))
        except L2_ERRORS as exc:
            self._l2_failed(exc)
            error, remote = exc, []
        keys = self._purge_local(tag, remote)
        for i in range(0, len(keys), self._MESSAGE_KEYS):
            self._publish("tag", keys[i:i + self._MESSAGE_KEYS], [tag])
        if error is not None:
            raise error
        return keys

    def set_many(self, mapping: Mapping[Any, Any], ttl: Any = DEFAULT) -> None:
        """``set`` for many items: one L2 pipeline, one invalidation message."""
        remaining = self._l2_ttl(ttl)
        try:
            self.l2.set_many(mapping, ttl=remaining)
        except L2_ERRORS as exc:
            for k in mapping:
                self._drop_l1(k)
            self._l2_failed(exc)
            raise
        for k, v in mapping.items():
            self._fill(k, v, remaining)
        self._publish("set", list(mapping))

    def delete(self, key: Any) -> bool:
        """Remove from both tiers (and other processes' L1); True if L2 had it."""
        self._drop_l1(key)
        try:
            existed = bool(self.l2.delete(key))
        except L2_ERRORS as exc:
            self._l2_failed(exc)
            raise
        self._publish("delete", [key])
        return existed

    def delete_many(self, keys: Iterable[Any]) -> int:
        """Remove keys from both tiers; how many L2 had."""
        ks = list(keys)
        for k in ks:
            self._drop_l1(k)
        try:
            n = int(self.l2.delete_many(ks))
        except L2_ERRORS as exc:
            self._l2_failed(exc)
            raise
        self._publish("delete", ks)
        return n

    def clear(self) -> None:
        """Empty L1 and this namespace in L2, and every other process's L1."""
        self._flush_l1()
        self.l2.clear()
        self._publish("clear", None)

    def _publish(self, reason: str, keys: Optional[list[Any]], tags: Optional[list[str]] = None) -> None:
        if not self._invalidation:
            return
        from .redis.invalidation import encode_message
        for client, subset in self._routes(keys):
            try:
                client.publish(self._channel, encode_message(self._origin, reason, subset, tags))
            except L2_ERRORS as exc:
                log.warning("could not publish an invalidation (%s: %s); other processes "
                            "will flush their L1 when they reconnect", type(exc).__name__, exc)

    # -- lifecycle --------------------------------------------------------------

    def wait_ready(self, timeout: float = 5.0) -> bool:
        """Block until the invalidation listener is subscribed (True) or timeout."""
        return self._listener is None or self._listener.wait_connected(timeout)

    def close(self) -> None:
        """Stop the invalidation listener (the tiers stay usable, without coherence)."""
        if self._listener is not None:
            self._listener.close()
            self._listener = None
            self._invalidation = False

    def __enter__(self) -> "SyncTieredMethods":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"TieredCache(l1={self.l1!r}, l2={self.l2!r})"


class TieredCache(SyncTieredMethods, TieredFront):
    """L1 (in-process) in front of L2 (Redis), with cross-process invalidation.

    ``l1``: a fastcache cache (LRUCache, LFUCache, FIFOCache get the compiled
    hit path; any mapping with ``get``/``pop``/``clear`` works).  ``l2``: a
    ``RedisCache`` or ``ShardedRedisCache`` (or anything with their
    methods).  ``l1_ttl`` caps how long L1 keeps a copy; copies never
    outlive the L2 entry.  ``invalidation`` (default: on when L2 is Redis)
    subscribes to the namespace's invalidation channel;
    ``on_invalidate(keys, reason)`` is called for each remote invalidation.
    ``timer`` is the clock for L1 deadlines and the breaker (for tests).
    """


class AsyncTieredCache(_TieredLogic):
    """:class:`TieredCache` for asyncio: the same methods, awaited.

    ``l2`` is an ``AsyncRedisCache`` (or anything with its coroutine
    methods).  L1 lookups use the same compiled path as the sync cache;
    ``get_l1`` stays synchronous.  The invalidation listener is a task
    started on first use (or by ``async with`` / :meth:`start`) in the
    running loop.  ``get_or_load`` accepts a sync or async loader.
    """

    def __init__(self, l1: Any, l2: Any, *, l1_ttl: Optional[float] = None,
                 invalidation: Optional[bool] = None,
                 on_invalidate: Optional[Callable[[Optional[list[Any]], str], None]] = None,
                 breaker_threshold: int = 5, breaker_cooldown: float = 5.0,
                 timer: Optional[Callable[[], float]] = None) -> None:
        for name in ("get", "pop", "clear", "__setitem__"):
            if not hasattr(l1, name):
                raise TypeError(f"l1 must be a mutable mapping (a fastcache cache); it has no {name}")
        self._front = TieredFront()
        self._front._setup_front(l1, timer)
        self._setup(l2, l1_ttl, invalidation, on_invalidate, breaker_threshold, breaker_cooldown, timer)
        self._flight = AsyncSingleFlight()
        self._started = False

    @property
    def l1(self) -> Any:
        """The local tier."""
        return self._front.l1

    @property
    def l1_hits(self) -> int:  # type: ignore[override]
        """L1 hits so far."""
        return int(self._front.l1_hits)

    @property
    def clock_slack(self) -> float:  # type: ignore[override]
        """How far the L1 clock may lag real time (subtracted from deadlines)."""
        return float(self._front.clock_slack)

    def now(self) -> float:
        """The time on this cache's clock."""
        return float(self._front.now())

    def _store(self, key: Any, value: Any, expires: float = float("inf")) -> None:
        self._front._store(key, value, expires)

    def l1_deadline(self, key: Any) -> Optional[float]:
        """The deadline of key's L1 copy (None: no deadline); KeyError if L1 has none."""
        return self._front.l1_deadline(key)

    async def start(self) -> None:
        """Start the invalidation listener in the running loop (idempotent)."""
        if self._started:
            return
        self._started = True
        if self._invalidation:
            from .redis.invalidation import AsyncInvalidationListener
            self._listener = AsyncInvalidationListener(self.l2.invalidation_clients(), self._channel,
                                                       self._origin, self._remote_invalidation,
                                                       self._flush_l1)

    async def wait_ready(self, timeout: float = 5.0) -> bool:
        """Wait until the invalidation listener is subscribed."""
        await self.start()
        return self._listener is None or bool(await self._listener.wait_connected(timeout))

    def get_l1(self, key: Any, default: Any = None) -> Any:
        """The value if L1 holds a live copy, else default (no L2)."""
        return self._front.get_l1(key, default)

    async def get(self, key: Any, default: Any = None) -> Any:
        """The value for key: from L1, else L2 (filling L1), else default."""
        v = self._front.get_l1(key, _MISS)
        if v is not _MISS:
            return v
        found, v = await self._read_l2(key)
        return v if found else default

    async def _read_l2(self, key: Any) -> tuple[bool, Any]:
        if not self._started:
            await self.start()
        if not self._may_read_l2():
            return False, None
        epoch = self._epoch
        try:
            reply = await self.l2.get_with_ttl(key)
        except L2_ERRORS as exc:
            self._l2_failed(exc)
            return False, None
        return self._l2_reply(key, reply, epoch)

    async def get_or_load(self, key: Any, loader: Callable[[Any], Any], ttl: Any = DEFAULT) -> Any:
        """The value for key; on a miss ``loader(key)`` (sync or async) runs once per
        key across this loop's tasks, and its result is stored in both tiers."""
        v = self._front.get_l1(key, _MISS)
        if v is not _MISS:
            return v
        return (await self._flight.do(key, lambda: self._load(key, loader, ttl)))[0]

    async def _load(self, key: Any, loader: Callable[[Any], Any], ttl: Any) -> Any:
        found, value = await self._read_l2(key)
        if found:
            return value
        self._stats.loads += 1
        try:
            value = loader(key)
            if isinstance(value, Awaitable):
                value = await value
        except BaseException:
            self._stats.load_errors += 1
            raise
        if self._breaker.state != CircuitBreaker.CLOSED:
            self._fill(key, value, self._l2_ttl(ttl))
            return value
        try:
            await self._write(key, value, ttl)
        except L2_ERRORS:
            pass
        return value

    async def get_many(self, keys: Iterable[Any]) -> dict[Any, Any]:
        """``{key: value}`` for keys found in L1 or L2 (L2: one batched call)."""
        result, missing = self._split_by_l1(keys, self._front.get_l1)
        if not missing:
            return result
        if not self._started:
            await self.start()
        if not self._may_read_l2(len(missing)):
            return result
        epoch = self._epoch
        try:
            found = await self.l2.get_many_with_ttl(missing)
        except L2_ERRORS as exc:
            self._l2_failed(exc)
            return result
        return self._absorb_many(missing, found, epoch, result)

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
        remaining = self._l2_ttl(ttl)
        try:
            await self.l2.set_many(mapping, ttl=remaining)
        except L2_ERRORS as exc:
            for k in mapping:
                self._drop_l1(k)
            self._l2_failed(exc)
            raise
        for k, v in mapping.items():
            self._fill(k, v, remaining)
        await self._publish("set", list(mapping))

    async def delete(self, key: Any) -> bool:
        """Remove from both tiers (and other processes' L1); True if L2 had it."""
        self._drop_l1(key)
        try:
            existed = bool(await self.l2.delete(key))
        except L2_ERRORS as exc:
            self._l2_failed(exc)
            raise
        await self._publish("delete", [key])
        return existed

    async def delete_many(self, keys: Iterable[Any]) -> int:
        """Remove keys from both tiers; how many L2 had."""
        ks = list(keys)
        for k in ks:
            self._drop_l1(k)
        try:
            n = int(await self.l2.delete_many(ks))
        except L2_ERRORS as exc:
            self._l2_failed(exc)
            raise
        await self._publish("delete", ks)
        return n

    async def clear(self) -> None:
        """Empty L1 and this namespace in L2, and every other process's L1."""
        self._flush_l1()
        await self.l2.clear()
        await self._publish("clear", None)

    async def _publish(self, reason: str, keys: Optional[list[Any]], tags: Optional[list[str]] = None) -> None:
        if not self._invalidation:
            return
        from .redis.invalidation import encode_message
        for client, subset in self._routes(keys):
            try:
                await client.publish(self._channel, encode_message(self._origin, reason, subset, tags))
            except L2_ERRORS as exc:
                log.warning("could not publish an invalidation (%s: %s)", type(exc).__name__, exc)

    async def close(self) -> None:
        """Stop the invalidation listener."""
        if self._listener is not None:
            await self._listener.close()
            self._listener = None
            self._invalidation = False

    async def __aenter__(self) -> "AsyncTieredCache":
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"AsyncTieredCache(l1={self.l1!r}, l2={self.l2!r})"
