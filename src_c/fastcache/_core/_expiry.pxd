# Per-item expiry, one component for every compiled cache that expires items.
from libc.math cimport INFINITY
from libc.stdint cimport int32_t, int64_t
from fastcache._core._ring cimport Ring

cdef enum:
    NQUEUES = 8                # FIFO queues, one per distinct TTL; past that, the heap
    NO_RECORD = -1             # Deadline.queue: no record (never expires, or removed)
    IN_HEAP = NQUEUES          # Deadline.queue: the record is in the heap

ctypedef struct Deadline:      # per entry
    double expires             # INFINITY: never
    int64_t seq                # the write that set it: orders equal times, identifies heap records
    int64_t stamp              # its live record's position in its queue (heap: == seq)
    int32_t queue              # 0 .. NQUEUES-1, IN_HEAP or NO_RECORD

ctypedef struct ExpiryQueue:   # writes with one TTL fall due in write order: a sorted ring
    double ttl
    Ring ring

ctypedef struct HeapRec:
    double expires
    int64_t seq
    int32_t ix


cdef class Expiry:
    cdef Deadline *d               # by entry number
    cdef Py_ssize_t cap
    cdef ExpiryQueue queues[NQUEUES]
    cdef int nqueues
    cdef HeapRec *heap
    cdef Py_ssize_t heap_len
    cdef Py_ssize_t heap_cap
    cdef int64_t write_seq
    cdef double min_expiry         # no record falls due before this

    cdef int reserve(self, Py_ssize_t entries) except -1
    cdef int reserve_heap_room(self) except -1
    cdef void clear(self)
    cdef int schedule(self, Py_ssize_t ix, double expires, double ttl) except -1
    cdef Py_ssize_t pop_due(self, double now) except -2
    cdef double ttl_of(self, Py_ssize_t ix) noexcept
    cdef int compact_queue(self, int q) except -1
    cdef int grow_heap(self) except -1
    cdef int heap_push(self, HeapRec rec) except -1
    cdef void heap_pop(self) noexcept
    cdef void compact_heap(self) noexcept
    cdef void sift_down(self, Py_ssize_t i, HeapRec last) noexcept



cdef inline void expiry_forget(Expiry e, Py_ssize_t ix) noexcept:
    """Entry ix was removed: no deadline, and any record of it is stale.  The owner keeps
    the deadlines as large as its entry arrays (its on_grow hook), so ix is in range."""
    e.d[ix].expires = INFINITY
    e.d[ix].queue = NO_RECORD
