from fastcache._core._ordered cimport OrderedTable


cdef class TTLCache(OrderedTable):
    pass
