"""Least Frequently Used cache (compiled)."""
import time as _time
from cpython.mem cimport PyMem_Realloc, PyMem_Free
from libc.stdint cimport int32_t, int64_t, uint64_t
from fastcache._core._table cimport Table


cdef inline LFUNode *node_at(Table t, Py_ssize_t ix) noexcept:
    return <LFUNode *>(t.side + ix * sizeof(LFUNode))


cdef class LFUCache(Table):
    """Least Frequently Used (LFU) cache: a drop-in for ``cachetools.LFUCache``.

    ``popitem()`` removes the item used least often; among equals, the least
    recently used one.  A new item starts at one use; ``cache[key]``, ``get``
    and updates add one.  Structure: the O(1) LFU scheme (Shah, Mitra and
    Matani, 2010): a list of frequency buckets in increasing count, each an
    LRU list of its entries, so a use moves the entry to the next bucket.

    ``set(key, value, ttl=...)`` gives an item a time to live, measured on
    ``timer`` (``time.monotonic`` unless injected); expired items are never
    returned, counted or iterated.  Until some item has a TTL the clock is
    never read and a hit costs one flag test more than a plain lookup.
    """

    def __cinit__(self, *args, **kwargs):
        self.side_size = sizeof(LFUNode)
        self.buckets = NULL
        self.nbuckets = 0
        self.buckets_cap = 0
        self.free_bucket = -1
        self.new_bucket(0, -1)          # the root sentinel

    def __dealloc__(self):
        PyMem_Free(self.buckets)

    def __init__(self, maxsize, getsizeof=None, *, timer=_time.monotonic, on_evict=None):
        self.init_table(maxsize, getsizeof, on_evict)
        self.init_expiry(timer, None)

    cdef int32_t new_bucket(self, int64_t count, int32_t after) except -1:
        cdef int32_t b
        cdef Bucket *nb
        if self.free_bucket >= 0:
            b = self.free_bucket
            self.free_bucket = self.buckets[b].next
        else:
            if self.nbuckets == self.buckets_cap:
                cap = 8 if self.buckets_cap == 0 else self.buckets_cap * 2
                nb = <Bucket *>PyMem_Realloc(self.buckets, cap * sizeof(Bucket))
                if nb == NULL:
                    raise MemoryError()
                self.buckets = nb
                self.buckets_cap = cap
            b = self.nbuckets
            self.nbuckets += 1
        self.buckets[b].count = count
        self.buckets[b].head = self.buckets[b].tail = -1
        if after < 0:                   # the root links to itself
            self.buckets[b].prev = self.buckets[b].next = b
        else:
            self.buckets[b].prev = after
            self.buckets[b].next = self.buckets[after].next
            self.buckets[self.buckets[after].next].prev = b
            self.buckets[after].next = b
        return b

    cdef void free_bucket_at(self, int32_t b) noexcept:
        cdef Bucket *bk = &self.buckets[b]
        self.buckets[bk.prev].next = bk.next
        self.buckets[bk.next].prev = bk.prev
        bk.next = self.free_bucket
        self.free_bucket = b

    cdef void unlink_node(self, Py_ssize_t ix) noexcept:
        cdef LFUNode *n = node_at(self, ix)
        cdef Bucket *bk = &self.buckets[n.bucket]
        if n.prev >= 0:
            node_at(self, n.prev).next = n.next
        else:
            bk.head = n.next
        if n.next >= 0:
            node_at(self, n.next).prev = n.prev
        else:
            bk.tail = n.prev
        if bk.head < 0:
            self.free_bucket_at(n.bucket)

    cdef void append_node(self, int32_t b, Py_ssize_t ix) noexcept:
        cdef LFUNode *n = node_at(self, ix)
        cdef Bucket *bk = &self.buckets[b]
        n.bucket = b
        n.next = -1
        n.prev = bk.tail
        if bk.tail >= 0:
            node_at(self, bk.tail).next = <int32_t>ix
        else:
            bk.head = <int32_t>ix
        bk.tail = <int32_t>ix

    cdef int touch(self, Py_ssize_t ix) except -1:
        cdef LFUNode *n = node_at(self, ix)
        cdef int32_t b = n.bucket
        cdef int64_t count = self.buckets[b].count
        cdef int32_t nb = self.buckets[b].next
        if nb == 0 or self.buckets[nb].count != count + 1:
            if self.buckets[b].head == ix and self.buckets[b].tail == ix:
                self.buckets[b].count = count + 1    # alone in its bucket: renumber it
                return 0
            nb = self.new_bucket(count + 1, b)
        self.unlink_node(ix)
        self.append_node(nb, ix)
        return 0

    cdef int on_insert(self, Py_ssize_t ix) except -1:
        cdef int32_t b = self.buckets[0].next
        if b == 0 or self.buckets[b].count != 1:
            b = self.new_bucket(1, 0)
        self.append_node(b, ix)
        return 0

    cdef int on_update(self, Py_ssize_t ix) except -1:
        return self.touch(ix)

    cdef int on_access(self, Py_ssize_t ix) except -1:
        return self.touch(ix)

    cdef void on_remove(self, Py_ssize_t ix) noexcept:
        self.unlink_node(ix)

    cdef Py_ssize_t victim(self) except -2:
        cdef int32_t b = self.buckets[0].next
        return -1 if b == 0 else self.buckets[b].head

    cdef void on_clear(self):
        self.nbuckets = 0
        self.free_bucket = -1
        self.new_bucket(0, -1)

    cdef object policy_state(self, dict positions):
        cdef list order = []
        cdef int32_t b = self.buckets[0].next
        cdef int32_t ix
        cdef uint64_t mutations = self.mutations
        while b != 0:
            ix = self.buckets[b].head
            while ix >= 0:
                self.guard(mutations)
                order.append((positions[ix], self.buckets[b].count))
                ix = node_at(self, ix).next
            b = self.buckets[b].next
        return order

    cdef int restore_policy(self, object state, list ixs) except -1:
        cdef int32_t last
        for pos, count in state:
            last = self.buckets[0].prev
            if last == 0 or self.buckets[last].count != count:
                last = self.new_bucket(count, last)
            self.append_node(last, ixs[pos])
        return 0

    def counts(self):
        """Return {key: use count} (a fastcache extra, for inspection)."""
        cdef dict out = {}
        cdef Py_ssize_t i
        for i in range(self.nentries):
            if self.entries[i].key != NULL:
                out[<object>self.entries[i].key] = self.buckets[node_at(self, i).bucket].count
        return out
