"""The compiled wrapper behind ``fastcache.lru_cache``.

Same contract as CPython's C ``functools.lru_cache`` wrapper: keys built the
same way (a lone int or str argument is its own key; kwargs in call order),
exceptions never cached, a concurrent miss may call the function twice but
the first stored result wins.  The bounded cache is a compiled ``LRUCache``,
so a hit is one table lookup plus one ring write, all in C.
"""
import functools
import threading
import types
import weakref
cimport cython
from cpython.object cimport PyObject, PyTypeObject
from cpython.ref cimport Py_INCREF
from cpython.tuple cimport PyTuple_New, PyTuple_SET_ITEM
from fastcache._core.lru cimport LRUCache
from fastcache._core._table cimport table_lookup
from fastcache._core._ordered cimport ring_record

cdef extern from "Python.h":
    ctypedef PyObject *(*vectorcallfunc)(PyObject *, PyObject **, size_t, PyObject *)
    Py_ssize_t PyVectorcall_NARGS(size_t nargsf)
    unsigned long Py_TPFLAGS_HAVE_VECTORCALL
    ctypedef struct PyTypeObjectVC "PyTypeObject":
        Py_ssize_t tp_vectorcall_offset
        unsigned long tp_flags

cdef object KWD_MARK = object()      # separates positional from keyword arguments in keys
cdef object _missing = object()


cdef object make_key(tuple args, dict kwds, bint typed):
    cdef object key
    if not kwds and not typed:
        if len(args) == 1:
            key = args[0]
            if type(key) is int or type(key) is str:
                return key
        return args
    key = args
    if kwds:
        key += (KWD_MARK,)
        for item in kwds.items():
            key += item
    if typed:
        key += tuple([type(v) for v in args])
        if kwds:
            key += tuple([type(v) for v in kwds.values()])
    return key


cdef class FunctionWrapper:
    """What the compiled decorators share: a function's stand-in.

    It has a ``__dict__`` (``functools.update_wrapper`` fills it), binds as a
    method, pickles by qualified name and copies as itself, as CPython's
    ``functools.lru_cache`` wrapper does.  Calls arrive through vectorcall
    (``vectorcall`` is set by each subclass).
    """
    cdef vectorcallfunc vectorcall
    cdef dict __dict__
    cdef object __weakref__

    def __get__(self, obj, objtype):
        return self if obj is None else types.MethodType(self, obj)

    def __reduce__(self):
        return self.__qualname__

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self


cdef class LRUCacheWrapper(FunctionWrapper):
    """A function wrapped by ``lru_cache``; see ``functools.lru_cache``.

    Called through vectorcall: with one int or str argument (functools' fast
    key) the key is the argument itself, taken from the caller's stack, so a
    hit allocates nothing.
    """
    cdef object func
    cdef object cache_info_type
    cdef object maxsize_obj
    cdef Py_ssize_t maxsize
    cdef bint typed
    cdef LRUCache lru           # None when maxsize == 0; unbounded (never evicts) when maxsize is None
    cdef Py_ssize_t hits
    cdef Py_ssize_t misses

    def __cinit__(self, func, maxsize, bint typed, cache_info_type):
        self.vectorcall = <vectorcallfunc>wrapper_vectorcall
        self.func = func
        self.typed = typed
        self.cache_info_type = cache_info_type
        self.maxsize_obj = maxsize
        if maxsize is None:
            self.maxsize = -1
            self.lru = LRUCache(float("inf"))
        else:
            self.maxsize = maxsize
            if self.maxsize > 0:
                self.lru = LRUCache(maxsize)

    @cython.final
    cdef object call_with_key(self, object key, tuple args, dict kwargs):
        """The lookup, and on a miss the call and the store.  The key is hashed
        once per call, as CPython's wrapper does: the store reuses the hash,
        and an eviction reads the hash kept in the table."""
        cdef Py_ssize_t ix
        cdef object result
        cdef LRUCache lru = self.lru
        cdef Py_hash_t h = hash(key)
        ix = table_lookup(lru, key, h)
        if ix >= 0:
            self.hits += 1
            if self.maxsize > 0:            # unbounded: nothing is ever evicted, so no order to keep
                ring_record(lru, ix)
            return <object>lru.entries[ix].value
        self.misses += 1
        result = self.func(*args, **kwargs) if kwargs else self.func(*args)
        if table_lookup(lru, key, h) < 0:      # a recursive call may have stored it
            lru.store_hashed(key, h, result)
        return result

    @cython.final
    cdef object call(self, tuple args, dict kwargs):
        if self.maxsize == 0:
            self.misses += 1
            return self.func(*args, **kwargs) if kwargs else self.func(*args)
        return self.call_with_key(make_key(args, kwargs, self.typed), args, kwargs)

    def __call__(self, *args, **kwargs):
        return self.call(args, kwargs)

    def cache_info(self):
        """Report cache statistics: CacheInfo(hits, misses, maxsize, currsize)."""
        currsize = 0 if self.lru is None else len(self.lru)
        return self.cache_info_type(self.hits, self.misses, self.maxsize_obj, currsize)

    def cache_clear(self):
        """Clear the cache and its statistics."""
        if self.lru is not None:
            self.lru.clear()
        self.hits = self.misses = 0

    def cache_parameters(self):
        """Return {'maxsize': ..., 'typed': ...}."""
        return {"maxsize": self.maxsize_obj, "typed": self.typed}



cdef tuple stack_args(PyObject **args, Py_ssize_t nargs):
    """The positional arguments of a vectorcall as a tuple."""
    cdef tuple argtuple = PyTuple_New(nargs)
    cdef Py_ssize_t i
    for i in range(nargs):
        Py_INCREF(<object>args[i])
        PyTuple_SET_ITEM(argtuple, i, <object>args[i])
    return argtuple


cdef dict stack_kwargs(PyObject **args, Py_ssize_t nargs, PyObject *kwnames):
    """The keyword arguments of a vectorcall as a dict."""
    cdef dict kwargs = {}
    cdef Py_ssize_t i
    for i in range(len(<tuple>kwnames)):
        kwargs[(<tuple>kwnames)[i]] = <object>args[nargs + i]
    return kwargs


cdef object wrapper_vectorcall(PyObject *callable, PyObject **args, size_t nargsf, PyObject *kwnames):
    cdef LRUCacheWrapper self = <LRUCacheWrapper>callable
    cdef Py_ssize_t nargs = PyVectorcall_NARGS(nargsf)
    cdef object key
    cdef tuple argtuple
    cdef dict kwargs = None
    if kwnames == NULL and nargs == 1 and not self.typed and self.maxsize != 0:
        key = <object>args[0]
        if type(key) is int or type(key) is str:
            if self.maxsize > 0:
                ix = table_lookup(self.lru, key, hash(key))
                if ix >= 0:
                    self.hits += 1
                    ring_record(self.lru, ix)
                    return <object>self.lru.entries[ix].value
            return self.call_with_key(key, (key,), None)    # hashes an int or str again: no __hash__ runs
    argtuple = stack_args(args, nargs)
    if kwnames == NULL and not self.typed and self.maxsize != 0 and nargs != 1:
        return self.call_with_key(argtuple, argtuple, None)    # the args tuple is the key
    if kwnames != NULL:
        kwargs = stack_kwargs(args, nargs, kwnames)
    return self.call(argtuple, kwargs)




# ------------------------------------------------------------------- cached

cdef object _hashkey = None         # fastcache.keys.hashkey, bound on first use
cdef int FOLLOW = 0, REENTER = 2          # fastcache.singleflight's roles


cdef inline void _store(object cache, object key, object value, object ttl) except *:
    """cache[key] = value, or cache.set(key, value, ttl=ttl); a value too large stays uncached."""
    try:
        if ttl is None:
            cache[key] = value
        else:
            cache.set(key, value, ttl=ttl)
    except ValueError:
        pass


cdef class CachedWrapper(FunctionWrapper):
    """A function wrapped by ``fastcache.cached``: cachetools' call protocol.

    Without a lock: look up, call on a miss, store (a value too large is
    returned uncached).  With ``lock``: the lookup and the store run under it,
    the call does not, and a value stored meanwhile wins.  With ``condition``:
    one caller per key computes while the others wait; an exception reaches
    its caller and the waiters retry.  With the default key function and no
    keyword arguments the key is the argument tuple, built from the caller's
    stack.
    """
    cdef object func
    cdef readonly object cache
    cdef readonly object cache_key
    cdef readonly object cache_lock
    cdef readonly object cache_condition
    cdef bint default_key
    cdef Py_ssize_t hits
    cdef Py_ssize_t misses
    cdef set pending
    cdef readonly object flight
    cdef readonly object ttl

    def __cinit__(self, func, cache, key, lock, condition, flight=None, ttl=None):
        if _hashkey is None:
            _bind_helpers()
        functools.update_wrapper(self, func)
        self.flight = flight
        self.ttl = ttl
        self.vectorcall = <vectorcallfunc>cached_vectorcall
        self.func = func
        self.cache = cache
        self.cache_key = key
        self.cache_lock = lock if lock is not None else condition
        self.cache_condition = condition
        self.default_key = key is _hashkey
        self.pending = set()

    @cython.final
    cdef object lookup(self, object key):
        """cache[key], counted as a hit; _missing, counted as a miss, on KeyError."""
        try:
            result = self.cache[key]
        except KeyError:
            self.misses += 1
            return _missing
        self.hits += 1
        return result

    @cython.final
    cdef object call_with_key(self, object key, tuple args, dict kwargs):
        cdef object cache = self.cache
        cdef object lock = self.cache_lock
        cdef object cond = self.cache_condition
        cdef object result
        if lock is None:
            result = self.lookup(key)
            if result is not _missing:
                return result
            return self.miss_unlocked(key, args, kwargs)
        if cond is None:
            with lock:
                result = self.lookup(key)
            if result is not _missing:
                return result
            value = self.func(*args, **kwargs) if kwargs else self.func(*args)
            with lock:
                try:
                    return cache.setdefault(key, value)    # a value stored meanwhile wins
                except ValueError:
                    return value
        with lock:
            while key in self.pending:
                cond.wait()
            result = self.lookup(key)
            if result is not _missing:
                return result
            self.pending.add(key)
        try:
            value = self.func(*args, **kwargs) if kwargs else self.func(*args)
            with lock:
                try:
                    cache[key] = value
                except ValueError:
                    pass
                return value
        finally:
            with lock:
                self.pending.discard(key)
                cond.notify_all()

    @cython.final
    cdef object miss_unlocked(self, object key, tuple args, dict kwargs):
        """After a lookup without a lock missed: call (once per key under single-flight), store."""
        if self.flight is not None:     # concurrent misses of one key: one call
            return self.lead_or_follow(key, args, kwargs)
        value = self.func(*args, **kwargs) if kwargs else self.func(*args)
        _store(self.cache, key, value, self.ttl)
        return value

    @cython.final
    cdef object lead_or_follow(self, object key, tuple args, dict kwargs):
        """A miss under single-flight.  The leader calls the function from this
        C frame, adding no Python frame (a recursive memoized function reaches
        the depth it reaches without single-flight); followers wait for it."""
        flight = self.flight
        call, role = flight.begin(key)
        if role == FOLLOW:
            return flight.wait(call, None, key)
        if role == REENTER:
            value = self.func(*args, **kwargs) if kwargs else self.func(*args)
            _store(self.cache, key, value, self.ttl)
            return value
        try:
            value = self.func(*args, **kwargs) if kwargs else self.func(*args)
            _store(self.cache, key, value, self.ttl)
        except BaseException as exc:
            flight.settle(key, call, None, exc)
            raise
        flight.settle(key, call, value, None)
        return value

    @cython.final
    cdef object call(self, tuple args, dict kwargs):
        if kwargs:
            key = self.cache_key(*args, **kwargs)
        elif self.default_key:
            key = args
        else:
            key = self.cache_key(*args)
        return self.call_with_key(key, args, kwargs)

    def __call__(self, *args, **kwargs):
        return self.call(args, kwargs)

    def __get__(self, obj, objtype):
        # With the default key, a method's key names the instance by a weak token.
        if obj is None:
            return self
        if not self.default_key:
            return types.MethodType(self, obj)
        return bind_method(self, obj)

    def call_bound(self, obj, tuple args, dict kwargs, token=None):
        """Call as a method of obj, keyed by obj's weak token instead of obj."""
        if token is None:
            token = token_of(obj)
        if kwargs:
            return self.call_with_key(self.cache_key(token, *args, **kwargs), (obj,) + args, kwargs)
        return self.call_with_key((token,) + args, (obj,) + args, None)

    def cache_clear(self):
        """Clear the cache (and the statistics, with ``info=True``)."""
        if self.cache_lock is None:
            self.cache.clear()
        else:
            with self.cache_lock:
                self.cache.clear()
        self.hits = self.misses = 0


    def __repr__(self):
        return "<cached %r>" % (self.func,)


cdef object cached_vectorcall(PyObject *callable, PyObject **args, size_t nargsf, PyObject *kwnames):
    cdef CachedWrapper self = <CachedWrapper>callable
    cdef Py_ssize_t nargs = PyVectorcall_NARGS(nargsf)
    cdef tuple argtuple = stack_args(args, nargs)
    if kwnames == NULL:
        if self.default_key:
            return self.call_with_key(argtuple, argtuple, None)
        return self.call(argtuple, None)
    return self.call(argtuple, stack_kwargs(args, nargs, kwnames))


cdef _bind_helpers():
    global _hashkey
    from fastcache.keys import hashkey
    _hashkey = hashkey


# -- weak self tokens: the compiled twin of fastcache._weakself (see there) -----------

cdef dict _tokens = {}                  # id(obj) -> its SelfToken
_tokens_lock = threading.Lock()


@cython.final
cdef class SelfToken:
    """Stands for one live instance in cache keys (identity equality, weak reference);
    its hash is computed once, and read in C."""
    cdef readonly object ref
    cdef Py_hash_t _hash
    cdef object __weakref__

    def __hash__(self):
        return self._hash

    def __repr__(self):
        obj = self.ref()
        return (f"<self of {type(obj).__name__} at {id(obj):#x}>" if obj is not None
                else "<self of a collected object>")

    def __reduce__(self):
        raise TypeError("keys of cached methods name a live instance and cannot be pickled")


@cython.final
cdef class _Forget:
    """The weak reference's callback: drops a collected instance's token from the registry."""
    cdef object ident
    cdef object token_ref

    def __call__(self, _ref):
        tok = self.token_ref()
        with _tokens_lock:
            if tok is not None and _tokens.get(self.ident) is tok:
                del _tokens[self.ident]


cdef object token_of(object obj):
    """The token for obj (made on first use), or obj itself if it has no weak references."""
    cdef object ident = id(obj)
    cdef object tok = _tokens.get(ident)
    cdef SelfToken new
    cdef _Forget forget
    if tok is not None and (<SelfToken>tok).ref() is obj:
        return tok
    with _tokens_lock:
        tok = _tokens.get(ident)
        if tok is not None and (<SelfToken>tok).ref() is obj:
            return tok
        new = SelfToken.__new__(SelfToken)
        forget = _Forget.__new__(_Forget)
        forget.ident = ident
        forget.token_ref = weakref.ref(new)
        try:
            new.ref = weakref.ref(obj, forget)
        except TypeError:
            return obj
        new._hash = hash(("fastcache.self", ident))
        _tokens[ident] = new
        return new


@cython.final
@cython.freelist(16)
cdef class BoundCachedMethod:
    """A cached function bound to an instance (what ``obj.method`` gives): the key names
    the instance by its weak token, and a call goes to the wrapper's keyed call in C."""
    cdef vectorcallfunc vectorcall
    cdef readonly object __func__
    cdef readonly object __self__
    cdef object token
    cdef object call_keyed          # the wrapper's _call_keyed, for wrappers other than CachedWrapper

    def __call__(self, *args, **kwargs):
        return self.call(args, kwargs or None)

    cdef object call(self, tuple args, dict kwargs):
        cdef object func = self.__func__
        if kwargs is None:
            if self.call_keyed is None:
                return self.call_positional((self.token,) + args)
            return self.call_keyed((self.token,) + args, (self.__self__,) + args, None)
        key = func.cache_key(self.token, *args, **kwargs)
        if self.call_keyed is None:
            return (<CachedWrapper>func).call_with_key(key, (self.__self__,) + args, kwargs)
        return self.call_keyed(key, (self.__self__,) + args, kwargs)

    cdef object call_positional(self, tuple key):
        """A CachedWrapper's call with the key (token, *args) made: the call's arguments
        (the receiver, then key[1:]) are built only on a miss."""
        cdef CachedWrapper func = <CachedWrapper>self.__func__
        cdef object result
        if func.cache_lock is None:
            result = func.lookup(key)
            if result is not _missing:
                return result
            return func.miss_unlocked(key, (self.__self__,) + key[1:], None)
        return func.call_with_key(key, (self.__self__,) + key[1:], None)

    def __getattr__(self, name):
        return getattr(self.__func__, name)

    def __reduce__(self):
        raise TypeError("a bound cached method names a live instance and cannot be pickled")

    def __repr__(self):
        return f"<bound cached method {getattr(self.__func__, '__qualname__', '?')} of {self.__self__!r}>"


cdef object bound_vectorcall(PyObject *callable, PyObject **args, size_t nargsf, PyObject *kwnames):
    cdef BoundCachedMethod self = <BoundCachedMethod>callable
    cdef Py_ssize_t nargs = PyVectorcall_NARGS(nargsf)
    cdef tuple key
    cdef Py_ssize_t i
    if kwnames == NULL and self.call_keyed is None:
        key = PyTuple_New(nargs + 1)           # (token, *args): the key, built from the stack
        Py_INCREF(self.token)
        PyTuple_SET_ITEM(key, 0, self.token)
        for i in range(nargs):
            Py_INCREF(<object>args[i])
            PyTuple_SET_ITEM(key, i + 1, <object>args[i])
        return self.call_positional(key)
    if kwnames == NULL:
        return self.call(stack_args(args, nargs), None)
    return self.call(stack_args(args, nargs), stack_kwargs(args, nargs, kwnames))


def bind_method(func, obj):
    """``func`` (a cached wrapper with the default key) bound to obj, keyed by obj's weak token.
    ``func`` is a ``CachedWrapper``, or anything with ``_call_keyed(key, args, kwargs)``."""
    if _hashkey is None:
        _bind_helpers()
    cdef BoundCachedMethod m = BoundCachedMethod.__new__(BoundCachedMethod)
    m.vectorcall = <vectorcallfunc>bound_vectorcall
    m.__func__ = func
    m.__self__ = obj
    m.token = token_of(obj)
    m.call_keyed = None if isinstance(func, CachedWrapper) else func._call_keyed
    return m


cdef class CachedInfoWrapper(CachedWrapper):
    """``cached(..., info=True)``: adds ``cache_info()``."""

    def cache_info(self):
        """Return CacheInfo(hits, misses, maxsize, currsize) (maxsize None for plain mappings)."""
        from fastcache._types import CacheInfo
        cache = self.cache
        if self.cache_lock is not None:
            with self.cache_lock:
                return _make_info(CacheInfo, cache, self.hits, self.misses)
        return _make_info(CacheInfo, cache, self.hits, self.misses)


cdef object _make_info(object info_type, object cache, Py_ssize_t hits, Py_ssize_t misses):
    if hasattr(cache, "maxsize") and hasattr(cache, "currsize"):
        return info_type(hits, misses, cache.maxsize, cache.currsize)
    return info_type(hits, misses, None, len(cache))


cdef _enable_vectorcall():
    # Cython has no syntax for vectorcall: point each type at the base's field.
    cdef FunctionWrapper probe = FunctionWrapper()
    cdef Py_ssize_t offset = <Py_ssize_t>(<char *>&probe.vectorcall - <char *><PyObject *>probe)
    for cls in (LRUCacheWrapper, CachedWrapper, CachedInfoWrapper):
        (<PyTypeObjectVC *>cls).tp_vectorcall_offset = offset
        (<PyTypeObjectVC *>cls).tp_flags |= Py_TPFLAGS_HAVE_VECTORCALL
    cdef BoundCachedMethod bound = BoundCachedMethod.__new__(BoundCachedMethod)
    offset = <Py_ssize_t>(<char *>&bound.vectorcall - <char *><PyObject *>bound)
    (<PyTypeObjectVC *>BoundCachedMethod).tp_vectorcall_offset = offset
    (<PyTypeObjectVC *>BoundCachedMethod).tp_flags |= Py_TPFLAGS_HAVE_VECTORCALL


_enable_vectorcall()
