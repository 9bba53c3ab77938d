from fastcache._core._table cimport Table


cdef class L1Entry:
    cdef readonly object value
    cdef readonly double expires        # on the owner's clock; +inf: no deadline


cdef class TieredFront:
    cdef readonly object l1
    cdef Table table                    # l1 when it is one of fastcache's compiled caches, else None
    cdef object l1_get                  # l1.get, for any other mapping
    cdef object timer                   # None: the built-in coarse monotonic clock
    cdef readonly double clock_slack    # how far the clock may lag real time
    cdef readonly unsigned long long l1_hits

    cdef double clock(self) except? -1.0
    cdef object lookup_l1(self, object key)
