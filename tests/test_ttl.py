"""TTLCache: cachetools' TTL semantics plus per-item TTL, on a fake clock.

The same tests run for ``AdaptiveCache(ttl=...)``, whose expiry follows the
same rules (only its eviction order differs: LRU is TTLCache's alone).
"""
from __future__ import annotations

import pickle
import random
import time
from typing import Any

import pytest

from fastcache import RemovalCause

from conftest import FakeTimer


@pytest.fixture(params=["TTLCache", "AdaptiveCache"])
def ttl_cls(request: Any, impl: Any) -> Any:
    """The expiring cache class under test."""
    return getattr(impl, request.param)


def test_item_dies_exactly_at_expiry(ttl_cls: Any, timer: FakeTimer) -> None:
    cache = ttl_cls(10, ttl=10, timer=timer)
    cache[1] = "a"
    timer.tick(9.999)
    assert cache[1] == "a" and 1 in cache and len(cache) == 1
    timer.tick(0.001)                         # t == expires: dead (timer() < expires fails)
    assert 1 not in cache and cache.get(1) is None and cache.peek(1) is None
    with pytest.raises(KeyError):
        cache[1]
    assert len(cache) == 0 and list(cache) == []


def test_write_resets_expiry(ttl_cls: Any, timer: FakeTimer) -> None:
    cache = ttl_cls(10, ttl=10, timer=timer)
    cache[1] = "a"
    timer.tick(8)
    cache[1] = "b"
    timer.tick(8)
    assert cache[1] == "b"
    timer.tick(2)
    assert 1 not in cache


def test_expire_returns_pairs_in_expiry_order(ttl_cls: Any, timer: FakeTimer) -> None:
    cache = ttl_cls(10, ttl=10, timer=timer)
    cache[1] = 1
    timer.tick(1)
    cache[2] = 2
    cache[1] = 11                            # rewritten later: expires after 2
    timer.tick(1)
    cache[3] = 3
    assert cache.expire() == []              # fast path
    assert cache.expire(timer.time + 10) == [(2, 2), (1, 11), (3, 3)]
    assert len(cache) == 0


def test_len_purges_so_expire_then_returns_nothing(ttl_cls: Any, timer: FakeTimer) -> None:
    cache = ttl_cls(10, ttl=1, timer=timer)
    cache[1] = 1
    timer.tick(1)
    assert len(cache) == 0
    assert cache.expire() == []


def test_expired_but_stored_item(ttl_cls: Any, timer: FakeTimer) -> None:
    cache = ttl_cls(10, ttl=1, timer=timer)
    cache[1] = 1
    cache[2] = 2
    timer.tick(1)
    with pytest.raises(KeyError):
        cache[1]                               # not removed by a read ...
    with pytest.raises(KeyError):
        del cache[1]                           # ... del removes it, then raises
    assert cache.pop(2, "gone") == "gone"
    assert cache.currsize == 0


def test_eviction_is_lru_among_live_items(impl: Any, timer: FakeTimer) -> None:
    cache = impl.TTLCache(3, ttl=10, timer=timer)
    cache[1], cache[2], cache[3] = 1, 2, 3
    cache[1]
    cache[4] = 4                             # evicts 2, the least recently used
    assert sorted(cache) == [1, 3, 4]
    timer.tick(10)
    cache[5] = 5                             # everything expired first: nothing evicted
    assert list(cache) == [5] and cache.stats().evictions == 1


def test_popitem_skips_expired(ttl_cls: Any, timer: FakeTimer) -> None:
    cache = ttl_cls(3, ttl=5, timer=timer)
    cache[1] = 1
    timer.tick(3)
    cache[2] = 2
    timer.tick(2)
    assert cache.popitem() == (2, 2)
    with pytest.raises(KeyError, match="Cache is empty"):
        cache.popitem()


def test_frozen_timer(ttl_cls: Any, timer: FakeTimer) -> None:
    cache = ttl_cls(10, ttl=5, timer=timer)
    with cache.timer as now:
        assert now == 0
        timer.tick(100)
        assert cache.timer() == 0              # frozen inside the block, nestable
        with cache.timer as inner:
            assert inner == 0
        cache[1] = 1
        assert 1 in cache
    assert cache.timer() == 100 and 1 not in cache
    assert cache.timer.tick == timer.tick      # attributes forward to the wrapped timer


def test_per_item_ttl(ttl_cls: Any, timer: FakeTimer) -> None:
    cache = ttl_cls(10, ttl=100, timer=timer)
    cache.set("short", 1, ttl=1)
    cache.set("long", 2)
    cache["plain"] = 3
    assert cache.expires_at("short") == 1 and cache.expires_at("long") == 100
    timer.tick(1)
    assert "short" not in cache and "long" in cache
    assert cache.expire() == [("short", 1)]
    cache.set("long", 4, ttl=2)                # a rewrite takes the new TTL
    timer.tick(2)
    assert "long" not in cache and "plain" in cache


def test_many_distinct_ttls_use_every_structure(ttl_cls: Any, timer: FakeTimer) -> None:
    # More distinct TTLs than the compiled cache has sorted queues (8): the rest
    # go to its heap.  Every removal must be by time, then by write order.
    rng = random.Random(7)
    removed: list[Any] = []
    cache = ttl_cls(5000, ttl=50, timer=timer,
                          on_evict=lambda k, v, c: removed.append((k, v)) if c == "expired" else None)
    expected = {}
    for i in range(3000):
        ttl = rng.choice([None, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 0.5, 7.25])
        key = rng.randrange(1000)
        cache.set(key, i, ttl=ttl)
        expected[key] = (timer.time + (50 if ttl is None else ttl), i)
        if rng.random() < 0.05:
            timer.tick(1)
        if rng.random() < 0.02:
            del cache[key]
            expected.pop(key)
    timer.tick(20)
    now = timer.time
    purged = set(removed)                 # expired items that writes already removed
    last = cache.expire()
    dead = sorted((exp, seq, k) for k, (exp, seq) in expected.items()
                  if exp <= now and (k, seq) not in purged)
    assert set(last) == {(k, seq) for _, seq, k in dead}   # what is still stored expires now ...
    assert last == [(k, seq) for _, seq, k in dead]        # ... in order of time, then write
    assert len(purged) > 100                               # and writes purged many earlier
    assert len(last) > 100
    assert sorted(cache) == sorted(k for k, (exp, _) in expected.items() if exp > now)


@pytest.mark.parametrize("ttl, error", [
    (0, ValueError), (-1, ValueError), (float("nan"), ValueError),
    ("10", TypeError), (None, TypeError), (True, TypeError),
])
def test_bad_ttl(ttl_cls: Any, ttl: Any, error: type) -> None:
    if ttl is None and ttl_cls.__name__ == "AdaptiveCache":
        assert ttl_cls(10, ttl=None).ttl is None            # the default: no expiry
    else:
        with pytest.raises(error, match="ttl"):
            ttl_cls(10, ttl=ttl)
    cache = ttl_cls(10, ttl=1)
    if ttl is not None:
        with pytest.raises(error, match="ttl"):
            cache.set(1, 1, ttl=ttl)
    assert len(cache) == 0


def test_bad_timer(ttl_cls: Any) -> None:
    with pytest.raises(TypeError, match="timer must be callable"):
        ttl_cls(10, ttl=1, timer=42)
    cache = ttl_cls(10, ttl=1, timer=lambda: "noon")
    with pytest.raises(TypeError, match="real number"):
        cache[1] = 1
    assert len(cache._data if hasattr(cache, "_data") else []) == 0


def test_default_timer_is_monotonic(ttl_cls: Any) -> None:
    cache = ttl_cls(10, ttl=60)
    cache[1] = 1
    assert 1 in cache
    before = time.monotonic()
    assert before - 1 < cache.timer() <= time.monotonic()
    assert before + 59 < cache.expires_at(1) <= time.monotonic() + 60


def test_listener_sees_expiry(ttl_cls: Any, timer: FakeTimer) -> None:
    events = []
    cache = ttl_cls(10, ttl=1, timer=timer, on_evict=lambda k, v, c: events.append((k, c)))
    cache[1] = 1
    timer.tick(1)
    cache[2] = 2                               # writes purge expired items first
    assert events == [(1, RemovalCause.EXPIRED)]
    assert cache.stats().expirations == 1


def test_expire_override_is_called(ttl_cls: Any, timer: FakeTimer) -> None:
    calls = []

    class Logged(ttl_cls):  # type: ignore[valid-type, misc]
        def expire(self, time: Any = None) -> Any:
            items = super().expire(time)
            calls.append(items)
            return items

    cache = Logged(10, ttl=1, timer=timer)
    cache[1] = 1
    timer.tick(1)
    cache[2] = 2
    assert [(1, 1)] in calls


def test_pickle_keeps_expiry(ttl_cls: Any) -> None:
    timer = FakeTimer()
    cache = ttl_cls(10, ttl=10, timer=timer)
    cache[1] = 1
    cache.set(2, 2, ttl=3)
    clone = pickle.loads(pickle.dumps(cache))
    assert clone.ttl == 10 and clone.expires_at(2) == 3 and sorted(clone) == [1, 2]
    clone.timer.tick(5)                        # forwarded to the (unpickled copy of the) clock
    assert sorted(clone) == [1]


def test_timer_that_rebuilds_the_cache(ttl_cls: Any) -> None:
    # A Python timer runs bytecode, so another thread may change the cache while
    # it runs.  Here the timer itself does it, deterministically: every read of
    # the clock inserts and deletes enough keys to rebuild the table.
    state = {"cache": None, "t": 0.0, "armed": False}

    def timer() -> float:
        cache = state["cache"]
        if state["armed"] and cache is not None:
            state["armed"] = False
            first = next(iter(cache), None)        # move the first key to the end ...
            if first is not None:
                cache[first] = cache.pop(first)
            for i in range(200):                   # ... and force a rebuild: every index shifts
                cache[("filler", i)] = i
            for i in range(200):
                del cache[("filler", i)]
            state["armed"] = True
        return state["t"]  # type: ignore[return-value]

    cache = ttl_cls(1000, ttl=10, timer=timer)
    state["cache"] = cache
    for k in range(50):
        cache[k] = k
    state["armed"] = True
    for k in range(50):
        assert cache[k] == k and cache.get(k) == k and cache.peek(k) == k and k in cache
        assert cache.expires_at(k) == 10
    assert sorted(cache) == list(range(50))
    assert cache.pop(7) == 7 and 7 not in cache
    del cache[8]
    state["t"] = 10.0
    with pytest.raises(KeyError):
        cache[9]
    state["armed"] = False
    assert len(cache) == 0
