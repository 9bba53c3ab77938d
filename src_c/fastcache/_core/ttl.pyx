"""Least Recently Used cache with per-item time-to-live (compiled)."""
import time as _time
from fastcache._types import TTL_TYPE_ERROR
from fastcache._core._table cimport Table, table_lookup, find_live
from fastcache._core._ordered cimport OrderedTable, ring_record


cdef class TTLCache(OrderedTable):
    """LRU cache whose items expire: a drop-in for ``cachetools.TTLCache``.

    An item stored at time ``t`` lives while ``timer() < t + ttl``;
    ``set(key, value, ttl=...)`` gives one item its own TTL.  Expired items
    are never returned, counted or iterated, and are removed by
    ``expire()``, which runs before every write and from ``len()``,
    ``currsize`` and ``repr()``.  Eviction order is LRU among live items.

    Structure: ``LRUCache`` (the table and its ring of use records) with
    expiry always on.  Expiry is the table's own layer, the same for every
    cache (``fastcache._core._expiry``): one FIFO ring of expiry records per
    distinct TTL (items written with one TTL expire in write order, so each
    ring is sorted and ``expire()`` pops from the heads: amortised O(1) per
    removed item, nothing scanned), and past eight distinct TTLs a binary
    heap (O(log n)).
    """

    def __init__(self, maxsize, ttl, timer=_time.monotonic, getsizeof=None, *, on_evict=None):
        self._init_from_params({"maxsize": maxsize, "ttl": ttl, "timer": timer,
                                "getsizeof": getsizeof, "on_evict": on_evict})

    def _init_from_params(self, params):
        if params["ttl"] is None:
            raise TypeError(TTL_TYPE_ERROR % ("ttl", "NoneType"))
        self.init_table(params["maxsize"], params["getsizeof"], params["on_evict"])
        self.init_expiry(params["timer"], params["ttl"])
        self.start_expiring()          # also with ttl=inf: every read checks the deadlines

    def __getitem__(self, key):
        cdef double now = self._timer_w.now()
        cdef Py_ssize_t ix = table_lookup(self, key, hash(key))
        if ix >= 0:
            ring_record(self, ix)           # cachetools counts the use even if the item has expired
            if now < self._expiry.d[ix].expires:
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
