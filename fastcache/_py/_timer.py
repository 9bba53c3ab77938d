"""The caches' clock (pure Python twin of ``fastcache._core._timer``): :class:`Timer` wraps
the user's timer and freezes time for a block (``with cache.timer as now``, as in cachetools)."""
from __future__ import annotations

import time
from typing import Any, Callable, Optional

from .._clock import DatetimeClock
from .._types import ttl_seconds

__all__ = ("Timer", "as_time", "check_ttl", "coarse_monotonic", "coarse_clock_slack")


def coarse_monotonic() -> float:
    """``time.monotonic`` (the compiled twin reads the kernel's coarse clock where it can)."""
    return time.monotonic()


def coarse_clock_slack() -> Optional[float]:
    """``coarse_monotonic``'s resolution, or None where it is ``time.monotonic`` (always, here)."""
    return None


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
