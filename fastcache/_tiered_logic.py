"""What the sync and asyncio tiered caches decide without I/O.

``_TieredLogic`` holds the parts of a tiered read and write that do not wait
on L2: L1 fills bounded by the L2 entry's lifetime and the invalidation
epoch, the breaker's accounting, tag bookkeeping, stats and the routing of
invalidation messages.  The I/O around it is written once, in
:mod:`fastcache._async_tiered` (the sync code is generated from it).
"""
from __future__ import annotations

import enum
import itertools
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Optional

from ._types import DEFAULT, check_ttl
from .breaker import Admission, CircuitBreaker
from .errors import PartialOutage
from .protocols import InvalidationRouter, InvalidationSource, Namespaced
from .tags import TagIndex, check_tag

__all__ = ("TieredStats", "MISS")


MISS: Any = object()


class Coherence(enum.Enum):
    """How other processes' L1 copies are kept coherent with L2 (``coherence=``)."""

    PUBSUB = "pubsub"          # fastcache publishes after its own writes (any Redis; pub/sub allowed)
    TRACKING = "tracking"      # Redis reports every change under the namespace, whoever made it
                               # (client tracking, BCAST + the prefix; Redis >= 6.0)


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
    invalidations_sent: int = 0          # invalidation messages published
    l1_flushes: int = 0
    invalidations_owed: int = 0          # keys (1: a flush) other processes have yet to be told of
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

    _get_l1: Callable[[Any, Any], Any]      # the front's get_l1 (set by each class's __init__)
    _store_for: Callable[[Any, Any, Optional[float]], bool]     # the front's _store_for (idem)
    _started: bool

    def _setup(self, l2: Any, l1_ttl: Optional[float], invalidation: Optional[bool],
               on_invalidate: Optional[Callable[[Optional[list[Any]], str], None]],
               breaker_threshold: int, breaker_cooldown: float, timer: Any,
               coherence: "Coherence | str" = Coherence.PUBSUB, coalesce: float = 0.0) -> None:
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
        # What this L2 can do beyond the L2 protocol, decided once (protocols.py).
        self._l2_default_ttl = l2.default_ttl if isinstance(l2, Namespaced) else None
        self._router = l2 if isinstance(l2, InvalidationRouter) else None
        self._source: Optional[InvalidationSource] = l2 if isinstance(l2, InvalidationSource) else None
        if invalidation is None:
            invalidation = isinstance(l2, InvalidationSource)
        if invalidation:
            if not isinstance(l2, InvalidationSource):
                raise TypeError("invalidation=True needs an L2 with invalidation_clients() (RedisCache, "
                                "ShardedRedisCache)")
            from .redis.invalidation import new_origin
            self._origin = new_origin()
        self._invalidation = bool(invalidation)
        self._channel = self._channel_for(l2)
        try:
            self.coherence = Coherence(coherence)
        except ValueError:
            raise ValueError(f"coherence must be 'pubsub' or 'tracking', not {coherence!r}") from None
        # On a Redis Cluster the listener follows the masters (tracking on each; sharded
        # pub/sub on Redis >= 7.0, whose publisher asks the listener where to publish).
        cluster = bool(getattr(l2, "cluster", False)) and self._source is not None
        self._tracking_cluster = cluster and self.coherence is Coherence.TRACKING
        self._cluster_pubsub = cluster and self.coherence is Coherence.PUBSUB
        if self.coherence is Coherence.TRACKING:
            if not self._invalidation:
                raise ValueError("coherence='tracking' keeps L1s coherent: it needs invalidation on")
            prefix = getattr(l2, "prefix", None)
            if not isinstance(prefix, bytes):
                raise TypeError("coherence='tracking' needs an L2 with a bytes prefix (RedisCache, ShardedRedisCache)")
            self._tracking_prefix = prefix
        # Invalidations other processes are owed: keys whose L2 write failed (the server may
        # still have applied it: a timeout is not a "no") or whose message could not be
        # published.  A background resender publishes them as soon as Redis answers.
        self._owed: dict[Any, None] = {}
        self._owed_all = False              # a flush is owed (a failed clear, or too many keys)
        self._owed_lock = threading.Lock()
        self._resending = False
        # Coalescing (pub/sub): keys written, not yet published; a flusher sends them together
        if isinstance(coalesce, bool) or not isinstance(coalesce, (int, float)) or not 0 <= coalesce <= 1:
            raise ValueError(f"coalesce must be a number of seconds from 0 (off) to 1, not {coalesce!r}")
        self._coalesce = float(coalesce) if self.coherence is Coherence.PUBSUB else 0.0
        self._pending: dict[Any, None] = {}
        self._pending_reasons: set[str] = set()
        self._flushing = False

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
        try:
            if self._store_for(key, value, self._l1_lifetime(remaining)):
                return
        except ValueError:                   # too large for L1: serve it, do not keep it
            pass
        self._drop_l1(key)                   # nothing left of its lifetime, or too large

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
        prefix = l2.prefix if isinstance(l2, Namespaced) else b""
        if isinstance(prefix, str):
            prefix = prefix.encode("utf-8")
        return b"fastcache:invalidate:" + prefix

    # -- invalidations owed to other processes ----------------------------------

    _OWED_MAX = 10_000                  # past this many keys, owe a flush instead

    def _owe(self, keys: Optional[list[Any]]) -> bool:
        """Remember that other processes must drop keys (None: everything); whether a
        resender must be started (none is running)."""
        if not self._invalidation:
            return False
        with self._owed_lock:
            if keys is None or len(self._owed) + len(keys) > self._OWED_MAX:
                self._owed_all = True
                self._owed.clear()
            elif not self._owed_all:
                self._owed.update(dict.fromkeys(keys))
            if self._resending:
                return False
            self._resending = True
            return True

    def _take_owed(self) -> Optional[tuple[bool, list[Any]]]:
        """(flush everything?, keys) to publish now, or None when nothing is owed (the
        resender then stops: the flag is cleared under the same lock)."""
        with self._owed_lock:
            if not self._invalidation or not (self._owed_all or self._owed):
                self._resending = False
                return None
            taken = (self._owed_all, list(self._owed))
            self._owed_all = False
            self._owed.clear()
            return taken

    # -- coalescing: invalidations published together (pub/sub) ------------------

    def _pend(self, reason: str, keys: list[Any]) -> bool:
        """Queue keys for the next coalesced message; whether a flusher must be started."""
        with self._owed_lock:
            self._pending.update(dict.fromkeys(keys))
            self._pending_reasons.add(reason)
            if self._flushing:
                return False
            self._flushing = True
            return True

    def _take_pending(self, stop: bool = False) -> Optional[tuple[str, list[Any]]]:
        """(reason, keys) to publish now, or None when nothing is pending (the flusher then
        stops: the flag is cleared under the same lock); ``stop``: the caller is not the
        flusher (a close), which is left running."""
        with self._owed_lock:
            if not self._pending:
                if not stop:
                    self._flushing = False
                return None
            reasons = self._pending_reasons
            taken = (next(iter(reasons)) if len(reasons) == 1 else "changed", list(self._pending))
            self._pending = {}
            self._pending_reasons = set()
            return taken

    # -- the parts of a read that do not wait on L2 (shared by sync and async) --

    def _may_read_l2(self, n: int = 1) -> Admission:
        admission = self._breaker.allow()
        if not admission:
            self._stats.l2_skipped += n
        return admission

    def _split_by_l1(self, keys: Iterable[Any], get_l1: Callable[[Any, Any], Any]) -> tuple[dict[Any, Any], list[Any]]:
        """(found in L1, keys still missing)."""
        result: dict[Any, Any] = {}
        missing = []
        for k in keys:
            v = get_l1(k, MISS)
            if v is MISS:
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
            return self._l2_default_ttl
        return check_ttl(ttl)

    def _routes(self, keys: Optional[list[Any]]) -> list[tuple[Any, Optional[list[Any]]]]:
        """Where to publish which keys: listeners subscribe on every node, so each
        key is announced once, on one node (its owner when L2 is sharded)."""
        if self._router is not None:
            return self._router.invalidation_routes(keys)
        clients = self._source.invalidation_clients(live=True) if self._source is not None else []
        return [(clients[0], keys)] if clients else []

    def _publications(self, keys: Optional[list[Any]]) -> list[tuple[Any, bytes, bool, Optional[list[Any]]]]:
        """(client, channel, sharded?, keys) for each message that invalidates keys (None:
        everything); none while a cluster's listener has not yet found out whether the
        servers have sharded pub/sub (the invalidation is then owed until it has)."""
        if self._cluster_pubsub:
            listener = self._listener
            sharded = getattr(listener, "sharded", None)
            if sharded is None:
                return []
            if sharded:
                from .redis.invalidation import shard_bucket
                client = self._source.invalidation_clients()[0] if self._source is not None else None
                channels = listener.shard_channel_names
                if keys is None:
                    return [(client, channels[0], True, None)]      # every process listens to all
                buckets: dict[int, list[Any]] = {}
                for k in keys:
                    buckets.setdefault(shard_bucket(self.l2.redis_key(k)), []).append(k)
                return [(client, channels[b], True, ks) for b, ks in buckets.items()]
        return [(client, self._channel, False, subset) for client, subset in self._routes(keys)]

    def _l2_failed(self, exc: BaseException, admission: Admission = Admission.CALL) -> None:
        self._stats.l2_errors += 1
        if isinstance(exc, PartialOutage):
            self._breaker.abandon(admission)
            return          # one shard down (ShardedRedisCache handles it): not an L2 outage
        self._breaker.failure(exc, admission)

    def stats(self) -> TieredStats:
        """A snapshot of the counters."""
        s = TieredStats(**{k: v for k, v in vars(self._stats).items() if k != "extra"})
        s.l1_hits = self.l1_hits
        s.invalidations_owed = len(self._owed) + self._owed_all
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
