"""The compiled hit path of ``CacheAside`` (and of ``@cached`` with its options, sync or async).

``AsideFront`` is the base class of :class:`fastcache.patterns.CacheAside`: over a sync
cache, a read that finds a plain value, or a fresh entry (freshness options), is
answered here - the table looked up directly for fastcache's compiled caches, the
entry's envelope checked in C, the wall clock read with ``clock_gettime``.  Anything
else (a miss, a stale or refreshing entry, a cached error, an XFetch draw, an asyncio
cache) goes to the engine's Python code with what was read, which decides it.

``Completed`` is what an ``async def`` memoized by ``@cached`` returns on such a hit:
an awaitable that is already done (no coroutine frame, no event-loop step), and that
``asyncio`` accepts wherever it takes a coroutine (``create_task``, ``gather``).
"""
cimport cython
from cpython.exc cimport PyErr_SetObject
from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF
from cpython.float cimport PyFloat_AsDouble
from cpython.tuple cimport PyTuple_GET_SIZE

from fastcache._core._table cimport Table, table_get
from fastcache._core.adaptive import AdaptiveCache
from fastcache._core.fifo import FIFOCache
from fastcache._core.lfu import LFUCache
from fastcache._core.lru import LRUCache
from fastcache._core.ttl import TTLCache

import collections.abc
import time as _time
import types

cdef extern from *:
    """
    #include <time.h>
    static double fc_wall_now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
    }
    /* time.time()'s clock at the kernel tick's resolution: a few ns, behind by < a tick */
    static double fc_wall_coarse(void) {
    #ifdef CLOCK_REALTIME_COARSE
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME_COARSE, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
    #else
        return -1e300;
    #endif
    }
    static double fc_wall_coarse_res(void) {
    #ifdef CLOCK_REALTIME_COARSE
        struct timespec ts;
        if (clock_getres(CLOCK_REALTIME_COARSE, &ts) != 0) return -1.0;
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
    #else
        return -1.0;
    #endif
    }
    """
    double fc_wall_now() nogil
    double fc_wall_coarse() nogil
    double fc_wall_coarse_res() nogil

cdef extern from "Python.h":
    ctypedef enum PySendResult:
        PYGEN_RETURN
        PYGEN_ERROR
        PYGEN_NEXT
    ctypedef PySendResult (*sendfunc)(PyObject *iter, PyObject *value, PyObject **result)
    ctypedef struct PyAsyncMethodsSend "PyAsyncMethods":
        sendfunc am_send
    ctypedef struct PyTypeObjectAsync "PyTypeObject":
        PyAsyncMethodsSend *tp_as_async

cdef double _wall_slack():
    cdef double res = fc_wall_coarse_res()
    return 2 * res if 0 < res <= 0.05 else 1e300

# The coarse wall clock lags time.time() by less than this (two ticks): coarse + WALL_SLACK
# before an entry's fresh limit proves it fresh without the exact clock's read.
cdef double WALL_SLACK = _wall_slack()

cdef tuple FAST_TYPES = (LRUCache, LFUCache, FIFOCache, TTLCache, AdaptiveCache)
cdef object _time_time = _time.time
cdef object NOT_FRESH = object()
cdef str ENTRY_MARK = "fastcache.entry/1"      # the engine's own object (set by _setup_front):
                                                # entries made here carry it, so `is` finds it
cdef object MISS = None                         # the engine's miss marker (set by _setup_front)
cdef object UNREAD = None                       # get_call's "the cache is still to be read" (idem)


cdef int _stop(object value) except -1:
    """Raise StopIteration carrying value (the result of an awaited ``Completed``)."""
    if type(value) is tuple or isinstance(value, BaseException):
        PyErr_SetObject(StopIteration, StopIteration(value))   # else read as arguments
    else:
        PyErr_SetObject(StopIteration, value)
    return -1


@cython.final
@cython.freelist(32)
cdef class Completed:
    """An awaitable whose result is already known: ``await`` gives it at once.

    It has the coroutine protocol (``send``, ``throw``, ``close``) so asyncio takes it
    for a coroutine (``create_task``, ``gather``, ``wait_for``); it can be awaited
    more than once and never warns when it is not."""

    def __cinit__(self, value):
        self.value = value

    def __await__(self):
        return self

    def __iter__(self):
        return self

    def __next__(self):
        _stop(self.value)

    def send(self, arg):
        """Start it: it ends at once with its value (StopIteration)."""
        _stop(self.value)

    def throw(self, typ, val=None, tb=None):
        """Raise the exception thrown in (nothing is running to catch it)."""
        if val is None:
            raise typ
        raise val

    def close(self):
        """Nothing to close."""

    def __repr__(self):
        return f"<Completed {self.value!r}>"


collections.abc.Coroutine.register(Completed)


cdef PySendResult _completed_send(PyObject *it, PyObject *arg, PyObject **result) noexcept:
    """``await`` of a Completed: its value, returned without a StopIteration to build."""
    cdef object value = (<Completed>it).value
    Py_INCREF(value)
    result[0] = <PyObject *>value
    return PYGEN_RETURN


cdef _enable_send():
    # Cython has no syntax for am_send (Python 3.10+): set the slot of the type's
    # async methods, which Cython has given it for __await__.
    cdef PyTypeObjectAsync *t = <PyTypeObjectAsync *>Completed
    if t.tp_as_async != NULL:
        t.tp_as_async.am_send = _completed_send


_enable_send()


cdef class AsideFront:
    """Base of ``CacheAside``: answers the hits it can decide (see the module docstring)."""

    def _setup_front(self, cache, miss, unread, str mark, bint enveloped, double fresh_fraction, bint xfetch,
                     timer, bint is_async):
        global MISS, UNREAD, ENTRY_MARK
        MISS = miss
        UNREAD = unread
        ENTRY_MARK = mark
        self.table = <Table>cache if type(cache) in FAST_TYPES else None
        self.cache_get = None if is_async else getattr(cache, "get")
        self.probing = not is_async
        self.enveloped = enveloped
        self.decides_fresh = enveloped and not xfetch
        self.fresh_fraction = fresh_fraction
        self.timer = None if timer is _time_time else timer

    def _forget_cache(self):
        """The engine's cache became a weak proxy: hold no reference to it here (every
        read goes through the engine's Python code, which reads through the proxy)."""
        self.table = None
        self.cache_get = None
        self.probing = False

    @cython.final
    cdef object raw_of(self, object key):
        """What the cache holds for key (MISS if nothing), read as ``cache.get`` reads."""
        if self.table is not None:
            return table_get(self.table, key, MISS)
        return self.cache_get(key, MISS)

    @cython.final
    cdef object fresh(self, object raw):
        """The value to serve for raw as a plain hit, or NOT_FRESH (the engine decides)."""
        cdef double limit
        if not self.enveloped:
            return raw
        if type(raw) is not tuple or PyTuple_GET_SIZE(raw) != 6:
            return raw                          # a plain value someone else stored: a hit
        mark = (<tuple>raw)[0]
        if mark is not ENTRY_MARK and not (type(mark) is str and <str>mark == ENTRY_MARK):
            return raw
        if not self.decides_fresh or (<tuple>raw)[5] or (<tuple>raw)[3] is None:
            return NOT_FRESH
        limit = PyFloat_AsDouble((<tuple>raw)[2]) + PyFloat_AsDouble((<tuple>raw)[3]) * self.fresh_fraction
        if self.timer is None:
            if fc_wall_coarse() + WALL_SLACK < limit or fc_wall_now() < limit:
                return (<tuple>raw)[1]
        elif PyFloat_AsDouble(self.timer()) < limit:
            return (<tuple>raw)[1]
        return NOT_FRESH

    @cython.final
    cdef object lookup(self, object key, object func, tuple args, object kwargs, object loader,
                       bint asynchronous):
        """A read: a hit decided here (a Completed for ``asynchronous``), anything else
        handed to the engine's get_call / aget_call with what was read.  ``args`` None:
        ``(key,)``, made only when the engine needs it (not on a hit)."""
        cdef object raw = UNREAD, value
        if self.probing:
            raw = self.raw_of(key)
            if raw is not MISS:
                value = self.fresh(raw)
                if value is not NOT_FRESH:
                    self.fast_hits += 1
                    return Completed(value) if asynchronous else value
        if args is None:
            args = (key,)
        if asynchronous:
            return (<object>self).aget_call(key, func, args, kwargs, loader, raw)
        return (<object>self).get_call(key, func, args, kwargs, loader, raw)

    def get(self, key, loader=None):
        """The value for key, loading it on a miss (see ``CacheAside``)."""
        return self.lookup(key, None, None, None, loader, False)

    def call(self, key, func, tuple args, kwargs):
        """``get_call`` with the hit decided here: ``func(*args, **kwargs)`` loads on a miss."""
        return self.lookup(key, func, args, kwargs, None, False)

    def acall(self, key, func, tuple args, kwargs):
        """``aget_call``, whose hit over a sync cache is a :class:`Completed` awaitable."""
        return self.lookup(key, func, args, kwargs, None, True)


cdef class CachedCall:
    """The call path of ``@cached`` over a ``CacheAside`` engine (``CachedFunction``'s base).

    With the default key and no keyword arguments, the argument tuple is the key; a
    hit goes to the engine's compiled front without a Python frame (an ``async def``'s
    hit returns a :class:`Completed` awaitable)."""
    cdef readonly AsideFront engine
    cdef readonly object cache_key
    cdef readonly bint is_coroutine
    cdef object func
    cdef bint default_key
    cdef bint sync_engine               # the engine reads a sync cache
    cdef dict __dict__
    cdef object __weakref__

    def _setup_call(self, func, AsideFront engine, key, bint default_key, bint is_coroutine, bint engine_is_async):
        self.func = func
        self.engine = engine
        self.cache_key = key
        self.default_key = default_key
        self.is_coroutine = is_coroutine
        self.sync_engine = not engine_is_async

    cdef object call_keyed(self, object key, tuple args, object kwargs):
        if self.is_coroutine:
            return self.engine.lookup(key, self.func, args, kwargs, None, True)
        if not self.sync_engine:
            raise TypeError(f"{type((<object>self.engine).cache).__name__} is asynchronous: "
                            "cache an async def function with it")
        return self.engine.lookup(key, self.func, args, kwargs, None, False)

    def __call__(self, *args, **kwargs):
        if not kwargs:
            return self.call_keyed(args if self.default_key else self.cache_key(*args), args, None)
        return self.call_keyed(self.cache_key(*args, **kwargs), args, kwargs)

    def _call_keyed(self, key, tuple args, kwargs):
        """Call with a key already made (``args`` are the function's arguments)."""
        return self.call_keyed(key, args, kwargs)

    def __get__(self, obj, objtype):
        # With the default key, a method's key names the instance by a weak token.
        global _bind_method
        if obj is None:
            return self
        if not self.default_key:
            return types.MethodType(self, obj)
        if _bind_method is None:
            from fastcache._core._functools import bind_method
            _bind_method = bind_method
        return _bind_method(self, obj)


cdef object _bind_method = None     # fastcache._core._functools.bind_method (imported on first use)
