"""The L1 hit path of ``TieredCache``, compiled.

An L1 hit must cost about what a bare cache hit costs, so this part is in
C: look the key up straight in the compiled table (no method call), check
the entry's deadline against a cheap clock, count the hit.  Everything
else (L2, loaders, invalidation) is Python in ``fastcache.tiered``, which
subclasses :class:`TieredFront`.

An L1 copy must not outlive the L2 entry it came from, so each has a
deadline.  With a compiled LRU/LFU/FIFO L1 the value is stored as is and
its deadline sits in a C array beside the table, indexed by the entry's
number (entries never move), so a hit reads no extra object; any other
mapping holds :class:`L1Entry` objects (value plus deadline).  The default clock is
Linux's ``CLOCK_MONOTONIC_COARSE`` (read from the vDSO, advances every tick); it can
lag real time by up to one tick, reported as ``clock_slack``, which the
Python layer subtracts from every deadline so that no copy lives longer
than it may.
"""
cimport cython
from libc.math cimport INFINITY
from cpython.float cimport PyFloat_AsDouble
from cpython.mem cimport PyMem_Free, PyMem_Realloc
from cpython.object cimport PyObject

from fastcache._core._table cimport Table, table_lookup
from fastcache._core.fifo import FIFOCache
from fastcache._core.lfu import LFUCache
from fastcache._core.lru import LRUCache

cdef extern from *:
    """
    #if defined(__linux__)
    #include <time.h>
    static double fc_coarse_now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
    }
    static double fc_coarse_resolution(void) {
        struct timespec ts;
        if (clock_getres(CLOCK_MONOTONIC_COARSE, &ts) != 0) return -1.0;
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
    }
    #else
    static double fc_coarse_now(void) { return -1.0; }
    static double fc_coarse_resolution(void) { return -1.0; }
    #endif
    """
    double fc_coarse_now() nogil
    double fc_coarse_resolution() nogil

import time as _time

cdef object MISSING = object()
cdef tuple FAST_TYPES = (LRUCache, LFUCache, FIFOCache)


@cython.final
@cython.freelist(64)
cdef class L1Entry:
    """A value held in L1, with the clock time at which it stops being served."""

    def __cinit__(self, value, double expires=INFINITY):
        self.value = value
        self.expires = expires

    def __repr__(self):
        return f"L1Entry({self.value!r}, expires={self.expires!r})"

    def __reduce__(self):
        return (L1Entry, (self.value, self.expires))


cdef class TieredFront:
    """Base of ``TieredCache``: owns the L1 and answers L1 hits."""

    def _setup_front(self, l1, timer=None):
        if type(l1) in FAST_TYPES:
            self.table = <Table>l1
        else:
            self.table = None
        self.l1 = l1
        self.l1_get = l1.get
        if timer is None:
            res = fc_coarse_resolution()
            if res < 0 or res > 0.05:             # no usable coarse clock: time.monotonic
                timer = _time.monotonic
                res = 0.0
            self.clock_slack = res
        else:
            if not callable(timer):
                raise TypeError(f"timer must be callable, not {type(timer).__name__}")
            self.clock_slack = 0.0
        self.timer = timer

    cdef double clock(self) except? -1.0:
        if self.timer is None:
            return fc_coarse_now()
        t = self.timer()
        if isinstance(t, (int, float)) and not isinstance(t, bool):
            return PyFloat_AsDouble(t)
        raise TypeError(f"timer must return a number of seconds, not {type(t).__name__}")

    def now(self):
        """The time on this cache's clock (what deadlines are measured on)."""
        return self.clock()

    def __dealloc__(self):
        PyMem_Free(self.deadlines)
        PyMem_Free(self.owners)

    cdef int reserve(self, Py_ssize_t n) except -1:
        cdef void *p
        cdef Py_ssize_t i
        if n <= self.ncap:
            return 0
        p = PyMem_Realloc(self.deadlines, n * sizeof(double))
        if p == NULL:
            raise MemoryError()
        self.deadlines = <double *>p
        p = PyMem_Realloc(self.owners, n * sizeof(PyObject *))
        if p == NULL:
            raise MemoryError()
        self.owners = <PyObject **>p
        for i in range(self.ncap, n):
            self.owners[i] = NULL
        self.ncap = n
        return 0

    cdef inline object lookup_l1(self, object key):
        cdef Table t = self.table
        cdef Py_ssize_t ix
        cdef double d
        cdef object v
        if t is not None:
            ix = table_lookup(t, key, hash(key))
            if ix < 0:
                t.misses += 1
                return MISSING
            # The deadline counts only if it was written for this very entry.
            if ix < self.ncap and self.owners[ix] == t.entries[ix].key:
                d = self.deadlines[ix]
                if d == INFINITY or (fc_coarse_now() if self.timer is None else self.clock()) < d:
                    t.hits += 1
                    t.on_access(ix)
                    self.l1_hits += 1
                    return <object>t.entries[ix].value
            return MISSING
        v = self.l1_get(key, MISSING)
        if type(v) is L1Entry:
            if (<L1Entry>v).expires == INFINITY or self.clock() < (<L1Entry>v).expires:
                self.l1_hits += 1
                return (<L1Entry>v).value
        return MISSING

    def _store(self, key, value, double expires=INFINITY):
        """Put value in L1 with a deadline (on this cache's clock)."""
        cdef Table t = self.table
        cdef Py_ssize_t ix
        if t is None:
            self.l1[key] = L1Entry(value, expires)
            return
        self.l1[key] = value
        ix = table_lookup(t, key, hash(key))
        if ix >= 0:
            self.reserve(t.capacity)
            self.deadlines[ix] = expires
            self.owners[ix] = t.entries[ix].key

    def l1_deadline(self, key):
        """The deadline of key's L1 copy (None: no deadline); KeyError if L1 has none."""
        cdef Table t = self.table
        cdef Py_ssize_t ix
        if t is not None:
            ix = table_lookup(t, key, hash(key))
            if ix < 0 or ix >= self.ncap or self.owners[ix] != t.entries[ix].key:
                raise KeyError(key)
            return None if self.deadlines[ix] == INFINITY else self.deadlines[ix]
        v = self.l1_get(key, MISSING)
        if type(v) is not L1Entry:
            raise KeyError(key)
        return None if (<L1Entry>v).expires == INFINITY else (<L1Entry>v).expires

    def get(self, key, default=None):
        """The value for key: from L1, else L2 (filling L1), else default."""
        v = self.lookup_l1(key)
        if v is not MISSING:
            return v
        return self._get_miss(key, default)

    def get_l1(self, key, default=None):
        """The value for key if L1 holds a live copy, else default (no L2)."""
        v = self.lookup_l1(key)
        return default if v is MISSING else v

    def _get_miss(self, key, default):
        raise NotImplementedError
