from libc.stdint cimport int32_t, int64_t
from fastcache._core._ordered cimport OrderedTable, Ring

cdef enum:
    NQUEUES = 8

ctypedef struct TTLNode:          # per entry, in Table.side
    double expires
    int64_t wstamp                # sequence number of the entry's live expiry record
    int64_t wseq                  # global write counter: orders equal expiry times by write
    int32_t wq                    # which expiry queue holds it (NQUEUES: the heap)

ctypedef struct ExpiryQueue:      # writes with one TTL expire in write order: a sorted ring
    double ttl
    Ring ring

ctypedef struct HeapRec:
    double expires
    int64_t stamp
    int32_t ix


cdef double check_ttl(object ttl) except? -1.0
cdef double as_time(object t) except? -1.0


cdef class Timer:
    cdef object _timer
    cdef int nesting
    cdef object frozen_obj
    cdef double frozen
    cdef bint fast_monotonic
    cdef public object clock          # a DatetimeClock for timedelta TTLs, else None
    cdef double number(self, object t) except? -1.0
    cdef double ttl_number(self, object ttl) except? -1.0
    cdef object time_of(self, double t)
    cdef double now(self) except? -1.0


cdef class TTLCache(OrderedTable):
    cdef Timer _timer_w
    cdef object _ttl_obj
    cdef double default_ttl
    cdef double pending_ttl
    cdef double now_cached
    cdef ExpiryQueue queues[NQUEUES]
    cdef int nqueues
    cdef HeapRec *heap
    cdef Py_ssize_t heap_len
    cdef Py_ssize_t heap_cap
    cdef int64_t write_seq
    cdef double min_expiry
    cdef bint _custom_expire

    cdef void clear_expiry(self)
    cdef Py_ssize_t live_index(self, object key) except -2
    cdef bint queue_rec_live(self, int q, int64_t seq, int32_t ix) noexcept
    cdef int compact_queue(self, int q) except -1
    cdef bint heap_rec_live(self, HeapRec *rec) noexcept
    cdef int push_expiry(self, Py_ssize_t ix, double expires, double ttl) except -1
    cdef int heap_push(self, HeapRec rec) except -1
    cdef void heap_pop(self)
    cdef void heap_sift_down(self, Py_ssize_t i)
    cdef list expire_at(self, double now)
    cdef int run_expire(self, double now) except -1
    cdef int store_ttl(self, object key, object value, double ttl) except -1
