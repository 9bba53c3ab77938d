"""The write-behind queue's state and its common write, compiled (pure twin:
``fastcache._py.write_queue``).

``WriteQueue`` is the base of the write-behind queues: it holds what ``set`` touches
(the queued values, when each key was queued, the counters, the closed flag) and does
the common write - a sync cache, no journal, no TTL, room in the queue - in C:
``try_set`` takes the condition's lock, stores in the cache, queues (coalescing a key
still queued, which keeps its place) and says whether the flusher must wake.
Everything else is the Python queue's (``fastcache.patterns._write_behind_base``).
"""
cimport cython

from fastcache._core._timer cimport fc_monotonic
import time as _time


cdef class WriteQueue:
    """The queue's state, and its common write (see the module docstring)."""
    cdef public dict _pending           # key -> value, in queue order
    cdef public dict _since             # key -> when it was queued (time.monotonic)
    cdef public dict _counts            # sets, coalesced, written, ... (WriteBehindStats)
    cdef public bint _closed
    cdef public bint _fast_set          # try_set may run: started, a sync cache, no journal
    cdef public bint _idle              # the flusher waits, with nothing queued, for a wake-up
    cdef public Py_ssize_t max_pending
    cdef public Py_ssize_t max_batch
    cdef public object _store_now       # the cache's set (or __setitem__)
    cdef public object _fast_lock       # the condition's own lock

    def try_set(self, key, value):
        """Queue a write without TTL: None if not done here (closed, full, not the common
        case: take the full path); else done, and whether the flusher must be woken (the
        queue stopped being empty while it waited for that, or a batch filled)."""
        cdef dict pending = self._pending
        cdef Py_ssize_t n
        cdef object wake
        if not self._fast_set:
            return None
        lock = self._fast_lock
        lock.acquire()
        try:
            if self._closed:
                return None
            if key in pending:
                self._counts["coalesced"] += 1
                wake = False
            else:
                n = len(pending)
                if n >= self.max_pending:
                    return None
                self._since[key] = fc_monotonic() if _FAST else _time.monotonic()
                wake = (n == 0 and self._idle) or n + 1 == self.max_batch
            self._store_now(key, value)
            pending[key] = value
            self._counts["sets"] += 1
            return wake
        finally:
            lock.release()


cdef bint _FAST = _time.get_clock_info("monotonic").implementation == "clock_gettime(CLOCK_MONOTONIC)"
