"""The hash table that every compiled cache extends.

Layout: dense 32-byte entries (key, value, hash, size) and an open-addressing
index of int32 entry numbers, probed as CPython's dict probes (the hash's low
bits first, then perturbed steps), each slot also holding 6 hash bits so that
probing past other keys never reads their entries.  Entries never move: a
deleted entry goes on a free list and is reused by the next insert, and a
small array of prev/next links keeps insertion order (iteration order, as in
a dict).  So policies can keep their order structures in terms of entry
numbers for good; only the index is rebuilt now and then, to sweep out the
dummies that deletions leave in it.

Why not a dict plus node objects: at 100k entries a hit is bound by cache
misses, and a node object per entry costs one more miss and ~60 bytes.

Thread safety: every operation runs under the GIL and only gives it up inside
Python callbacks (a key's ``__eq__``/``__hash__``, ``getsizeof``, an
overridden ``popitem``, the timer, the removal listener, and the
finalizers of removed objects).  Lookups restart when the table changed
during a callback, removed objects are released only once the table is
consistent again, and listeners run last.  So each public call is atomic
with respect to other threads except while user code it calls is running.
"""
from cpython.mem cimport PyMem_Malloc, PyMem_Realloc, PyMem_Free
from cpython.object cimport PyObject, PyObject_RichCompareBool, Py_EQ
from cpython.ref cimport Py_INCREF, Py_DECREF, Py_XDECREF
from libc.string cimport memset, memcpy, memmove
from libc.stdint cimport int32_t, int64_t, uint32_t, uint64_t, INT32_MAX
import copyreg
import logging
import time as _time
import types
from collections.abc import KeysView, ValuesView, ItemsView, Mapping, MutableMapping

from fastcache._clock import clock_for_ttl
from fastcache._types import RemovalCause, CacheStats
from fastcache._core._expiry cimport Expiry, expiry_forget
from fastcache._core._timer cimport Timer, fc_monotonic, fc_coarse_now, fc_coarse_resolution
from fastcache._core._timer import coarse_monotonic, coarse_clock_slack

cdef extern from "Python.h":
    const Py_ssize_t PY_SSIZE_T_MAX
    void decref_raw "Py_DECREF"(PyObject *op)      # no temporary reference, unlike <object> casts

cdef tuple CAUSES = (RemovalCause.EXPLICIT, RemovalCause.REPLACED,
                     RemovalCause.SIZE, RemovalCause.EXPIRED)
cdef object log = logging.getLogger("fastcache")


cdef double _coarse_slack():
    """How far the coarse monotonic clock may lag the exact one (a tick plus the kernel's
    update latency: two ticks); infinity when there is no usable coarse clock."""
    cdef double res = fc_coarse_resolution()
    return 2 * res if 0 < res <= 0.05 else INFINITY


# A hit on an item with a deadline, on the exact monotonic clock, first reads the coarse
# clock (a few ns): coarse + COARSE_SLACK < deadline proves the item live; only an item
# that close to its deadline pays the exact clock's read (some 20 ns on a VM).
cdef double COARSE_SLACK = _coarse_slack()
cdef object _marker = object()

cdef enum:
    MIN_CAPACITY = 8


cdef object check_maxsize(object maxsize):
    """Return maxsize as a Py_ssize_t-compatible int, or None when unbounded."""
    if isinstance(maxsize, bool) or not isinstance(maxsize, (int, float)):
        raise TypeError("maxsize must be an int, not %r" % type(maxsize).__name__)
    if maxsize != maxsize:
        raise ValueError("maxsize must not be NaN")
    if maxsize < 0:
        raise ValueError("maxsize must be non-negative")
    if isinstance(maxsize, float):
        if maxsize == float("inf"):
            return None
        if maxsize != int(maxsize):
            raise ValueError("maxsize must be a whole number, got %r" % maxsize)
        maxsize = int(maxsize)
    if maxsize >= PY_SSIZE_T_MAX:
        return None
    return maxsize


def _defines_popitem_in_python(cls):
    """True if a Python subclass overrides popitem (the eviction hook)."""
    for klass in cls.__mro__:
        if "popitem" in klass.__dict__:
            return not klass.__module__.startswith("fastcache._core")
    return False


cdef object _load_missing = None     # fastcache.loading.load_missing, bound on first use


cdef class Table:
    """Storage, size accounting, statistics and removal notification.

    Not instantiated directly: each policy (LRU, FIFO, LFU, TTL) subclasses it
    and adds its order structure and ``popitem``.
    """

    def __class_getitem__(cls, item):
        """``LRUCache[str, int]``: a ``types.GenericAlias``, as for cachetools' generic classes."""
        return types.GenericAlias(cls, item)

    def __cinit__(self, *args, **kwargs):
        self.entries = NULL
        self.index = NULL
        self.stamps = NULL
        self.order = NULL
        self.first = self.last = self.free = -1
        self.side = NULL
        self.graves = NULL
        self._maxsize = PY_SSIZE_T_MAX
        self._maxsize_obj = None
        self._getsizeof_arg = None
        self._sizer = None
        self._on_evict = None
        self.index_bits = 0
        self.tag_shift = 25
        self.ix_mask = (1 << 25) - 1
        self.tag_mask = 63
        self._expiry = Expiry()
        self._timer_w = None
        self._ttl_obj = None
        self.default_ttl = INFINITY

    def __dealloc__(self):
        cdef Py_ssize_t i
        if self.entries != NULL:
            for i in range(self.nentries):
                if self.entries[i].key != NULL:
                    Py_DECREF(<object>self.entries[i].key)
                    Py_DECREF(<object>self.entries[i].value)
            PyMem_Free(self.entries)
        for i in range(self.ngraves):
            Py_XDECREF(self.graves[i].key)
            Py_XDECREF(self.graves[i].value)
        PyMem_Free(self.graves)
        PyMem_Free(self.index)
        PyMem_Free(self.stamps)
        PyMem_Free(self.order)
        PyMem_Free(self.side)

    cdef int init_table(self, object maxsize, object getsizeof, object on_evict) except -1:
        cdef object ms = check_maxsize(maxsize)
        if on_evict is not None and not callable(on_evict):
            raise TypeError("on_evict must be callable or None")
        if getsizeof is not None and not callable(getsizeof):
            raise TypeError("getsizeof must be callable or None")
        self.drop_all(CAUSE_EXPLICIT)
        self.release()
        self._maxsize_obj = maxsize
        self._maxsize = PY_SSIZE_T_MAX if ms is None else ms
        self._on_evict = on_evict
        self._getsizeof_arg = getsizeof
        cls = type(self)
        if getsizeof is not None:
            # As in cachetools, the constructor argument becomes the instance's getsizeof.
            setattr(self, "getsizeof", getsizeof)
            self._sizer = getsizeof
        elif getattr(cls, "getsizeof") is not getattr(_base_class_of(cls), "getsizeof"):
            self._sizer = self.getsizeof
        else:
            self._sizer = None
        self.weighted = self._sizer is not None
        self._custom_popitem = _defines_popitem_in_python(cls)
        self._custom_expire = getattr(cls, "expire") is not getattr(_base_class_of(cls), "expire")
        self.expiring = False
        self._expiry.clear()
        if self._timer_w is None:
            self._timer_w = Timer(_time.monotonic)
        return 0

    cdef int init_expiry(self, object timer, object ttl) except -1:
        """The clock (``timer=``) and the cache-wide TTL (None: items live until removed)."""
        cdef Timer t = Timer(timer)
        cdef double default_ttl = INFINITY
        if ttl is not None:
            t.clock = clock_for_ttl(ttl)
            if t.clock is not None:
                t.fast_monotonic = False    # every reading goes through the clock (a float is refused)
            default_ttl = t.ttl_number(ttl)
        self._timer_w = t
        self._ttl_obj = ttl
        self.default_ttl = default_ttl
        if default_ttl < INFINITY:
            self.start_expiring()
        return 0

    cdef int use_coarse_clock(self) except -1:
        """Read the coarse monotonic clock (TieredCache's L1, whose hits must cost what a bare
        hit costs).  Only in place of the default time.monotonic: the same clock, so deadlines
        already written stay valid (to within one tick)."""
        if self._timer_w._timer is _time.monotonic and self._timer_w.clock is None \
                and coarse_clock_slack() is not None:
            self._timer_w = Timer(coarse_monotonic)
        return 0

    cdef int use_timer(self, object timer) except -1:
        """Measure deadlines on ``timer`` from now on (an owner's clock: TieredCache's ``timer=``).
        Refused once the cache holds items, or if it has a timer of its own."""
        if self._timer_w._timer is timer:
            return 0
        if self._timer_w._timer is not _time.monotonic or self._timer_w.clock is not None:
            raise ValueError("the cache has a timer of its own; give timer= to one of the two")
        if self.used:
            raise ValueError("the cache already holds items timed on its own clock")
        self._timer_w = Timer(timer)
        return 0

    cdef int start_expiring(self) except -1:
        """From now on reads check deadlines (and the clock, for items that have one)."""
        if not self.expiring:
            self._expiry.reserve(max(8, self.capacity))     # from now on grow() keeps it in step
            self.expiring = True
        return 0

    # ------------------------------------------------------------------ table

    cdef Py_ssize_t lookup(self, object key, Py_hash_t h) except -2:
        """Entry number of key, or -1."""
        return table_lookup(self, key, h)

    cdef int grow(self) except -1:
        """Give the entry arrays room for more entries.  Entries keep their numbers."""
        cdef Py_ssize_t newcap = MIN_CAPACITY if self.capacity == 0 else 2 * self.capacity
        cdef int bits = 3
        cdef void *p
        if not self.weighted and self._maxsize < newcap:
            # An unweighted cache never holds more than maxsize entries, and a
            # new key is stored only after an eviction freed an entry.
            newcap = max(self._maxsize, self.capacity + 1)
        if newcap > (1 << 30):
            raise MemoryError("cache too large")
        p = PyMem_Realloc(self.entries, newcap * sizeof(Entry))
        if p == NULL:
            raise MemoryError()
        self.entries = <Entry *>p
        p = PyMem_Realloc(self.order, newcap * sizeof(Link))
        if p == NULL:
            raise MemoryError()
        self.order = <Link *>p
        if self.has_stamps:
            p = PyMem_Realloc(self.stamps, newcap * sizeof(uint32_t))
            if p == NULL:
                raise MemoryError()
            self.stamps = <uint32_t *>p
        if self.side_size:
            p = PyMem_Realloc(self.side, newcap * self.side_size)
            if p == NULL:
                raise MemoryError()
            self.side = <char *>p
        if self.expiring:
            self._expiry.reserve(newcap)
        self.on_grow(newcap)            # per-entry data of the policy's own
        self.capacity = newcap
        # At least 3 slots per entry: a full table then has room for half as
        # many dummies as entries before append() sweeps them out.  With only 2
        # (a power-of-two maxsize), every eviction in a full cache forced an
        # O(n) rebuild.
        while (<Py_ssize_t>1 << bits) < 3 * newcap:
            bits += 1
        if bits != self.index_bits:
            self.rebuild_index(bits)
        return 0

    cdef int rebuild_index(self, int bits) except -1:
        """Reindex every live entry into a fresh index of 2**bits slots (no dummies)."""
        cdef int32_t *index = self.index
        cdef size_t mask = (<size_t>1 << bits) - 1, s, perturb
        cdef int32_t ix
        if bits != self.index_bits or index == NULL:
            index = <int32_t *>PyMem_Malloc((mask + 1) * sizeof(int32_t))
            if index == NULL:
                raise MemoryError()
            PyMem_Free(self.index)
            self.index = index
            self.index_bits = bits
        if self.capacity <= (1 << 25):  # entry numbers fit in 25 bits: 6 bits left for tags
            self.tag_shift, self.ix_mask, self.tag_mask = 25, (1 << 25) - 1, 63
        else:
            self.tag_shift, self.ix_mask, self.tag_mask = 31, INT32_MAX, 0
        memset(index, 0xff, (mask + 1) * sizeof(int32_t))     # all IX_EMPTY
        ix = self.first
        while ix >= 0:
            s = slot_of(self.entries[ix].hash, bits)
            perturb = <size_t>self.entries[ix].hash
            while index[s] != IX_EMPTY:
                s = probe_next(s, &perturb, mask)
            index[s] = ix | tag_of(self, self.entries[ix].hash)
            ix = self.order[ix].next
        self.ndummies = 0
        self.mutations += 1
        return 0

    cdef Py_ssize_t append(self, object key, Py_hash_t h, object value, Py_ssize_t size) except -1:
        """Add a key known to be absent; return its entry number."""
        cdef Py_ssize_t ix
        cdef size_t s, mask, perturb
        cdef int32_t slot_value
        if self.free < 0 and self.nentries >= self.capacity:
            self.grow()
        if 2 * (self.used + 1 + self.ndummies) > (<Py_ssize_t>1 << self.index_bits):
            self.rebuild_index(self.index_bits)          # too many dummies: sweep them out
        if self.free >= 0:
            ix = self.free
            self.free = self.order[ix].next
        else:
            ix = self.nentries
            self.nentries += 1
        mask = (<size_t>1 << self.index_bits) - 1
        s = slot_of(h, self.index_bits)
        perturb = <size_t>h
        while True:
            slot_value = self.index[s]
            if slot_value < 0:          # the first empty or dummy slot
                break
            s = probe_next(s, &perturb, mask)
        if slot_value == IX_DUMMY:
            self.ndummies -= 1
        self.index[s] = <int32_t>ix | tag_of(self, h)
        Py_INCREF(key)
        Py_INCREF(value)
        self.entries[ix].key = <PyObject *>key
        self.entries[ix].value = <PyObject *>value
        self.entries[ix].hash = h
        self.entries[ix].size = size
        self.order[ix].prev = self.last
        self.order[ix].next = -1
        if self.last >= 0:
            self.order[self.last].next = <int32_t>ix
        else:
            self.first = <int32_t>ix
        self.last = <int32_t>ix
        self.used += 1
        self._currsize += size
        self.mutations += 1
        return ix

    cdef void remove_at(self, Py_ssize_t ix, int cause) noexcept:
        """Unlink entry ix; its references go to the graveyard for release()."""
        cdef Entry *e = &self.entries[ix]
        cdef PyObject *key = e.key
        cdef PyObject *value = e.value
        cdef size_t s = slot_of(e.hash, self.index_bits)
        cdef size_t mask = (<size_t>1 << self.index_bits) - 1
        cdef size_t perturb = <size_t>e.hash
        cdef Link *link = &self.order[ix]
        while self.index[s] < 0 or (self.index[s] & self.ix_mask) != ix:
            s = probe_next(s, &perturb, mask)
        self.index[s] = IX_DUMMY
        self.ndummies += 1
        self.on_remove(ix)
        if self.expiring:
            expiry_forget(self._expiry, ix)
        e.key = NULL
        e.value = NULL
        if link.prev >= 0:
            self.order[link.prev].next = link.next
        else:
            self.first = link.next
        if link.next >= 0:
            self.order[link.next].prev = link.prev
        else:
            self.last = link.prev
        link.next = self.free
        self.free = <int32_t>ix
        self.used -= 1
        self._currsize -= e.size
        self.mutations += 1
        if self.bury(key, value, cause) < 0:
            # No memory for the graveyard: release now, the table is consistent.
            decref_raw(key)
            decref_raw(value)

    cdef int replace_value(self, Py_ssize_t ix, object value) except -1:
        cdef Entry *e = &self.entries[ix]
        cdef PyObject *old = e.value
        Py_INCREF(value)
        e.value = <PyObject *>value
        Py_INCREF(<object>e.key)
        if self.bury(e.key, old, CAUSE_REPLACED) < 0:
            decref_raw(e.key)
            decref_raw(old)
        return 0

    cdef int bury(self, PyObject *key, PyObject *value, int cause) noexcept:
        """Keep a removed item's references for release(); -1 (nothing kept) if out of memory.

        Never raises, so callers finish their change to the table first and
        then drop the references themselves when this fails.
        """
        cdef Grave *g
        cdef Py_ssize_t cap
        if self.ngraves == self.graves_cap:
            cap = 8 if self.graves_cap == 0 else self.graves_cap * 2
            g = <Grave *>PyMem_Realloc(self.graves, cap * sizeof(Grave))
            if g == NULL:
                return -1
            self.graves = g
            self.graves_cap = cap
        self.graves[self.ngraves].key = key
        self.graves[self.ngraves].value = value
        self.graves[self.ngraves].cause = cause
        self.ngraves += 1
        return 0

    cdef int release(self) except -1:
        """Notify the listener of, and drop, everything removed so far.

        Runs with the table consistent, so finalizers and listeners may use
        the cache again.  Listener errors are logged, never raised: the
        operation that removed the item has already succeeded.
        """
        cdef Grave g
        while self.ngraves:
            self.ngraves -= 1
            g = self.graves[self.ngraves]
            try:
                if self._on_evict is not None:
                    try:
                        self._on_evict(<object>g.key, <object>g.value, CAUSES[g.cause])
                    except Exception:
                        log.exception("fastcache: on_evict listener raised; ignored")
            finally:
                decref_raw(g.key)           # the graveyard's references; may run finalizers
                decref_raw(g.value)
        return 0

    cdef Py_ssize_t item_size(self, object value) except -1:
        size = self._sizer(value)
        if isinstance(size, bool) or not isinstance(size, int):
            try:
                size = size.__index__()
            except AttributeError:
                raise TypeError("getsizeof must return an int, not %r" % type(size).__name__) from None
        if size < 0:
            raise ValueError("value size must be non-negative")
        if size > self._maxsize:
            raise ValueError("value too large")
        return size

    cdef int store(self, object key, object value) except -1:
        """cache[key] = value, with cachetools' eviction rules."""
        return self.store_hashed(key, hash(key), value)

    cdef int store_hashed(self, object key, Py_hash_t h, object value) except -1:
        """store() with the key's hash already computed (each key is hashed once per call)."""
        cdef Py_ssize_t size = 1, ix, diff
        if self.weighted:
            size = self.item_size(value)
        elif self._maxsize < 1:
            raise ValueError("value too large")
        try:
            if self.expiring:
                self._expiry.reserve_heap_room()    # so the insert below cannot fail half-way
                self.run_expire(self.now_cached)    # expired items go before live ones are evicted
            self.before_store()
            ix = self.lookup(key, h)
            if ix >= 0:
                if not self.weighted:
                    # An update never evicts when every item has size 1.
                    self.replace_value(ix, value)
                    self.on_update(ix)
                    if self.expiring:
                        schedule_write(self, ix)
                    return 0
                diff = size - self.entries[ix].size
                while self._currsize + diff > self._maxsize:
                    self.evict_one()
                    ix = self.lookup(key, h)    # eviction may have taken key itself
                    diff = size if ix < 0 else size - self.entries[ix].size
                if ix >= 0:
                    self.replace_value(ix, value)
                    self._currsize += diff
                    self.entries[ix].size = size
                    self.on_update(ix)
                    if self.expiring:
                        schedule_write(self, ix)
                    return 0
            else:
                while self._currsize + size > self._maxsize:
                    self.evict_one()
                if self._custom_popitem and self.lookup(key, h) >= 0:
                    # A Python popitem() stored the key meanwhile; treat as an update.
                    return self.store_hashed(key, h, value)
            ix = self.append(key, h, value, size)
            self.on_insert(ix)
            if self.expiring:
                schedule_write(self, ix)
        finally:
            if self.ngraves:
                self.release()
        return 0

    cdef int evict_one(self) except -1:
        """Remove one item to make room, through popitem() as cachetools does."""
        cdef Py_ssize_t ix
        if self._custom_popitem:
            self._evicting += 1
            try:
                self.popitem()
            finally:
                self._evicting -= 1
            return 0
        ix = self.victim()
        if ix < 0:
            raise KeyError("%s is empty" % type(self).__name__) from None
        self.remove_at(ix, CAUSE_SIZE)
        self.evictions += 1
        return 0

    cdef int drop_all(self, int cause) except -1:
        cdef Py_ssize_t i
        cdef Entry *e
        cdef Grave *g
        if self.entries == NULL:
            return 0
        if self.ngraves + self.used > self.graves_cap:
            # Room for every item first, so nothing below can fail half-way.
            g = <Grave *>PyMem_Realloc(self.graves, (self.ngraves + self.used) * sizeof(Grave))
            if g == NULL:
                raise MemoryError()
            self.graves = g
            self.graves_cap = self.ngraves + self.used
        for i in range(self.nentries):
            e = &self.entries[i]
            if e.key != NULL:
                self.bury(e.key, e.value, cause)
                e.key = NULL
                e.value = NULL
        self.nentries = 0
        self.used = 0
        self.ndummies = 0
        self.first = self.last = self.free = -1
        self._currsize = 0
        self.mutations += 1
        if self.index != NULL:
            memset(self.index, 0xff, (<size_t>1 << self.index_bits) * sizeof(int32_t))
        self._expiry.clear()
        self.on_clear()
        return 0

    cdef int guard(self, uint64_t mutations) except -1:
        """Fail a loop over the entries if the table changed under it.

        Allocating a Python object can start a garbage collection, whose
        finalizers run Python code, during which another thread may remove
        entries or rebuild the index.  Loops that allocate while walking the
        entries call this before each step instead of following stale links.
        """
        if mutations != self.mutations:
            raise RuntimeError("%s changed during the operation; retry" % type(self).__name__)
        return 0

    cdef object snapshot_keys(self):
        """The keys in insertion order (list.append allocates no collected objects)."""
        cdef list keys = []
        cdef int32_t ix = self.first
        while ix >= 0:
            keys.append(<object>self.entries[ix].key)
            ix = self.order[ix].next
        return keys

    # ------------------------------------------------------------------ expiry
    #
    # One layer for every policy: the deadlines live in an Expiry beside the
    # entries (fastcache._core._expiry), off until some item gets a finite TTL.
    # Reads check them through find_live(): "read the clock before the lookup,
    # expired means absent" in one place.  A Python timer runs bytecode, during
    # which another thread may change the table, so it is read before the lookup;
    # time.monotonic's clock is read in C after it, and only for an entry that has
    # a deadline.  Writes freeze the time (one reading per write, as cachetools),
    # expire what is due first, then store, then schedule the entry's deadline.

    cdef Py_ssize_t live_index(self, object key) except -2:
        """Entry number of key if it is stored and has not expired, else -1."""
        cdef Timer timer = self._timer_w
        cdef double now, expires
        cdef Py_ssize_t ix
        if (timer.fast_monotonic or timer.coarse) and not timer.nesting:
            ix = table_lookup(self, key, hash(key))
            if ix >= 0:
                expires = self._expiry.d[ix].expires
                if expires != INFINITY:
                    if timer.coarse:
                        if not fc_coarse_now() < expires:
                            return -1
                    elif not fc_coarse_now() + COARSE_SLACK < expires and not fc_monotonic() < expires:
                        return -1
            return ix
        now = timer.now()
        ix = table_lookup(self, key, hash(key))
        if ix >= 0 and now < self._expiry.d[ix].expires:
            return ix
        return -1

    cdef list expire_at(self, double now):
        """Remove every item whose deadline is <= now; their (key, value) pairs in expiry order."""
        cdef list out = []
        cdef Py_ssize_t ix
        cdef object key, value
        if not self.expiring:
            return out
        while True:
            ix = self._expiry.pop_due(now)
            if ix < 0:
                return out
            key = <object>self.entries[ix].key
            value = <object>self.entries[ix].value
            self.remove_at(ix, CAUSE_EXPIRED)
            self.expirations += 1
            # Allocate only now: a collection triggered here may run Python code,
            # and the table is consistent again.
            out.append((key, value))

    cdef int run_expire(self, double now) except -1:
        """expire(now) as the cache's own operations run it (honours an overriding expire())."""
        if self._custom_expire:
            self.expire(self._timer_w() if self._timer_w.nesting else self._timer_w.time_of(now))
        elif now >= self._expiry.min_expiry:
            self.expire_at(now)
        return 0

    cdef int store_ttl(self, object key, object value, double ttl) except -1:
        """cache[key] = value living ttl seconds (INFINITY: until removed)."""
        cdef Timer timer
        cdef double now
        if not self.expiring:
            if ttl == INFINITY:
                return self.store(key, value)       # the clock is not read while nothing expires
            self.start_expiring()
        timer = self._timer_w
        if timer.nesting:
            now = timer.frozen
        elif timer.fast_monotonic or timer.coarse:
            now = fc_coarse_now() if timer.coarse else fc_monotonic()
            timer.frozen = now
            timer.frozen_obj = None     # boxed only if someone asks (Timer.__call__)
        else:
            raw = timer._timer()
            now = timer.number(raw)
            timer.frozen = now
            timer.frozen_obj = raw
        if timer.clock is not None:
            timer.clock.check_expiry(now, ttl)
        # A coarse clock lags (two ticks are allowed): the deadline is written that much early,
        # so the item never outlives its TTL (same rings: every item of a TTL shifts alike).
        return store_frozen(self, key, value, now, ttl - timer.slack, ttl)

    cdef int store_until(self, object key, object value, double expires) except -1:
        """cache[key] = value until ``expires`` on the cache's clock (TieredCache's L1 copies);
        a shorter cache-wide TTL still bounds it.  Deadlines of this kind go to the heap."""
        cdef Timer timer = self._timer_w
        cdef double now, ttl
        if expires == INFINITY and not self.expiring and self.default_ttl == INFINITY:
            return self.store(key, value)
        self.start_expiring()
        now = timer.now()
        if not timer.nesting:
            timer.frozen = now
            timer.frozen_obj = None if timer.clock is None else timer.time_of(now)
        ttl = expires - now
        if ttl > self.default_ttl:
            return store_frozen(self, key, value, now, self.default_ttl, self.default_ttl)
        return store_frozen(self, key, value, now, ttl, -1.0)

    def _store_until(self, key, value, double expires):
        """store_until() for Python callers (the pure TieredCache front over a compiled L1)."""
        self.store_until(key, value, expires)

    def _use_timer(self, timer):
        """use_timer() for Python callers."""
        self.use_timer(timer)

    # ----------------------------------------------------------- policy hooks

    cdef int on_grow(self, Py_ssize_t newcap) except -1:
        """The entry arrays grow to newcap entries (before any of the new ones is used)."""
        return 0

    cdef int before_store(self) except -1:
        return 0

    cdef int on_insert(self, Py_ssize_t ix) except -1:
        return 0

    cdef int on_update(self, Py_ssize_t ix) except -1:
        return 0

    cdef int on_access(self, Py_ssize_t ix) except -1:
        return 0

    cdef void on_remove(self, Py_ssize_t ix) noexcept:
        pass

    cdef Py_ssize_t victim(self) except -2:
        return -1

    cdef void on_clear(self):
        pass

    cdef object policy_state(self, dict positions):
        return None

    cdef int restore_policy(self, object state, list ixs) except -1:
        return 0

    # -------------------------------------------------------- mapping protocol

    # Expired items are never returned, counted or iterated: every read goes
    # through find_live(), and len(), currsize, iteration and popitem() expire
    # what is due first.

    def __len__(self):
        if self.expiring:
            self.run_expire(self._timer_w.now())
            self.release()
        return self.used

    def __contains__(self, key):
        return find_live(self, key) >= 0

    def __getitem__(self, key):
        cdef Py_ssize_t ix = find_live(self, key)
        if ix >= 0:
            self.hits += 1
            self.on_access(ix)
            return <object>self.entries[ix].value
        self.misses += 1
        value = self.__missing__(key)
        ix = find_live(self, key)            # __missing__ may have stored it
        if ix >= 0:
            self.on_access(ix)
        return value

    def __missing__(self, key):
        raise KeyError(key)

    def __setitem__(self, key, value):
        if self.expiring:
            self.store_ttl(key, value, self.default_ttl)
        else:
            self.store(key, value)

    def set(self, key, value, ttl=None):
        """Store value under key; ``ttl`` gives this item its own time to live (seconds;
        a timedelta where the cache-wide TTL is one; ``inf``: never expires), else the
        cache-wide TTL applies (none: the item stays until removed or evicted)."""
        self.store_ttl(key, value, self.default_ttl if ttl is None else self._timer_w.ttl_number(ttl))

    def __delitem__(self, key):
        cdef double now
        cdef Py_ssize_t ix
        cdef bint expired = False
        if self.expiring:
            now = self._timer_w.now()
            ix = table_lookup(self, key, hash(key))
            expired = ix >= 0 and not now < self._expiry.d[ix].expires
        else:
            ix = table_lookup(self, key, hash(key))
        if ix < 0:
            raise KeyError(key)
        self.remove_at(ix, CAUSE_EXPIRED if expired else CAUSE_EXPLICIT)
        if expired:
            self.expirations += 1
        self.release()
        if expired:
            raise KeyError(key)

    def __iter__(self):
        if self.expiring:
            # A snapshot in insertion order, skipping what has expired when reached,
            # so mutating the cache while iterating is allowed (as in cachetools).
            return _live_keys(self, self.snapshot_keys())
        return _TableIterator(self)

    def __reversed__(self):
        return iter(self.snapshot_keys()[::-1])

    def get(self, key, default=None):
        """Return the (live) value for key (updating the policy's order), else default."""
        return table_get(self, key, default)

    def peek(self, key, default=None):
        """Return the (live) value for key without counting it as a use, else default."""
        cdef Py_ssize_t ix = find_live(self, key)
        if ix >= 0:
            return <object>self.entries[ix].value
        return default

    def get_or_load(self, key, loader, ttl=None):
        """The value for key; on a miss ``loader(key)`` runs once across threads
        (single-flight: concurrent callers wait for its result or exception) and
        its result is stored, with ``ttl`` where the cache takes one."""
        global _load_missing
        value = self.get(key, _marker)
        if value is not _marker:
            return value
        if _load_missing is None:
            from fastcache.loading import load_missing
            _load_missing = load_missing
        return _load_missing(self, key, loader, ttl)

    def pop(self, key, default=_marker):
        """Remove key and return its (live) value; default (or KeyError) if absent or expired."""
        cdef Py_ssize_t ix = find_live(self, key)
        if ix < 0:
            if default is _marker:
                raise KeyError(key)
            return default
        value = <object>self.entries[ix].value
        self.remove_at(ix, CAUSE_EXPLICIT)
        self.release()
        return value

    def popitem(self):
        """Remove and return the (key, value) pair the policy evicts next (expired items go first)."""
        if self.expiring:
            with self._timer_w:
                self.run_expire(self._timer_w.frozen)
                return self.pop_victim()
        return self.pop_victim()

    cdef object pop_victim(self):
        cdef Py_ssize_t ix = self.victim()
        cdef int cause = CAUSE_SIZE if self._evicting else CAUSE_EXPLICIT
        if ix < 0:
            raise KeyError("%s is empty" % type(self).__name__) from None
        key = <object>self.entries[ix].key
        value = <object>self.entries[ix].value
        self.remove_at(ix, cause)           # before allocating the tuple (see guard())
        if cause == CAUSE_SIZE:
            self.evictions += 1
        self.release()
        return (key, value)

    def setdefault(self, key, default=None):
        """Return cache[key] if present and live (a use), else store and return default."""
        if self.expiring:
            with self._timer_w:             # one time for the check and the write
                if key in self:
                    return self[key]
                self[key] = default
                return default
        if key in self:
            return self[key]
        self[key] = default
        return default

    def update(self, other=(), /, **kwargs):
        """Store every item of other and kwargs, as dict.update does."""
        if isinstance(other, Mapping):
            for key in other:
                self[key] = other[key]
        elif hasattr(other, "keys"):
            for key in other.keys():
                self[key] = other[key]
        else:
            for key, value in other:
                self[key] = value
        for key, value in kwargs.items():
            self[key] = value

    def clear(self):
        """Remove every item (listeners see cause EXPLICIT)."""
        self.drop_all(CAUSE_EXPLICIT)
        self.release()

    def keys(self):
        return KeysView(self)

    def values(self):
        return ValuesView(self)

    def items(self):
        return ItemsView(self)

    def __eq__(self, other):
        if not isinstance(other, Mapping):
            return NotImplemented
        return dict(self.items()) == dict(other.items())

    def __ne__(self, other):
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    __hash__ = None

    def __repr__(self):
        cdef int32_t ix
        cdef dict d = {}
        cdef uint64_t mutations
        currsize = self.currsize        # first: a TTL cache expires items here
        mutations = self.mutations
        ix = self.first
        while ix >= 0:
            self.guard(mutations)
            d[<object>self.entries[ix].key] = <object>self.entries[ix].value
            ix = self.order[ix].next
        return "%s(%r, maxsize=%r, currsize=%r)" % (
            type(self).__name__, d, self._maxsize_obj, currsize)

    @property
    def maxsize(self):
        """The maximum size of the cache."""
        return self._maxsize_obj

    @property
    def currsize(self):
        """The current size of the cache (the sum of the live items' sizes)."""
        if self.expiring:
            self.run_expire(self._timer_w.now())
            self.release()
        return self._currsize

    def expire(self, time=None):
        """Remove expired items (as of ``time``, default now); return the removed
        (key, value) pairs in expiry order."""
        cdef double now
        if not self.expiring:
            return []
        now = self._timer_w.now() if time is None else self._timer_w.number(time)
        out = self.expire_at(now)
        self.release()
        return out

    def expires_at(self, key, default=None):
        """The time at which key expires on the cache's timer (inf: never), else default."""
        cdef Py_ssize_t ix = find_live(self, key)
        if ix < 0:
            return default
        if not self.expiring:
            return float("inf")
        return self._timer_w.time_of(self._expiry.d[ix].expires)

    @property
    def ttl(self):
        """The cache-wide time to live as given, or None."""
        return self._ttl_obj

    @property
    def timer(self):
        """The timer (a wrapper that can freeze time in a ``with`` block)."""
        return self._timer_w

    @staticmethod
    def getsizeof(value):
        """Return the size of a cache element's value (1 unless overridden)."""
        return 1

    @property
    def on_evict(self):
        """The removal listener ``on_evict(key, value, cause)``, or None."""
        return self._on_evict

    @on_evict.setter
    def on_evict(self, listener):
        if listener is not None and not callable(listener):
            raise TypeError("on_evict must be callable or None")
        self._on_evict = listener

    def stats(self):
        """Return CacheStats(hits, misses, evictions, expirations, currsize, maxsize)."""
        return CacheStats(self.hits, self.misses, self.evictions, self.expirations,
                          self.currsize, self._maxsize_obj)

    def reset_stats(self):
        """Zero the hit, miss, eviction and expiration counters."""
        self.hits = self.misses = self.evictions = self.expirations = 0

    # ------------------------------------------------------ copy and pickle

    def _params(self):
        return {"maxsize": self._maxsize_obj, "getsizeof": self._getsizeof_arg,
                "on_evict": self._on_evict, "timer": self._timer_w._timer, "ttl": self._ttl_obj}

    cdef object expiry_state(self, dict positions):
        """[(position, expires, ttl or None)] in the order the deadlines fall due, or None."""
        cdef list exp = []
        cdef Py_ssize_t i
        cdef double ttl
        cdef uint64_t mutations = self.mutations
        if not self.expiring:
            return None
        for i in range(self.nentries):
            self.guard(mutations)
            if self.entries[i].key != NULL:
                ttl = self._expiry.ttl_of(i)
                exp.append((self._expiry.d[i].expires, self._expiry.d[i].seq, positions[i],
                            ttl if ttl >= 0 else None))
        exp.sort(key=_expiry_sort_key)
        return [(pos, expires, ttl_obj) for expires, _, pos, ttl_obj in exp]

    cdef int restore_expiry(self, object state, list ixs) except -1:
        if state is None:
            return 0
        self.start_expiring()
        for pos, expires, ttl in state:     # in the order they fall due: each ring stays sorted
            self._expiry.schedule(ixs[pos], expires, -1.0 if ttl is None else ttl)
        return 0

    def __getstate__(self):
        cdef Py_ssize_t n = 0
        cdef int32_t ix = self.first
        cdef list items = []
        cdef dict positions = {}
        cdef uint64_t mutations = self.mutations
        while ix >= 0:
            self.guard(mutations)
            items.append((<object>self.entries[ix].key, <object>self.entries[ix].value,
                          self.entries[ix].size))
            positions[ix] = n
            n += 1
            ix = self.order[ix].next
        policy = self.policy_state(positions)
        expiry = self.expiry_state(positions)
        self.guard(mutations)
        inst = dict(getattr(self, "__dict__"))
        inst.pop("getsizeof", None)
        return {"params": self._params(), "items": items,
                "policy": policy, "expiry": expiry, "dict": inst,
                "stats": (self.hits, self.misses, self.evictions, self.expirations)}

    def __setstate__(self, state):
        cdef list ixs = []
        params = state["params"]
        getattr(self, "__dict__").update(state["dict"])
        self._init_from_params(params)
        for key, value, size in state["items"]:
            ixs.append(self.append(key, hash(key), value, size))
        self.restore_policy(state["policy"], ixs)
        self.restore_expiry(state.get("expiry"), ixs)
        self.hits, self.misses, self.evictions, self.expirations = state["stats"]
        if self.expiring:
            self.expire()

    def _init_from_params(self, params):
        self.init_table(params["maxsize"], params["getsizeof"], params["on_evict"])
        self.init_expiry(params.get("timer", _time.monotonic), params.get("ttl"))

    def __reduce_ex__(self, protocol):
        return (copyreg.__newobj__, (type(self),), self.__getstate__())

    def __copy__(self):
        state = self.__getstate__()
        new = type(self).__new__(type(self))
        new.__setstate__(state)
        return new


cdef object _base_class_of(type cls):
    """The compiled class a Python subclass derives from."""
    for klass in cls.__mro__:
        if klass.__module__.startswith("fastcache._core"):
            return klass
    return Table


cdef class _TableIterator:
    """Iterates keys in insertion order, like dict; fails if the cache changes size."""
    cdef Table table
    cdef int32_t next_ix
    cdef Py_ssize_t used
    cdef uint64_t mutations

    def __cinit__(self, Table table):
        self.table = table
        self.next_ix = table.first
        self.used = table.used
        self.mutations = table.mutations

    def __iter__(self):
        return self

    def __next__(self):
        cdef Table t = self.table
        cdef int32_t ix = self.next_ix
        if t.mutations != self.mutations:
            if t.used != self.used:
                raise RuntimeError("%s changed size during iteration" % type(t).__name__)
            raise RuntimeError("%s keys changed during iteration" % type(t).__name__)
        if ix < 0:
            raise StopIteration
        self.next_ix = t.order[ix].next
        return <object>t.entries[ix].key


MutableMapping.register(Table)


cdef inline int schedule_write(Table t, Py_ssize_t ix) except -1:
    """The entry just written gets the deadline of the write in progress."""
    return t._expiry.schedule(ix, t.now_cached + t.pending_ttl, t.pending_queue)


cdef int store_frozen(Table t, object key, object value, double now, double ttl,
                      double queue) except -1:
    """store() at the frozen time ``now``; the entry lives ``ttl`` seconds (``queue``: the
    TTL whose ring keeps its record, < 0 for the heap)."""
    cdef Timer timer = t._timer_w
    timer.nesting += 1          # freeze time for the whole write, as cachetools does
    try:
        t.now_cached = now
        t.pending_ttl = ttl
        t.pending_queue = queue
        t.store(key, value)
    finally:
        timer.nesting -= 1
    return 0


def _live_keys(Table cache, list keys):
    """A snapshot's keys, skipping what has expired when reached."""
    cdef Py_ssize_t ix
    for key in keys:
        with cache._timer_w:
            ix = table_lookup(cache, key, hash(key))
            live = ix >= 0 and cache._timer_w.frozen < cache._expiry.d[ix].expires
        if live:
            yield key


def _expiry_sort_key(item):
    return (item[0], item[1])
