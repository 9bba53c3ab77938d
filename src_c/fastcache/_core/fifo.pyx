"""First In First Out cache (compiled)."""
from fastcache._core._table cimport table_lookup
from fastcache._core._ordered cimport OrderedTable, ring_record


cdef class FIFOCache(OrderedTable):
    """First In First Out (FIFO) cache: a drop-in for ``cachetools.FIFOCache``.

    ``popitem()`` removes the item stored longest ago; as in cachetools an
    update re-inserts (``a=1, b=2, a=3, c=4`` evicts ``b``).  Reads do not
    change the order.  Structure: an insertion-ordered hash table plus a ring
    of insertion records: O(1) everything, and a hit is a plain lookup.
    """

    def __init__(self, maxsize, getsizeof=None, *, on_evict=None):
        self.init_table(maxsize, getsizeof, on_evict)

    def __getitem__(self, key):
        cdef Py_ssize_t ix = table_lookup(self, key, hash(key))
        if ix >= 0:
            self.hits += 1
            return <object>self.entries[ix].value
        self.misses += 1
        return self.__missing__(key)
