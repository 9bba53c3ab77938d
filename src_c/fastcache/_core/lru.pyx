"""Least Recently Used cache (compiled)."""
import time as _time
from fastcache._core._table cimport Table, find_live
from fastcache._core._ordered cimport OrderedTable, ring_record


cdef class LRUCache(OrderedTable):
    """Least Recently Used (LRU) cache: a drop-in for ``cachetools.LRUCache``.

    ``popitem()`` removes the least recently used item; ``cache[key]``,
    ``get`` and ``cache[key] = value`` count as uses, ``in`` and ``peek`` do
    not.  Structure: an insertion-ordered hash table plus a ring of use
    records (see ``fastcache._core._ordered``): O(1) get, set and delete,
    amortised O(1) eviction, and a hit never touches another entry.

    ``set(key, value, ttl=...)`` gives an item a time to live, measured on
    ``timer`` (``time.monotonic`` unless injected); expired items are never
    returned, counted or iterated.  Until some item has a TTL the clock is
    never read and a hit costs one flag test more than a plain lookup.
    """

    def __init__(self, maxsize, getsizeof=None, *, timer=_time.monotonic, on_evict=None):
        self.init_table(maxsize, getsizeof, on_evict)
        self.init_expiry(timer, None)

    cdef int on_access(self, Py_ssize_t ix) except -1:
        return ring_record(self, ix)

    def __getitem__(self, key):
        cdef Py_ssize_t ix = find_live(self, key)
        if ix >= 0:
            self.hits += 1
            ring_record(self, ix)
            return <object>self.entries[ix].value
        self.misses += 1
        value = self.__missing__(key)
        ix = find_live(self, key)            # __missing__ may have stored it
        if ix >= 0:
            ring_record(self, ix)
        return value

    def get(self, key, default=None):
        """Return the value for key and mark it used, else default."""
        cdef Py_ssize_t ix = find_live(self, key)
        if ix >= 0:
            self.hits += 1
            ring_record(self, ix)
            return <object>self.entries[ix].value
        self.misses += 1
        return default
