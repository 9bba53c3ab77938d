"""Write-behind: the cache is updated at once, the store catches up in batches.

``set`` stores the value in the cache and queues the write; a background
flusher (a thread for :class:`WriteBehind`, a task for
:class:`AsyncWriteBehind`) hands ``write_batch({key: value, ...})`` batches of
up to ``max_batch`` items, as soon as a batch is full or the oldest queued
write is ``max_delay`` seconds old.  Writes to a key still queued coalesce:
only the last value is written, and the key keeps its place in the queue.

Nothing is dropped silently: a failing ``write_batch`` is retried with
exponential back-off while the batch stays queued (later values of the
same keys are queued behind it, so the store ends with the newest).  After
``max_attempts`` failures the batch goes to ``dead_letter(batch, exc)`` if
one is given; without one it is retried for as long as it takes.  A full
queue (``max_pending`` distinct keys) blocks ``set`` (``on_full="block"``,
optionally up to ``block_timeout``) or raises :class:`WriteBehindFull`
(``on_full="raise"``).  ``flush()`` waits until everything queued so far is
written; ``close()`` drains and stops; so does interpreter exit (sync).

With ``journal=`` (a :class:`~fastcache.patterns.journal.RedisStreamJournal`)
every write is appended to a Redis Stream before ``set`` returns and
acknowledged after the store took it, so a process killed with SIGKILL
loses nothing: the next writer on that journal replays the backlog first.

The cache is updated under the queue's lock, so the cache and the store
end with the same last value for every key even when threads race.
"""
from __future__ import annotations

import asyncio
import atexit
import inspect
import logging
import threading
import time
import weakref
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional

from ._adapter import cache_set, check_ttl_support

__all__ = ("WriteBehind", "AsyncWriteBehind", "WriteBehindFull", "WriteBehindStats")

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


class _WriteQueue:
    """Configuration, the queue and the counters; no locking, no I/O.

    The sync and asyncio classes wrap it in their own condition variable and
    run the same steps: ``_enqueue`` a write, ``_due_in`` to know when a batch
    is due, ``_take`` it, then ``_written``/``_failed``/``_dead``.
    """

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
        self._pending: dict[Any, Any] = {}
        self._since: dict[Any, float] = {}
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
            cache_set(self.cache, key, value, ttl)
        self._pending[key] = value
        if entry_id is not None:
            self._ids.setdefault(key, []).append(entry_id)
        self._counts["sets"] += 1
        return len(self._pending) >= self.max_batch or len(self._pending) == 1

    def _due_in(self) -> Optional[float]:
        """None: nothing queued; 0: a batch is due now; else seconds until it is."""
        if not self._pending:
            return None
        if len(self._pending) >= self.max_batch or self._flushers or self._closed:
            return 0.0
        oldest = next(iter(self._since.values()))
        return max(0.0, self.max_delay - (time.monotonic() - oldest))

    def _take(self) -> dict[Any, Any]:
        batch: dict[Any, Any] = {}
        ids: list[bytes] = []
        for key in list(self._pending)[:self.max_batch]:
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


_live: "weakref.WeakSet[WriteBehind]" = weakref.WeakSet()


@atexit.register
def _drain_at_exit() -> None:
    """Interpreter exit drains every WriteBehind still open (up to its exit_timeout)."""
    for wb in list(_live):
        wb.close(timeout=wb.exit_timeout)


class WriteBehind(_WriteQueue):
    """Cache now, store later, in batches, from a background thread; see the module docstring."""

    def __init__(self, cache: Any, write_batch: Callable[[dict[Any, Any]], Any], *,
                 max_batch: int = 100, max_delay: float = 1.0, max_pending: int = 100_000,
                 on_full: str = "block", block_timeout: Optional[float] = None,
                 max_attempts: int = 5, retry_delay: float = 0.1, max_retry_delay: float = 10.0,
                 dead_letter: Optional[Callable[[dict[Any, Any], BaseException], Any]] = None,
                 exit_timeout: float = 30.0, journal: Any = None) -> None:
        self._configure(cache, write_batch, max_batch, max_delay, max_pending, on_full, block_timeout,
                        max_attempts, retry_delay, max_retry_delay, dead_letter, journal)
        if isinstance(exit_timeout, bool) or not isinstance(exit_timeout, (int, float)) or exit_timeout < 0:
            raise ValueError(f"exit_timeout must be a non-negative number of seconds, got {exit_timeout!r}")
        self.exit_timeout = float(exit_timeout)
        self._cond = threading.Condition()
        if journal is not None:
            self._replay(journal.backlog())
        self._thread = threading.Thread(target=self._run, name="fastcache-write-behind", daemon=True)
        self._thread.start()
        _live.add(self)

    # -- the caller's side --------------------------------------------------------

    def set(self, key: Any, value: Any, ttl: Optional[float] = None) -> None:
        """Update the cache now and queue the store write (may block or raise when full).

        With a journal the write is in the Redis Stream when this returns; if
        the journal cannot be written, this raises and nothing changed."""
        check_ttl_support(self.cache, ttl)
        with self._cond:
            deadline = self._deadline()
            while self._full_for(key):
                self._cond.wait(self._wait_for_room(deadline))
                self._deadline()                    # closed meanwhile: raise
            # Journal under the lock: the stream's order per key is the queue's order.
            entry_id = self.journal.append(key, value) if self.journal is not None else None
            if self._enqueue(key, value, ttl, entry_id):
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
            return self._snapshot()

    def __enter__(self) -> "WriteBehind":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the flusher --------------------------------------------------------------

    def _next_batch(self) -> Optional[dict[Any, Any]]:
        """Wait for a batch to be due; None when closed and drained."""
        with self._cond:
            while True:
                wait = self._due_in()
                if wait is None:
                    if self._closed:
                        return None
                    self._cond.wait()
                elif wait <= 0:
                    batch = self._take()
                    self._cond.notify_all()         # room for blocked setters
                    return batch
                else:
                    self._cond.wait(wait)

    def _run(self) -> None:
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            if self.journal is not None:
                self._journal_call(self.journal.claim)
            attempts = 0
            delay = self.retry_delay
            while True:
                try:
                    self._write_batch(dict(batch))
                except Exception as exc:
                    attempts += 1
                    with self._cond:
                        dead = self._log_failure(batch, attempts, exc, delay)
                    if dead:
                        with self._cond:
                            self._give_up(batch, exc)
                        break
                    time.sleep(delay)
                    delay = min(delay * 2, self.max_retry_delay)
                    continue
                with self._cond:
                    self._written(batch)
                break
            # Only this thread touches the journal ids, so reading them unlocked is safe.
            ids = self._to_ack()
            acked = not ids or self.journal is None or self._journal_call(lambda: self.journal.ack(ids))
            with self._cond:
                self._settled(ids, acked)
                self._cond.notify_all()

    def _journal_call(self, fn: Callable[[], Any]) -> bool:
        try:
            fn()
            return True
        except Exception as exc:
            # The store has the writes; an unacknowledged entry is only written again on replay.
            log.warning("write-behind: journal unavailable (%s: %s)", type(exc).__name__, exc)
            return False


class AsyncWriteBehind(_WriteQueue):
    """:class:`WriteBehind` for asyncio: ``await set()``, a task flushes.

    ``write_batch`` may be a coroutine function or a plain function (run in
    the loop's default executor so it does not block the loop).  ``cache``
    may be an asyncio cache (``AsyncTieredCache``, ``AsyncRedisCache``) or
    an L1 mapping.  ``journal`` is an ``AsyncRedisStreamJournal``.  Call
    ``await start()`` (or use ``async with``) inside the running loop;
    ``await close()`` drains.
    """

    def __init__(self, cache: Any, write_batch: Callable[[dict[Any, Any]], Any], *,
                 max_batch: int = 100, max_delay: float = 1.0, max_pending: int = 100_000,
                 on_full: str = "block", block_timeout: Optional[float] = None,
                 max_attempts: int = 5, retry_delay: float = 0.1, max_retry_delay: float = 10.0,
                 dead_letter: Optional[Callable[[dict[Any, Any], BaseException], Any]] = None,
                 journal: Any = None) -> None:
        self._configure(cache, write_batch, max_batch, max_delay, max_pending, on_full, block_timeout,
                        max_attempts, retry_delay, max_retry_delay, dead_letter, journal)
        self._async_cache = inspect.iscoroutinefunction(getattr(cache, "set", None))
        self._async_write = inspect.iscoroutinefunction(write_batch)
        self._cond: Optional[asyncio.Condition] = None
        self._task: Optional[asyncio.Task[None]] = None

    async def start(self) -> None:
        """Replay the journal's backlog and start the flusher task (idempotent)."""
        if self._task is not None:
            return
        self._cond = asyncio.Condition()
        if self.journal is not None:
            await self.journal.open()
            self._replay(await self.journal.backlog())
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def set(self, key: Any, value: Any, ttl: Optional[float] = None) -> None:
        """Update the cache now and queue the store write (may wait or raise when full)."""
        if not self._async_cache:
            check_ttl_support(self.cache, ttl)
        await self.start()
        cond = self._cond
        assert cond is not None
        async with cond:
            deadline = self._deadline()
            while self._full_for(key):
                left = self._wait_for_room(deadline)
                try:
                    await asyncio.wait_for(cond.wait(), left)
                except asyncio.TimeoutError:
                    continue
                self._deadline()                    # closed meanwhile: raise
            entry_id = await self.journal.append(key, value) if self.journal is not None else None
            if self._async_cache:
                if ttl is None:
                    await self.cache.set(key, value)
                else:
                    await self.cache.set(key, value, ttl=ttl)
                ttl = _NO_CACHE
            if self._enqueue(key, value, ttl, entry_id):
                cond.notify_all()

    async def get(self, key: Any, default: Any = None) -> Any:
        """Read from the cache."""
        if self._async_cache:
            return await self.cache.get(key, default)
        return self.cache.get(key, default)

    async def flush(self, timeout: Optional[float] = None) -> bool:
        """Wait until everything queued so far is written (or dead-lettered); whether it was."""
        await self.start()
        cond = self._cond
        assert cond is not None and self._task is not None
        deadline = None if timeout is None else time.monotonic() + timeout
        async with cond:
            self._flushers += 1
            cond.notify_all()
            try:
                while self._pending or self._inflight:
                    if self._task.done():
                        return False
                    left = None if deadline is None else deadline - time.monotonic()
                    if left is not None and left <= 0:
                        return False
                    try:
                        await asyncio.wait_for(cond.wait(), left if left is not None else 0.5)
                    except asyncio.TimeoutError:
                        pass
                return True
            finally:
                self._flushers -= 1

    async def close(self, timeout: Optional[float] = None) -> bool:
        """Drain the queue and stop the flusher; whether everything was written."""
        if self._task is None:
            self._closed = True
            return not self._pending
        assert self._cond is not None
        async with self._cond:
            self._closed = True
            self._cond.notify_all()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout)
        except asyncio.TimeoutError:
            pass
        return not self._pending and not self._inflight

    def pending(self) -> int:
        """Writes queued or in flight."""
        return len(self._pending) + len(self._inflight)

    def stats(self) -> WriteBehindStats:
        """A snapshot of the counters."""
        return self._snapshot()

    async def __aenter__(self) -> "AsyncWriteBehind":
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _next_batch(self) -> Optional[dict[Any, Any]]:
        cond = self._cond
        assert cond is not None
        async with cond:
            while True:
                wait = self._due_in()
                if wait is None:
                    if self._closed:
                        return None
                    await cond.wait()
                elif wait <= 0:
                    batch = self._take()
                    cond.notify_all()
                    return batch
                else:
                    try:
                        await asyncio.wait_for(cond.wait(), wait)
                    except asyncio.TimeoutError:
                        pass

    async def _call_write(self, batch: dict[Any, Any]) -> None:
        if self._async_write:
            await self._write_batch(batch)
        else:
            await asyncio.get_running_loop().run_in_executor(None, self._write_batch, batch)

    async def _run(self) -> None:
        cond = self._cond
        assert cond is not None
        while True:
            batch = await self._next_batch()
            if batch is None:
                return
            if self.journal is not None:
                await self._journal_call(self.journal.claim())
            attempts = 0
            delay = self.retry_delay
            while True:
                try:
                    await self._call_write(dict(batch))
                except Exception as exc:
                    attempts += 1
                    if self._log_failure(batch, attempts, exc, delay):
                        self._give_up(batch, exc)
                        break
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self.max_retry_delay)
                    continue
                self._written(batch)
                break
            ids = self._to_ack()
            acked = not ids or self.journal is None or await self._journal_call(self.journal.ack(ids))
            async with cond:
                self._settled(ids, acked)
                cond.notify_all()

    async def _journal_call(self, aw: Any) -> bool:
        try:
            await aw
            return True
        except Exception as exc:
            log.warning("write-behind: journal unavailable (%s: %s)", type(exc).__name__, exc)
            return False
