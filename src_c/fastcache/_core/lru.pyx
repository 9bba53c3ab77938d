"""Least Recently Used cache (compiled)."""
from fastcache._core._table cimport Table, table_lookup
from fastcache._core._ordered cimport OrderedTable, ring_record


cdef class LRUCache(OrderedTable):
    """Least Recently Used (LRU) cache: a drop-in for ``cachetools.LRUCache``.

    ``popitem()`` removes the least recently used item; ``cache[key]``,
    ``get`` and ``cache[key] = value`` count as uses, ``in`` and ``peek`` do
    not.  Structure: an insertion-ordered hash table plus a ring of use
    records (see ``fastcache._core._ordered``): O(1) get, set and delete,
    amortised O(1) eviction, and a hit never touches another entry.
    """

    def __init__(self, maxsize, getsizeof=None, *, on_evict=None):
        self.init_table(maxsize, getsizeof, on_evict)

    cdef int on_access(self, Py_ssize_t ix) except -1:
        return ring_record(self, ix)

    def __getitem__(self, key):
        cdef Py_ssize_t ix = table_lookup(self, key, hash(key))
        if ix >= 0:
            self.hits += 1
            ring_record(self, ix)
            return <object>self.entries[ix].value
        self.misses += 1
        value = self.__missing__(key)
        ix = table_lookup(self, key, hash(key))     # __missing__ may have stored it
        if ix >= 0:
            ring_record(self, ix)
        return value

    def get(self, key, default=None):
        """Return the value for key and mark it used, else default."""
        cdef Py_ssize_t ix = table_lookup(self, key, hash(key))
        if ix >= 0:
            self.hits += 1
            ring_record(self, ix)
            return <object>self.entries[ix].value
        self.misses += 1
        return default
