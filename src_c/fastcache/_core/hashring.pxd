from cpython.object cimport PyObject
from libc.stdint cimport uint32_t, int32_t

cdef enum:
    MEMO_SIZE = 4096

cdef struct Point:
    uint32_t hash       # position on the 32-bit continuum
    int32_t owner       # index into HashRing._names


cdef class HashRing:
    cdef Point *continuum
    cdef Py_ssize_t npoints
    cdef list _names            # live node names, in the order they were added
    cdef dict _weights          # name -> weight
    cdef readonly int points_per_node
    # Recent-key memo: a direct-mapped table of (key, owner), indexed by
    # the key's Python hash (cached on str objects), so a hot key skips MD5.
    cdef PyObject *memo_keys[MEMO_SIZE]
    cdef int32_t memo_owners[MEMO_SIZE]

    cdef void forget(self) noexcept

    cdef void rebuild(self) except *
    cdef int put(self, object name, object weight) except -1
    cdef object node_at(self, uint32_t h)
    cdef int32_t owner_of(self, uint32_t h) noexcept
