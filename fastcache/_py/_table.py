"""Pure-Python twin of ``fastcache._core._table``: storage, sizes, stats, listeners.

Same observable behaviour as the compiled table: items iterate in insertion
order, eviction goes through ``popitem()`` (an overriding subclass sees every
eviction), removal listeners run after the cache is consistent again.  Python
bytecode is not atomic, so every public operation holds a re-entrant lock;
listeners run after it is released.
"""
from __future__ import annotations

import copyreg
import logging
import math
import threading
import time as _time
from collections.abc import (
    Callable,
    ItemsView,
    Iterator,
    KeysView,
    Mapping,
    MutableMapping,
    ValuesView,
)
from typing import Any, Optional, TypeVar, Union

from .._clock import clock_for_ttl
from .._types import CacheStats, RemovalCause
from ._expiry import NONE_DUE, Expiry
from ._timer import Timer

__all__ = ("Table",)

log = logging.getLogger("fastcache")
_marker: Any = object()

KT = TypeVar("KT")
VT = TypeVar("VT")
Listener = Callable[[Any, Any, RemovalCause], object]
Removal = tuple[Any, Any, RemovalCause]


def check_maxsize(maxsize: object) -> Optional[int]:
    """Validate maxsize; return it as an int, or None when unbounded."""
    if isinstance(maxsize, bool) or not isinstance(maxsize, (int, float)):
        raise TypeError("maxsize must be an int, not %r" % type(maxsize).__name__)
    if maxsize != maxsize:
        raise ValueError("maxsize must not be NaN")
    if maxsize < 0:
        raise ValueError("maxsize must be non-negative")
    if isinstance(maxsize, float):
        if maxsize == float("inf"):
            return None
        if maxsize != int(maxsize):
            raise ValueError("maxsize must be a whole number, got %r" % maxsize)
        maxsize = int(maxsize)
    if maxsize >= 2**63 - 1:
        return None
    return maxsize


def _base_class_of(cls: type) -> type:
    for klass in cls.__mro__:
        if klass.__module__.startswith("fastcache._py"):
            return klass
    return Table


def _defines_popitem_in_python(cls: type) -> bool:
    for klass in cls.__mro__:
        if "popitem" in klass.__dict__:
            return not klass.__module__.startswith("fastcache._py")
    return False


class Table(MutableMapping[KT, VT]):
    """Storage, size accounting, statistics and removal notification."""

    __slots__ = (
        "_data", "_sizes", "_maxsize", "_maxsize_obj", "_currsize", "_weighted",
        "_getsizeof_arg", "_sizer", "_mutations", "_on_evict", "_custom_popitem",
        "_evicting", "_hits", "_misses", "_evictions", "_expirations", "_lock",
        "_removed", "_timer_w", "_ttl_obj", "_default_ttl", "_expiring", "_custom_expire",
        "_expiry", "_now", "_pending_ttl", "_pending_queue", "__dict__", "__weakref__",
    )
    _data: dict[Any, Any]
    _sizes: dict[Any, int]
    _maxsize: int
    _maxsize_obj: Optional[Union[int, float]]
    _currsize: int
    _weighted: bool
    _getsizeof_arg: Optional[Callable[[Any], int]]
    _sizer: Optional[Callable[[Any], int]]
    _mutations: int
    _on_evict: Optional[Listener]
    _custom_popitem: bool
    _evicting: int
    _hits: int
    _misses: int
    _evictions: int
    _expirations: int
    _lock: threading.RLock
    _removed: list[Removal]
    # expiry: off (and the clock never read) until some item has a finite TTL
    _timer_w: Timer
    _ttl_obj: Any                       # the cache-wide TTL as given, or None
    _default_ttl: float                 # inf without a cache-wide TTL
    _expiring: bool                     # some item may have a deadline: reads check the clock
    _custom_expire: bool                # a subclass overrides expire()
    _expiry: Expiry
    _now: float                         # the frozen time of the write in progress
    _pending_ttl: float                 # and its TTL
    _pending_queue: Optional[float]     # the TTL kept with the deadline (None: a deadline write)

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        self = super().__new__(cls)
        self._lock = threading.RLock()
        self._data = {}
        self._sizes = {}
        self._removed = []
        self._maxsize = 2**63 - 1
        self._maxsize_obj = None
        self._currsize = 0
        self._weighted = False
        self._getsizeof_arg = None
        self._sizer = None
        self._mutations = 0
        self._on_evict = None
        self._custom_popitem = False
        self._evicting = 0
        self._hits = self._misses = self._evictions = self._expirations = 0
        self._timer_w = Timer(_time.monotonic)
        self._ttl_obj = None
        self._default_ttl = math.inf
        self._expiring = False
        self._custom_expire = False
        self._expiry = Expiry()
        self._now = 0.0
        self._pending_ttl = math.inf
        self._pending_queue = None
        self._on_clear()        # the policy's fresh order structures
        return self

    def _init_table(self, maxsize: Union[int, float], getsizeof: Optional[Callable[[Any], int]],
                    on_evict: Optional[Listener]) -> None:
        ms = check_maxsize(maxsize)
        if on_evict is not None and not callable(on_evict):
            raise TypeError("on_evict must be callable or None")
        if getsizeof is not None and not callable(getsizeof):
            raise TypeError("getsizeof must be callable or None")
        self._data.clear()
        self._sizes.clear()
        self._currsize = 0
        self._maxsize_obj = maxsize
        self._maxsize = 2**63 - 1 if ms is None else ms
        self._on_evict = on_evict
        self._getsizeof_arg = getsizeof
        cls = type(self)
        if getsizeof is not None:
            self.__dict__["getsizeof"] = getsizeof
            self._sizer = getsizeof
        elif getattr(cls, "getsizeof") is not getattr(_base_class_of(cls), "getsizeof"):
            self._sizer = self.getsizeof
        else:
            self._sizer = None
        self._weighted = self._sizer is not None
        self._custom_popitem = _defines_popitem_in_python(cls)
        self._custom_expire = getattr(cls, "expire") is not getattr(_base_class_of(cls), "expire")
        self._expiring = False
        self._expiry.clear()

    def _init_expiry(self, timer: Callable[[], Any], ttl: Any) -> None:
        """The clock (``timer=``) and the cache-wide TTL (None: items live until removed)."""
        t = Timer(timer)
        default_ttl = math.inf
        if ttl is not None:
            t.clock = clock_for_ttl(ttl)
            default_ttl = t.ttl_number(ttl)
        self._timer_w = t
        self._ttl_obj = ttl
        self._default_ttl = default_ttl
        if default_ttl < math.inf:
            self._expiring = True

    def _use_timer(self, timer: Callable[[], Any]) -> None:
        """Measure deadlines on ``timer`` from now on (an owner's clock: TieredCache's ``timer=``).
        Refused once the cache holds items, or if it has a timer of its own."""
        if self._timer_w._timer is timer:
            return
        if self._timer_w._timer is not _time.monotonic or self._timer_w.clock is not None:
            raise ValueError("the cache has a timer of its own; give timer= to one of the two")
        if self._data:
            raise ValueError("the cache already holds items timed on its own clock")
        self._timer_w = Timer(timer)

    # ------------------------------------------------------------------ expiry
    # One layer for every policy (see the compiled twin): deadlines in an Expiry,
    # off until some item gets a finite TTL; reads check them through _live().

    def _live(self, key: Any) -> bool:
        """key is stored and has not expired (call with the lock held)."""
        if key not in self._data:
            return False
        return not self._expiring or self._timer_w.now() < self._expiry.expires(key)

    def _run_expire(self, now: float) -> None:
        """expire(now) as the cache's own operations run it (honours an overriding expire())."""
        if self._custom_expire:
            self.expire(self._timer_w() if self._timer_w._nesting else self._timer_w.time_of(now))
        elif now >= self._expiry.next_due():
            self._expire_at(now)

    def _store_ttl(self, key: Any, value: Any, ttl: float) -> None:
        """cache[key] = value living ttl seconds (inf: until removed)."""
        if not self._expiring:
            if ttl == math.inf:
                self._store(key, value)         # the clock is not read while nothing expires
                return
            self._expiring = True
        # The lock first: the timer's freeze counter is shared by all threads.
        with self._lock, self._timer_w:
            self._now = now = self._timer_w.now()
            if self._timer_w.clock is not None:
                self._timer_w.clock.check_expiry(now, ttl)
            self._pending_ttl = ttl
            self._pending_queue = ttl
            self._store(key, value)

    def _store_until(self, key: Any, value: Any, expires: float) -> None:
        """cache[key] = value until ``expires`` on the cache's clock (TieredCache's L1 copies);
        a shorter cache-wide TTL still bounds it."""
        if expires == math.inf and not self._expiring and self._default_ttl == math.inf:
            self._store(key, value)
            return
        self._expiring = True
        with self._lock, self._timer_w:
            self._now = now = self._timer_w.now()
            ttl = expires - now
            if ttl > self._default_ttl:
                self._pending_ttl = self._pending_queue = self._default_ttl
            else:
                self._pending_ttl, self._pending_queue = ttl, None
            self._store(key, value)

    def _schedule_write(self, key: Any) -> None:
        self._expiry.schedule(key, self._now + self._pending_ttl, self._pending_queue)

    # ------------------------------------------------------------ policy hooks

    def _before_store(self) -> None:
        pass

    def _on_insert(self, key: Any) -> None:
        pass

    def _on_update(self, key: Any) -> None:
        pass

    def _on_access(self, key: Any) -> None:
        pass

    def _on_remove(self, key: Any) -> None:
        pass

    def _victim(self) -> Any:
        return _marker

    def _on_clear(self) -> None:
        pass

    def _policy_state(self, positions: dict[Any, int]) -> Any:
        return None

    def _restore_policy(self, state: Any, keys: list[Any]) -> None:
        pass

    # ------------------------------------------------------------------ table

    def _append(self, key: Any, value: Any, size: int) -> None:
        self._data[key] = value
        if self._weighted:
            self._sizes[key] = size
        self._currsize += size
        self._mutations += 1

    def _expire_at(self, now: float) -> list[tuple[Any, Any]]:
        """Remove every item whose deadline has come, in expiry order; the removed (key, value) pairs."""
        out: list[tuple[Any, Any]] = []
        expiry = self._expiry
        while True:
            key = expiry.pop_due(now)
            if key is NONE_DUE:
                return out
            out.append((key, self._remove(key, RemovalCause.EXPIRED)))
            self._expirations += 1

    def _remove(self, key: Any, cause: RemovalCause) -> Any:
        self._on_remove(key)
        if self._expiring:
            self._expiry.forget(key)
        value = self._data.pop(key)
        self._currsize -= self._sizes.pop(key) if self._weighted else 1
        self._mutations += 1
        self._removed.append((key, value, cause))
        return value

    def _release(self) -> None:
        """Notify the listener of what was removed (outside the lock)."""
        if not self._removed:
            return
        with self._lock:
            removed, self._removed = self._removed, []
        listener = self._on_evict
        if listener is None:
            return
        for key, value, cause in removed:
            try:
                listener(key, value, cause)
            except Exception:
                log.exception("fastcache: on_evict listener raised; ignored")

    def _item_size(self, value: Any) -> int:
        assert self._sizer is not None
        size = self._sizer(value)
        if isinstance(size, bool) or not isinstance(size, int):
            try:
                size = size.__index__()
            except AttributeError:
                raise TypeError("getsizeof must return an int, not %r" % type(size).__name__) from None
        if size < 0:
            raise ValueError("value size must be non-negative")
        if size > self._maxsize:
            raise ValueError("value too large")
        return int(size)

    def _store(self, key: Any, value: Any) -> None:
        hash(key)
        size = 1
        if self._weighted:
            size = self._item_size(value)
        elif self._maxsize < 1:
            raise ValueError("value too large")
        try:
            with self._lock:
                if self._expiring:
                    self._run_expire(self._now)     # expired items go before live ones are evicted
                self._before_store()
                data = self._data
                if key in data:
                    if not self._weighted:
                        old = data[key]
                        data[key] = value
                        self._removed.append((key, old, RemovalCause.REPLACED))
                        self._on_update(key)
                        if self._expiring:
                            self._schedule_write(key)
                        return
                    diff = size - self._sizes[key]
                    while self._currsize + diff > self._maxsize:
                        self._evict_one()
                        diff = size - self._sizes[key] if key in data else size
                    if key in data:
                        old = data[key]
                        data[key] = value
                        self._removed.append((key, old, RemovalCause.REPLACED))
                        self._currsize += diff
                        self._sizes[key] = size
                        self._on_update(key)
                        if self._expiring:
                            self._schedule_write(key)
                        return
                else:
                    while self._currsize + size > self._maxsize:
                        self._evict_one()
                    if self._custom_popitem and key in data:
                        self._store(key, value)
                        return
                self._append(key, value, size)
                self._on_insert(key)
                if self._expiring:
                    self._schedule_write(key)
        finally:
            self._release()

    def _evict_one(self) -> None:
        if self._custom_popitem:
            self._evicting += 1
            try:
                self.popitem()
            finally:
                self._evicting -= 1
            return
        key = self._victim()
        if key is _marker:
            raise KeyError("%s is empty" % type(self).__name__) from None
        self._remove(key, RemovalCause.SIZE)
        self._evictions += 1

    # -------------------------------------------------------- mapping protocol

    # Expired items are never returned, counted or iterated: every read goes
    # through _live(), and len(), currsize, iteration and popitem() expire what
    # is due first.

    def __len__(self) -> int:
        if self._expiring:
            with self._lock:
                self._run_expire(self._timer_w.now())
            self._release()
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        if not self._expiring:
            return key in self._data
        with self._lock:
            return self._live(key)

    def __getitem__(self, key: KT) -> VT:
        with self._lock:
            if self._live(key):
                self._hits += 1
                self._on_access(key)
                return self._data[key]  # type: ignore[no-any-return]
            self._misses += 1
        value = self.__missing__(key)
        with self._lock:
            if self._live(key):
                self._on_access(key)
        return value

    def __missing__(self, key: KT) -> VT:
        raise KeyError(key)

    def __setitem__(self, key: KT, value: VT) -> None:
        if self._expiring:
            self._store_ttl(key, value, self._default_ttl)
        else:
            self._store(key, value)

    def set(self, key: KT, value: VT, ttl: Any = None) -> None:
        """Store value under key; ``ttl`` gives this item its own time to live (seconds;
        a timedelta where the cache-wide TTL is one; ``inf``: never expires), else the
        cache-wide TTL applies (none: the item stays until removed or evicted)."""
        self._store_ttl(key, value, self._default_ttl if ttl is None else self._timer_w.ttl_number(ttl))

    def __delitem__(self, key: KT) -> None:
        with self._lock:
            if key not in self._data:
                raise KeyError(key)
            expired = self._expiring and not self._live(key)
            self._remove(key, RemovalCause.EXPIRED if expired else RemovalCause.EXPLICIT)
            if expired:
                self._expirations += 1
        self._release()
        if expired:
            raise KeyError(key)

    def __iter__(self) -> Iterator[KT]:
        if self._expiring:
            return self._live_keys(list(self._data))
        return self._iter_keys()

    def _live_keys(self, keys: list[Any]) -> Iterator[KT]:
        # A snapshot in insertion order, skipping what has expired when reached,
        # so mutating the cache while iterating is allowed (as in cachetools).
        for key in keys:
            with self._lock:
                live = self._live(key)
            if live:
                yield key

    def _iter_keys(self) -> Iterator[KT]:
        mutations, used = self._mutations, len(self._data)
        keys = iter(list(self._data))
        name = type(self).__name__
        while True:
            if self._mutations != mutations:
                if len(self._data) != used:
                    raise RuntimeError("%s changed size during iteration" % name)
                raise RuntimeError("%s keys changed during iteration" % name)
            try:
                key = next(keys)
            except StopIteration:
                return
            yield key

    def __reversed__(self) -> Iterator[KT]:
        return iter(list(self._data)[::-1])

    def get(self, key: KT, default: Any = None) -> Any:
        """Return the (live) value for key (updating the policy's order), else default."""
        with self._lock:
            if self._live(key):
                self._hits += 1
                self._on_access(key)
                return self._data[key]
            self._misses += 1
            return default

    def get_or_load(self, key: KT, loader: Callable[[KT], VT], ttl: Optional[float] = None) -> Any:
        """The value for key; on a miss ``loader(key)`` runs once across threads
        (single-flight: concurrent callers wait for its result or exception) and
        its result is stored, with ``ttl`` where the cache takes one."""
        value = self.get(key, _marker)
        if value is not _marker:
            return value
        from ..loading import load_missing
        return load_missing(self, key, loader, ttl)

    def peek(self, key: KT, default: Any = None) -> Any:
        """Return the (live) value for key without counting it as a use, else default."""
        if not self._expiring:
            return self._data.get(key, default)
        with self._lock:
            return self._data[key] if self._live(key) else default

    def pop(self, key: KT, default: Any = _marker) -> Any:
        """Remove key and return its (live) value; default (or KeyError) if absent or expired."""
        with self._lock:
            if not self._live(key):
                if default is _marker:
                    raise KeyError(key)
                return default
            value = self._remove(key, RemovalCause.EXPLICIT)
        self._release()
        return value

    def popitem(self) -> tuple[KT, VT]:
        """Remove and return the (key, value) pair the policy evicts next (expired items go first)."""
        if self._expiring:
            with self._lock, self._timer_w:
                self._run_expire(self._timer_w.now())
                return self._pop_victim()
        return self._pop_victim()

    def _pop_victim(self) -> tuple[KT, VT]:
        with self._lock:
            key = self._victim()
            if key is _marker:
                raise KeyError("%s is empty" % type(self).__name__) from None
            cause = RemovalCause.SIZE if self._evicting else RemovalCause.EXPLICIT
            value = self._remove(key, cause)
            if cause is RemovalCause.SIZE:
                self._evictions += 1
        self._release()
        return key, value

    def setdefault(self, key: KT, default: Any = None) -> Any:
        """Return cache[key] if present and live (a use), else store and return default."""
        if self._expiring:
            with self._lock, self._timer_w:         # one time for the check and the write
                if key in self:
                    return self[key]
                self[key] = default
                return default
        with self._lock:
            if key in self:
                return self[key]
            self[key] = default
            return default

    def update(self, other: Any = (), /, **kwargs: Any) -> None:
        """Store every item of other and kwargs, as dict.update does."""
        if isinstance(other, Mapping):
            for key in other:
                self[key] = other[key]
        elif hasattr(other, "keys"):
            for key in other.keys():
                self[key] = other[key]
        else:
            for key, value in other:
                self[key] = value
        for key, value in kwargs.items():
            self[key] = value  # type: ignore[index]

    def clear(self) -> None:
        """Remove every item (listeners see cause EXPLICIT)."""
        with self._lock:
            for key, value in self._data.items():
                self._removed.append((key, value, RemovalCause.EXPLICIT))
            self._data.clear()
            self._sizes.clear()
            self._currsize = 0
            self._mutations += 1
            self._expiry.clear()
            self._on_clear()
        self._release()

    def keys(self) -> KeysView[KT]:
        return KeysView(self)

    def values(self) -> ValuesView[VT]:
        return ValuesView(self)

    def items(self) -> ItemsView[KT, VT]:
        return ItemsView(self)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Mapping):
            return NotImplemented
        return dict(self.items()) == dict(other.items())

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        currsize = self.currsize
        return "%s(%r, maxsize=%r, currsize=%r)" % (
            type(self).__name__, dict(self._data), self._maxsize_obj, currsize)

    @property
    def maxsize(self) -> Union[int, float]:
        """The maximum size of the cache."""
        return self._maxsize_obj  # type: ignore[return-value]

    @property
    def currsize(self) -> int:
        """The current size of the cache (the sum of the live items' sizes)."""
        if self._expiring:
            with self._lock:
                self._run_expire(self._timer_w.now())
            self._release()
        return self._currsize

    def expire(self, time: Any = None) -> list[tuple[KT, VT]]:
        """Remove expired items (as of ``time``, default now); return the removed
        (key, value) pairs in expiry order."""
        if not self._expiring:
            return []
        now = self._timer_w.now() if time is None else self._timer_w.number(time)
        with self._lock:
            out = self._expire_at(now)
        self._release()
        return out

    def expires_at(self, key: KT, default: Any = None) -> Any:
        """The time at which key expires on the cache's timer (inf: never), else default."""
        with self._lock:
            if not self._live(key):
                return default
            return self._timer_w.time_of(self._expiry.expires(key)) if self._expiring else math.inf

    @property
    def ttl(self) -> Any:
        """The cache-wide time to live as given, or None."""
        return self._ttl_obj

    @property
    def timer(self) -> Timer:
        """The timer (a wrapper that can freeze time in a ``with`` block)."""
        return self._timer_w

    @staticmethod
    def getsizeof(value: Any) -> int:
        """Return the size of a cache element's value (1 unless overridden)."""
        return 1

    @property
    def on_evict(self) -> Optional[Listener]:
        """The removal listener ``on_evict(key, value, cause)``, or None."""
        return self._on_evict

    @on_evict.setter
    def on_evict(self, listener: Optional[Listener]) -> None:
        if listener is not None and not callable(listener):
            raise TypeError("on_evict must be callable or None")
        self._on_evict = listener

    def stats(self) -> CacheStats:
        """Return CacheStats(hits, misses, evictions, expirations, currsize, maxsize)."""
        return CacheStats(self._hits, self._misses, self._evictions, self._expirations,
                          self.currsize, self._maxsize_obj)

    def reset_stats(self) -> None:
        """Zero the hit, miss, eviction and expiration counters."""
        self._hits = self._misses = self._evictions = self._expirations = 0

    # ------------------------------------------------------- copy and pickle

    def _params(self) -> dict[str, Any]:
        return {"maxsize": self._maxsize_obj, "getsizeof": self._getsizeof_arg,
                "on_evict": self._on_evict, "timer": self._timer_w._timer, "ttl": self._ttl_obj}

    def __getstate__(self) -> dict[str, Any]:
        with self._lock:
            items = [(k, v, self._sizes[k] if self._weighted else 1) for k, v in self._data.items()]
            positions = {k: i for i, k in enumerate(self._data)}
            inst = dict(self.__dict__)
            inst.pop("getsizeof", None)
            expiry = None
            if self._expiring:
                expiry = [(positions[k], e, ttl) for k, e, ttl in self._expiry.records()]
            return {"params": self._params(), "items": items,
                    "policy": self._policy_state(positions), "expiry": expiry, "dict": inst,
                    "stats": (self._hits, self._misses, self._evictions, self._expirations)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state["dict"])
        self._init_from_params(state["params"])
        keys = []
        for key, value, size in state["items"]:
            self._append(key, value, size)
            keys.append(key)
        self._restore_policy(state["policy"], keys)
        if state.get("expiry") is not None:
            self._expiring = True
            for pos, expires, ttl in state["expiry"]:
                self._expiry.schedule(keys[pos], expires, ttl)
        self._hits, self._misses, self._evictions, self._expirations = state["stats"]
        if self._expiring:
            self.expire()

    def _init_from_params(self, params: dict[str, Any]) -> None:
        self._init_table(params["maxsize"], params["getsizeof"], params["on_evict"])
        self._init_expiry(params.get("timer", _time.monotonic), params.get("ttl"))

    def __reduce_ex__(self, protocol: Any) -> Any:
        return (copyreg.__newobj__, (type(self),), self.__getstate__())  # type: ignore[attr-defined]

    def __copy__(self) -> "Table[KT, VT]":
        state = self.__getstate__()
        new: Table[KT, VT] = type(self).__new__(type(self))
        new.__setstate__(state)
        return new
