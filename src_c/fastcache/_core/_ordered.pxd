# Order kept as a ring of records: LRU (records on insert, update and hit) and FIFO (insert, update).
from libc.stdint cimport int32_t, int64_t, uint32_t
from fastcache._core._table cimport Table, Entry
from fastcache._core._ring cimport Ring

cdef class OrderedTable(Table):
    cdef Ring ring

    cdef int ring_compact(self) except -1
    cdef int record(self, Py_ssize_t ix) except -1


cdef inline int ring_record(OrderedTable t, Py_ssize_t ix) except -1:
    """Record a use of entry ix (inline: this is the LRU hit path)."""
    cdef int64_t seq = t.ring.tail
    if seq - t.ring.head > t.ring.mask:
        t.ring_compact()
        seq = t.ring.tail
    t.ring.buf[seq & t.ring.mask] = <int32_t>ix
    t.stamps[ix] = <uint32_t>seq
    t.ring.tail = seq + 1
    return 0


cdef inline bint record_live(Table t, int32_t ix, int64_t seq) noexcept:
    # Sequence numbers in the ring span less than 2**32, so comparing their low
    # 32 bits is exact.  The stamps array is small (4 bytes an entry), so this
    # check stays in cache; the entry itself is read only when the stamp matches.
    return t.stamps[ix] == <uint32_t>seq and t.entries[ix].key != NULL
