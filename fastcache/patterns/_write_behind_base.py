"""What the sync and asyncio write-behind queues share: configuration, the queue,
the counters (no locking, no I/O), and the two flushers (a thread vs a task:
the one place the modes differ)."""
from __future__ import annotations

import asyncio
import atexit
import inspect
import itertools
import logging
import threading
import time
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping, Optional

from .._impl import WriteQueue
from ..loading import store_value

log = logging.getLogger("fastcache.patterns")


class WriteBehindFull(RuntimeError):
    """The write queue is full (``on_full="raise"``, or ``block_timeout`` passed)."""


@dataclass(frozen=True)
class WriteBehindStats:
    """Counters of a write-behind queue (a snapshot)."""

    sets: int
    coalesced: int          # sets that replaced a value still queued
    written: int            # items the store accepted
    batches: int
    failures: int           # failed write_batch calls
    dead_lettered: int      # items handed to dead_letter
    pending: int            # items queued now (not counting a batch in flight)
    replayed: int = 0       # items recovered from the journal at start


class _WriteQueue(WriteQueue):
    """Configuration, the queue and the counters; no locking, no I/O (but the common
    write, ``try_set``: the compiled base's, ``fastcache._core.write_queue``).

    The sync and asyncio classes wrap it in their own condition variable and
    run the same steps: ``_enqueue`` a write, ``_due_in`` to know when a batch
    is due, ``_take`` it, then ``_written``/``_failed``/``_dead``.
    """

    _cond: Any       # the mode's condition (WaitCondition or AsyncWaitCondition), made by the queue

    def _configure(self, cache: Any, write_batch: Callable[[dict[Any, Any]], Any], max_batch: int,
                   max_delay: float, max_pending: int, on_full: str, block_timeout: Optional[float],
                   max_attempts: int, retry_delay: float, max_retry_delay: float,
                   dead_letter: Optional[Callable[[dict[Any, Any], BaseException], Any]], journal: Any) -> None:
        if not callable(write_batch):
            raise TypeError("write_batch must be callable: write_batch({key: value, ...})")
        for name, v in (("max_batch", max_batch), ("max_pending", max_pending), ("max_attempts", max_attempts)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        for name, f in (("max_delay", max_delay), ("retry_delay", retry_delay),
                        ("max_retry_delay", max_retry_delay)):
            if isinstance(f, bool) or not isinstance(f, (int, float)) or f < 0:
                raise ValueError(f"{name} must be a non-negative number of seconds, got {f!r}")
        if on_full not in ("block", "raise"):
            raise ValueError(f"on_full must be 'block' or 'raise', got {on_full!r}")
        if dead_letter is not None and not callable(dead_letter):
            raise TypeError("dead_letter must be callable: dead_letter(batch, exc)")
        self.cache = cache
        self._write_batch = write_batch
        self.max_batch = max_batch
        self.max_delay = float(max_delay)
        self.max_pending = max_pending
        self.on_full = on_full
        self.block_timeout = block_timeout
        self.max_attempts = max_attempts
        self.retry_delay = float(retry_delay)
        self.max_retry_delay = float(max_retry_delay)
        self._dead_letter = dead_letter
        self.journal = journal
        setter = getattr(cache, "set", None)
        self._store_now: Callable[[Any, Any], Any] = setter if callable(setter) else cache.__setitem__
        self._fast_set = False          # set once started: see set()
        self._idle = False
        self._pending = {}
        self._since = {}
        self._ids: dict[Any, list[bytes]] = {}      # journal entries behind each queued key
        self._inflight: dict[Any, Any] = {}
        self._inflight_ids: list[bytes] = []
        self._unacked: list[bytes] = []            # written, acknowledgement still to send
        self._flushers = 0
        self._closed = False
        self._counts = dict(sets=0, coalesced=0, written=0, batches=0, failures=0, dead_lettered=0, replayed=0)

    def _full_for(self, key: Any) -> bool:
        return len(self._pending) >= self.max_pending and key not in self._pending

    def _deadline(self) -> Optional[float]:
        if self._closed:
            raise RuntimeError(f"{type(self).__name__} is closed")
        return None if self.block_timeout is None else time.monotonic() + self.block_timeout

    def _wait_for_room(self, deadline: Optional[float]) -> Optional[float]:
        """The queue is full: raise (on_full="raise", or past the deadline) or say how long to wait."""
        if self.on_full == "raise":
            raise WriteBehindFull(f"{len(self._pending)} writes queued (max_pending)")
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            raise WriteBehindFull(f"no room in the write queue within {self.block_timeout} s")
        return left

    def _enqueue(self, key: Any, value: Any, ttl: Optional[float], entry_id: Optional[bytes]) -> bool:
        """Queue the write (the caller checked for room); whether the flusher must wake."""
        if key in self._pending:
            self._counts["coalesced"] += 1
        else:
            self._since[key] = time.monotonic()
        if ttl is not _NO_CACHE:
            store_value(self.cache, key, value, ttl)
        self._pending[key] = value
        if entry_id is not None:
            self._ids.setdefault(key, []).append(entry_id)
        self._counts["sets"] += 1
        n = len(self._pending)
        # try_set's rule: wake the flusher when it waits with nothing queued, or a batch fills
        return (n == 1 and self._idle) or n == self.max_batch

    def _due_in(self) -> Optional[float]:
        """None: nothing queued; 0: a batch is due now; else seconds until it is."""
        if not self._pending:
            return None
        if len(self._pending) >= self.max_batch or self._flushers or self._closed:
            return 0.0
        oldest = next(iter(self._since.values()))
        return max(0.0, self.max_delay - (time.monotonic() - oldest))

    def _take(self) -> dict[Any, Any]:
        if len(self._pending) <= self.max_batch:      # all of it: the dicts change hands
            batch, self._pending, self._since = self._pending, {}, {}
            ids = [i for key in batch for i in self._ids.pop(key, ())] if self._ids else []
        else:
            batch = {}
            ids = []
            for key in list(itertools.islice(self._pending, self.max_batch)):     # not a copy of all
                batch[key] = self._pending.pop(key)
                del self._since[key]
                ids.extend(self._ids.pop(key, ()))
        self._inflight = batch
        self._inflight_ids = ids
        return batch

    def _written(self, batch: Mapping[Any, Any]) -> None:
        self._counts["written"] += len(batch)
        self._counts["batches"] += 1

    def _to_ack(self) -> list[bytes]:
        """Journal ids to acknowledge now the batch is done (written or dead-lettered)."""
        return self._unacked + self._inflight_ids

    def _settled(self, ids: list[bytes], acked: bool) -> None:
        """Clear the batch.  Called only after the acknowledgement was tried, so that
        ``flush()`` returning means the journal no longer holds what was written."""
        self._unacked = [] if acked else ids      # not acknowledged: retry with the next batch
        self._inflight = {}
        self._inflight_ids = []

    def _log_failure(self, batch: Mapping[Any, Any], attempts: int, exc: BaseException, delay: float) -> bool:
        """Count a failed attempt; True when the batch goes to the dead-letter hook."""
        self._counts["failures"] += 1
        if attempts % self.max_attempts == 0:
            if self._dead_letter is not None:
                return True
            log.error("write-behind: %d items still failing after %d attempts (%s: %s); keeping them queued",
                      len(batch), attempts, type(exc).__name__, exc)
        else:
            log.warning("write-behind: write_batch failed (%s: %s); retrying in %.2f s",
                        type(exc).__name__, exc, delay)
        return False

    def _give_up(self, batch: Mapping[Any, Any], exc: BaseException) -> None:
        try:
            assert self._dead_letter is not None
            self._dead_letter(dict(batch), exc)
        except Exception:
            log.exception("write-behind: dead_letter hook failed for %d items", len(batch))
        self._counts["dead_lettered"] += len(batch)

    def _replay(self, backlog: list[tuple[bytes, Any, Any]]) -> None:
        """Queue a journal's backlog (oldest first) ahead of any new write."""
        for entry_id, key, value in backlog:
            self._enqueue(key, value, _NO_CACHE, entry_id)
        self._counts["replayed"] = len(backlog)
        self._counts["sets"] -= len(backlog)
        if backlog:
            log.warning("write-behind: replaying %d journaled writes (%d keys) left by a previous writer",
                        len(backlog), len(self._pending))

    def _snapshot(self) -> WriteBehindStats:
        return WriteBehindStats(pending=len(self._pending), **self._counts)


_NO_CACHE: Any = object()      # a replayed write: the store needs it, the cache may hold newer data


class Flusher:
    """The sync queue's flusher: a daemon thread, drained at interpreter exit."""

    _run: Callable[[], Any]
    _write_batch: Callable[[dict[Any, Any]], Any]
    exit_timeout: float = 30.0

    def _init_flusher(self) -> None:
        self._thread: Optional[threading.Thread] = None

    def _start_flusher(self) -> None:
        self._thread = threading.Thread(target=self._run, name="fastcache-write-behind", daemon=True)
        self._thread.start()
        _live.add(self)

    def _flusher_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _join_flusher(self, timeout: Optional[float]) -> None:
        if self._thread is not None:
            self._thread.join(timeout)
        _live.discard(self)

    def _write_store(self, batch: dict[Any, Any]) -> None:
        self._write_batch(batch)

    if TYPE_CHECKING:
        def close(self, timeout: Optional[float] = None) -> bool: ...     # the queue's own


class AsyncFlusher:
    """The asyncio queue's flusher: a task of the running loop; a plain ``write_batch``
    runs in the loop's default executor so it does not block the loop."""

    _run: Callable[[], Any]
    _write_batch: Callable[[dict[Any, Any]], Any]

    def _init_flusher(self) -> None:
        self._task: Optional[asyncio.Task[None]] = None
        self._async_write = inspect.iscoroutinefunction(self._write_batch)

    async def _start_flusher(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    def _flusher_alive(self) -> bool:
        return self._task is not None and not self._task.done()

    async def _join_flusher(self, timeout: Optional[float]) -> None:
        if self._task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout)
        except asyncio.TimeoutError:
            pass

    async def _write_store(self, batch: dict[Any, Any]) -> None:
        if self._async_write:
            await self._write_batch(batch)
        else:
            await asyncio.get_running_loop().run_in_executor(None, self._write_batch, batch)


_live: "weakref.WeakSet[Flusher]" = weakref.WeakSet()


@atexit.register
def _drain_at_exit() -> None:
    """Interpreter exit drains every sync write-behind still open (up to its exit_timeout)."""
    for wb in list(_live):
        wb.close(timeout=wb.exit_timeout)
