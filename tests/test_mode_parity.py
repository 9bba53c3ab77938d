"""The same scripted reads through the sync and the asyncio API give the same answers and stats.

Each script is a list of steps run against ``CacheAside.get`` and against
``CacheAside.aget`` on identical setups (a fake clock, an injected random
source for XFetch, a loader that counts and can be made to fail).  Background
refreshes are waited for after every read, in both modes, so the scripts are
deterministic.  The tiered cache gets the same treatment over a real Redis.
"""
from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import FakeTimer
from fastcache import LRUCache, TTLCache
from fastcache.patterns import CacheAside

OPTIONS = {
    "plain": dict(),
    "swr": dict(ttl=10, stale_while_revalidate=30),
    "stale_if_error": dict(ttl=10, stale_if_error=30),
    "negative": dict(ttl=10, negative_ttl=5),
    "refresh_ahead": dict(ttl=10, refresh_threshold=0.5),
    "xfetch": dict(ttl=10, xfetch_beta=1.0),
    "everything": dict(ttl=10, negative_ttl=5, stale_while_revalidate=20, stale_if_error=40,
                       refresh_threshold=0.8, xfetch_beta=2.0),
}


class Loader:
    """Counts calls, answers f"{key}#{n}", or raises the exception set in ``fail``;
    each call takes ``cost`` seconds of the fake clock (XFetch's recompute time)."""

    def __init__(self, timer: FakeTimer) -> None:
        self.timer = timer
        self.calls = 0
        self.fail: Any = None
        self.cost = 0.5

    def __call__(self, key: Any) -> Any:
        self.calls += 1
        self.timer.tick(self.cost)
        if self.fail is not None:
            raise self.fail(f"load {self.calls} of {key!r} failed")
        return f"{key}#{self.calls}"


def make(kind: str, options: dict[str, Any]) -> tuple[CacheAside, FakeTimer, Loader]:
    timer = FakeTimer(1000.0)
    draws = iter([0.9, 0.05, 0.5, 0.01, 0.99, 0.3] * 1000)      # XFetch's U, the same in both modes
    cache = LRUCache(100) if kind == "lru" else TTLCache(100, ttl=1000, timer=timer)
    loader = Loader(timer)
    aside = CacheAside(cache, loader, timer=timer, random=lambda: next(draws), **options)
    return aside, timer, loader


def between_reads(step: tuple[Any, ...], aside: CacheAside, timer: FakeTimer, loader: Loader) -> None:
    """A step that is not a read (the same in both modes)."""
    if step[0] == "tick":
        timer.tick(step[1])
    elif step[0] == "fail":
        loader.fail = step[1]
    elif step[0] == "invalidate":
        aside.invalidate(step[1])


def outcome(call: Any) -> tuple[str, Any]:
    try:
        return "value", call()
    except Exception as exc:
        return "raised", (type(exc).__name__, str(exc))


def run_sync(kind: str, options: dict[str, Any], script: list[tuple[Any, ...]]) -> tuple[list[Any], dict[str, int]]:
    aside, timer, loader = make(kind, options)
    seen = []
    try:
        for step in script:
            if step[0] == "read":
                seen.append(outcome(lambda: aside.get(step[1])))
                assert aside.wait_refreshes()
            else:
                between_reads(step, aside, timer, loader)
    finally:
        aside.close()
    return seen, dataclasses.asdict(aside.stats())


def run_async(kind: str, options: dict[str, Any], script: list[tuple[Any, ...]]) -> tuple[list[Any], dict[str, int]]:
    aside, timer, loader = make(kind, options)
    seen = []

    async def main() -> None:
        for step in script:
            if step[0] == "read":
                try:
                    seen.append(("value", await aside.aget(step[1])))
                except Exception as exc:
                    seen.append(("raised", (type(exc).__name__, str(exc))))
                await aside.await_refreshes()
            else:
                between_reads(step, aside, timer, loader)
    asyncio.run(main())
    return seen, dataclasses.asdict(aside.stats())


def assert_same(kind: str, options: dict[str, Any], script: list[tuple[Any, ...]]) -> tuple[list[Any], dict[str, int]]:
    sync = run_sync(kind, options, script)
    asynchronous = run_async(kind, options, script)
    assert sync == asynchronous, (options, script)
    return sync


def test_the_stale_while_revalidate_drift_is_gone():
    # the sequence of the issue: read, +15 s, read, read, +100 s, read
    script = [("read", "k"), ("tick", 15), ("read", "k"), ("read", "k"), ("tick", 100), ("read", "k")]
    seen, stats = assert_same("lru", OPTIONS["swr"], script)
    assert [v for _, v in seen] == ["k#1", "k#1", "k#2", "k#3"]     # stale once, then the refreshed value
    assert stats["stale_served"] == 1 and stats["loads"] == 3 and stats["refreshes"] == 1


@pytest.mark.parametrize("error", [LookupError, TypeError])
def test_negative_caching_is_the_same_for_every_loader_error(error):
    # the loader's own TypeError is cached like any other error (in both modes)
    script = [("fail", error), ("read", "k"), ("read", "k"), ("fail", None), ("read", "k"),
              ("tick", 6), ("read", "k")]
    seen, stats = assert_same("lru", OPTIONS["negative"], script)
    assert seen[0][0] == seen[1][0] == seen[2][0] == "raised" and seen[0] == seen[1] == seen[2]
    assert seen[3] == ("value", "k#2")
    assert stats["negative_hits"] == 2 and stats["loads"] == 2 and stats["load_errors"] == 1


def test_a_sync_read_with_an_async_loader_is_a_usage_error_and_never_cached():
    async def coroutine_loader(key):
        return key
    aside = CacheAside(LRUCache(10), coroutine_loader, ttl=10, negative_ttl=60)
    for _ in range(2):
        with pytest.raises(TypeError, match="awaitable"):
            aside.get("k")
    assert aside.stats().negative_hits == 0 and aside.stats().loads == 2 and len(aside.cache) == 0


@pytest.mark.parametrize("name", sorted(OPTIONS))
@pytest.mark.parametrize("kind", ["lru", "ttl"])
def test_fixed_scripts(name, kind):
    script = [("read", "a"), ("tick", 4), ("read", "a"), ("tick", 4), ("read", "a"), ("read", "b"),
              ("tick", 5), ("read", "a"), ("fail", LookupError), ("tick", 8), ("read", "a"), ("read", "b"),
              ("tick", 30), ("read", "a"), ("fail", None), ("read", "a"), ("invalidate", "a"), ("read", "a"),
              ("tick", 100), ("read", "b"), ("read", "b")]
    assert_same(kind, OPTIONS[name], script)


steps = st.one_of(
    st.tuples(st.just("read"), st.sampled_from(["a", "b", 3])),
    st.tuples(st.just("tick"), st.sampled_from([0.5, 2, 4.5, 9, 15, 35, 80])),
    st.tuples(st.just("fail"), st.sampled_from([None, None, LookupError, TypeError, ValueError])),
    st.tuples(st.just("invalidate"), st.sampled_from(["a", "b"])),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(sorted(OPTIONS)), kind=st.sampled_from(["lru", "ttl"]),
       script=st.lists(steps, min_size=1, max_size=30))
def test_random_scripts(name, kind, script):
    assert_same(kind, OPTIONS[name], script)
