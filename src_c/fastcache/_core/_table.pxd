# Declarations of the insertion-ordered hash table every cache policy extends.
from cpython.object cimport PyObject, PyObject_RichCompareBool, Py_EQ
from libc.math cimport INFINITY
from libc.stdint cimport int32_t, int64_t, uint32_t, uint64_t
from fastcache._core._expiry cimport Expiry
from fastcache._core._timer cimport Timer, fc_monotonic, fc_coarse_now

cdef enum:
    IX_EMPTY = -1          # index slot never used
    IX_DUMMY = -2          # index slot whose entry was deleted

cdef enum:
    CAUSE_EXPLICIT = 0
    CAUSE_REPLACED = 1
    CAUSE_SIZE = 2
    CAUSE_EXPIRED = 3

ctypedef struct Entry:
    PyObject *key          # NULL marks a free entry (on the free list, or never used)
    PyObject *value
    Py_hash_t hash
    Py_ssize_t size        # the item's size (1 unless weighted); also keeps entries
                           # 32 bytes, so none straddles a cache line (measured: ~20%
                           # faster int-key hits than 24-byte entries)

ctypedef struct Link:      # insertion order, and the free list through .next
    int32_t prev
    int32_t next

ctypedef struct Grave:     # a removed item whose references are released once the table is consistent
    PyObject *key
    PyObject *value
    int cause


cdef class Table:
    cdef:
        Entry *entries
        int32_t *index             # (tag << tag_shift) | entry number, or IX_EMPTY / IX_DUMMY
        Link *order                # per entry: insertion-order neighbours (free entries: next free)
        int32_t first              # oldest inserted entry, -1 if empty
        int32_t last               # newest inserted entry
        int32_t free               # a free entry to reuse, -1 if none
        Py_ssize_t nentries        # entries ever handed out (high-water mark); above it nothing is set
        Py_ssize_t capacity
        Py_ssize_t used            # live entries
        Py_ssize_t ndummies        # index slots marked IX_DUMMY
        int index_bits
        int tag_shift              # 25 with 6-bit tags; 31 (no tags) past 2**25 entries
        int32_t ix_mask
        uint64_t tag_mask
        uint32_t *stamps           # per-entry order stamp, only for ring-ordered policies
        bint has_stamps
        char *side                 # per-entry policy data, side_size bytes each
        Py_ssize_t side_size
        Py_ssize_t _maxsize        # PY_SSIZE_T_MAX when unbounded
        object _maxsize_obj
        Py_ssize_t _currsize
        bint weighted
        object _getsizeof_arg      # the constructor's getsizeof, or None
        object _sizer              # what is called to size a value when weighted
        uint64_t mutations         # inserts, deletes and rebuilds; lets lookups and iterators notice changes
        Grave *graves
        Py_ssize_t ngraves
        Py_ssize_t graves_cap
        object _on_evict
        bint _custom_popitem
        int _evicting
        unsigned long long hits
        unsigned long long misses
        unsigned long long evictions
        unsigned long long expirations
        # expiry: off (and the clock never read) until some item has a finite TTL
        Timer _timer_w
        object _ttl_obj            # the cache-wide TTL as given, or None
        double default_ttl         # INFINITY without a cache-wide TTL
        bint expiring              # some item may have a deadline: reads check the clock
        bint _custom_expire        # a Python subclass overrides expire()
        Expiry _expiry             # the deadlines (sized with the entries once expiring)
        double now_cached          # the frozen time of the write in progress
        double pending_ttl         # and its TTL
        double pending_queue       # the TTL whose ring holds the deadline's record (< 0: the heap)
        dict __dict__
        object __weakref__

    cdef int init_table(self, object maxsize, object getsizeof, object on_evict) except -1
    cdef Py_ssize_t lookup(self, object key, Py_hash_t h) except -2
    cdef Py_ssize_t append(self, object key, Py_hash_t h, object value, Py_ssize_t size) except -1
    cdef int grow(self) except -1
    cdef int rebuild_index(self, int bits) except -1
    cdef void remove_at(self, Py_ssize_t ix, int cause) noexcept
    cdef int replace_value(self, Py_ssize_t ix, object value) except -1
    cdef int bury(self, PyObject *key, PyObject *value, int cause) noexcept
    cdef int release(self) except -1
    cdef Py_ssize_t item_size(self, object value) except -1
    cdef int store(self, object key, object value) except -1
    cdef int store_hashed(self, object key, Py_hash_t h, object value) except -1
    cdef int evict_one(self) except -1
    cdef int drop_all(self, int cause) except -1
    cdef int guard(self, uint64_t mutations) except -1
    cdef object snapshot_keys(self)

    # expiry
    cdef int init_expiry(self, object timer, object ttl) except -1
    cdef int start_expiring(self) except -1
    cdef int use_timer(self, object timer) except -1
    cdef int use_coarse_clock(self) except -1
    cdef Py_ssize_t live_index(self, object key) except -2
    cdef list expire_at(self, double now)
    cdef int run_expire(self, double now) except -1
    cdef int store_ttl(self, object key, object value, double ttl) except -1
    cdef int store_until(self, object key, object value, double expires) except -1
    cdef object expiry_state(self, dict positions)
    cdef int restore_expiry(self, object state, list ixs) except -1
    cdef object pop_victim(self)

    # policy hooks
    cdef int on_grow(self, Py_ssize_t newcap) except -1
    cdef int before_store(self) except -1
    cdef int on_insert(self, Py_ssize_t ix) except -1
    cdef int on_update(self, Py_ssize_t ix) except -1
    cdef int on_access(self, Py_ssize_t ix) except -1
    cdef void on_remove(self, Py_ssize_t ix) noexcept
    cdef Py_ssize_t victim(self) except -2
    cdef void on_clear(self)
    cdef object policy_state(self, dict positions)
    cdef int restore_policy(self, object state, list ixs) except -1


cdef inline size_t slot_of(Py_hash_t h, int bits) noexcept nogil:
    # As CPython's dict: the hash's low bits pick the first slot, so sequential
    # ints land in neighbouring slots; perturbed probing (probe_next) makes
    # strided or clustered hashes spread out after the first collision.
    return <size_t>h & ((<size_t>1 << bits) - 1)


cdef inline size_t probe_next(size_t i, size_t *perturb, size_t mask) noexcept nogil:
    perturb[0] >>= 5
    return (i * 5 + perturb[0] + 1) & mask


cdef inline int32_t tag_of(Table t, Py_hash_t h) noexcept nogil:
    # Six hash bits (mixed, so ints get varied tags too) stored beside the entry
    # number, so that probing past other keys never reads their entries.
    cdef uint64_t m = <uint64_t>h * 11400714819323198485ULL
    return <int32_t>(((m >> 58) & t.tag_mask) << t.tag_shift)


cdef inline Py_ssize_t table_lookup(Table t, object key, Py_hash_t h) except -2:
    """Entry number of key in t, or -1.  Inline here so every policy's hit
    path compiles it in; restarts if a key's __eq__ changed the table."""
    cdef size_t i, mask, perturb
    cdef int32_t v, tag, tagbits
    cdef Py_ssize_t ix
    cdef Entry *e
    cdef object startkey
    cdef uint64_t mutations
    cdef int eq
    if t.index == NULL:
        return -1
    while True:
        mask = (<size_t>1 << t.index_bits) - 1
        i = slot_of(h, t.index_bits)
        perturb = <size_t>h
        tag = tag_of(t, h)
        tagbits = ~t.ix_mask
        while True:
            v = t.index[i]
            if v == IX_EMPTY:
                return -1
            if v >= 0 and (v & tagbits) == tag:
                ix = v & t.ix_mask
                e = &t.entries[ix]
                if e.key == <PyObject *>key:
                    return ix
                if e.hash == h:
                    startkey = <object>e.key
                    mutations = t.mutations
                    eq = PyObject_RichCompareBool(startkey, key, Py_EQ)
                    if mutations != t.mutations:
                        break       # the table changed under us: look again
                    if eq:
                        return ix
            i = probe_next(i, &perturb, mask)


cdef inline Py_ssize_t find_live(Table t, object key) except -2:
    """Entry number of key if stored and live, else -1: the hit path of every policy.
    Without expiry one flag test more than a plain lookup; the clock is never read."""
    if t.expiring:
        return t.live_index(key)
    return table_lookup(t, key, hash(key))


cdef inline object table_get(Table t, object key, object default):
    """What ``get`` reads, for every caller in C: the live value, counted as a hit and
    told to the policy; else default, counted as a miss."""
    cdef Py_ssize_t ix = find_live(t, key)
    if ix < 0:
        t.misses += 1
        return default
    t.hits += 1
    t.on_access(ix)
    return <object>t.entries[ix].value
