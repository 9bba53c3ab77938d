"""Timers whose values are not numbers: ``datetime`` times with ``timedelta`` TTLs.

cachetools lets a ``TTLCache`` run on any timer whose values support
``time + ttl`` and comparison, e.g. ``TTLCache(n, ttl=timedelta(days=1),
timer=datetime.now)``.  fastcache's expiry structures hold times as floats, so
such a cache gets a :class:`DatetimeClock` that maps its times to whole
microseconds from a fixed origin (2000-01-01 in the timer's own time zone) and
back.  Whole microseconds are exact in a float for 285 years either side of the
origin, so ``now < expires`` gives the same answer as on the ``datetime``
values, and pickled expiry times stay valid (the origin depends only on the
time zone).  Numeric timers never see this module: their path is unchanged.
"""
from __future__ import annotations

import datetime as _dt
from typing import Any, Optional

__all__ = ("DatetimeClock", "clock_for_ttl")

_MICROSECOND = _dt.timedelta(microseconds=1)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def clock_for_ttl(ttl: object) -> Optional["DatetimeClock"]:
    """The clock a TTL needs: None for a number of seconds, a DatetimeClock for a timedelta."""
    if _is_number(ttl):
        return None
    if isinstance(ttl, _dt.timedelta):
        return DatetimeClock()
    raise TypeError("ttl must be a number of seconds (or a datetime.timedelta), not %s" % type(ttl).__name__)


class DatetimeClock:
    """Maps ``datetime`` (or ``date``) times to float microseconds and ``timedelta`` TTLs to microseconds."""

    __slots__ = ("origin",)

    def __init__(self) -> None:
        self.origin: Any = None

    def _origin_for(self, t: object) -> Any:
        if isinstance(t, _dt.datetime):
            return _dt.datetime(2000, 1, 1, tzinfo=t.tzinfo)
        if isinstance(t, _dt.date):
            return _dt.date(2000, 1, 1)
        raise TypeError("with a timedelta ttl the timer must return datetime values, not %r"
                        % type(t).__name__)

    def number(self, t: object) -> float:
        """A time as microseconds since the origin."""
        origin = self.origin
        if origin is None:
            origin = self.origin = self._origin_for(t)
        try:
            return (t - origin) / _MICROSECOND  # type: ignore[no-any-return]
        except TypeError:
            raise TypeError("with a timedelta ttl the timer must return datetime values comparable "
                            "with %r, not %r" % (origin, t)) from None

    def ttl(self, ttl: object, what: str = "ttl") -> float:
        """A TTL as a positive number of microseconds."""
        if not isinstance(ttl, _dt.timedelta):
            raise TypeError("%s must be a datetime.timedelta for a cache with a timedelta ttl, not %r"
                            % (what, type(ttl).__name__))
        micros = ttl / _MICROSECOND
        if micros <= 0:
            raise ValueError("%s must be positive, got %r" % (what, ttl))
        return micros

    def check_expiry(self, now: float, ttl: float) -> None:
        """Raise OverflowError, as ``datetime + timedelta`` does, if ``now + ttl`` is past the last datetime."""
        origin = self.origin
        if origin is None:
            return
        last = _dt.datetime.max.replace(tzinfo=origin.tzinfo) if isinstance(origin, _dt.datetime) else _dt.date.max
        if now + ttl > (last - origin) / _MICROSECOND:
            raise OverflowError("date value out of range")

    def time(self, micros: float) -> Any:
        """A number of microseconds since the origin as a time again."""
        if self.origin is None:
            return micros
        if micros == float("inf"):
            return None
        return self.origin + _dt.timedelta(microseconds=micros)

    def __reduce__(self) -> Any:
        return DatetimeClock, ()
