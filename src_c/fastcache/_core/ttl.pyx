"""Least Recently Used cache with per-item time-to-live (compiled)."""
import time as _time
from fastcache._clock import clock_for_ttl
from fastcache._types import TTL_TYPE_ERROR, TTL_VALUE_ERROR
from cpython.mem cimport PyMem_Malloc, PyMem_Realloc, PyMem_Free
from cpython.float cimport PyFloat_AsDouble
from libc.stdint cimport int32_t, int64_t, uint64_t
from libc.math cimport INFINITY
from fastcache._core._table cimport Table, table_lookup, CAUSE_EXPLICIT, CAUSE_EXPIRED
from fastcache._core._ordered cimport OrderedTable, ring_record
from fastcache._core._expiry cimport Expiry, expire_due, expiry_forget

cdef extern from *:
    """
    #if defined(__linux__)
    #include <time.h>
    #define FC_FAST_MONOTONIC 1
    static double fc_monotonic(void) {
        /* The clock and the arithmetic of CPython's time.monotonic() on Linux,
           so values from both compare exactly. */
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)((long long)ts.tv_sec * 1000000000LL + ts.tv_nsec) / 1e9;
    }
    #else
    #define FC_FAST_MONOTONIC 0
    static double fc_monotonic(void) { return 0.0; }
    #endif
    """
    const int FC_FAST_MONOTONIC
    double fc_monotonic() nogil


cdef object _marker = object()


cdef double as_time(object t) except? -1.0:
    if isinstance(t, (int, float)) and not isinstance(t, bool):
        return PyFloat_AsDouble(t)
    raise TypeError("timer must return a real number of seconds, not %r" % type(t).__name__)


cdef double check_ttl(object ttl) except? -1.0:
    # the one rule of fastcache._types.ttl_seconds (a positive number of seconds, inf: never)
    if isinstance(ttl, bool) or not isinstance(ttl, (int, float)):
        raise TypeError(TTL_TYPE_ERROR % ("ttl", type(ttl).__name__))
    cdef double t = ttl
    if not t > 0:
        raise ValueError(TTL_VALUE_ERROR % ("ttl", ttl))
    return t


cdef inline double expires_of(TTLCache t, Py_ssize_t ix) noexcept:
    return t._expiry.d[ix].expires


cdef class Timer:
    """The cache's timer: call it for the time; ``with cache.timer as now``
    freezes time for everything the cache does inside the block (nestable),
    as in cachetools.  Other attributes are forwarded to the wrapped timer."""

    def __cinit__(self, timer):
        if not callable(timer):
            raise TypeError("timer must be callable")
        self._timer = timer
        self.nesting = 0
        self.fast_monotonic = FC_FAST_MONOTONIC and timer is _time.monotonic
        self.clock = None

    cdef double number(self, object t) except? -1.0:
        """A time of this timer's as a double (datetimes through the clock)."""
        if self.clock is not None:
            return self.clock.number(t)
        return as_time(t)

    cdef double ttl_number(self, object ttl) except? -1.0:
        """A TTL as a double on this timer's scale."""
        if self.clock is None:
            return check_ttl(ttl)
        return self.clock.ttl(ttl)

    cdef object time_of(self, double t):
        """A double time as a value of the user's timer (a datetime with a clock)."""
        return t if self.clock is None else self.clock.time(t)

    cdef double now(self) except? -1.0:
        if self.nesting:
            return self.frozen
        if self.fast_monotonic:
            return fc_monotonic()
        return self.number(self._timer())

    def __call__(self):
        if self.nesting:
            if self.frozen_obj is None:
                self.frozen_obj = self.frozen
            return self.frozen_obj
        return self._timer()

    def __enter__(self):
        if self.nesting == 0:
            t = self._timer()
            self.frozen = self.number(t)
            self.frozen_obj = t
        elif self.frozen_obj is None:
            self.frozen_obj = self.frozen
        self.nesting += 1
        return self.frozen_obj

    def __exit__(self, *exc):
        self.nesting -= 1

    def __copy__(self):
        return Timer(self._timer)

    def __deepcopy__(self, memo):
        import copy
        return Timer(copy.deepcopy(self._timer, memo))

    def __reduce__(self):
        return Timer, (self._timer,)

    def __getattr__(self, name):
        return getattr(self._timer, name)


cdef class TTLCache(OrderedTable):
    """LRU cache whose items expire: a drop-in for ``cachetools.TTLCache``.

    An item stored at time ``t`` lives while ``timer() < t + ttl``;
    ``set(key, value, ttl=...)`` gives one item its own TTL.  Expired items
    are never returned, counted or iterated, and are removed by
    ``expire()``, which runs before every write and from ``len()``,
    ``currsize`` and ``repr()``.  Eviction order is LRU among live items.

    Structure: the LRU ring of ``LRUCache``, plus the expiry component
    (``fastcache._core._expiry``, shared with AdaptiveCache): one FIFO ring
    of expiry records per distinct TTL (items written with one TTL expire
    in write order, so each ring is sorted and ``expire()`` pops from the
    heads: amortised O(1) per removed item, nothing scanned), and past eight
    distinct TTLs a binary heap (O(log n)).
    """

    def __cinit__(self, *args, **kwargs):
        self._expiry = Expiry()

    def __init__(self, maxsize, ttl, timer=_time.monotonic, getsizeof=None, *, on_evict=None):
        self._init_from_params({"maxsize": maxsize, "ttl": ttl, "timer": timer,
                                "getsizeof": getsizeof, "on_evict": on_evict})

    def _init_from_params(self, params):
        cdef Timer timer = Timer(params["timer"])
        timer.clock = clock_for_ttl(params["ttl"])
        if timer.clock is not None:
            timer.fast_monotonic = False    # every reading goes through the clock (a float is refused)
        cdef double ttl = timer.ttl_number(params["ttl"])
        self.init_table(params["maxsize"], params["getsizeof"], params["on_evict"])
        self._timer_w = timer
        self._ttl_obj = params["ttl"]
        self.default_ttl = ttl
        self._expiry.clear()
        cls = type(self)
        self._custom_expire = getattr(cls, "expire") is not TTLCache.expire

    def _params(self):
        params = Table._params(self)
        params["ttl"] = self._ttl_obj
        params["timer"] = self._timer_w._timer
        return params

    # ------------------------------------------------------------- expiry

    cdef list expire_at(self, double now):
        """Remove every item with expires <= now; return [(key, value)] in expiry order."""
        return expire_due(self, self._expiry, now)

    cdef int run_expire(self, double now) except -1:
        """expire(now) as the cache's own operations run it (honours overrides)."""
        if self._custom_expire:
            self.expire(self._timer_w() if self._timer_w.nesting else self._timer_w.time_of(now))
        elif now >= self._expiry.min_expiry:
            self.expire_at(now)
        return 0

    cdef void on_clear(self):
        OrderedTable.on_clear(self)
        self._expiry.clear()

    # ---------------------------------------------------------- table hooks

    cdef int before_store(self) except -1:
        # Room first, so the insert below cannot fail half-way: the table grows
        # to at most twice its capacity (or 8) in one insert.
        self._expiry.reserve_insert(self)
        return self.run_expire(self.now_cached)

    cdef int on_insert(self, Py_ssize_t ix) except -1:
        ring_record(self, ix)
        return self._expiry.schedule(ix, self.now_cached + self.pending_ttl, self.pending_ttl)

    cdef void on_remove(self, Py_ssize_t ix) noexcept:
        OrderedTable.on_remove(self, ix)
        expiry_forget(self._expiry, ix)

    cdef int on_update(self, Py_ssize_t ix) except -1:
        return self.on_insert(ix)

    cdef int on_access(self, Py_ssize_t ix) except -1:
        return ring_record(self, ix)

    cdef int store_ttl(self, object key, object value, double ttl) except -1:
        cdef Timer timer = self._timer_w
        cdef double now
        if timer.nesting:
            now = timer.frozen
        elif timer.fast_monotonic:
            now = fc_monotonic()
            timer.frozen = now
            timer.frozen_obj = None     # boxed only if someone asks (Timer.__call__)
        else:
            raw = timer._timer()
            now = timer.number(raw)
            timer.frozen = now
            timer.frozen_obj = raw
        if timer.clock is not None:
            timer.clock.check_expiry(now, ttl)
        timer.nesting += 1          # freeze time for the whole write, as cachetools does
        try:
            self.now_cached = now
            self.pending_ttl = ttl
            self.store(key, value)
        finally:
            timer.nesting -= 1
        return 0

    # -------------------------------------------------------- mapping API

    def __setitem__(self, key, value):
        self.store_ttl(key, value, self.default_ttl)

    def set(self, key, value, ttl=None):
        """Store value under key; ``ttl`` (seconds, or a timedelta) overrides the cache's TTL for it."""
        self.store_ttl(key, value, self.default_ttl if ttl is None else self._timer_w.ttl_number(ttl))

    # Every method reads the clock before the lookup: a Python timer runs
    # bytecode, during which another thread may change the table, so nothing
    # that could run Python code sits between a lookup and the use of its result.

    cdef Py_ssize_t live_index(self, object key) except -2:
        """Entry number of key if it is stored and has not expired, else -1."""
        cdef double now = self._timer_w.now()
        cdef Py_ssize_t ix = table_lookup(self, key, hash(key))
        if ix >= 0 and now < expires_of(self, ix):
            return ix
        return -1

    def __getitem__(self, key):
        cdef double now = self._timer_w.now()
        cdef Py_ssize_t ix = table_lookup(self, key, hash(key))
        if ix >= 0:
            ring_record(self, ix)           # cachetools counts the use even if the item has expired
            if now < expires_of(self, ix):
                self.hits += 1
                return <object>self.entries[ix].value
        self.misses += 1
        return self.__missing__(key)

    def get(self, key, default=None):
        """Return the live value for key and mark it used, else default."""
        cdef Py_ssize_t ix = self.live_index(key)
        if ix >= 0:
            self.hits += 1
            ring_record(self, ix)
            return <object>self.entries[ix].value
        self.misses += 1
        return default

    def peek(self, key, default=None):
        """Return the live value for key without marking it used, else default."""
        cdef Py_ssize_t ix = self.live_index(key)
        if ix >= 0:
            return <object>self.entries[ix].value
        return default

    def __contains__(self, key):
        return self.live_index(key) >= 0

    def __delitem__(self, key):
        cdef double now = self._timer_w.now()
        cdef Py_ssize_t ix = table_lookup(self, key, hash(key))
        if ix < 0:
            raise KeyError(key)
        expired = not (now < expires_of(self, ix))
        self.remove_at(ix, CAUSE_EXPIRED if expired else CAUSE_EXPLICIT)
        if expired:
            self.expirations += 1
        self.release()
        if expired:
            raise KeyError(key)

    def pop(self, key, default=_marker):
        """Remove key and return its live value; default (or KeyError) if absent or expired."""
        cdef Py_ssize_t ix = self.live_index(key)
        if ix < 0:
            if default is _marker:
                raise KeyError(key)
            return default
        value = <object>self.entries[ix].value
        self.remove_at(ix, CAUSE_EXPLICIT)
        self.release()
        return value

    def setdefault(self, key, default=None):
        """Return the live value for key (a use), else store and return default."""
        with self._timer_w:
            if key in self:
                return self[key]
            self[key] = default
            return default

    def popitem(self):
        """Remove and return the least recently used (key, value) pair that has not expired."""
        with self._timer_w as now:
            self.run_expire(self._timer_w.frozen)
            return OrderedTable.popitem(self)

    def expire(self, time=None):
        """Remove expired items; return the removed (key, value) pairs in expiry order."""
        cdef double now = self._timer_w.now() if time is None else self._timer_w.number(time)
        out = self.expire_at(now)
        self.release()
        return out

    def __len__(self):
        self.run_expire(self._timer_w.now())
        self.release()
        return self.used

    @property
    def currsize(self):
        """The current size of the live items."""
        self.run_expire(self._timer_w.now())
        self.release()
        return self._currsize

    def __iter__(self):
        # A snapshot in insertion order, skipping what has expired when reached,
        # so mutating the cache while iterating is allowed (as in cachetools).
        keys = self.snapshot_keys()
        return _live_keys(self, keys)

    @property
    def ttl(self):
        """The cache-wide time-to-live."""
        return self._ttl_obj

    @property
    def timer(self):
        """The timer (a wrapper that can freeze time in a ``with`` block)."""
        return self._timer_w

    def expires_at(self, key, default=None):
        """Return the time at which key expires (on the cache's timer), else default."""
        cdef Py_ssize_t ix = self.live_index(key)
        if ix >= 0:
            return self._timer_w.time_of(expires_of(self, ix))
        return default

    cdef object policy_state(self, dict positions):
        cdef list exp = []
        cdef Py_ssize_t i
        cdef double ttl
        cdef uint64_t mutations = self.mutations
        for i in range(self.nentries):
            self.guard(mutations)
            if self.entries[i].key != NULL:
                ttl = self._expiry.ttl_of(i)
                exp.append((self._expiry.d[i].expires, self._expiry.d[i].seq, positions[i],
                            ttl if ttl >= 0 else None))
        exp.sort(key=_expiry_sort_key)
        return {"lru": OrderedTable.policy_state(self, positions),
                "expiry": [(pos, expires, ttl) for expires, _, pos, ttl in exp]}

    cdef int restore_policy(self, object state, list ixs) except -1:
        cdef double ttl
        OrderedTable.restore_policy(self, state["lru"], ixs)
        self._expiry.reserve(max(8, self.capacity))
        for pos, expires, ttl_obj in state["expiry"]:
            ttl = -1.0 if ttl_obj is None else ttl_obj
            self._expiry.schedule(ixs[pos], expires, ttl)
        return 0

    def __setstate__(self, state):
        Table.__setstate__(self, state)
        self.expire()


def _expiry_sort_key(item):
    return (item[0], item[1])


def _live_keys(TTLCache cache, list keys):
    cdef Py_ssize_t ix
    for key in keys:
        with cache._timer_w:
            ix = table_lookup(cache, key, hash(key))
            if ix >= 0 and cache._timer_w.frozen < expires_of(cache, ix):
                live = True
            else:
                live = False
        if live:
            yield key

