from fastcache._core._ordered cimport OrderedTable


cdef class LRUCache(OrderedTable):
    pass
