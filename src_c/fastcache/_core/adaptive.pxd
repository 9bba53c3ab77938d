# W-TinyLFU with a self-tuning window, on the shared hash table.
from libc.stdint cimport int32_t, int64_t, uint64_t
from fastcache._core._table cimport Table
from fastcache._core.frequency_sketch cimport FrequencySketch
from fastcache._core.hash_lru cimport HashLRU

cdef enum:
    HIT_BUFFER = 64              # hits applied to the policy in batches of this many

cdef enum:
    WINDOW = 0
    PROBATION = 1
    PROTECTED = 2

ctypedef struct SegmentNode:     # per entry, in Table.side
    int32_t prev                 # neighbours in its segment, -1 at the ends
    int32_t next
    int32_t segment
    int32_t referenced           # used since it last reached its segment's head (second chance)
    int64_t size                 # the size the segment's weight counts for it

ctypedef struct Segment:         # a CLOCK list: items leave at the head unless referenced
    int32_t head
    int32_t tail
    Py_ssize_t weight


cdef class AdaptiveCache(Table):
    cdef Segment segments[3]
    cdef FrequencySketch sketch
    cdef HashLRU shadow
    cdef Py_ssize_t window_max       # the window's share of maxsize (moved by the climber)
    cdef Py_ssize_t protected_max    # 80 % of the main space
    cdef Py_ssize_t sized_for        # entries the sketch and the climber are sized for
    cdef bint climbing
    cdef Py_ssize_t warm_size        # the climber starts once the cache holds this much
    cdef int direction
    cdef double step
    cdef double previous_rate
    cdef Py_ssize_t sample_size
    cdef Py_ssize_t sample_count
    cdef Py_ssize_t sample_hits
    cdef Py_ssize_t shadow_hits
    cdef int32_t hit_buffer[HIT_BUFFER]   # entry numbers of hits not yet applied
    cdef int buffered

    cdef int configure(self, Py_ssize_t entries) except -1
    cdef void unlink_node(self, Py_ssize_t ix) noexcept
    cdef void append_node(self, int segment, Py_ssize_t ix) noexcept
    cdef void demote(self) noexcept
    cdef void climb(self) noexcept
    cdef void drain(self) noexcept
    cdef void set_window(self, Py_ssize_t window) noexcept
