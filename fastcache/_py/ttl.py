"""LRU cache with per-item time-to-live (pure Python twin of ``fastcache._core.ttl``)."""
from __future__ import annotations

import time as _time
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any, Callable, Optional, Union

from .._clock import DatetimeClock, clock_for_ttl
from .._types import RemovalCause, ttl_seconds
from ._expiry import Expiry
from ._table import KT, VT, Table, _marker

__all__ = ("TTLCache", "Timer")


def as_time(t: object) -> float:
    """The timer's value as a float; only real numbers are accepted."""
    if isinstance(t, (int, float)) and not isinstance(t, bool):
        return float(t)
    raise TypeError("timer must return a real number of seconds, not %r" % type(t).__name__)


def check_ttl(ttl: object) -> float:
    """Validate a time-to-live: a positive number of seconds, ``inf`` for never (the one rule, _types)."""
    return ttl_seconds(ttl)


class Timer:
    """The cache's timer: call it for the time; ``with cache.timer as now``
    freezes time for everything the cache does inside the block (nestable),
    as in cachetools.  Other attributes are forwarded to the wrapped timer."""

    __slots__ = ("_timer", "_nesting", "_frozen", "_frozen_obj", "clock")

    def __init__(self, timer: Callable[[], Any]) -> None:
        if not callable(timer):
            raise TypeError("timer must be callable")
        self._timer = timer
        self._nesting = 0
        self._frozen = 0.0
        self._frozen_obj: Any = None
        #: set by a cache whose TTL is a timedelta: maps the timer's datetimes to numbers
        self.clock: Optional[DatetimeClock] = None

    def number(self, t: object) -> float:
        """A time of this timer's as a float (datetimes through the clock)."""
        if self.clock is not None:
            return self.clock.number(t)
        return as_time(t)

    def ttl_number(self, ttl: object) -> float:
        """A TTL as a float on this timer's scale: checked as ``check_ttl`` (or the clock) does."""
        if self.clock is None:
            return check_ttl(ttl)
        return self.clock.ttl(ttl)

    def time_of(self, t: float) -> Any:
        """A float time as a value of the user's timer (a datetime with a clock)."""
        return t if self.clock is None else self.clock.time(t)

    def now(self) -> float:
        """The current (or frozen) time as a float."""
        if self._nesting:
            return self._frozen
        return self.number(self._timer())

    def __call__(self) -> Any:
        if self._nesting:
            return self._frozen_obj
        return self._timer()

    def __enter__(self) -> Any:
        if self._nesting == 0:
            t = self._timer()
            self._frozen = self.number(t)
            self._frozen_obj = t
        self._nesting += 1
        return self._frozen_obj

    def __exit__(self, *exc: object) -> None:
        self._nesting -= 1

    def __copy__(self) -> "Timer":
        return Timer(self._timer)

    def __deepcopy__(self, memo: dict[int, Any]) -> "Timer":
        import copy
        return Timer(copy.deepcopy(self._timer, memo))

    def __reduce__(self) -> Any:
        return Timer, (self._timer,)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._timer, name)


class TTLCache(Table[KT, VT]):
    """LRU cache whose items expire: a drop-in for ``cachetools.TTLCache``.

    An item stored at time ``t`` lives while ``timer() < t + ttl``;
    ``set(key, value, ttl=...)`` gives one item its own TTL.  Expired items
    are never returned, counted or iterated, and are removed by ``expire()``.
    Structure: an OrderedDict in use order and the expiry component
    (:class:`~fastcache._py._expiry.Expiry`, shared with AdaptiveCache).
    """

    __slots__ = ("_order", "_expiry", "_timer_w", "_ttl_obj",
                 "_default_ttl", "_pending_ttl", "_now", "_custom_expire")
    _order: OrderedDict[Any, None]
    _expiry: Expiry
    _timer_w: Timer
    _ttl_obj: Any
    _default_ttl: float
    _pending_ttl: float
    _now: float
    _custom_expire: bool

    def __init__(self, maxsize: Union[int, float], ttl: Any,
                 timer: Callable[[], Any] = _time.monotonic,
                 getsizeof: Optional[Callable[[Any], int]] = None, *,
                 on_evict: Optional[Callable[[Any, Any, RemovalCause], object]] = None) -> None:
        self._init_from_params({"maxsize": maxsize, "ttl": ttl, "timer": timer,
                                "getsizeof": getsizeof, "on_evict": on_evict})

    def _init_from_params(self, params: dict[str, Any]) -> None:
        timer = Timer(params["timer"])
        timer.clock = clock_for_ttl(params["ttl"])
        ttl = timer.ttl_number(params["ttl"])
        self._init_table(params["maxsize"], params["getsizeof"], params["on_evict"])
        self._timer_w = timer
        self._ttl_obj = params["ttl"]
        self._default_ttl = ttl
        self._pending_ttl = ttl
        self._now = 0.0
        self._custom_expire = getattr(type(self), "expire") is not TTLCache.expire

    def _params(self) -> dict[str, Any]:
        params = super()._params()
        params["ttl"] = self._ttl_obj
        params["timer"] = self._timer_w._timer
        return params

    # ------------------------------------------------------------ expiry

    def _run_expire(self, now: float) -> None:
        if self._custom_expire:
            self.expire(self._timer_w() if self._timer_w._nesting else self._timer_w.time_of(now))
        else:
            self._expire_at(now)

    # ------------------------------------------------------- table hooks

    def _before_store(self) -> None:
        self._run_expire(self._now)

    def _on_insert(self, key: Any) -> None:
        self._order[key] = None
        self._order.move_to_end(key)
        self._expiry.schedule(key, self._now + self._pending_ttl, self._pending_ttl)

    _on_update = _on_insert

    def _on_access(self, key: Any) -> None:
        self._order.move_to_end(key)

    def _on_remove(self, key: Any) -> None:
        del self._order[key]
        self._expiry.forget(key)

    def _victim(self) -> Any:
        return next(iter(self._order), _marker)

    def _on_clear(self) -> None:
        self._order = OrderedDict()
        self._expiry = Expiry()

    def _live(self, key: Any, now: float) -> bool:
        deadline = self._expiry.deadline(key)
        return deadline is not None and now < deadline

    def _store_ttl(self, key: Any, value: Any, ttl: float) -> None:
        # The lock first: the timer's freeze counter is shared by all threads.
        with self._lock, self._timer_w:
            self._now = now = self._timer_w.now()
            if self._timer_w.clock is not None:
                self._timer_w.clock.check_expiry(now, ttl)
            self._pending_ttl = ttl
            self._store(key, value)

    # ---------------------------------------------------------- mapping API

    def __setitem__(self, key: KT, value: VT) -> None:
        self._store_ttl(key, value, self._default_ttl)

    def set(self, key: KT, value: VT, ttl: Any = None) -> None:
        """Store value under key; ``ttl`` (seconds, or a timedelta) overrides the cache's TTL for it."""
        self._store_ttl(key, value, self._default_ttl if ttl is None else self._timer_w.ttl_number(ttl))

    def __getitem__(self, key: KT) -> VT:
        with self._lock:
            if key in self._data:
                self._order.move_to_end(key)    # cachetools counts the use even if expired
                if self._live(key, self._timer_w.now()):
                    self._hits += 1
                    return self._data[key]  # type: ignore[no-any-return]
            self._misses += 1
        return self.__missing__(key)

    def get(self, key: KT, default: Any = None) -> Any:
        """Return the live value for key and mark it used, else default."""
        with self._lock:
            if key in self._data and self._live(key, self._timer_w.now()):
                self._hits += 1
                self._order.move_to_end(key)
                return self._data[key]
            self._misses += 1
            return default

    def peek(self, key: KT, default: Any = None) -> Any:
        """Return the live value for key without marking it used, else default."""
        with self._lock:
            if key in self._data and self._live(key, self._timer_w.now()):
                return self._data[key]
            return default

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._data and self._live(key, self._timer_w.now())

    def __delitem__(self, key: KT) -> None:
        with self._lock:
            if key not in self._data:
                raise KeyError(key)
            expired = not self._live(key, self._timer_w.now())
            self._remove(key, RemovalCause.EXPIRED if expired else RemovalCause.EXPLICIT)
            if expired:
                self._expirations += 1
        self._release()
        if expired:
            raise KeyError(key)

    def pop(self, key: KT, default: Any = _marker) -> Any:
        """Remove key and return its live value; default (or KeyError) if absent or expired."""
        with self._lock:
            if key not in self._data or not self._live(key, self._timer_w.now()):
                if default is _marker:
                    raise KeyError(key)
                return default
            value = self._remove(key, RemovalCause.EXPLICIT)
        self._release()
        return value

    def setdefault(self, key: KT, default: Any = None) -> Any:
        """Return the live value for key (a use), else store and return default."""
        with self._lock, self._timer_w:
            return super().setdefault(key, default)

    def popitem(self) -> tuple[KT, VT]:
        """Remove and return the least recently used (key, value) pair that has not expired."""
        with self._lock, self._timer_w:
            self._run_expire(self._timer_w.now())
            return super().popitem()

    def expire(self, time: Any = None) -> list[tuple[KT, VT]]:
        """Remove expired items; return the removed (key, value) pairs in expiry order."""
        now = self._timer_w.now() if time is None else self._timer_w.number(time)
        with self._lock:
            out = self._expire_at(now)
        self._release()
        return out

    def __len__(self) -> int:
        with self._lock:
            self._run_expire(self._timer_w.now())
        self._release()
        return len(self._data)

    @property
    def currsize(self) -> int:
        """The current size of the live items."""
        with self._lock:
            self._run_expire(self._timer_w.now())
        self._release()
        return self._currsize

    def __iter__(self) -> Iterator[KT]:
        # A snapshot in insertion order, skipping what has expired when reached,
        # so mutating the cache while iterating is allowed (as in cachetools).
        for key in list(self._data):
            with self._lock:
                live = key in self._data and self._live(key, self._timer_w.now())
            if live:
                yield key

    @property
    def ttl(self) -> Any:
        """The cache-wide time-to-live."""
        return self._ttl_obj

    @property
    def timer(self) -> Timer:
        """The timer (a wrapper that can freeze time in a ``with`` block)."""
        return self._timer_w

    def expires_at(self, key: KT, default: Any = None) -> Any:
        """Return the time at which key expires (on the cache's timer), else default."""
        with self._lock:
            if key in self._data and self._live(key, self._timer_w.now()):
                return self._timer_w.time_of(self._expiry.expires(key))
            return default

    def _policy_state(self, positions: dict[Any, int]) -> Any:
        return {"lru": [positions[k] for k in self._order],
                "expiry": [(positions[k], e, ttl) for k, e, ttl in self._expiry.records()]}

    def _restore_policy(self, state: Any, keys: list[Any]) -> None:
        self._on_clear()
        for pos in state["lru"]:
            self._order[keys[pos]] = None
        for pos, expires, ttl in state["expiry"]:
            self._expiry.schedule(keys[pos], expires, ttl)

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self.expire()
