"""A circuit breaker for a remote tier: stop calling it while it keeps failing.

Closed: calls go through; ``threshold`` consecutive failures open it.
Open: calls are skipped for ``cooldown`` seconds.  Then half-open: one
trial call goes through; success closes the breaker, failure opens it for
another cool-down.  The clock is injectable.  Each incident (closed ->
open) is logged once, and its end once.

Two rules keep it from sticking.  A trial that ends without a verdict (its
task cancelled, a timeout around it) is given back with :meth:`abandon`, so
the next call becomes the trial; and only the trial's failure restarts the
cool-down: calls admitted before the breaker opened (or writes, which do not
ask it) keep failing for a while after an outage starts, and those late
failures do not push the recovery further away.
"""
from __future__ import annotations

import enum
import logging
import threading
import time
from typing import Callable, Optional

__all__ = ("CircuitBreaker", "Admission")


class Admission(enum.IntEnum):
    """What :meth:`CircuitBreaker.allow` decided (true for a call that may go ahead)."""

    SKIP = 0        # open: do not call the tier
    CALL = 1        # closed: call it
    TRIAL = 2       # half-open: this call is the one trial; report its verdict, or abandon() it

log = logging.getLogger("fastcache.tiered")


class CircuitBreaker:
    """Counts consecutive failures of a tier and decides whether to call it."""

    CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"

    def __init__(self, threshold: int = 5, cooldown: float = 5.0, *,
                 timer: Optional[Callable[[], float]] = None, name: str = "L2") -> None:
        if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 1:
            raise ValueError(f"threshold must be a positive int, got {threshold!r}")
        if isinstance(cooldown, bool) or not isinstance(cooldown, (int, float)) or cooldown < 0:
            raise ValueError(f"cooldown must be a non-negative number of seconds, got {cooldown!r}")
        self.threshold = threshold
        self.cooldown = float(cooldown)
        self.name = name
        self._timer = timer or time.monotonic
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at = 0.0
        self._state = self.CLOSED
        self._trial = False
        self._incident = False
        self.opened = 0                 # how many times it opened

    @property
    def state(self) -> str:
        """closed, open or half-open."""
        with self._lock:
            if self._state == self.OPEN and self._timer() - self._opened_at >= self.cooldown:
                return self.HALF_OPEN
            return self._state

    def allow(self) -> Admission:
        """Whether to call the tier now (truthy: call it; TRIAL: as the half-open trial)."""
        if self._state == self.CLOSED:      # the common case, read without the lock: a call
            return Admission.CALL           # racing a trip is one more call, as if a moment earlier
        with self._lock:
            if self._state == self.CLOSED:
                return Admission.CALL
            if self._timer() - self._opened_at < self.cooldown:
                return Admission.SKIP
            if self._trial:             # one trial at a time while half-open
                return Admission.SKIP
            self._trial = True
            return Admission.TRIAL

    def abandon(self, admission: Admission) -> None:
        """The call admitted as ``admission`` ended without a verdict (cancelled): if it was
        the trial, the next call becomes the trial."""
        if admission is Admission.TRIAL:
            with self._lock:
                self._trial = False

    def success(self) -> None:
        """The tier answered."""
        if self._state == self.CLOSED and not self._failures and not self._incident:
            return                          # nothing to reset (the common case, no lock taken)
        with self._lock:
            if self._incident:
                log.warning("%s is answering again; circuit closed", self.name)
            self._failures = 0
            self._state = self.CLOSED
            self._trial = False
            self._incident = False

    def failure(self, exc: BaseException, admission: Admission = Admission.CALL) -> None:
        """The tier failed (error or timeout) on a call admitted as ``admission`` (CALL for a
        call that did not ask, such as a write)."""
        with self._lock:
            self._failures += 1
            if not self._incident:
                self._incident = True
                log.warning("%s failed (%s: %s); serving without it while it fails", self.name,
                            type(exc).__name__, exc)
            if self._state == self.CLOSED:
                if self._failures >= self.threshold:
                    self.opened += 1
                    self._state = self.OPEN
                    self._opened_at = self._timer()
                    self._trial = False
            elif admission is Admission.TRIAL:
                self._opened_at = self._timer()     # the trial failed: another cool-down
                self._trial = False
            # else: a call admitted before the breaker opened, failing late: the
            # cool-down is not restarted (nor is a trial in flight disturbed)
