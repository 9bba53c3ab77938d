"""Least Recently Used cache with per-item time-to-live (compiled)."""
import time as _time
from fastcache._clock import clock_for_ttl
from cpython.mem cimport PyMem_Malloc, PyMem_Realloc, PyMem_Free
from libc.stdint cimport int32_t, int64_t, uint64_t
from libc.math cimport INFINITY
from fastcache._core._table cimport Table, table_lookup, CAUSE_EXPLICIT, CAUSE_EXPIRED
from fastcache._core._ordered cimport OrderedTable, ring_record
from fastcache._core._expiry cimport Expiry, expire_due, expiry_forget
from fastcache._core._timer cimport Timer, as_time, check_ttl, fc_monotonic

cdef object _marker = object()


cdef inline double expires_of(TTLCache t, Py_ssize_t ix) noexcept:
    return t._expiry.d[ix].expires


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
        self._expiry.reserve(max(8, self.capacity))     # from now on on_grow keeps it in step
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

    cdef int on_grow(self, Py_ssize_t newcap) except -1:
        return self._expiry.reserve(newcap)

    cdef int before_store(self) except -1:
        self._expiry.reserve_heap_room()    # so the insert below cannot fail half-way
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

