from libc.stdint cimport int32_t, int64_t
from fastcache._core._table cimport Table

ctypedef struct LFUNode:         # per entry, in Table.side
    int32_t prev                 # neighbours within the bucket, -1 at the ends
    int32_t next
    int32_t bucket

ctypedef struct Bucket:          # all entries used exactly `count` times, oldest first
    int64_t count
    int32_t head
    int32_t tail
    int32_t prev                 # bucket list in increasing count; bucket 0 is the root sentinel
    int32_t next


cdef class LFUCache(Table):
    cdef Bucket *buckets
    cdef int32_t nbuckets
    cdef int32_t buckets_cap
    cdef int32_t free_bucket

    cdef int32_t new_bucket(self, int64_t count, int32_t after) except -1
    cdef void free_bucket_at(self, int32_t b) noexcept
    cdef void unlink_node(self, Py_ssize_t ix) noexcept
    cdef void append_node(self, int32_t b, Py_ssize_t ix) noexcept
    cdef int touch(self, Py_ssize_t ix) except -1
