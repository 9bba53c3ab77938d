from libc.stdint cimport int32_t, int64_t
from fastcache._core._ordered cimport OrderedTable
from fastcache._core._expiry cimport Expiry


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
    cdef Expiry _expiry
    cdef bint _custom_expire

    cdef Py_ssize_t live_index(self, object key) except -2
    cdef list expire_at(self, double now)
    cdef int run_expire(self, double now) except -1
    cdef int store_ttl(self, object key, object value, double ttl) except -1
