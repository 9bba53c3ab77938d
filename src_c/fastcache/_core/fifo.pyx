"""First In First Out cache (compiled)."""
import time as _time
from fastcache._core._table cimport find_live
from fastcache._core._ordered cimport OrderedTable, ring_record


cdef class FIFOCache(OrderedTable):
    """First In First Out (FIFO) cache: a drop-in for ``cachetools.FIFOCache``.

    ``popitem()`` removes the item stored longest ago; as in cachetools an
    update re-inserts (``a=1, b=2, a=3, c=4`` evicts ``b``).  Reads do not
    change the order.  Structure: an insertion-ordered hash table plus a ring
    of insertion records: O(1) everything, and a hit is a plain lookup.

    ``set(key, value, ttl=...)`` gives an item a time to live, measured on
    ``timer`` (``time.monotonic`` unless injected); expired items are never
    returned, counted or iterated.  Until some item has a TTL the clock is
    never read and a hit costs one flag test more than a plain lookup.
    """

    def __init__(self, maxsize, getsizeof=None, *, timer=_time.monotonic, on_evict=None):
        self.init_table(maxsize, getsizeof, on_evict)
        self.init_expiry(timer, None)

    def __getitem__(self, key):
        cdef Py_ssize_t ix = find_live(self, key)
        if ix >= 0:
            self.hits += 1
            return <object>self.entries[ix].value
        self.misses += 1
        return self.__missing__(key)
