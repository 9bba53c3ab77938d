"""The Redis lease (distributed single-flight) against a real server, in both modes.

Written once, for asyncio; ``tests/_sync/test_lease.py`` is generated from it.
Several lease objects stand for several processes.
"""
from __future__ import annotations

import time
import uuid

import pytest

from concurrency import async_gather, async_sleep
from fastcache.patterns import AsyncRedisLease, LoadTimeout


def fresh_prefix():
    return f"lease-{uuid.uuid4().hex[:8]}:"


async def test_acquire_renew_release(redis_url):
    lease = AsyncRedisLease(redis_url, prefix=fresh_prefix(), ttl=5)
    token = await lease.acquire("k")
    assert token is not None and await lease.acquire("k") is None
    assert await lease.renew("k", token) is True and await lease.renew("k", "not-mine") is False
    assert await lease.release("k", "not-mine") is False
    assert await lease.release("k", token) is True and await lease.acquire("k") is not None
    await lease.client.aclose()


async def test_one_load_across_holders_while_renewal_keeps_a_slow_load(redis_url):
    prefix = fresh_prefix()
    store = {}
    calls = []

    async def load():
        calls.append(1)
        await async_sleep(0.5)                  # longer than the lease TTL: renewal must keep it
        store["k"] = "loaded"
        return "loaded"

    async def check():
        return ("k" in store), store.get("k")
    leases = [AsyncRedisLease(redis_url, prefix=prefix, ttl=0.3, poll_interval=0.01) for _ in range(4)]
    got = await async_gather(*[(lambda lease=lease: lease.load_once("k", load, check)) for lease in leases])
    assert got == ["loaded"] * 4 and len(calls) == 1
    # each either waited for the value or won the lease after it was stored (then it checks, no load)
    assert sum(lease.acquired + lease.waited for lease in leases) == 4
    for lease in leases:
        await lease.client.aclose()


async def test_a_crashed_holders_lease_expires_and_is_taken_over(redis_url):
    prefix = fresh_prefix()
    crashed = AsyncRedisLease(redis_url, prefix=prefix, ttl=0.3)
    assert await crashed.acquire("k") is not None             # a holder that never finishes
    lease = AsyncRedisLease(redis_url, prefix=prefix, ttl=0.3, poll_interval=0.01)

    async def load():
        return "mine"

    async def check():
        return False, None
    t0 = time.monotonic()
    assert await lease.load_once("k", load, check) == "mine"
    assert 0.2 < time.monotonic() - t0 < 3                    # waited for the expiry, then loaded
    quick = AsyncRedisLease(redis_url, prefix=prefix, ttl=5, wait_timeout=0.1)
    assert await quick.acquire("z") is not None
    with pytest.raises(LoadTimeout, match="another process"):
        await quick.load_once("z", load, check)
    for x in (crashed, lease, quick):
        await x.client.aclose()


async def test_down_redis_loads_locally(caplog):
    lease = AsyncRedisLease("redis://127.0.0.1:1/0", ttl=1)

    async def load():
        return "local"

    async def check():
        return False, None
    assert await lease.load_once("k", load, check) == "local"
    assert "loading without it" in caplog.text


async def test_bad_options():
    for bad in (dict(ttl=0), dict(poll_interval=-1), dict(wait_timeout=True)):
        with pytest.raises(ValueError):
            AsyncRedisLease("redis://127.0.0.1:1/0", **bad)
