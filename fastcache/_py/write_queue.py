"""Pure-Python twin of ``fastcache._core.write_queue``: the write-behind queue's state
and its common write (a sync cache, no journal, no TTL, room in the queue)."""
from __future__ import annotations

import time
from typing import Any, Callable, Optional


class WriteQueue:
    """The queue's state, and its common write (see ``fastcache._core.write_queue``)."""

    _pending: dict[Any, Any]            # key -> value, in queue order
    _since: dict[Any, float]            # key -> when it was queued (time.monotonic)
    _counts: dict[str, int]             # sets, coalesced, written, ... (WriteBehindStats)
    _closed: bool
    _fast_set: bool = False             # try_set may run: started, a sync cache, no journal
    _idle: bool = False                 # the flusher waits, with nothing queued, for a wake-up
    max_pending: int
    max_batch: int
    _store_now: Callable[[Any, Any], Any]
    _fast_lock: Any                     # the condition's own lock

    def try_set(self, key: Any, value: Any) -> Optional[bool]:
        """Queue a write without TTL: None if not done here (closed, full, not the common
        case: take the full path); else done, and whether the flusher must be woken (the
        queue stopped being empty while it waited for that, or a batch filled)."""
        if not self._fast_set:
            return None
        lock = self._fast_lock
        lock.acquire()
        try:
            pending = self._pending
            if self._closed:
                return None
            if key in pending:
                self._counts["coalesced"] += 1
                wake = False
            else:
                n = len(pending)
                if n >= self.max_pending:
                    return None
                self._since[key] = time.monotonic()
                wake = (n == 0 and self._idle) or n + 1 == self.max_batch
            self._store_now(key, value)
            pending[key] = value
            self._counts["sets"] += 1
            return wake
        finally:
            lock.release()
