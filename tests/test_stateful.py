"""Random operation sequences through compiled, pure Python, a reference model and cachetools.

Every operation runs on each subject and every result (value or exception
type) must agree.  The model below is the simplest statement of the
semantics: a dict in insertion order plus a logical clock of uses; cachetools
is the compatibility target itself.
"""
from __future__ import annotations

import copy
import pickle
from typing import Any, Callable, Optional

import cachetools
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from conftest import FakeTimer, _load_c, _load_py

KEYS = st.integers(min_value=0, max_value=7)
VALUES = st.integers(min_value=0, max_value=20)


def sizeof(value: Any) -> int:
    """Weights 0, 1 or 2: exercises zero-size items and multi-item evictions."""
    return value % 3


class Model:
    """The reference: obviously correct, O(n) everywhere."""

    def __init__(self, policy: str, maxsize: int, weighted: bool, ttl: float, timer: FakeTimer) -> None:
        self.policy, self.maxsize, self.weighted, self.ttl, self.timer = policy, maxsize, weighted, ttl, timer
        self.data: dict[Any, Any] = {}
        self.size: dict[Any, int] = {}
        self.last: dict[Any, int] = {}       # logical time of the last use (LRU/LFU/TTL) or write (FIFO)
        self.count: dict[Any, int] = {}
        self.expires: dict[Any, tuple[float, int]] = {}
        self.clock = 0

    def _tick(self) -> int:
        self.clock += 1
        return self.clock

    def _live(self, key: Any) -> bool:
        # every policy takes a per-item TTL; an item written without one never expires
        # (TTLCache: the cache-wide TTL)
        return key not in self.expires or self.timer.time < self.expires[key][0]

    def _use(self, key: Any) -> None:
        if self.policy in ("lru", "lfu", "ttl"):
            self.last[key] = self._tick()
        if self.policy == "lfu":
            self.count[key] += 1

    def _write(self, key: Any, ttl: Optional[float]) -> None:
        self.last[key] = self._tick()
        self.count[key] = self.count.get(key, 0) + 1
        if self.policy == "ttl" or ttl is not None:
            self.expires[key] = (self.timer.time + (self.ttl if ttl is None else ttl), self.clock)
        else:
            self.expires.pop(key, None)

    def _remove(self, key: Any) -> Any:
        for d in (self.size, self.last, self.count, self.expires):
            d.pop(key, None)
        return self.data.pop(key)

    def expire(self) -> list[tuple[Any, Any]]:
        dead = sorted((self.expires[k], k) for k in self.data if not self._live(k))
        return [(k, self._remove(k)) for _, k in dead]

    def popitem(self) -> tuple[Any, Any]:
        self.expire()
        if not self.data:
            raise KeyError("empty")
        if self.policy == "lfu":
            key = min(self.data, key=lambda k: (self.count[k], self.last[k]))
        else:
            key = min(self.data, key=lambda k: self.last[k])
        return key, self._remove(key)

    def set(self, key: Any, value: Any, ttl: Optional[float] = None) -> None:
        hash(key)
        if self.weighted:
            size = sizeof(value)
            if size > self.maxsize:
                raise ValueError("value too large")
        elif self.maxsize < 1:
            raise ValueError("value too large")
        else:
            size = 1
        self.expire()
        if key in self.data:
            diff = size - self.size[key]
            while self.weighted and sum(self.size.values()) + diff > self.maxsize:
                self.popitem()
                diff = size - self.size[key] if key in self.data else size
            if key in self.data:
                self.data[key] = value
                self.size[key] = size
                self._write(key, ttl)
                return
        while sum(self.size.values()) + size > self.maxsize:
            self.popitem()
        self.data[key] = value
        self.size[key] = size
        self._write(key, ttl)

    def getitem(self, key: Any) -> Any:
        if key in self.data:
            if self.policy == "ttl":
                self.last[key] = self._tick()     # a use even if expired (cachetools)
                if not self._live(key):
                    raise KeyError(key)
                return self.data[key]
            if self._live(key):
                self._use(key)
                return self.data[key]
        raise KeyError(key)

    def get(self, key: Any, default: Any = None) -> Any:
        if key in self.data and self._live(key):
            self._use(key)
            return self.data[key]
        return default

    def peek(self, key: Any) -> Any:
        return self.data[key] if key in self.data and self._live(key) else None

    def contains(self, key: Any) -> bool:
        return key in self.data and self._live(key)

    def delitem(self, key: Any) -> None:
        if key not in self.data:
            raise KeyError(key)
        live = self._live(key)
        self._remove(key)
        if not live:
            raise KeyError(key)

    def pop(self, key: Any) -> Any:
        if key in self.data and self._live(key):
            return self._remove(key)
        return "default"

    def setdefault(self, key: Any, value: Any) -> Any:
        if self.contains(key):
            return self.getitem(key)
        self.set(key, value)
        return value

    def keys(self) -> list[Any]:
        return [k for k in self.data if self._live(k)]

    def __len__(self) -> int:
        self.expire()
        return len(self.data)

    def currsize(self) -> int:
        self.expire()
        return sum(self.size.values())

    def clear(self) -> None:
        for d in (self.data, self.size, self.last, self.count, self.expires):
            d.clear()


def outcome(fn: Callable[[], Any]) -> tuple[str, Any]:
    try:
        return ("ok", fn())
    except (KeyError, ValueError, TypeError) as exc:
        return ("raised", type(exc).__name__)


class CacheMachine(RuleBasedStateMachine):
    policy = "lru"
    weighted = False

    @initialize(maxsize=st.integers(min_value=0, max_value=5))
    def make(self, maxsize: int) -> None:
        self.timer = FakeTimer()
        self.ttl = 10
        getsizeof = sizeof if self.weighted else None
        cname = {"lru": "LRUCache", "fifo": "FIFOCache", "lfu": "LFUCache", "ttl": "TTLCache"}[self.policy]
        classes = [getattr(_load_c(), cname), getattr(_load_py(), cname)]
        if self.policy == "ttl":
            self.subjects = [cls(maxsize, self.ttl, self.timer, getsizeof) for cls in classes]
            self.reference = cachetools.TTLCache(maxsize, self.ttl, self.timer, getsizeof)
        else:
            self.subjects = [cls(maxsize, getsizeof, timer=self.timer) for cls in classes]
            self.reference = getattr(cachetools, cname)(maxsize, getsizeof)
        self.model = Model(self.policy, maxsize, self.weighted, self.ttl, self.timer)

    def check(self, op: Callable[[Any], Any], model_op: Callable[[Model], Any],
              with_cachetools: bool = True) -> None:
        results = [outcome(lambda s=s: op(s)) for s in self.subjects]
        expected = outcome(lambda: model_op(self.model))
        if with_cachetools and self.reference is not None:
            results.append(outcome(lambda: op(self.reference)))
        assert all(r == expected for r in results), (expected, results)

    @rule(key=KEYS, value=VALUES)
    def setitem(self, key: int, value: int) -> None:
        self.check(lambda c: c.__setitem__(key, value), lambda m: m.set(key, value))

    @rule(key=KEYS, value=VALUES, ttl=st.sampled_from([1, 3, 10, 25]))
    def set_with_ttl(self, key: int, value: int, ttl: int) -> None:
        # every policy takes a per-item TTL; cachetools has none: stop comparing with it
        self.reference = None
        self.check(lambda c: c.set(key, value, ttl=ttl), lambda m: m.set(key, value, ttl))

    @rule(key=KEYS)
    def getitem(self, key: int) -> None:
        self.check(lambda c: c[key], lambda m: m.getitem(key))

    @rule(key=KEYS)
    def get(self, key: int) -> None:
        self.check(lambda c: c.get(key), lambda m: m.get(key))

    @rule(key=KEYS)
    def peek(self, key: int) -> None:
        self.check(lambda c: c.peek(key), lambda m: m.peek(key), with_cachetools=False)

    @rule(key=KEYS)
    def contains(self, key: int) -> None:
        self.check(lambda c: key in c, lambda m: m.contains(key))

    @rule(key=KEYS)
    def delitem(self, key: int) -> None:
        self.check(lambda c: c.__delitem__(key), lambda m: m.delitem(key))

    @rule(key=KEYS)
    def pop(self, key: int) -> None:
        self.check(lambda c: c.pop(key, "default"), lambda m: m.pop(key))

    @rule(key=KEYS, value=VALUES)
    def setdefault(self, key: int, value: int) -> None:
        self.check(lambda c: c.setdefault(key, value), lambda m: m.setdefault(key, value))

    @rule()
    def popitem(self) -> None:
        def model_pop(m: Model) -> Any:
            try:
                return m.popitem()
            except KeyError:
                raise KeyError("empty") from None
        self.check(lambda c: c.popitem(), model_pop)

    @rule()
    def length(self) -> None:
        self.check(len, len)

    @rule()
    def keys(self) -> None:
        self.check(lambda c: list(c), lambda m: m.keys())

    @rule()
    def currsize(self) -> None:
        self.check(lambda c: c.currsize, lambda m: m.currsize())

    @rule(delta=st.sampled_from([1, 2, 5, 10]))
    def tick(self, delta: int) -> None:
        # every clock in play: a pickled or deep-copied cache carries its own copy of it
        seen = {id(self.timer)}
        self.timer.tick(delta)
        for subject in self.subjects:
            timer = subject._params()["timer"]
            if id(timer) not in seen:
                seen.add(id(timer))
                timer.tick(delta)

    @rule()
    def expire(self) -> None:
        self.check(lambda c: c.expire(), lambda m: m.expire(), with_cachetools=self.policy == "ttl")

    @rule()
    def clear(self) -> None:
        self.check(lambda c: c.clear(), lambda m: m.clear())

    @rule(how=st.sampled_from(["pickle", "copy", "deepcopy"]))
    def roundtrip(self, how: str) -> None:
        fn = {"pickle": lambda c: pickle.loads(pickle.dumps(c)), "copy": copy.copy,
              "deepcopy": copy.deepcopy}[how]
        clones = [fn(s) for s in self.subjects]
        for clone, original in zip(clones, self.subjects):
            assert list(clone) == list(original) and clone.currsize == original.currsize
        # A pickled or deep-copied cache gets its own copy of the fake clock (tick() moves it too).
        self.subjects = clones

    @invariant()
    def stats_agree(self) -> None:
        if hasattr(self, "subjects"):
            # stats() reports currsize, which purges expired items (as currsize
            # does in cachetools): purge the model and the reference alike.
            c, py = (s.stats() for s in self.subjects)
            assert c == py
            self.model.expire()
            if self.reference is not None and self.policy == "ttl":
                self.reference.expire()


def machine(policy: str, weighted: bool) -> Any:
    cls = type("%s%sMachine" % (policy.upper(), "Weighted" if weighted else ""), (CacheMachine,),
               {"policy": policy, "weighted": weighted})
    test = cls.TestCase
    test.settings = settings(max_examples=200, stateful_step_count=50, deadline=None,
                             suppress_health_check=list(HealthCheck))
    return test


TestLRU = machine("lru", False)
TestLRUWeighted = machine("lru", True)
TestFIFO = machine("fifo", False)
TestFIFOWeighted = machine("fifo", True)
TestLFU = machine("lfu", False)
TestLFUWeighted = machine("lfu", True)
TestTTL = machine("ttl", False)
TestTTLWeighted = machine("ttl", True)


def test_model_is_not_trivial() -> None:
    # Guard against a vacuous comparison: the model really evicts in policy order.
    timer = FakeTimer()
    m = Model("lru", 2, False, 10, timer)
    m.set(1, 1)
    m.set(2, 2)
    m.getitem(1)
    m.set(3, 3)
    assert m.keys() == [1, 3]
    with pytest.raises(KeyError):
        m.getitem(2)


class AdaptiveMachine(RuleBasedStateMachine):
    """AdaptiveCache: compiled and pure must agree on everything, step by step.

    Which item leaves is the policy's choice (no simple model predicts it), so
    the reference model checks what the policy does not decide: every cached
    key holds its latest written value, a key just written is present, size
    accounting, and nothing is evicted while there is room.
    """

    weighted = False
    expiring = False

    @initialize(maxsize=st.integers(min_value=0, max_value=6))
    def make(self, maxsize: int) -> None:
        getsizeof = sizeof if self.weighted else None
        self.maxsize = maxsize
        self.timer = FakeTimer()
        # Without a cache-wide ttl, set(..., ttl=) still turns expiry on for its item.
        kw: dict[str, Any] = {"ttl": 10 if self.expiring else None, "timer": self.timer}
        self.subjects = [_load_c().AdaptiveCache(maxsize, getsizeof, **kw),
                         _load_py().AdaptiveCache(maxsize, getsizeof, **kw)]
        self.latest: dict[Any, Any] = {}        # the last value written per key, deletions dropped
        self.expires: dict[Any, float] = {}     # when each written key expires (model of the TTL rules)

    def size(self, value: Any) -> int:
        return sizeof(value) if self.weighted else 1

    def run(self, op: Callable[[Any], Any]) -> tuple[str, Any]:
        results = [outcome(lambda s=s: op(s)) for s in self.subjects]
        assert results[0] == results[1], results
        return results[0]

    @rule(key=st.integers(min_value=0, max_value=11), value=VALUES)
    def setitem(self, key: int, value: int) -> None:
        c = self.subjects[0]
        before = set(c)
        room = c.currsize + self.size(value) - (self.size(c.peek(key)) if key in c else 0) <= self.maxsize
        result = self.run(lambda s: s.__setitem__(key, value))
        if self.size(value) > self.maxsize or (self.maxsize == 0 and not self.weighted):
            assert result == ("raised", "ValueError") and set(c) == before
            return
        assert result == ("ok", None)
        self.latest[key] = value
        self.expires[key] = self.timer.time + 10 if self.expiring else float("inf")
        assert c.peek(key) == value                       # a write is always kept
        if room:
            assert before <= set(c)                       # no eviction while there is room

    @rule(key=st.integers(min_value=0, max_value=11))
    def get(self, key: int) -> None:
        kind, value = self.run(lambda s: s.get(key, "absent"))
        assert value == self.latest[key] if key in self.subjects[0] else value == "absent"

    @rule(key=st.integers(min_value=0, max_value=11))
    def getitem(self, key: int) -> None:
        present = key in self.subjects[0]
        result = self.run(lambda s: s[key])
        assert result == (("ok", self.latest[key]) if present else ("raised", "KeyError"))

    @rule(key=st.integers(min_value=0, max_value=11))
    def delitem(self, key: int) -> None:
        present = key in self.subjects[0]
        result = self.run(lambda s: s.__delitem__(key))
        assert result == (("ok", None) if present else ("raised", "KeyError"))
        self.latest.pop(key, None)

    @rule()
    def popitem(self) -> None:
        empty = len(self.subjects[0]) == 0
        kind, item = self.run(lambda s: s.popitem())
        if empty:
            assert kind == "raised"
        else:
            key, value = item
            assert self.latest.pop(key) == value and key not in self.subjects[0]

    @rule()
    def clear(self) -> None:
        self.run(lambda s: s.clear())
        self.latest.clear()

    @rule(key=st.integers(min_value=0, max_value=11), value=VALUES, ttl=st.sampled_from([1, 3, 25]))
    def set_with_ttl(self, key: int, value: int, ttl: int) -> None:
        if self.size(value) > self.maxsize or (self.maxsize == 0 and not self.weighted):
            return
        assert self.run(lambda s: s.set(key, value, ttl=ttl)) == ("ok", None)
        self.latest[key] = value
        self.expires[key] = self.timer.time + ttl
        assert self.subjects[0].peek(key) == value

    @rule(delta=st.sampled_from([1, 2, 5, 10]))
    def tick(self, delta: int) -> None:
        self.timer.tick(delta)

    @rule()
    def expire(self) -> None:
        kind, removed = self.run(lambda s: s.expire())
        for key, value in removed:
            assert self.expires[key] <= self.timer.time and value == self.latest[key]

    @rule(how=st.sampled_from(["copy"]))
    def roundtrip(self, how: str) -> None:
        # (pickle gives each copy its own fake clock, which the test cannot tick)
        fn = {"pickle": lambda c: pickle.loads(pickle.dumps(c)), "copy": copy.copy}[how]
        clones = [fn(s) for s in self.subjects]
        for clone, original in zip(clones, self.subjects):
            assert list(clone) == list(original) and clone.segment_sizes() == original.segment_sizes()
        self.subjects = clones

    @invariant()
    def consistent(self) -> None:
        if not hasattr(self, "subjects"):
            return
        c, py = self.subjects
        assert list(c) == list(py) and c.stats() == py.stats()
        assert c.segment_sizes() == py.segment_sizes() and c.window_maxsize == py.window_maxsize
        assert all(c.peek(k) == self.latest[k] for k in c)
        assert all(self.expires[k] > self.timer.time for k in c)     # nothing expired is visible
        assert c.currsize == sum(self.size(c.peek(k)) for k in c) == sum(c.segment_sizes().values())
        assert c.currsize <= self.maxsize


def adaptive_machine(weighted: bool, expiring: bool = False) -> Any:
    cls = type("Adaptive%s%sMachine" % ("Weighted" if weighted else "", "TTL" if expiring else ""),
               (AdaptiveMachine,), {"weighted": weighted, "expiring": expiring})
    test = cls.TestCase
    test.settings = settings(max_examples=200, stateful_step_count=60, deadline=None,
                             suppress_health_check=list(HealthCheck))
    return test


TestAdaptive = adaptive_machine(False)
TestAdaptiveWeighted = adaptive_machine(True)
TestAdaptiveTTL = adaptive_machine(False, expiring=True)
TestAdaptiveWeightedTTL = adaptive_machine(True, expiring=True)
