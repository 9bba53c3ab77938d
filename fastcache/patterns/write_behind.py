"""Write-behind: the cache is updated at once, the store catches up in batches.

``set`` stores the value in the cache and queues the write; a background
thread hands ``write_batch({key: value, ...})`` batches of up to
``max_batch`` items, as soon as a batch is full or the oldest queued write
is ``max_delay`` seconds old.  Writes to a key still queued coalesce: only
the last value is written, and the key keeps its place in the queue.

Nothing is dropped silently: a failing ``write_batch`` is retried with
exponential back-off while the batch stays queued (later values of the
same keys are queued behind it, so the store ends with the newest).  After
``max_attempts`` failures the batch goes to ``dead_letter(batch, exc)`` if
one is given; without one it is retried for as long as it takes.  A full
queue (``max_pending`` distinct keys) blocks ``set`` (``on_full="block"``,
optionally up to ``block_timeout``) or raises :class:`WriteBehindFull`
(``on_full="raise"``).  ``flush()`` waits until everything queued so far is
written; ``close()`` drains and stops; so does interpreter exit.

The cache is updated under the queue's lock, so the cache and the store
end with the same last value for every key even when threads race.
"""
from __future__ import annotations

import atexit
import logging
import threading
import time
import weakref
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional

from ._adapter import cache_set, check_ttl_support

__all__ = ("WriteBehind", "WriteBehindFull", "WriteBehindStats")

log = logging.getLogger("fastcache.patterns")


class WriteBehindFull(RuntimeError):
    """The write queue is full (``on_full="raise"``, or ``block_timeout`` passed)."""


@dataclass(frozen=True)
class WriteBehindStats:
    """Counters of a :class:`WriteBehind` (a snapshot)."""

    sets: int
    coalesced: int          # sets that replaced a value still queued
    written: int            # items the store accepted
    batches: int
    failures: int           # failed write_batch calls
    dead_lettered: int      # items handed to dead_letter
    pending: int            # items queued now (not counting a batch in flight)


_live: "weakref.WeakSet[WriteBehind]" = weakref.WeakSet()


@atexit.register
def _drain_at_exit() -> None:
    """Interpreter exit drains every WriteBehind still open (up to its exit_timeout)."""
    for wb in list(_live):
        wb.close(timeout=wb.exit_timeout)


class WriteBehind:
    """Cache now, store later, in batches; see the module docstring."""

    def __init__(self, cache: Any, write_batch: Callable[[dict[Any, Any]], Any], *,
                 max_batch: int = 100, max_delay: float = 1.0, max_pending: int = 100_000,
                 on_full: str = "block", block_timeout: Optional[float] = None,
                 max_attempts: int = 5, retry_delay: float = 0.1, max_retry_delay: float = 10.0,
                 dead_letter: Optional[Callable[[dict[Any, Any], BaseException], Any]] = None,
                 exit_timeout: float = 30.0) -> None:
        if not callable(write_batch):
            raise TypeError("write_batch must be callable: write_batch({key: value, ...})")
        for name, v in (("max_batch", max_batch), ("max_pending", max_pending), ("max_attempts", max_attempts)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        for name, f in (("max_delay", max_delay), ("retry_delay", retry_delay),
                        ("max_retry_delay", max_retry_delay), ("exit_timeout", exit_timeout)):
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
        self.exit_timeout = float(exit_timeout)
        self._cond = threading.Condition()
        self._pending: dict[Any, Any] = {}
        self._since: dict[Any, float] = {}
        self._inflight: dict[Any, Any] = {}
        self._flushers = 0
        self._closed = False
        self._counts = dict(sets=0, coalesced=0, written=0, batches=0, failures=0, dead_lettered=0)
        self._thread = threading.Thread(target=self._run, name="fastcache-write-behind", daemon=True)
        self._thread.start()
        _live.add(self)

    # -- the caller's side --------------------------------------------------------

    def set(self, key: Any, value: Any, ttl: Optional[float] = None) -> None:
        """Update the cache now and queue the store write (may block or raise when full)."""
        check_ttl_support(self.cache, ttl)
        with self._cond:
            if self._closed:
                raise RuntimeError("WriteBehind is closed")
            if key in self._pending:
                self._counts["coalesced"] += 1
            else:
                deadline = None if self.block_timeout is None else time.monotonic() + self.block_timeout
                while len(self._pending) >= self.max_pending and key not in self._pending:
                    if self.on_full == "raise":
                        raise WriteBehindFull(f"{len(self._pending)} writes queued (max_pending)")
                    left = None if deadline is None else deadline - time.monotonic()
                    if left is not None and left <= 0:
                        raise WriteBehindFull(f"no room in the write queue within {self.block_timeout} s")
                    self._cond.wait(left)
                    if self._closed:
                        raise RuntimeError("WriteBehind is closed")
                self._since.setdefault(key, time.monotonic())
            cache_set(self.cache, key, value, ttl)
            self._pending[key] = value
            self._counts["sets"] += 1
            if len(self._pending) >= self.max_batch or len(self._pending) == 1:
                self._cond.notify_all()

    def get(self, key: Any, default: Any = None) -> Any:
        """Read from the cache."""
        return self.cache.get(key, default)

    def flush(self, timeout: Optional[float] = None) -> bool:
        """Wait until everything queued so far is written (or dead-lettered); whether it was."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            self._flushers += 1
            self._cond.notify_all()
            try:
                while self._pending or self._inflight:
                    if not self._thread.is_alive():
                        return False
                    left = None if deadline is None else deadline - time.monotonic()
                    if left is not None and left <= 0:
                        return False
                    self._cond.wait(left if left is not None else 0.5)
                return True
            finally:
                self._flushers -= 1

    def close(self, timeout: Optional[float] = None) -> bool:
        """Drain the queue and stop the flusher; whether everything was written."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout)
        _live.discard(self)
        with self._cond:
            return not self._pending and not self._inflight

    def pending(self) -> int:
        """Writes queued or in flight."""
        with self._cond:
            return len(self._pending) + len(self._inflight)

    def stats(self) -> WriteBehindStats:
        """A snapshot of the counters."""
        with self._cond:
            return WriteBehindStats(pending=len(self._pending), **self._counts)

    def __enter__(self) -> "WriteBehind":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the flusher --------------------------------------------------------------

    def _next_batch(self) -> Optional[dict[Any, Any]]:
        """Wait for a batch to be due; None when closed and drained."""
        with self._cond:
            while True:
                if not self._pending:
                    if self._closed:
                        return None
                    self._cond.wait()
                    continue
                oldest = next(iter(self._since.values()))
                wait = self.max_delay - (time.monotonic() - oldest)
                if (len(self._pending) >= self.max_batch or self._flushers or self._closed
                        or wait <= 0):
                    break
                self._cond.wait(wait)
            batch: dict[Any, Any] = {}
            for key in list(self._pending)[:self.max_batch]:
                batch[key] = self._pending.pop(key)
                del self._since[key]
            self._inflight = batch
            self._cond.notify_all()             # room for blocked setters
            return batch

    def _run(self) -> None:
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            attempts = 0
            delay = self.retry_delay
            while True:
                try:
                    self._write_batch(dict(batch))
                except Exception as exc:
                    attempts += 1
                    with self._cond:
                        self._counts["failures"] += 1
                    if attempts % self.max_attempts == 0:
                        if self._dead_letter is not None:
                            self._give_up(batch, exc)
                            break
                        log.error("write-behind: %d items still failing after %d attempts (%s: %s); "
                                  "keeping them queued", len(batch), attempts, type(exc).__name__, exc)
                    else:
                        log.warning("write-behind: write_batch failed (%s: %s); retrying in %.2f s",
                                    type(exc).__name__, exc, delay)
                    time.sleep(delay)
                    delay = min(delay * 2, self.max_retry_delay)
                    continue
                with self._cond:
                    self._counts["written"] += len(batch)
                    self._counts["batches"] += 1
                break
            with self._cond:
                self._inflight = {}
                self._cond.notify_all()

    def _give_up(self, batch: Mapping[Any, Any], exc: BaseException) -> None:
        try:
            assert self._dead_letter is not None
            self._dead_letter(dict(batch), exc)
        except Exception:
            log.exception("write-behind: dead_letter hook failed for %d items", len(batch))
        with self._cond:
            self._counts["dead_lettered"] += len(batch)
