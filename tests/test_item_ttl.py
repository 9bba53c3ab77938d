"""Per-item TTL on every L1 class: one expiry layer under LRU, FIFO, LFU, TTL and adaptive caches.

Each test runs for every kind, compiled and pure Python, on a fake clock.  The
state machines in ``test_stateful.py`` compare the classes step by step with a
model; these tests pin the rules one at a time.
"""
from __future__ import annotations

import copy
import math
import pickle
import random
import threading
from typing import Any, Callable

import pytest

from fastcache import RemovalCause

from conftest import FakeTimer

KINDS = ["LRUCache", "FIFOCache", "LFUCache", "TTLCache", "AdaptiveCache"]


class CountingTimer(FakeTimer):
    """A fake clock that counts how often it is read."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def __call__(self) -> float:
        self.reads += 1
        return self.time


@pytest.fixture(params=KINDS)
def make(request: Any, impl: Any) -> Callable[..., Any]:
    """Build a cache of this kind with no cache-wide TTL (TTLCache: one that never ends)."""
    cls = getattr(impl, request.param)

    def factory(maxsize: int, timer: Any, **kw: Any) -> Any:
        if request.param == "TTLCache":
            return cls(maxsize, math.inf, timer, **kw)
        return cls(maxsize, timer=timer, **kw)
    factory.kind = request.param  # type: ignore[attr-defined]
    return factory


def test_an_item_dies_exactly_at_its_deadline(make: Any, timer: FakeTimer) -> None:
    cache = make(10, timer)
    cache.set("a", 1, ttl=10)
    cache["b"] = 2                                   # no TTL: lives until removed
    assert cache.expires_at("a") == 10 and cache.expires_at("b") == math.inf
    timer.tick(9.999)
    assert cache["a"] == 1 and "a" in cache and cache.peek("a") == 1 and len(cache) == 2
    timer.tick(0.001)
    assert "a" not in cache and cache.get("a") is None and cache.peek("a") is None
    with pytest.raises(KeyError):
        cache["a"]
    assert cache.expires_at("a", "gone") == "gone"
    assert list(cache) == ["b"] and len(cache) == 1 and cache.currsize == 1
    assert cache.stats().expirations == 1
    timer.tick(10 ** 6)
    assert cache["b"] == 2


def test_the_clock_is_not_read_until_an_item_has_a_ttl(make: Any) -> None:
    timer = CountingTimer()
    cache = make(4, timer)
    if make.kind == "TTLCache":
        cache["x"] = 1                               # expiry always on: every read asks the clock
        assert timer.reads > 0
        return
    for i in range(20):
        cache[i] = i
        cache.get(i)
        cache.get(-1)
        i in cache
        len(cache)
        list(cache)
        cache.popitem()
    assert timer.reads == 0
    cache.set("t", 1, ttl=5)
    reads = timer.reads
    assert cache.get("t") == 1 and timer.reads > reads


def test_a_rewrite_sets_the_deadline_again(make: Any, timer: FakeTimer) -> None:
    cache = make(10, timer)
    cache.set("k", 1, ttl=5)
    timer.tick(4)
    cache.set("k", 2, ttl=5)                         # a new deadline from now
    timer.tick(4)
    assert cache["k"] == 2
    cache["k"] = 3                                   # without a ttl: the cache-wide rule (never)
    timer.tick(100)
    assert cache["k"] == 3 and cache.expires_at("k") == math.inf


def test_expired_items_go_before_live_ones_are_evicted(make: Any, timer: FakeTimer) -> None:
    removed: list[tuple[Any, RemovalCause]] = []
    cache = make(2, timer, on_evict=lambda k, v, cause: removed.append((k, cause)))
    cache.set("short", 1, ttl=1)
    cache["long"] = 2
    timer.tick(1)
    cache["new"] = 3
    assert removed == [("short", RemovalCause.EXPIRED)]
    assert sorted(cache) == ["long", "new"]


def test_expire_returns_pairs_in_expiry_order(make: Any, timer: FakeTimer) -> None:
    cache = make(100, timer)
    ttls = [7, 3, 11, 3, 1, 5, 13, 2, 17, 19, 23, 29, 4]    # more than the eight rings: the heap too
    for i, ttl in enumerate(ttls):
        cache.set(i, i * 10, ttl=ttl)
    cache["forever"] = "f"
    assert cache.expire(timer() + 6) == [(4, 40), (7, 70), (1, 10), (3, 30), (12, 120), (5, 50)]
    timer.tick(100)
    assert [k for k, _ in cache.expire()] == [0, 2, 6, 8, 9, 10, 11]
    assert list(cache) == ["forever"]


def test_popitem_and_del_skip_what_has_expired(make: Any, timer: FakeTimer) -> None:
    cache = make(10, timer)
    cache.set("a", 1, ttl=1)
    cache["b"] = 2
    timer.tick(1)
    assert cache.popitem() == ("b", 2)
    cache.set("c", 3, ttl=1)
    timer.tick(1)
    with pytest.raises(KeyError):
        del cache["c"]                               # gone: counted as expired, not deleted
    assert cache.stats().expirations == 2 and len(cache) == 0
    with pytest.raises(KeyError):
        cache.popitem()
    assert cache.pop("c", "default") == "default"


def test_iteration_skips_expired_items_and_allows_writes(make: Any, timer: FakeTimer) -> None:
    cache = make(10, timer)
    for i in range(6):
        cache.set(i, i, ttl=1 + i % 2)
    timer.tick(1)
    seen = []
    for key in cache:                                # a snapshot: writing while iterating is fine
        seen.append(key)
        cache[100 + key] = key
    assert seen == [1, 3, 5]


def test_frozen_time_for_a_block(make: Any, timer: FakeTimer) -> None:
    cache = make(10, timer)
    cache.set("k", 1, ttl=1)
    with cache.timer:
        timer.tick(5)
        assert cache["k"] == 1                       # the time read when the block began
    assert "k" not in cache


def test_weighted_size_counts_only_live_items(make: Any, timer: FakeTimer) -> None:
    cache = make(100, timer, getsizeof=len)
    cache.set("a", "xxxx", ttl=1)
    cache["b"] = "yy"
    assert cache.currsize == 6
    timer.tick(1)
    assert cache.currsize == 2 and cache.stats().currsize == 2


def test_one_ttl_rule(make: Any, timer: FakeTimer) -> None:
    cache = make(10, timer)
    for bad in (0, -1, float("nan")):
        with pytest.raises(ValueError, match="ttl must be a positive number of seconds"):
            cache.set("k", 1, ttl=bad)
    for wrong in ("5", True, [1]):
        with pytest.raises(TypeError, match="ttl must be a number of seconds"):
            cache.set("k", 1, ttl=wrong)
    assert "k" not in cache and len(cache) == 0      # a refused write changes nothing
    cache.set("k", 1, ttl=float("inf"))              # inf: never expires
    timer.tick(10 ** 9)
    assert cache["k"] == 1


def test_copy_and_pickle_keep_deadlines(make: Any, timer: FakeTimer) -> None:
    cache = make(10, timer)
    cache.set("a", 1, ttl=5)
    cache["b"] = 2
    for clone in (copy.copy(cache), pickle.loads(pickle.dumps(cache)), copy.deepcopy(cache)):
        assert clone.expires_at("a") == 5 and clone.expires_at("b") == math.inf
        assert sorted(clone) == ["a", "b"]
    shallow = copy.copy(cache)                       # shares the clock
    timer.tick(5)
    assert list(shallow) == ["b"] and list(cache) == ["b"]


def test_random_ttls_against_a_model(make: Any, timer: FakeTimer) -> None:
    # No eviction (room for every key): what is live must be exactly what the model says.
    cache = make(1000, timer)
    model: dict[int, tuple[int, float]] = {}
    rng = random.Random(7)
    for step in range(4000):
        key = rng.randrange(60)
        op = rng.random()
        if op < 0.35:
            ttl = rng.choice([None, 0.5, 1, 2, 3, 5, 8, 13, 21, 0.25, 0.75, 1.5])  # > 8 distinct
            if ttl is None:
                cache[key] = step
            else:
                cache.set(key, step, ttl=ttl)
            model[key] = (step, timer() + ttl if ttl is not None else math.inf)
        elif op < 0.45:
            timer.tick(rng.random() * 2)
        elif op < 0.5:
            cache.pop(key, None)
            model.pop(key, None)
        else:
            expected = model.get(key)
            live = expected is not None and timer() < expected[1]
            assert cache.get(key, "miss") == (expected[0] if live else "miss"), step
        if step % 500 == 0:
            assert sorted(cache) == sorted(k for k, (_, d) in model.items() if timer() < d)


def test_threads_writing_and_reading_with_ttls(make: Any) -> None:
    # Four threads set keys with TTLs, read them and move a shared fake clock: the cache
    # stays consistent (a read returns what was written for that key, or nothing; the
    # size never passes maxsize) and no thread raises.
    timer = FakeTimer()
    cache = make(64, timer)
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work(seed: int) -> None:
        rng = random.Random(seed)
        try:
            for _ in range(20_000):
                key = rng.randrange(200)
                r = rng.random()
                if r < 0.4:
                    cache.set(key, ("v", key), ttl=rng.choice([0.5, 1, 2, 3, 4, 6, 7, 9, 11]))
                elif r < 0.45:
                    with lock:
                        timer.tick(0.1)
                elif r < 0.5:
                    cache.pop(key, None)
                elif r < 0.52:
                    len(cache)
                    list(cache)
                else:
                    got = cache.get(key)
                    assert got is None or got == ("v", key)
        except BaseException as exc:                 # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(cache) <= 64 and cache.currsize == len(cache)
    timer.tick(100)
    assert len(cache) == 0 and list(cache) == []


def test_the_coarse_clock_never_serves_an_item_late(impl: Any) -> None:
    # TieredCache's L1 reads the kernel's coarse monotonic clock (a few ns, lagging by a
    # tick and the kernel's update latency): each deadline is written two ticks early, so
    # nothing outlives its TTL.
    import importlib
    import sys
    import time

    mod = importlib.import_module("fastcache._core._timer" if impl.compiled else "fastcache._py._timer")
    slack = mod.coarse_clock_slack()
    if impl.compiled and sys.platform == "linux":
        assert slack is not None and 0 < slack <= 0.1
    else:
        assert slack is None                         # plain time.monotonic
    slack = slack or 0.0
    cache = impl.LRUCache(10, timer=mod.coarse_monotonic)
    before = time.monotonic()
    cache.set("k", 1, ttl=10)
    after = time.monotonic()
    expires = cache.expires_at("k")
    assert expires <= after + 10 - slack + 1e-9        # the coarse clock never runs ahead
    assert expires >= before + 10 - slack - 0.05       # and lags by about a tick
    assert cache["k"] == 1
