from fastcache._core._ordered cimport OrderedTable


cdef class FIFOCache(OrderedTable):
    pass
