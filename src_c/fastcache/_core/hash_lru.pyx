"""A shadow LRU: which of the keys accessed would plain LRU have hit?

``AdaptiveCache`` replays its accesses here to learn, per sample period,
what an LRU cache of the same size would have hit, and widens its window
(towards LRU behaviour) when it falls behind.  Only hashes are kept (no
keys, no values), and for large caches only a spatial sample of the keys is
tracked (SHARDS, Waldspurger et al., FAST 2015): keys whose hash falls in
one of ``rate`` classes, in an LRU of ``capacity / rate`` slots, whose hit
ratio estimates that of the full LRU.  At most 256 slots are used, so the
shadow stays in cache and costs little per access.

Structure: nodes in arrays (hash, prev, next) and a linear-probing index
with backward-shift deletion (no tombstones to sweep).
"""
from cpython.mem cimport PyMem_Malloc, PyMem_Free
from libc.stdint cimport int32_t, uint64_t
from libc.string cimport memset

cdef enum:
    MAX_SLOTS = 256


cdef class HashLRU:
    """An LRU set of mixed 64-bit hashes, spatially sampled for large capacities."""

    def __cinit__(self, capacity=1):
        self.keys = NULL
        self.prev = self.next = NULL
        self.index = NULL
        self.configure(capacity)

    def __dealloc__(self):
        PyMem_Free(self.keys)
        PyMem_Free(self.prev)
        PyMem_Free(self.next)
        PyMem_Free(self.index)

    cdef int configure(self, Py_ssize_t capacity) except -1:
        """Track an LRU of ``capacity`` keys (sampled past MAX_SLOTS); forgets everything."""
        cdef int rate = 1
        cdef Py_ssize_t slots, bits = 1
        if capacity < 1:
            capacity = 1
        while capacity // rate > MAX_SLOTS:
            rate <<= 1
        slots = capacity // rate
        while (<Py_ssize_t>1 << bits) < 2 * slots:
            bits += 1
        PyMem_Free(self.keys)
        PyMem_Free(self.prev)
        PyMem_Free(self.next)
        PyMem_Free(self.index)
        self.keys = <uint64_t *>PyMem_Malloc(slots * sizeof(uint64_t))
        self.prev = <int32_t *>PyMem_Malloc(slots * sizeof(int32_t))
        self.next = <int32_t *>PyMem_Malloc(slots * sizeof(int32_t))
        self.index = <int32_t *>PyMem_Malloc((<Py_ssize_t>1 << bits) * sizeof(int32_t))
        if self.keys == NULL or self.prev == NULL or self.next == NULL or self.index == NULL:
            raise MemoryError()
        self.capacity = <int32_t>slots
        self.index_mask = (<uint64_t>1 << bits) - 1
        self.rate = rate
        self.sample_mask = <uint64_t>(rate - 1)
        self.clear()
        return 0

    cdef void clear(self) noexcept:
        memset(self.index, 0xff, (self.index_mask + 1) * sizeof(int32_t))
        self.head = self.tail = -1
        self.size = 0

    cdef void unlink(self, int32_t node) noexcept:
        if self.prev[node] >= 0:
            self.next[self.prev[node]] = self.next[node]
        else:
            self.head = self.next[node]
        if self.next[node] >= 0:
            self.prev[self.next[node]] = self.prev[node]
        else:
            self.tail = self.prev[node]

    cdef void append(self, int32_t node) noexcept:
        self.prev[node] = self.tail
        self.next[node] = -1
        if self.tail >= 0:
            self.next[self.tail] = node
        else:
            self.head = node
        self.tail = node

    cdef void drop_slot(self, uint64_t x) noexcept:
        """Remove hash x from the index, shifting later probes back into the hole."""
        cdef uint64_t mask = self.index_mask
        cdef uint64_t i = x & mask, j, home
        while self.keys[self.index[i]] != x:
            i = (i + 1) & mask
        j = i
        while True:
            j = (j + 1) & mask
            if self.index[j] < 0:
                break
            home = self.keys[self.index[j]] & mask
            # Move j's node into the hole at i unless its home lies in (i, j].
            if (i < j and i < home <= j) or (i > j and (home > i or home <= j)):
                continue
            self.index[i] = self.index[j]
            i = j
        self.index[i] = -1

    cdef int touch(self, uint64_t x) noexcept:
        """Record an access: 1 if LRU would have hit, 0 if not, -1 if x is not sampled."""
        cdef uint64_t mask = self.index_mask
        cdef uint64_t i = x & mask
        cdef int32_t node
        if (x >> 40) & self.sample_mask:
            return -1
        while True:
            node = self.index[i]
            if node < 0:
                break
            if self.keys[node] == x:
                if node != self.tail:
                    self.unlink(node)
                    self.append(node)
                return 1
            i = (i + 1) & mask
        if self.size == self.capacity:
            node = self.head
            self.unlink(node)
            self.drop_slot(self.keys[node])
            i = x & mask                    # the deletion may have shifted our empty slot
            while self.index[i] >= 0:
                i = (i + 1) & mask
        else:
            node = self.size
            self.size += 1
        self.keys[node] = x
        self.index[i] = node
        self.append(node)
        return 0

    def __len__(self):
        return self.size

    def access(self, uint64_t x):
        """Python access to ``touch`` (tests and inspection)."""
        return self.touch(x)

    def state(self):
        """The tracked hashes, least recently used first."""
        cdef list out = []
        cdef int32_t node = self.head
        while node >= 0:
            out.append(self.keys[node])
            node = self.next[node]
        return out

    def set_state(self, hashes):
        """Replay ``state()`` into this (cleared) shadow."""
        self.clear()
        for x in hashes:
            self.touch(x)
