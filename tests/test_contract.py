"""The mapping contract every cache kind follows (cachetools' documented semantics).

Each test runs for LRU, FIFO, LFU, TTL and adaptive caches (with and without a TTL),
compiled and pure Python.
"""
from __future__ import annotations

import copy
import gc
import logging
import pickle
import weakref
from collections.abc import MutableMapping
from typing import Any, Callable

import pytest

from fastcache import RemovalCause

from conftest import FakeTimer

KINDS = ["lru", "fifo", "lfu", "ttl", "adaptive", "adaptive-ttl"]


@pytest.fixture(params=KINDS)
def kind(request: Any) -> str:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def cls(impl: Any, kind: str) -> type:
    return getattr(impl, {"lru": "LRUCache", "fifo": "FIFOCache", "lfu": "LFUCache",
                          "ttl": "TTLCache", "adaptive": "AdaptiveCache",
                          "adaptive-ttl": "AdaptiveCache"}[kind])  # type: ignore[no-any-return]


@pytest.fixture
def make(cls: type, kind: str) -> Callable[..., Any]:
    """Build a cache of this kind; TTL caches get a fake clock and a long TTL."""
    def factory(maxsize: Any, getsizeof: Any = None, klass: type = cls, **kw: Any) -> Any:
        if kind == "ttl":
            kw.setdefault("ttl", 1000)
            kw.setdefault("timer", FakeTimer())
            return klass(maxsize, kw.pop("ttl"), kw.pop("timer"), getsizeof, **kw)
        if kind == "adaptive-ttl":
            kw.setdefault("ttl", 1000)
            kw.setdefault("timer", FakeTimer())
        return klass(maxsize, getsizeof, **kw)
    return factory


def test_is_mutable_mapping(make: Any) -> None:
    assert isinstance(make(2), MutableMapping)


def test_insert_lookup_and_len(make: Any) -> None:
    cache = make(3)
    cache[1] = "a"
    cache[2] = "b"
    assert len(cache) == 2 and cache.currsize == 2
    assert cache[1] == "a" and cache[2] == "b"
    assert 1 in cache and 3 not in cache
    assert cache.get(3) is None and cache.get(3, "x") == "x"
    with pytest.raises(KeyError) as info:
        cache[3]
    assert info.value.args == (3,)


def test_iterates_in_insertion_order_like_dict(make: Any) -> None:
    cache = make(10)
    for k in [5, 1, 4, 2]:
        cache[k] = k
    cache[1] = "updated"            # an update keeps the position, as in a dict
    del cache[4]
    cache[4] = 4
    assert list(cache) == [5, 1, 2, 4]
    assert list(cache.keys()) == [5, 1, 2, 4]


def test_update_of_full_cache_does_not_evict(make: Any) -> None:
    cache = make(2)
    cache[1] = 1
    cache[2] = 2
    cache[1] = 10
    assert dict(cache.items()) == {1: 10, 2: 2}


def test_new_key_in_full_cache_evicts_one(make: Any) -> None:
    cache = make(2)
    cache[1] = 1
    cache[2] = 2
    cache[3] = 3
    assert len(cache) == 2 and 3 in cache


def test_delete(make: Any) -> None:
    cache = make(2)
    cache[1] = 1
    del cache[1]
    assert len(cache) == 0 and cache.currsize == 0 and 1 not in cache
    with pytest.raises(KeyError) as info:
        del cache[1]
    assert info.value.args == (1,)


def test_pop(make: Any) -> None:
    cache = make(2)
    cache[1] = "a"
    assert cache.pop(1) == "a"
    assert cache.pop(1, "default") == "default"
    assert cache.pop(1, None) is None
    with pytest.raises(KeyError):
        cache.pop(1)
    assert len(cache) == 0


def test_popitem(make: Any, cls: type) -> None:
    cache = make(2)
    cache[1] = "a"
    assert cache.popitem() == (1, "a")
    with pytest.raises(KeyError) as info:
        cache.popitem()
    assert info.value.args == ("%s is empty" % cls.__name__,)


def test_setdefault(make: Any) -> None:
    cache = make(2)
    assert cache.setdefault(1, "a") == "a"
    assert cache.setdefault(1, "b") == "a"
    assert cache.setdefault(2) is None and 2 in cache


def test_update_and_clear(make: Any) -> None:
    cache = make(10)
    cache.update({1: 1}, b=2)
    cache.update([(3, 3)])
    assert dict(cache.items()) == {1: 1, "b": 2, 3: 3}
    cache.clear()
    assert len(cache) == 0 and cache.currsize == 0 and list(cache) == []
    cache[4] = 4                       # still usable after clear
    assert dict(cache.items()) == {4: 4}


def test_views_and_equality(make: Any) -> None:
    cache = make(5)
    cache.update({1: "a", 2: "b"})
    assert sorted(cache.values()) == ["a", "b"]
    assert sorted(cache.items()) == [(1, "a"), (2, "b")]
    assert cache == {1: "a", 2: "b"} and cache != {1: "a"}
    assert list(reversed(cache)) == [2, 1]


def test_unhashable(make: Any) -> None:
    cache = make(2)
    cache[1] = 1
    for op in (lambda: cache[[1]], lambda: cache.__setitem__([1], 1), lambda: [1] in cache,
               lambda: cache.get([1]), lambda: cache.pop([1]), lambda: cache.__delitem__([1])):
        with pytest.raises(TypeError, match="unhashable"):
            op()
    assert dict(cache.items()) == {1: 1}


def test_repr(make: Any, cls: type) -> None:
    cache = make(2)
    cache[1] = "a"
    assert repr(cache) == "%s({1: 'a'}, maxsize=2, currsize=1)" % cls.__name__


def test_maxsize_zero_stores_nothing(make: Any) -> None:
    cache = make(0)
    with pytest.raises(ValueError, match="value too large"):
        cache[1] = 1
    assert len(cache) == 0
    weighted = make(0, getsizeof=lambda v: 0)     # as in cachetools, a size-0 item fits
    weighted[1] = 1
    assert 1 in weighted


@pytest.mark.parametrize("maxsize, error, message", [
    ("10", TypeError, "maxsize must be an int"),
    (None, TypeError, "maxsize must be an int"),
    (-1, ValueError, "maxsize must be non-negative"),
    (float("nan"), ValueError, "NaN"),
    (1.5, ValueError, "whole number"),
])
def test_bad_maxsize(make: Any, maxsize: Any, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        make(maxsize)


def test_unbounded_maxsize(make: Any) -> None:
    cache = make(float("inf"))
    for i in range(1000):
        cache[i] = i
    assert len(cache) == 1000 and cache.maxsize == float("inf")


def test_getsizeof_argument(make: Any) -> None:
    cache = make(3, getsizeof=len)
    assert cache.getsizeof("ab") == 2         # the argument becomes the instance's getsizeof
    cache["a"] = "xx"
    cache["b"] = "y"
    assert cache.currsize == 3
    cache["a"] = "z"                           # update changes the size
    assert cache.currsize == 2
    with pytest.raises(ValueError, match="value too large"):
        cache["c"] = "wxyz"
    assert dict(cache.items()) == {"a": "z", "b": "y"} and cache.currsize == 2
    cache["c"] = "xyz"                          # evicts until it fits
    assert dict(cache.items()) == {"c": "xyz"} and cache.currsize == 3


def test_getsizeof_subclass_override(make: Any, cls: type) -> None:
    class Sized(cls):  # type: ignore[valid-type, misc]
        @staticmethod
        def getsizeof(value: Any) -> int:
            return int(value)

    cache = make(10, klass=Sized)
    cache["a"] = 4
    cache["b"] = 5
    assert cache.currsize == 9
    cache["c"] = 3
    assert cache.currsize <= 10 and "c" in cache


def test_default_getsizeof_is_one(cls: type) -> None:
    assert cls.getsizeof("anything") == 1


@pytest.mark.parametrize("bad, error", [(-1, ValueError), ("1", TypeError), (1.5, TypeError)])
def test_bad_getsizeof_result_leaves_cache_unchanged(make: Any, bad: Any, error: type) -> None:
    cache = make(10, getsizeof=lambda v: bad if v == "bad" else 1)
    cache[1] = "ok"
    with pytest.raises(error):
        cache[2] = "bad"
    with pytest.raises(error):
        cache[1] = "bad"
    assert dict(cache.items()) == {1: "ok"} and cache.currsize == 1


def test_raising_getsizeof_leaves_cache_unchanged(make: Any) -> None:
    def sizer(value: Any) -> int:
        if value == "boom":
            raise RuntimeError("sizer failed")
        return 1

    cache = make(2, getsizeof=sizer)
    cache[1] = 1
    cache[2] = 2
    with pytest.raises(RuntimeError):
        cache[3] = "boom"
    assert dict(cache.items()) == {1: 1, 2: 2} and cache.currsize == 2


def test_missing_on_subclass(make: Any, cls: type) -> None:
    class Loader(cls):  # type: ignore[valid-type, misc]
        def __missing__(self, key: Any) -> Any:
            value = "loaded:%s" % key
            self[key] = value
            return value

    cache = make(2, klass=Loader)
    assert cache[1] == "loaded:1"
    assert 1 in cache
    assert cache.get(2) is None                 # get, pop and setdefault never call __missing__
    assert cache.pop(2, "d") == "d"
    assert cache.setdefault(3, "s") == "s"


def test_missing_that_does_not_store(make: Any, cls: type) -> None:
    class Computed(cls):  # type: ignore[valid-type, misc]
        def __missing__(self, key: Any) -> Any:
            return key * 2

    cache = make(2, klass=Computed)
    assert cache[21] == 42 and 21 not in cache


def test_popitem_override_sees_every_eviction(make: Any, cls: type) -> None:
    evicted = []

    class Tracking(cls):  # type: ignore[valid-type, misc]
        def popitem(self) -> Any:
            item = super().popitem()
            evicted.append(item)
            return item

    cache = make(2, klass=Tracking)
    for i in range(5):
        cache[i] = i
    assert len(evicted) == 3 and len(cache) == 2
    assert {k for k, _ in evicted} | set(cache) == set(range(5))
    assert cache.stats().evictions == 3


def test_subclass_attributes_survive_pickle_and_copy(make: Any, cls: type) -> None:
    class Tagged(cls):  # type: ignore[valid-type, misc]
        pass

    globals()["Tagged"] = Tagged
    Tagged.__qualname__ = "Tagged"
    try:
        cache = make(3, klass=Tagged)
        cache.tag = "t"
        cache[1] = 1
        for clone in (pickle.loads(pickle.dumps(cache)), copy.copy(cache), copy.deepcopy(cache)):
            assert type(clone) is Tagged and clone.tag == "t" and dict(clone.items()) == {1: 1}
    finally:
        del globals()["Tagged"]


def _drain(cache: Any) -> list[Any]:
    out = []
    while True:
        try:
            out.append(cache.popitem())
        except KeyError:
            return out


@pytest.mark.parametrize("protocol", range(2, pickle.HIGHEST_PROTOCOL + 1))
def test_pickle_keeps_contents_and_eviction_order(make: Any, protocol: int) -> None:
    cache = make(5)
    for k in "abcde":
        cache[k] = ord(k)
    cache.get("a"), cache.get("c"), cache.get("a")
    cache["b"] = 0
    clone = pickle.loads(pickle.dumps(cache, protocol))
    assert list(clone) == list(cache) and clone.maxsize == cache.maxsize
    assert clone.currsize == cache.currsize
    assert _drain(clone) == _drain(cache)


def test_copy_is_independent(make: Any) -> None:
    cache = make(4)
    cache.update({1: [1], 2: [2]})
    shallow, deep = copy.copy(cache), copy.deepcopy(cache)
    cache[3] = 3
    del cache[1]
    assert dict(shallow.items()) == {1: [1], 2: [2]}
    assert shallow[2] is cache[2] and deep[2] == [2] and deep[2] is not cache[2]
    assert _drain(shallow) == [(1, [1]), (2, [2])] or len(_drain(shallow)) == 0


def test_copy_keeps_eviction_order(make: Any) -> None:
    cache = make(4)
    for k in range(4):
        cache[k] = k
    cache.get(0), cache.get(2)
    assert _drain(copy.copy(cache)) == _drain(cache)


def test_mutation_during_iteration_raises(make: Any, kind: str) -> None:
    cache = make(10)
    cache.update({1: 1, 2: 2, 3: 3})
    if kind in ("ttl", "adaptive-ttl"):
        # Expiring caches iterate a snapshot (as cachetools' TTLCache does): mutation is allowed.
        seen = []
        for key in cache:
            seen.append(key)
            cache[key + 10] = 0
        assert seen == [1, 2, 3]
        return
    with pytest.raises(RuntimeError, match="changed"):
        for key in cache:
            cache[key + 10] = 0
    for key in cache:                    # reads and updates of existing keys are fine
        cache[key] = cache[key]


def test_stats(make: Any) -> None:
    cache = make(2)
    cache[1] = 1
    cache[1], cache.get(1), cache.get(9)
    with pytest.raises(KeyError):
        cache[9]
    cache.peek(1)
    assert 1 in cache
    cache[2] = 2
    cache[3] = 3
    s = cache.stats()
    assert (s.hits, s.misses, s.evictions, s.currsize, s.maxsize) == (2, 2, 1, 2, 2)
    assert s.hit_ratio == 0.5
    cache.reset_stats()
    assert cache.stats()[:4] == (0, 0, 0, 0)


def test_listener_causes(make: Any) -> None:
    events: list[Any] = []
    cache = make(2, on_evict=lambda k, v, cause: events.append((k, v, cause)))
    cache[1] = "a"
    cache[1] = "b"                                   # replaced: the old value is reported
    cache[2] = "c"
    cache[3] = "d"                                   # size
    del cache[3]
    for key in list(cache):
        cache.pop(key)
    cache[4] = "e"
    cache.popitem()
    cache[5] = "f"
    cache.clear()
    causes = [(k, v, c) for k, v, c in events]
    assert causes[0] == (1, "a", RemovalCause.REPLACED)
    assert causes[1][2] is RemovalCause.SIZE and causes[1][0] in (1, 2)
    assert (3, "d", RemovalCause.EXPLICIT) in causes
    assert causes[-1] == (5, "f", RemovalCause.EXPLICIT)
    assert all(isinstance(c, RemovalCause) for _, _, c in causes)
    assert RemovalCause.SIZE == "size" and RemovalCause.SIZE.was_evicted


def test_listener_may_use_the_cache(make: Any) -> None:
    log: list[Any] = []
    cache = make(2)

    def listener(key: Any, value: Any, cause: RemovalCause) -> None:
        log.append((key, len(cache), key in cache))
        if cause is RemovalCause.SIZE:
            cache.get(key)          # re-entrant use sees a consistent cache

    cache.on_evict = listener
    for i in range(6):
        cache[i] = i
    assert len(log) == 4 and all(not present for _, _, present in log)
    assert len(cache) == 2


def test_listener_errors_are_logged_not_raised(make: Any, caplog: Any) -> None:
    def bad(key: Any, value: Any, cause: Any) -> None:
        raise ValueError("listener bug")

    cache = make(1, on_evict=bad)
    with caplog.at_level(logging.ERROR, logger="fastcache"):
        cache[1] = 1
        cache[2] = 2
    assert dict(cache.items()) == {2: 2}
    assert "listener" in caplog.text


def test_bad_listener(make: Any) -> None:
    with pytest.raises(TypeError, match="on_evict must be callable"):
        make(2, on_evict=42)
    with pytest.raises(TypeError, match="getsizeof must be callable"):
        make(2, getsizeof=42)


class Evil:
    """A key whose __eq__ or __hash__ can be made to fail."""

    def __init__(self, h: int, fail_eq: bool = False, fail_hash: bool = False) -> None:
        self.h, self.fail_eq, self.fail_hash = h, fail_eq, fail_hash

    def __hash__(self) -> int:
        if self.fail_hash:
            raise RuntimeError("hash failed")
        return self.h

    def __eq__(self, other: object) -> bool:
        if self.fail_eq or getattr(other, "fail_eq", False):
            raise RuntimeError("eq failed")
        return isinstance(other, Evil) and other.h == self.h and other is self


def test_key_whose_hash_raises(make: Any) -> None:
    cache = make(4)
    cache[1] = 1
    with pytest.raises(RuntimeError, match="hash failed"):
        cache[Evil(1, fail_hash=True)] = 2
    with pytest.raises(RuntimeError):
        Evil(1, fail_hash=True) in cache
    assert dict(cache.items()) == {1: 1} and cache.currsize == 1


def test_key_whose_eq_raises(make: Any) -> None:
    cache = make(4)
    a = Evil(7)
    cache[a] = "a"
    b = Evil(7, fail_eq=True)                  # same hash: lookups must compare
    with pytest.raises(RuntimeError, match="eq failed"):
        cache[b] = "b"
    with pytest.raises(RuntimeError, match="eq failed"):
        cache[b]
    assert cache[a] == "a" and len(cache) == 1 and cache.currsize == 1
    cache[Evil(8)] = "c"
    assert len(cache) == 2


def test_eq_that_mutates_the_cache(make: Any) -> None:
    cache = make(100)

    class Mutating:
        def __hash__(self) -> int:
            return 1

        def __eq__(self, other: object) -> bool:
            for i in range(50):         # forces a rebuild of the table mid-lookup
                cache[("filler", i)] = i
            return False

    first = Mutating()
    cache[first] = "first"
    cache[Mutating()] = "second"         # must not crash; both keys stored
    assert len([k for k in cache if isinstance(k, Mutating)]) == 2


def test_many_operations_keep_structure(make: Any, kind: str) -> None:
    # Enough churn to force many rebuilds and ring compactions.
    cache = make(100)
    model: dict[int, int] = {}
    for i in range(20000):
        k = (i * 7919) % 450
        if i % 5 == 0 and k in model:
            del cache[k]
            del model[k]
        else:
            cache[k] = i
            model[k] = i
            while len(model) > 100:
                model = {kk: vv for kk, vv in model.items() if kk in cache}
        assert len(cache) <= 100
    assert set(cache) <= set(model)
    assert all(cache.peek(k) == model[k] for k in cache)
    assert cache.currsize == len(cache)


def test_weakref_and_gc(make: Any) -> None:
    cache = make(2)
    ref = weakref.ref(cache)
    value = [1]
    vref = weakref.ref(type("V", (), {})())
    cache[1] = value
    del cache
    gc.collect()
    assert ref() is None and vref() is None
