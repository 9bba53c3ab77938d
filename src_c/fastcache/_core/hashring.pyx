"""Consistent-hash ring, compatible with libmemcached's ketama continuum.

Each node gets ``points_per_node`` points (160, as in libmemcached) scaled
by its share of the total weight: ``floor(share * ppn/4 * nodes) * 4``.  The
points of a node are the four little-endian 32-bit words of
``MD5(f"{name}-{i}")`` for ``i in range(count // 4)``.  A key (hashed as
the first MD5 word) belongs to the first point at or after its hash,
wrapping to the first point.  The continuum is one sorted C array searched
by bisection, so a lookup is O(log points) with no Python objects touched
but the key and the answer.
"""
cimport cython
from cpython.list cimport PyList_GET_ITEM
from cpython.object cimport PyObject, PyObject_Hash
from cpython.ref cimport Py_INCREF, Py_XDECREF
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from libc.stdint cimport int32_t, uint32_t
from libc.stdlib cimport qsort

from fastcache._core.hashing cimport fc_digest_init, fc_ketama_hash, fc_md5, key_bytes

fc_digest_init()


cdef int compare_points(const void *a, const void *b) noexcept nogil:
    cdef const Point *x = <const Point *>a
    cdef const Point *y = <const Point *>b
    if x.hash != y.hash:
        return -1 if x.hash < y.hash else 1
    # Equal points (rare: 1 in ~2.7M for 10 nodes) go to the earlier node,
    # so the answer does not depend on qsort's order.
    return -1 if x.owner < y.owner else (1 if x.owner > y.owner else 0)


cdef object check_name(object name):
    if not isinstance(name, str):
        raise TypeError(f"node name must be str, not {type(name).__name__}")
    return name


cdef object check_weight(object weight):
    if isinstance(weight, bool) or not isinstance(weight, int):
        raise TypeError(f"node weight must be int, not {type(weight).__name__}")
    if weight <= 0:
        raise ValueError(f"node weight must be positive, got {weight}")
    return weight


@cython.final
cdef class HashRing:
    """Consistent hashing of keys onto named nodes (ketama continuum).

    ``HashRing(["a:6379", "b:6379"])`` or ``HashRing({"a": 2, "b": 1})``
    (name -> integer weight).  ``get_node(key)`` returns the node for a
    ``str``/``bytes`` key; adding an 11th node to ten moves about 1/11 of
    the keys.  Not safe to mutate from several threads at once; lookups
    are safe beside one writer (the continuum is swapped whole).  The
    compiled ring remembers the node of up to 4096 recently seen ``str``
    keys (holding a reference to each until its slot is reused or the
    ring changes), so hot keys skip MD5.
    """

    def __cinit__(self):
        self.continuum = NULL
        self.npoints = 0
        self._names = []
        self._weights = {}

    def __init__(self, nodes=(), *, int points_per_node=160):
        if points_per_node <= 0 or points_per_node % 4:
            raise ValueError(f"points_per_node must be a positive multiple of 4, got {points_per_node}")
        self.points_per_node = points_per_node
        self._names = []
        self._weights = {}
        if isinstance(nodes, (str, bytes)):
            raise TypeError("nodes must be an iterable of names or a mapping name -> weight, not a string")
        items = nodes.items() if hasattr(nodes, "items") else ((n, 1) for n in nodes)
        for name, weight in items:
            self.put(name, weight)
        self.rebuild()

    cdef int put(self, object name, object weight) except -1:
        """Record a node (validated); the continuum is rebuilt by the caller."""
        check_name(name)
        check_weight(weight)
        if name not in self._weights:
            self._names.append(name)
        self._weights[name] = weight
        return 0

    def __dealloc__(self):
        self.forget()
        PyMem_Free(self.continuum)

    cdef void forget(self) noexcept:
        cdef Py_ssize_t i
        cdef PyObject *old
        for i in range(MEMO_SIZE):
            old = self.memo_keys[i]
            self.memo_keys[i] = NULL
            Py_XDECREF(old)

    cdef void rebuild(self) except *:
        cdef Py_ssize_t n = len(self._names), total = 0, count, i, j, k = 0
        cdef Py_ssize_t groups = self.points_per_node // 4
        cdef Point *points
        cdef unsigned char digest[16]
        cdef const unsigned char *data
        cdef Py_ssize_t length
        cdef int w
        cdef object weight_sum = sum(self._weights.values()) if n else 1
        counts = []
        for name in self._names:
            # Integer arithmetic gives the exact floor libmemcached gets
            # from floating point (its + 1e-10 guards that rounding).
            count = (groups * n * self._weights[name]) // weight_sum
            counts.append(count)
            total += count * 4
        points = <Point *>PyMem_Malloc(max(total, 1) * sizeof(Point))
        if points == NULL:
            raise MemoryError()
        try:
            for i in range(n):
                prefix = self._names[i] + "-"
                for j in range(<Py_ssize_t>counts[i]):
                    label = (prefix + str(j)).encode("utf-8")
                    key_bytes(label, &data, &length)
                    fc_md5(data, <size_t>length, digest)
                    for w in range(4):
                        points[k].hash = (<uint32_t>digest[4 * w] | (<uint32_t>digest[4 * w + 1] << 8) |
                                          (<uint32_t>digest[4 * w + 2] << 16) |
                                          (<uint32_t>digest[4 * w + 3] << 24))
                        points[k].owner = <int32_t>i
                        k += 1
        except BaseException:
            PyMem_Free(points)
            raise
        qsort(points, <size_t>total, sizeof(Point), compare_points)
        # Swap whole: a lookup running beside us sees the old or the new ring.
        old = self.continuum
        self.continuum = points
        self.npoints = total
        self.forget()
        PyMem_Free(old)

    cdef inline object node_at(self, uint32_t h):
        return <object>PyList_GET_ITEM(self._names, self.owner_of(h))

    cdef inline int32_t owner_of(self, uint32_t h) noexcept:
        cdef Py_ssize_t lo = 0, hi = self.npoints, mid
        cdef Point *points = self.continuum
        while lo < hi:                      # first point >= h
            mid = (lo + hi) >> 1
            if points[mid].hash < h:
                lo = mid + 1
            else:
                hi = mid
        if lo == self.npoints:
            lo = 0
        return points[lo].owner

    @cython.always_allow_keywords(False)
    def get_node(self, key):
        """The node that owns ``key`` (``str`` as UTF-8, or ``bytes``)."""
        cdef const unsigned char *data
        cdef Py_ssize_t length, slot
        cdef PyObject *seen
        cdef int32_t owner
        if self.npoints == 0:
            key_bytes(key, &data, &length)      # a bad key is a TypeError first
            raise LookupError("the ring has no nodes" if not self._names else
                              "the ring's weights give no node any points")
        if type(key) is not str:
            key_bytes(key, &data, &length)
            return self.node_at(fc_ketama_hash(data, <size_t>length))
        # Exact str: comparing two str objects cannot run Python code, so
        # the memo needs no lock beyond the GIL.
        slot = <Py_ssize_t>(<size_t>PyObject_Hash(key) & (MEMO_SIZE - 1))
        seen = self.memo_keys[slot]
        if seen != NULL and (seen == <PyObject *>key or <object>seen == key):
            return <object>PyList_GET_ITEM(self._names, self.memo_owners[slot])
        key_bytes(key, &data, &length)
        owner = self.owner_of(fc_ketama_hash(data, <size_t>length))
        Py_INCREF(key)
        self.memo_keys[slot] = <PyObject *>key
        self.memo_owners[slot] = owner
        Py_XDECREF(seen)
        return <object>PyList_GET_ITEM(self._names, owner)

    def get_node_for_hash(self, hash_value):
        """The node owning a 32-bit continuum position (for other key hashes)."""
        cdef uint32_t h
        if not 0 <= hash_value < 2 ** 32:
            raise ValueError("hash_value must be in range(2**32)")
        h = <uint32_t>hash_value
        if self.npoints == 0:
            raise LookupError("the ring has no nodes")
        return self.node_at(h)

    def partition(self, keys):
        """Group ``keys`` by node: ``{node: [key, ...]}``, keys in input order."""
        cdef const unsigned char *data
        cdef Py_ssize_t length
        cdef dict groups = {}
        cdef list bucket
        if self.npoints == 0:
            raise LookupError("the ring has no nodes")
        for key in keys:
            key_bytes(key, &data, &length)
            node = self.node_at(fc_ketama_hash(data, <size_t>length))
            bucket = groups.get(node)
            if bucket is None:
                groups[node] = [key]
            else:
                bucket.append(key)
        return groups

    def add_node(self, name, weight=1):
        """Add a node (or change the weight of one already there)."""
        check_name(name)
        old_weight = self._weights.get(name)
        self.put(name, weight)
        try:
            self.rebuild()
        except BaseException:               # leave the ring as it was
            if old_weight is None:
                self._names.remove(name)
                del self._weights[name]
            else:
                self._weights[name] = old_weight
            raise

    def remove_node(self, name):
        """Remove a node; its keys move to their next points. KeyError if absent."""
        if name not in self._weights:
            raise KeyError(name)
        weight = self._weights.pop(name)
        index = self._names.index(name)
        del self._names[index]
        try:
            self.rebuild()
        except BaseException:
            self._names.insert(index, name)
            self._weights[name] = weight
            raise

    @property
    def nodes(self):
        """The node names, in the order they were added."""
        return tuple(self._names)

    @property
    def weights(self):
        """A copy of the ``{name: weight}`` mapping."""
        return dict(self._weights)

    def points(self):
        """The continuum as a sorted list of ``(hash, node)`` pairs."""
        cdef Py_ssize_t i
        return [(self.continuum[i].hash, self._names[self.continuum[i].owner]) for i in range(self.npoints)]

    def __len__(self):
        return len(self._names)

    def __contains__(self, name):
        return name in self._weights

    def __iter__(self):
        return iter(tuple(self._names))

    def __repr__(self):
        return f"{type(self).__name__}({self._weights!r}, points_per_node={self.points_per_node})"

    def __eq__(self, other):
        if not isinstance(other, HashRing):
            return NotImplemented
        return (self._names == (<HashRing>other)._names and self._weights == (<HashRing>other)._weights
                and self.points_per_node == (<HashRing>other).points_per_node)

    __hash__ = None

    def __reduce__(self):
        return (type(self), (dict(self._weights),), None, None, None, None) if self.points_per_node == 160 \
            else (_restore, (dict(self._weights), self.points_per_node))


def _restore(weights, points_per_node):
    return HashRing(weights, points_per_node=points_per_node)
