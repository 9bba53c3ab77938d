"""The caches' clock: :class:`Timer` wraps the user's timer, freezes time for a block
(``with cache.timer as now``, as in cachetools) and reads ``time.monotonic``'s clock
straight from C when that is the timer (Linux).  One structure, one file: every
compiled cache that expires items cimports it."""
import time as _time
from cpython.float cimport PyFloat_AsDouble
from fastcache._types import TTL_TYPE_ERROR, TTL_VALUE_ERROR


cdef double as_time(object t) except? -1.0:
    if isinstance(t, (int, float)) and not isinstance(t, bool):
        return PyFloat_AsDouble(t)
    raise TypeError("timer must return a real number of seconds, not %r" % type(t).__name__)


cdef double check_ttl(object ttl) except? -1.0:
    # the one rule of fastcache._types.ttl_seconds (a positive number of seconds, inf: never)
    if isinstance(ttl, bool) or not isinstance(ttl, (int, float)):
        raise TypeError(TTL_TYPE_ERROR % ("ttl", type(ttl).__name__))
    cdef double t = ttl
    if not t > 0:
        raise ValueError(TTL_VALUE_ERROR % ("ttl", ttl))
    return t


def coarse_monotonic():
    """``time.monotonic``'s clock at the kernel tick's resolution (Linux's
    ``CLOCK_MONOTONIC_COARSE``, a few nanoseconds to read): a cache whose timer this
    is reads it in C and writes each deadline ``Timer.slack`` early (two ticks: the
    coarse clock lags by up to a tick plus the kernel's update latency, seen at 4.2 ms
    with 4 ms ticks), so no item outlives its TTL; it may expire up to three ticks early.
    ``time.monotonic`` where there is no usable coarse clock."""
    if COARSE_RESOLUTION > 0:
        return fc_coarse_now()
    return _time.monotonic()


cdef double COARSE_RESOLUTION = fc_coarse_resolution() if FC_FAST_MONOTONIC else -1.0
if COARSE_RESOLUTION > 0.05:            # too coarse to be useful for deadlines
    COARSE_RESOLUTION = -1.0


def coarse_clock_slack():
    """How far ``coarse_monotonic`` may lag ``time.monotonic`` (two ticks), in seconds, or
    None where it is ``time.monotonic``."""
    return 2 * COARSE_RESOLUTION if COARSE_RESOLUTION > 0 else None


cdef class Timer:
    """The cache's timer: call it for the time; ``with cache.timer as now``
    freezes time for everything the cache does inside the block (nestable),
    as in cachetools.  Other attributes are forwarded to the wrapped timer."""

    def __cinit__(self, timer):
        if not callable(timer):
            raise TypeError("timer must be callable")
        self._timer = timer
        self.nesting = 0
        self.fast_monotonic = FC_FAST_MONOTONIC and timer is _time.monotonic
        self.coarse = timer is coarse_monotonic and COARSE_RESOLUTION > 0
        self.slack = 2 * COARSE_RESOLUTION if self.coarse else 0.0
        self.clock = None

    cdef double number(self, object t) except? -1.0:
        """A time of this timer's as a double (datetimes through the clock)."""
        if self.clock is not None:
            return self.clock.number(t)
        return as_time(t)

    cdef double ttl_number(self, object ttl) except? -1.0:
        """A TTL as a double on this timer's scale."""
        if self.clock is None:
            return check_ttl(ttl)
        return self.clock.ttl(ttl)

    cdef object time_of(self, double t):
        """A double time as a value of the user's timer (a datetime with a clock)."""
        return t if self.clock is None else self.clock.time(t)

    cdef double now(self) except? -1.0:
        if self.nesting:
            return self.frozen
        if self.fast_monotonic:
            return fc_monotonic()
        if self.coarse:
            return fc_coarse_now()
        return self.number(self._timer())

    def __call__(self):
        if self.nesting:
            if self.frozen_obj is None:
                self.frozen_obj = self.frozen
            return self.frozen_obj
        return self._timer()

    def __enter__(self):
        if self.nesting == 0:
            t = self._timer()
            self.frozen = self.number(t)
            self.frozen_obj = t
        elif self.frozen_obj is None:
            self.frozen_obj = self.frozen
        self.nesting += 1
        return self.frozen_obj

    def __exit__(self, *exc):
        self.nesting -= 1

    def __copy__(self):
        return Timer(self._timer)

    def __deepcopy__(self, memo):
        import copy
        return Timer(copy.deepcopy(self._timer, memo))

    def __reduce__(self):
        return Timer, (self._timer,)

    def __getattr__(self, name):
        return getattr(self._timer, name)
