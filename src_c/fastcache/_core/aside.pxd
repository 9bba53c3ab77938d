from fastcache._core._table cimport Table


cdef class Completed:
    cdef readonly object value


cdef class AsideFront:
    cdef object cache_get               # the cache's get, for a sync cache that is not a Table
    cdef Table table                    # the cache when it is one of fastcache's compiled caches
    cdef bint probing                   # a sync cache: hits are decided here
    cdef bint enveloped                 # entries carry their load time (freshness options)
    cdef bint decides_fresh             # enveloped, without XFetch: a fresh entry is a hit here
    cdef double fresh_fraction          # refresh_threshold, or 1
    cdef object timer                   # the engine's clock; None: the wall clock, read in C
    cdef readonly unsigned long long fast_hits

    cdef object raw_of(self, object key)
    cdef object fresh(self, object raw)
    cdef object lookup(self, object key, object func, tuple args, object kwargs, object loader,
                       bint asynchronous)
