from libc.stdint cimport int32_t, int64_t
from fastcache._core._ordered cimport OrderedTable
from fastcache._core._expiry cimport Expiry
from fastcache._core._timer cimport Timer


cdef class TTLCache(OrderedTable):
    cdef Timer _timer_w
    cdef object _ttl_obj
    cdef double default_ttl
    cdef double pending_ttl
    cdef double now_cached
    cdef Expiry _expiry
    cdef bint _custom_expire

    cdef Py_ssize_t live_index(self, object key) except -2
    cdef list expire_at(self, double now)
    cdef int run_expire(self, double now) except -1
    cdef int store_ttl(self, object key, object value, double ttl) except -1
