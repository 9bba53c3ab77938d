"""Exact LRU/FIFO order without touching neighbours on a hit.

A classic LRU relinks a node's neighbours on every hit; at 100k entries each
relink is one or two more cache misses.  Here a use appends the entry number
to a ring and stamps the entry with the record's sequence number; the older
records of that entry go stale (their number no longer matches the stamp).
The victim is the oldest live record: exactly the least recently used entry.
Stale records are skipped when they reach the head and squeezed out when
the ring fills, so every operation is amortised O(1) and a hit writes only to
its own entry and to the ring's tail, which is always in cache.
"""
from cpython.mem cimport PyMem_Malloc, PyMem_Free
from libc.stdint cimport int32_t, int64_t, uint32_t
from fastcache._core._table cimport Table

cdef enum:
    MIN_RING = 16


cdef class OrderedTable(Table):
    """A table whose eviction order is a ring of use records."""

    def __cinit__(self, *args, **kwargs):
        self.ring.buf = NULL
        self.ring.head = self.ring.tail = 0
        self.ring.mask = -1
        self.has_stamps = True

    def __dealloc__(self):
        PyMem_Free(self.ring.buf)

    cdef int ring_compact(self) except -1:
        """Squeeze stale records out of a full ring, growing it if over half would stay live.

        Every live entry has exactly one live record, so ``used`` records
        survive, in order, renumbered from ``start``.  Without growing, they
        are written into the same ring from ``head`` on: the write position
        never overtakes the read position.
        """
        cdef int64_t seq, n, start, cap = MIN_RING, mask = self.ring.mask, dmask
        cdef int32_t ix
        cdef int32_t *src = self.ring.buf       # locals: the loop must not reload through self
        cdef int32_t *dst = src
        cdef uint32_t *stamps = self.stamps
        cdef bint grow = dst == NULL or 2 * (self.used + 1) > mask + 1
        if grow:
            while cap < 2 * (self.used + 1):
                cap <<= 1
            dst = <int32_t *>PyMem_Malloc(cap * sizeof(int32_t))
            if dst == NULL:
                raise MemoryError()
            start, dmask = 0, cap - 1
        else:
            start, dmask = self.ring.head, mask
        n = start
        for seq in range(self.ring.head, self.ring.tail):
            ix = src[seq & mask]
            if record_live(self, ix, seq):
                dst[n & dmask] = ix
                stamps[ix] = <uint32_t>n
                n += 1
        if grow:
            PyMem_Free(src)
            self.ring.buf = dst
            self.ring.mask = dmask
        self.ring.head = start
        self.ring.tail = n
        return 0

    cdef int record(self, Py_ssize_t ix) except -1:
        return ring_record(self, ix)

    cdef int on_insert(self, Py_ssize_t ix) except -1:
        return self.record(ix)

    cdef int on_update(self, Py_ssize_t ix) except -1:
        return self.record(ix)

    cdef Py_ssize_t victim(self) except -2:
        cdef int64_t seq
        cdef int32_t ix
        while self.ring.head < self.ring.tail:
            seq = self.ring.head
            ix = self.ring.buf[seq & self.ring.mask]
            if record_live(self, ix, seq):
                return ix
            self.ring.head = seq + 1
        return -1

    cdef void on_clear(self):
        self.ring.head = self.ring.tail = 0

    cdef object policy_state(self, dict positions):
        cdef list order = []
        cdef int64_t seq
        cdef int32_t ix
        for seq in range(self.ring.head, self.ring.tail):
            ix = self.ring.buf[seq & self.ring.mask]
            if record_live(self, ix, seq):
                order.append(positions[ix])
        return order

    cdef int restore_policy(self, object state, list ixs) except -1:
        for pos in state:
            self.record(ixs[pos])
        return 0
