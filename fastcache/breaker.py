"""A circuit breaker for a remote tier: stop calling it while it keeps failing.

Closed: calls go through; ``threshold`` consecutive failures open it.
Open: calls are skipped for ``cooldown`` seconds.  Then half-open: one
trial call goes through; success closes the breaker, failure opens it for
another cool-down.  The clock is injectable.  Each incident (closed ->
open) is logged once, and its end once.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable, Optional

__all__ = ("CircuitBreaker",)

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

    def allow(self) -> bool:
        """Whether to call the tier now."""
        with self._lock:
            if self._state == self.CLOSED:
                return True
            if self._timer() - self._opened_at < self.cooldown:
                return False
            if self._trial:             # one trial at a time while half-open
                return False
            self._trial = True
            return True

    def success(self) -> None:
        """The tier answered."""
        with self._lock:
            if self._incident:
                log.warning("%s is answering again; circuit closed", self.name)
            self._failures = 0
            self._state = self.CLOSED
            self._trial = False
            self._incident = False

    def failure(self, exc: BaseException) -> None:
        """The tier failed (error or timeout)."""
        with self._lock:
            self._failures += 1
            if not self._incident:
                self._incident = True
                log.warning("%s failed (%s: %s); serving without it while it fails", self.name,
                            type(exc).__name__, exc)
            if self._trial or self._failures >= self.threshold:
                if self._state != self.OPEN:
                    self.opened += 1
                self._state = self.OPEN
                self._opened_at = self._timer()
                self._trial = False
