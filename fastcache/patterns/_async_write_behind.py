"""Write-behind's I/O, written once for sync and asyncio (see :mod:`fastcache.patterns.write_behind`)."""
from __future__ import annotations

import logging
import time
from typing import Any, Callable, Optional

from .._concurrency import AsyncWaitCondition, async_sleep
from ..loading import reject_coroutine_function  # noqa: F401  (the sync twin)
from ._adapter import AsyncCacheAccess
from ._write_behind_base import _NO_CACHE, AsyncFlusher, WriteBehindStats, _WriteQueue

__all__ = ("AsyncWriteBehind",)

log = logging.getLogger("fastcache.patterns")


class AsyncWriteBehind(_WriteQueue, AsyncFlusher):
    """Cache now, store later, in batches, from a background flusher; see the module docstring.

    The asyncio queue takes a coroutine function or a plain function as
    ``write_batch`` (a plain one runs in the loop's default executor), an
    asyncio cache (``AsyncTieredCache``, ``AsyncRedisCache``) or an L1
    mapping as ``cache``, and an ``AsyncRedisStreamJournal``; it starts on
    first use inside the running loop (or ``await start()``, ``async with``).
    """

    def __init__(self, cache: Any, write_batch: Callable[[dict[Any, Any]], Any], *,
                 max_batch: int = 100, max_delay: float = 1.0, max_pending: int = 100_000,
                 on_full: str = "block", block_timeout: Optional[float] = None,
                 max_attempts: int = 5, retry_delay: float = 0.1, max_retry_delay: float = 10.0,
                 dead_letter: Optional[Callable[[dict[Any, Any], BaseException], Any]] = None,
                 journal: Any = None) -> None:
        self._configure(cache, write_batch, max_batch, max_delay, max_pending, on_full, block_timeout,
                        max_attempts, retry_delay, max_retry_delay, dead_letter, journal)
        # sync-only: reject_coroutine_function(write_batch, "write_batch")
        self._access = AsyncCacheAccess(cache)
        self._cond = AsyncWaitCondition()
        self._started = False
        self._init_flusher()

    async def start(self) -> None:
        """Replay the journal's backlog and start the flusher (idempotent)."""
        if self._started:
            return
        self._started = True
        if self.journal is not None:
            self._replay(await self.journal.backlog())
        await self._start_flusher()
        self._fast_lock = self._cond.lock
        self._fast_set = self.journal is None and not self._access.is_async

    # -- the caller's side --------------------------------------------------------

    async def set(self, key: Any, value: Any, ttl: Optional[float] = None) -> None:
        """Update the cache now and queue the store write (may block or raise when full).

        With a journal the write is in the Redis Stream when this returns; if
        the journal cannot be written, this raises and nothing changed."""
        if ttl is None:
            wake = self.try_set(key, value)         # the common write, in C (see WriteQueue)
            if wake is not None:
                if wake:                            # the queue stopped being empty, or a batch filled
                    async with self._cond:
                        self._cond.notify_all()
                return
        self._access.check_ttl(ttl)
        if not self._started:
            await self.start()
        async with self._cond:
            deadline = self._deadline()
            while self._full_for(key):
                await self._cond.wait(self._wait_for_room(deadline))
                self._deadline()                    # closed meanwhile: raise
            # Journal under the lock: the stream's order per key is the queue's order.
            entry_id = await self.journal.append(key, value) if self.journal is not None else None
            if self._access.is_async:               # an asyncio cache: written here, not by _enqueue
                await self._access.set(key, value, ttl)
                ttl = _NO_CACHE
            if self._enqueue(key, value, ttl, entry_id):
                self._cond.notify_all()

    async def get(self, key: Any, default: Any = None) -> Any:
        """Read from the cache."""
        return await self._access.get(key, default)

    async def flush(self, timeout: Optional[float] = None) -> bool:
        """Wait until everything queued so far is written (or dead-lettered); whether it was."""
        if not self._started:
            await self.start()
        deadline = None if timeout is None else time.monotonic() + timeout
        async with self._cond:
            self._flushers += 1
            self._cond.notify_all()
            try:
                while self._pending or self._inflight:
                    if not self._flusher_alive():
                        return False
                    left = None if deadline is None else deadline - time.monotonic()
                    if left is not None and left <= 0:
                        return False
                    await self._cond.wait(left if left is not None else 0.5)
                return True
            finally:
                self._flushers -= 1

    async def close(self, timeout: Optional[float] = None) -> bool:
        """Drain the queue and stop the flusher; whether everything was written."""
        async with self._cond:
            self._closed = True
            self._cond.notify_all()
        await self._join_flusher(timeout)
        with self._cond.hold():
            return not self._pending and not self._inflight

    def pending(self) -> int:
        """Writes queued or in flight."""
        with self._cond.hold():
            return len(self._pending) + len(self._inflight)

    def stats(self) -> WriteBehindStats:
        """A snapshot of the counters."""
        with self._cond.hold():
            return self._snapshot()

    async def __aenter__(self) -> "AsyncWriteBehind":
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- the flusher --------------------------------------------------------------

    async def _next_batch(self) -> Optional[dict[Any, Any]]:
        """Wait for a batch to be due; None when closed and drained."""
        async with self._cond:
            while True:
                wait = self._due_in()
                if wait is None:
                    if self._closed:
                        return None
                    self._idle = True               # the next write wakes it (try_set)
                    try:
                        await self._cond.wait(None)
                    finally:
                        self._idle = False
                elif wait <= 0:
                    batch = self._take()
                    self._cond.notify_all()         # room for blocked setters
                    return batch
                else:
                    await self._cond.wait(wait)

    async def _run(self) -> None:
        while True:
            batch = await self._next_batch()
            if batch is None:
                return
            if self.journal is not None:
                await self._journal_call(self.journal.claim)
            attempts = 0
            delay = self.retry_delay
            while True:
                try:
                    await self._write_store(dict(batch))
                except Exception as exc:
                    attempts += 1
                    async with self._cond:
                        dead = self._log_failure(batch, attempts, exc, delay)
                        if dead:
                            self._give_up(batch, exc)
                    if dead:
                        break
                    await async_sleep(delay)
                    delay = min(delay * 2, self.max_retry_delay)
                    continue
                async with self._cond:
                    self._written(batch)
                break
            # Only the flusher touches the journal ids, so reading them unlocked is safe.
            ids = self._to_ack()
            acked = not ids or self.journal is None or await self._journal_call(lambda: self.journal.ack(ids))
            async with self._cond:
                self._settled(ids, acked)
                self._cond.notify_all()

    async def _journal_call(self, fn: Callable[[], Any]) -> bool:
        try:
            await fn()
            return True
        except Exception as exc:
            # The store has the writes; an unacknowledged entry is only written again on replay.
            log.warning("write-behind: journal unavailable (%s: %s)", type(exc).__name__, exc)
            return False
