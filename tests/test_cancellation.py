"""asyncio cancellation reaches only the task that was cancelled (asyncio only: threads
are not cancelled).  A cancelled leader of a load hands nothing to its followers, who
load again; a cancelled half-open trial gives the trial back to the next read."""
from __future__ import annotations

import asyncio
from typing import Any

import pytest

from fastcache import AsyncTieredCache, LRUCache
from fastcache.patterns import CacheAside
from fastcache.redis import AsyncRedisCache
from fastcache.singleflight import AsyncSingleFlight

from faultproxy import FaultProxy


async def test_single_flight_followers_outlive_a_cancelled_leader() -> None:
    flight = AsyncSingleFlight()
    calls = []

    async def slow() -> str:
        calls.append(1)
        await asyncio.sleep(0.3)
        return "v"

    leader = asyncio.ensure_future(asyncio.wait_for(flight.do("k", slow), 0.1))
    await asyncio.sleep(0.05)
    follower = asyncio.ensure_future(flight.do("k", slow))
    with pytest.raises(asyncio.TimeoutError):
        await leader                                      # the leader's own timeout: its error
    assert await follower == ("v", False)                 # the follower loaded again, and led
    assert len(calls) == 2 and flight.in_flight() == 0


async def test_cache_aside_inline_path_followers_outlive_a_cancelled_leader() -> None:
    calls = []

    async def load(key: str) -> str:
        calls.append(key)
        await asyncio.sleep(0.3)
        return key.upper()

    aside = CacheAside(LRUCache(10), load)
    leader = asyncio.ensure_future(asyncio.wait_for(aside.aget("k"), 0.1))
    await asyncio.sleep(0.05)
    followers = [asyncio.ensure_future(aside.aget("k")) for _ in range(3)]
    with pytest.raises(asyncio.TimeoutError):
        await leader
    assert await asyncio.gather(*followers) == ["K", "K", "K"]
    assert calls == ["k", "k"]                            # one more load, shared by the three


async def test_tiered_get_or_load_waiters_outlive_a_cancelled_leader(redis_url: str, cleanup: Any) -> None:
    # The repro: the leader runs under wait_for(0.1) with a 1 s loader; a second
    # task asks 50 ms later without a timeout and used to get CancelledError.
    l2 = AsyncRedisCache(redis_url, prefix="cx:")
    tc = AsyncTieredCache(LRUCache(100), l2, invalidation=False)
    cleanup.append(l2.close)
    cleanup.append(tc.close)

    async def slow(key: str) -> str:
        await asyncio.sleep(0.5)
        return "loaded"

    leader = asyncio.ensure_future(asyncio.wait_for(tc.get_or_load("k", slow), 0.1))
    await asyncio.sleep(0.05)
    waiter = asyncio.ensure_future(tc.get_or_load("k", slow))
    with pytest.raises(asyncio.TimeoutError):
        await leader
    assert await waiter == "loaded" and await tc.get("k") == "loaded"


async def test_a_cancelled_half_open_trial_does_not_stick(redis_server: Any, cleanup: Any) -> None:
    # The repro: five failures open the breaker; after the cool-down a read
    # becomes the trial and is cancelled.  The trial used to stay taken: half-open for
    # good, every read skipping L2.  Now the next read is the trial, and closes it.
    with FaultProxy(redis_server.port) as proxy:
        l2 = AsyncRedisCache(proxy.url, prefix="cx:")
        tc = AsyncTieredCache(LRUCache(100), l2, invalidation=False, breaker_cooldown=0.1)
        cleanup.append(l2.close)
        cleanup.append(tc.close)
        await tc.set("k", "v")
        tc.invalidate_local("k")
        for _ in range(5):
            tc.breaker.failure(OSError("down"))
        assert tc.breaker.state == "open"
        await asyncio.sleep(0.2)
        proxy.latency(0.3)                                # the trial read will be in flight ...
        read = asyncio.ensure_future(tc.get("k"))
        await asyncio.sleep(0.05)
        read.cancel()                                     # ... when it is cancelled
        with pytest.raises(asyncio.CancelledError):
            await read
        assert tc.breaker.state == "half-open"
        proxy.heal()
        assert await tc.get("k") == "v"                   # the next read is the trial
        assert tc.breaker.state == "closed"
