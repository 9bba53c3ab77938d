"""A Hypothesis state machine drives CacheAside's freshness rules (refresh-ahead,
stale-while-revalidate, stale-if-error, negative caching) against a reference model
written from the rules, with a fake clock and background reloads run inline."""
from __future__ import annotations

from concurrent.futures import Executor, Future
from typing import Any, Callable, Optional

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule

from conftest import FakeTimer
from fastcache import LRUCache, TTLCache
from fastcache.patterns import CacheAside

KEYS = st.sampled_from(["a", "b", "c"])


class Inline(Executor):
    """Runs a submitted background reload at once, so the model can follow it."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        fut: Future[Any] = Future()
        fut.set_result(fn(*args, **kwargs))
        return fut


class StoreDown(Exception):
    pass


class FreshnessMachine(RuleBasedStateMachine):
    @initialize(ttl=st.sampled_from([5.0, 10.0]), threshold=st.sampled_from([None, 0.5, 0.8]),
                swr=st.sampled_from([None, 3.0]), sie=st.sampled_from([None, 4.0, 20.0]),
                neg=st.sampled_from([None, 2.0]), ttl_cache=st.booleans())
    def setup(self, ttl: float, threshold: Optional[float], swr: Optional[float], sie: Optional[float],
              neg: Optional[float], ttl_cache: bool) -> None:
        self.t = FakeTimer(1000.0)
        self.ttl, self.threshold, self.swr, self.sie, self.neg = ttl, threshold, swr, sie, neg
        self.fail = False
        self.version = self.calls = 0
        plain = threshold is None and swr is None and sie is None and neg is None
        ttl_cache = ttl_cache or plain           # plain mode needs the cache's own per-item TTL
        cache = TTLCache(100, ttl=10_000, timer=self.t) if ttl_cache else LRUCache(100)
        self.aside = CacheAside(cache, self.load, ttl=ttl, refresh_threshold=threshold,
                                stale_while_revalidate=swr, stale_if_error=sie, negative_ttl=neg,
                                timer=self.t, executor=Inline())
        self.model: dict[str, tuple[Any, float, bool]] = {}     # key -> (value or error, loaded_at, is_error)

    def load(self, key: str) -> str:
        self.calls += 1                           # the real loader's count; the model keeps its own
        if self.fail:
            raise StoreDown(f"{key} #{self.calls}")
        return f"{key}#{self.calls}"

    # -- the model: the rules of the module docstring, one read at a time ----------
    def model_load(self, key: str) -> Any:
        self.version += 1
        if self.fail:
            if self.neg is not None:
                self.model[key] = ("error", self.t(), True)
            return StoreDown
        value = f"{key}#{self.version}"
        self.model[key] = (value, self.t(), False)
        return value

    def model_refresh(self, key: str) -> None:
        self.version += 1
        if not self.fail:
            self.model[key] = (f"{key}#{self.version}", self.t(), False)

    def model_get(self, key: str) -> Any:
        entry = self.model.get(key)
        if entry is not None:
            value, at, is_error = entry
            age = self.t() - at
            if is_error:
                if age < self.neg:
                    return StoreDown
            elif age < self.ttl:
                if self.threshold is not None and age >= self.ttl * self.threshold:
                    self.model_refresh(key)
                return value
            elif self.swr is not None and age - self.ttl < self.swr:
                self.model_refresh(key)
                return value
            elif self.sie is not None and age - self.ttl < self.sie:
                got = self.model_load_keep(key)
                return value if got is StoreDown else got
        return self.model_load(key)

    def model_load_keep(self, key: str) -> Any:
        """A stale-if-error reload: a failure leaves the entry as it was."""
        self.version += 1
        if self.fail:
            return StoreDown
        value = f"{key}#{self.version}"
        self.model[key] = (value, self.t(), False)
        return value

    # -- rules -----------------------------------------------------------------------
    @rule(key=KEYS)
    def get(self, key: str) -> None:
        expected = self.model_get(key)
        if expected is StoreDown:
            with pytest.raises(StoreDown):
                self.aside.get(key)
        else:
            assert self.aside.get(key) == expected

    @rule(dt=st.sampled_from([0.5, 1.0, 2.5, 4.0, 7.0, 30.0]))
    def tick(self, dt: float) -> None:
        self.t.tick(dt)

    @rule()
    def toggle_store(self) -> None:
        self.fail = not self.fail

    @rule(key=KEYS)
    def invalidate(self, key: str) -> None:
        self.aside.invalidate(key)
        self.model.pop(key, None)


TestFreshness = FreshnessMachine.TestCase
TestFreshness.settings = settings(max_examples=300, stateful_step_count=40, deadline=None)
