"""Per-item expiry: one component for every compiled cache that expires items.

Each entry (by number; entries never move) has a :c:type:`Deadline`: when it
expires (``INFINITY``: never), the write that set it, and where its record
is.  Records order the deadlines so that the next one due is found in O(1):
items written with one TTL fall due in write order, so each distinct TTL
gets a FIFO ring of records (sorted by construction; popping the head is
amortised O(1), nothing is scanned); past eight distinct TTLs, further ones
go to a binary heap ordered by (time, write), O(log n).  Rewriting an item
leaves its old record stale (the deadline no longer points at it), as does
removing it (:func:`expiry_forget`); stale records are skipped when they
reach a head, and rings are compacted when they fill.

The owner reads the clock, asks :meth:`Expiry.pop_due` for the next entry
whose time has come (in time order across rings and heap, ties in write
order), and removes it.  The owner grows the deadlines with its entry arrays
(its ``on_grow`` hook calls ``reserve``, before a new entry number is used:
another thread may insert while a key's ``__eq__`` runs, so room is never
reserved ahead of time), and makes heap room before an insert.
"""
from cpython.mem cimport PyMem_Malloc, PyMem_Realloc, PyMem_Free
from libc.math cimport INFINITY
from libc.stdint cimport int32_t, int64_t


cdef class Expiry:

    def __cinit__(self):
        cdef int q
        for q in range(NQUEUES):
            self.queues[q].ring.buf = NULL
            self.queues[q].ring.head = self.queues[q].ring.tail = 0
            self.queues[q].ring.mask = -1
        self.d = NULL
        self.cap = 0
        self.nqueues = 0
        self.heap = NULL
        self.heap_len = self.heap_cap = 0
        self.write_seq = 0
        self.min_expiry = INFINITY

    def __dealloc__(self):
        cdef int q
        for q in range(NQUEUES):
            PyMem_Free(self.queues[q].ring.buf)
        PyMem_Free(self.heap)
        PyMem_Free(self.d)

    cdef int reserve(self, Py_ssize_t entries) except -1:
        """Deadlines for entry numbers below ``entries``, and room for one more heap record."""
        cdef void *p
        cdef Py_ssize_t i
        if entries > self.cap:
            p = PyMem_Realloc(self.d, entries * sizeof(Deadline))
            if p == NULL:
                raise MemoryError()
            self.d = <Deadline *>p
            for i in range(self.cap, entries):
                self.d[i].expires = INFINITY
                self.d[i].seq = 0
                self.d[i].stamp = 0
                self.d[i].queue = NO_RECORD
            self.cap = entries
        if self.heap_len + 1 >= self.heap_cap:
            self.grow_heap()
        return 0

    cdef int grow_heap(self) except -1:
        """Room for more heap records: first by dropping the stale ones (rewritten or removed
        entries), so a heap of rewritten keys stays as large as the live deadlines it orders."""
        cdef Py_ssize_t cap = 2 * self.heap_cap + 16
        cdef void *p
        if self.heap_len > 64:
            self.compact_heap()
            if 2 * (self.heap_len + 1) <= self.heap_cap:
                return 0
        p = PyMem_Realloc(self.heap, cap * sizeof(HeapRec))
        if p == NULL:
            raise MemoryError()
        self.heap = <HeapRec *>p
        self.heap_cap = cap
        return 0

    cdef int reserve_heap_room(self) except -1:
        """Room for one more heap record (called before an insert: scheduling cannot fail)."""
        if self.heap_len + 1 >= self.heap_cap:
            self.grow_heap()
        return 0

    cdef void clear(self):
        cdef int q
        cdef Py_ssize_t i
        for q in range(self.nqueues):
            self.queues[q].ring.head = self.queues[q].ring.tail = 0
        self.nqueues = 0
        self.heap_len = 0
        self.min_expiry = INFINITY
        for i in range(self.cap):
            self.d[i].expires = INFINITY
            self.d[i].queue = NO_RECORD

    cdef double ttl_of(self, Py_ssize_t ix) noexcept:
        """The TTL entry ix was written with (-1: unknown, a heap record or none)."""
        cdef int32_t q = self.d[ix].queue
        return self.queues[q].ttl if 0 <= q < NQUEUES else -1.0

    cdef int schedule(self, Py_ssize_t ix, double expires, double ttl) except -1:
        """Entry ix expires at ``expires`` (INFINITY: never); ``ttl`` picks its ring (< 0: the heap)."""
        cdef int q
        cdef Ring *r
        cdef int64_t pos
        cdef Deadline *dl = &self.d[ix]
        cdef HeapRec rec
        self.write_seq += 1
        dl.expires = expires
        dl.seq = self.write_seq
        if expires == INFINITY:
            dl.queue = NO_RECORD
            return 0
        if expires < self.min_expiry:
            self.min_expiry = expires
        for q in range(self.nqueues):
            if self.queues[q].ttl == ttl:
                break
        else:
            if self.nqueues == NQUEUES or ttl < 0:
                dl.queue = IN_HEAP
                dl.stamp = self.write_seq
                rec.expires = expires
                rec.seq = self.write_seq
                rec.ix = <int32_t>ix
                return self.heap_push(rec)
            q = self.nqueues
            self.nqueues += 1
            self.queues[q].ttl = ttl
            self.queues[q].ring.head = self.queues[q].ring.tail = 0
        r = &self.queues[q].ring
        pos = r.tail
        if pos - r.head > r.mask:
            self.compact_queue(q)
            pos = r.tail
        r.buf[pos & r.mask] = <int32_t>ix
        r.tail = pos + 1
        dl.queue = q
        dl.stamp = pos
        return 0

    cdef int compact_queue(self, int q) except -1:
        """Keep a ring's live records only (in order), in a buffer twice their number."""
        cdef Ring *r = &self.queues[q].ring
        cdef int64_t pos, live = 0, n = 0, cap = 16
        cdef int32_t ix
        cdef int32_t *buf
        for pos in range(r.head, r.tail):
            ix = r.buf[pos & r.mask]
            if self.d[ix].queue == q and self.d[ix].stamp == pos:
                live += 1
        while cap < 2 * live + 2:
            cap <<= 1
        buf = <int32_t *>PyMem_Malloc(cap * sizeof(int32_t))
        if buf == NULL:
            raise MemoryError()
        for pos in range(r.head, r.tail):
            ix = r.buf[pos & r.mask]
            if self.d[ix].queue == q and self.d[ix].stamp == pos:
                buf[n] = ix
                self.d[ix].stamp = n
                n += 1
        PyMem_Free(r.buf)
        r.buf = buf
        r.head = 0
        r.tail = n
        r.mask = cap - 1
        return 0

    cdef int heap_push(self, HeapRec rec) except -1:
        cdef Py_ssize_t i, parent
        if self.heap_len == self.heap_cap:
            self.grow_heap()
        i = self.heap_len
        self.heap_len += 1
        while i > 0:
            parent = (i - 1) >> 1
            if self.heap[parent].expires < rec.expires or (
                    self.heap[parent].expires == rec.expires and self.heap[parent].seq < rec.seq):
                break
            self.heap[i] = self.heap[parent]
            i = parent
        self.heap[i] = rec
        return 0

    cdef void compact_heap(self) noexcept:
        """Keep only the live records (in place, no allocation), then restore the heap order."""
        cdef Py_ssize_t i, n = 0
        cdef HeapRec rec
        for i in range(self.heap_len):
            rec = self.heap[i]
            if self.d[rec.ix].queue == IN_HEAP and self.d[rec.ix].stamp == rec.seq:
                self.heap[n] = rec
                n += 1
        self.heap_len = n
        for i in range(n // 2 - 1, -1, -1):
            self.sift_down(i, self.heap[i])

    cdef void heap_pop(self) noexcept:
        self.heap_len -= 1
        if self.heap_len == 0:
            return
        self.sift_down(0, self.heap[self.heap_len])

    cdef void sift_down(self, Py_ssize_t i, HeapRec last) noexcept:
        """Put ``last`` at slot i or below, moving smaller children up."""
        cdef Py_ssize_t child
        while True:
            child = 2 * i + 1
            if child >= self.heap_len:
                break
            if child + 1 < self.heap_len and (
                    self.heap[child + 1].expires < self.heap[child].expires or (
                    self.heap[child + 1].expires == self.heap[child].expires
                    and self.heap[child + 1].seq < self.heap[child].seq)):
                child += 1
            if last.expires < self.heap[child].expires or (
                    last.expires == self.heap[child].expires and last.seq < self.heap[child].seq):
                break
            self.heap[i] = self.heap[child]
            i = child
        self.heap[i] = last

    cdef Py_ssize_t pop_due(self, double now) except -2:
        """The next entry whose deadline is <= now (its record consumed, its deadline kept for the
        owner to read before removing it), or -1 if none is due."""
        cdef int q, best_q = -1
        cdef Ring *r
        cdef int32_t ix
        cdef Py_ssize_t best = -1
        cdef double e, best_e = INFINITY, nxt = INFINITY
        cdef int64_t best_seq = 0
        if now < self.min_expiry:
            return -1
        for q in range(self.nqueues):
            r = &self.queues[q].ring
            while r.head < r.tail:
                ix = r.buf[r.head & r.mask]
                if self.d[ix].queue == q and self.d[ix].stamp == r.head:
                    e = self.d[ix].expires
                    if e <= now and (best < 0 or e < best_e or (e == best_e and self.d[ix].seq < best_seq)):
                        best, best_q, best_e, best_seq = ix, q, e, self.d[ix].seq
                    elif e > now and e < nxt:
                        nxt = e
                    break
                r.head += 1                     # stale: rewritten or removed since
        while self.heap_len:
            ix = self.heap[0].ix
            if self.d[ix].queue == IN_HEAP and self.d[ix].stamp == self.heap[0].seq:
                e = self.heap[0].expires
                if e <= now and (best < 0 or e < best_e or (e == best_e and self.heap[0].seq < best_seq)):
                    best, best_q = ix, IN_HEAP
                elif e > now and e < nxt:
                    nxt = e
                break
            self.heap_pop()
        if best < 0:
            self.min_expiry = nxt
            return -1
        if best_q == IN_HEAP:
            self.heap_pop()
        else:
            self.queues[best_q].ring.head += 1
        self.d[best].queue = NO_RECORD
        return best

