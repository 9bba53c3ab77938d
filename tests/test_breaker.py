"""The circuit breaker on a fake clock: open, half-open trial, close - and never stuck."""
from __future__ import annotations

import pytest

from fastcache.breaker import Admission, CircuitBreaker

from conftest import FakeTimer


def opened(timer: FakeTimer, threshold: int = 3, cooldown: float = 10) -> CircuitBreaker:
    b = CircuitBreaker(threshold, cooldown, timer=timer)
    for _ in range(threshold):
        assert b.allow() is Admission.CALL
        b.failure(OSError("down"))
    assert b.state == "open" and b.opened == 1
    return b


def test_threshold_opens_cooldown_then_one_trial(timer: FakeTimer) -> None:
    b = opened(timer)
    assert b.allow() is Admission.SKIP
    timer.tick(10)
    assert b.state == "half-open"
    assert b.allow() is Admission.TRIAL
    assert b.allow() is Admission.SKIP               # one trial at a time
    b.success()
    assert b.state == "closed" and b.allow() is Admission.CALL


def test_a_failed_trial_restarts_the_cooldown(timer: FakeTimer) -> None:
    b = opened(timer)
    timer.tick(10)
    trial = b.allow()
    b.failure(OSError("still down"), trial)
    assert b.allow() is Admission.SKIP and b.state == "open"
    timer.tick(10)
    assert b.allow() is Admission.TRIAL


def test_an_abandoned_trial_is_given_back(timer: FakeTimer) -> None:
    # The trial's task was cancelled: no verdict.  The next call is the trial
    # (before this rule the breaker stayed half-open for good).
    b = opened(timer)
    timer.tick(10)
    trial = b.allow()
    assert trial is Admission.TRIAL and b.allow() is Admission.SKIP
    b.abandon(trial)
    assert b.state == "half-open" and b.allow() is Admission.TRIAL
    b.abandon(Admission.CALL)                         # not the trial: changes nothing
    assert b.allow() is Admission.SKIP


def test_late_failures_do_not_restart_the_cooldown(timer: FakeTimer) -> None:
    # Calls admitted before the breaker opened (or writes, which do not ask it) fail
    # for a while after an outage starts; they must not push the recovery away.
    b = opened(timer)
    for _ in range(20):
        timer.tick(0.5)
        b.failure(TimeoutError("late"))               # admitted as CALL, or a write
    assert b.state == "half-open"                      # 10 s after it opened, not after the last
    trial = b.allow()
    assert trial is Admission.TRIAL
    b.failure(TimeoutError("late"))                    # a late failure during the trial ...
    assert b.allow() is Admission.SKIP and b.state == "half-open"    # ... leaves the trial alone
    b.success()
    assert b.state == "closed"


@pytest.mark.parametrize("bad", [0, -1, True, 1.5])
def test_threshold_is_checked(bad: object) -> None:
    with pytest.raises(ValueError):
        CircuitBreaker(bad)  # type: ignore[arg-type]
