"""The ASGI middleware's common hit, compiled (pure twin: ``fastcache._py.http_hit``).

A GET without Cache-Control, Pragma or conditional headers, whose URL holds one fresh,
un-Vary'd entry in a process-local cache, is answered from the raw scope: no header
is decoded, the URL's cache key is made once, the entry's headers are encoded once,
the freshness rule of ``fastcache.http.entry.assess`` for such a request (not
no-cache, age below the lifetime) checked in C; anything else goes on to the full
path with what was read from the cache.
"""
cimport cython
from cpython.float cimport PyFloat_AsDouble
from cpython.tuple cimport PyTuple_GET_SIZE

from fastcache._py.http_hit import DECIDING as _DECIDING_PY, UNREAD as _UNREAD_PY

cdef frozenset DECIDING = _DECIDING_PY
cdef object UNREAD = _UNREAD_PY
cdef long NO_CACHE = 1
# Entry's fields (fastcache.http.entry.Entry, a NamedTuple)
cdef enum:
    STATUS = 0
    HEADERS = 1
    BODY = 2
    STORED = 3
    AGE0 = 4
    LIFETIME = 5
    FLAGS = 8
    VARY = 11


@cython.final
cdef class PlainHits:
    """The common hit of one middleware (see the module docstring)."""
    cdef object make_key, cache_get, timer, x_cache, stats, lock, fmt, entry_type, variants_of, encode
    cdef bint trusted
    cdef dict keys, encoded

    def __init__(self, make_key, cache_get, bint trusted, timer, bytes x_cache, bytes hit_label, stats, lock,
                 fmt, entry_type, variants_of, encode):
        self.make_key = make_key
        self.cache_get = cache_get
        self.trusted = trusted
        self.timer = timer
        self.x_cache = (x_cache, hit_label)
        self.stats = stats
        self.lock = lock
        self.fmt = fmt
        self.entry_type = entry_type
        self.variants_of = variants_of
        self.encode = encode
        self.keys = {}
        self.encoded = {}

    def get(self, scope):
        """(the response-start message, the body) for a plain hit; else (None, what the
        cache held for the URL - or UNREAD - for the full path)."""
        cdef object host = None, name, value, key, entries, entry
        cdef double now, age
        for name, value in scope["headers"]:
            if name == b"host":
                host = value
            elif name in DECIDING:
                return None, UNREAD
        if host is None:
            return None, UNREAD
        url = (host, scope["path"], scope.get("query_string", b""))
        key = self.keys.get(url)
        if key is None:
            if len(self.keys) >= 4096:
                self.keys.clear()
            key = self.keys[url] = self.make_key((<bytes>host).decode("latin-1"), url[1],
                                                 (<bytes>url[2]).decode("latin-1"))
        try:
            value = self.cache_get(key)
        except Exception:
            return None, UNREAD             # the full path logs it
        entries = None
        if (self.trusted and type(value) is list and len(<list>value) == 2 and type((<list>value)[1]) is list
                and (<list>value)[0] == self.fmt):
            entries = (<list>value)[1]
            for entry in <list>entries:
                if type(entry) is not self.entry_type:
                    entries = UNREAD
                    break
        else:
            entries = UNREAD
        if entries is UNREAD:
            entries = self.variants_of(value, key, self.trusted)
        if not entries:
            return None, entries
        entry = (<list>entries)[0]
        now = PyFloat_AsDouble(self.timer())
        age = PyFloat_AsDouble((<tuple>entry)[AGE0])
        if now > PyFloat_AsDouble((<tuple>entry)[STORED]):
            age += now - PyFloat_AsDouble((<tuple>entry)[STORED])
        if ((<tuple>entry)[VARY] or (<long>(<tuple>entry)[FLAGS]) & NO_CACHE
                or not age < PyFloat_AsDouble((<tuple>entry)[LIFETIME])):
            return None, entries
        with self.lock:
            self.stats.hits += 1
        stored = (<tuple>entry)[HEADERS]
        memo = self.encoded.get(id(stored))
        if memo is None or (<tuple>memo)[0] is not stored:
            if len(self.encoded) >= 4096:
                self.encoded.clear()
            memo = self.encoded[id(stored)] = (stored, self.encode(stored))
        headers = (<tuple>memo)[1] + [(b"age", b"%d" % <long long>age), self.x_cache]
        return {"type": "http.response.start", "status": (<tuple>entry)[STATUS], "headers": headers}, \
            (<tuple>entry)[BODY]
