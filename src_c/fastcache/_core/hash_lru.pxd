# An LRU set of 64-bit key hashes: the shadow LRU that AdaptiveCache races against.
from libc.stdint cimport int32_t, uint64_t


cdef class HashLRU:
    cdef uint64_t *keys            # per node: the mixed hash
    cdef int32_t *prev             # per node: use-order neighbours, -1 at the ends
    cdef int32_t *next
    cdef int32_t *index            # open addressing, linear probing: node number or -1
    cdef uint64_t index_mask
    cdef int32_t head              # least recently used node
    cdef int32_t tail              # most recently used node
    cdef int32_t size
    cdef int32_t capacity
    cdef uint64_t sample_mask      # only hashes with (x >> 40) & sample_mask == 0 are tracked
    cdef readonly int rate         # 1 in `rate` keys is tracked (a power of two)

    cdef int configure(self, Py_ssize_t capacity) except -1
    cdef int touch(self, uint64_t x) noexcept
    cdef void unlink(self, int32_t node) noexcept
    cdef void append(self, int32_t node) noexcept
    cdef void drop_slot(self, uint64_t x) noexcept
    cdef void clear(self) noexcept
