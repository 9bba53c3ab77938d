"""The L1 hit path of ``TieredCache``, compiled.

An L1 hit must cost about what a bare cache hit costs, so this part is in
C: look the key up straight in the compiled table (no method call), check
its deadline, count the hit.  Everything else (L2, loaders, invalidation)
is Python in ``fastcache.tiered``, which subclasses :class:`TieredFront`.

An L1 copy must not outlive the L2 entry it came from, so each has a
deadline.  With one of fastcache's compiled caches as L1 the deadline is
the cache's own (its expiry layer, ``fastcache._core._expiry``, on the
cache's timer; a cache-wide TTL bounds it further): the value is stored as
is and a hit reads nothing else.  Any other mapping holds
:class:`L1Entry` objects (value plus deadline) on the front's clock.
Unless a timer is given, that clock is Linux's ``CLOCK_MONOTONIC_COARSE``
(read from the vDSO, advances every tick; for a compiled L1 its timer
becomes ``coarse_monotonic``): it can lag real time by a tick and the
kernel's update latency (two ticks are allowed), reported as ``clock_slack``, which the Python layer subtracts from every
deadline so that no copy lives longer than it may.
"""
cimport cython
from libc.math cimport INFINITY
from cpython.float cimport PyFloat_AsDouble

from fastcache._core._table cimport Table, find_live, table_get
from fastcache._core._timer cimport fc_coarse_now, fc_coarse_resolution
from fastcache._core.adaptive import AdaptiveCache
from fastcache._core.fifo import FIFOCache
from fastcache._core.lfu import LFUCache
from fastcache._core.lru import LRUCache
from fastcache._core.ttl import TTLCache

import time as _time

cdef object MISSING = object()
cdef tuple FAST_TYPES = (LRUCache, LFUCache, FIFOCache, TTLCache, AdaptiveCache)


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
        if timer is not None and not callable(timer):
            raise TypeError(f"timer must be callable, not {type(timer).__name__}")
        if type(l1) in FAST_TYPES:
            self.table = <Table>l1
            if timer is not None:
                self.table.use_timer(timer)     # deadlines on one clock: the cache's
            else:
                self.table.use_coarse_clock()   # a hit then reads the clock in a few ns
            self.timer = self.table._timer_w
            self.clock_slack = self.table._timer_w.slack
        else:
            self.table = None
            if timer is None:
                res = fc_coarse_resolution()
                if res < 0 or res > 0.05:             # no usable coarse clock: time.monotonic
                    timer = _time.monotonic
                    res = 0.0
                self.clock_slack = 2 * res            # a tick plus the kernel's update latency
            else:
                self.clock_slack = 0.0
            self.timer = timer
        self.l1 = l1
        self.l1_get = l1.get

    cdef double clock(self) except? -1.0:
        if self.table is not None:
            return self.table._timer_w.now()
        if self.timer is None:
            return fc_coarse_now()
        t = self.timer()
        if isinstance(t, (int, float)) and not isinstance(t, bool):
            return PyFloat_AsDouble(t)
        raise TypeError(f"timer must return a number of seconds, not {type(t).__name__}")

    def now(self):
        """The time on this cache's clock (what deadlines are measured on)."""
        return self.clock()

    cdef inline object lookup_l1(self, object key):
        cdef object v
        if self.table is not None:
            v = table_get(self.table, key, MISSING)
            if v is not MISSING:
                self.l1_hits += 1
            return v
        v = self.l1_get(key, MISSING)
        if type(v) is L1Entry:
            if (<L1Entry>v).expires == INFINITY or self.clock() < (<L1Entry>v).expires:
                self.l1_hits += 1
                return (<L1Entry>v).value
        return MISSING

    def _store(self, key, value, double expires=INFINITY):
        """Put value in L1 with a deadline (on this cache's clock)."""
        if self.table is not None:
            self.table.store_until(key, value, expires)
        else:
            self.l1[key] = L1Entry(value, expires)

    def _store_for(self, key, value, lifetime):
        """Put value in L1 for ``lifetime`` seconds less the clock slack (None: no deadline);
        False, storing nothing, when nothing is left of it."""
        cdef double expires = INFINITY
        cdef double life
        if lifetime is not None:
            life = PyFloat_AsDouble(lifetime) - self.clock_slack
            if life <= 0.0:
                return False
            expires = self.clock() + life
        if self.table is not None:
            self.table.store_until(key, value, expires)
        else:
            self.l1[key] = L1Entry(value, expires)
        return True

    def l1_deadline(self, key):
        """The deadline of key's live L1 copy (None: no deadline); KeyError if L1 has none."""
        cdef Table t = self.table
        cdef Py_ssize_t ix
        cdef double d
        if t is not None:
            ix = find_live(t, key)
            if ix < 0:
                raise KeyError(key)
            d = t._expiry.d[ix].expires if t.expiring else INFINITY
            return None if d == INFINITY else d
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
