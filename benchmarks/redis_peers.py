"""The Redis tier against what a user would write by hand, and against the peers.

    python benchmarks/redis_peers.py            # also a section of benchmarks/report.py
    python benchmarks/redis_peers.py --quick    # fewer rounds (CI's smoke run)

One run, one local redis-server (and three for the sharded row): every row is
measured in this process, in alternating rounds, and its figure is the median of
the rounds; ratios are to the row's baseline in the same run.  Values are small
JSON dicts (``{"id": n, "name": ..., "tags": [...]}``) read from 1,000 keys.

- throughput rows: 200 asyncio tasks (or 16 threads) each reading keys in a loop,
  reads per second, ratio to raw ``redis.asyncio`` (``redis``) ``GET`` + ``json.loads``;
- latency rows: one task alone, microseconds per read;
- peers: cashews and aiocache with their Redis backends, on the same server;
- async memoization: a hit of ``@cached`` on an ``async def``, against
  ``async_lru.alru_cache``, cashews' ``@cache`` (memory backend) and aiocache's ``@cached``.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import statistics
import sys
import threading
import time
from typing import Any, Awaitable, Callable

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))

KEYS = [f"user:{i}" for i in range(1000)]
TASKS = 200
THREADS = 16


def value(i: int) -> dict[str, Any]:
    return {"id": i, "name": f"user number {i}", "tags": ["a", "b"]}


async def throughput(get: Callable[[str], Awaitable[Any]], seconds: float) -> float:
    """Reads per second by TASKS tasks each reading in a loop for about ``seconds``."""
    count = 0
    stop = time.perf_counter() + seconds

    async def worker(n: int) -> None:
        nonlocal count
        i = n
        while time.perf_counter() < stop:
            await get(KEYS[i % 1000])
            i += 7
            count += 1
    t0 = time.perf_counter()
    await asyncio.gather(*(worker(n) for n in range(TASKS)))
    return count / (time.perf_counter() - t0)


async def latency(get: Callable[[str], Awaitable[Any]], n: int) -> float:
    """Microseconds per read, one task alone."""
    t0 = time.perf_counter()
    for i in range(n):
        await get(KEYS[i % 1000])
    return (time.perf_counter() - t0) / n * 1e6


def thread_throughput(get: Callable[[str], Any], seconds: float) -> float:
    count = [0] * THREADS
    stop = time.perf_counter() + seconds
    start = threading.Barrier(THREADS + 1)

    def worker(n: int) -> None:
        start.wait()
        i, c = n, 0
        while time.perf_counter() < stop:
            get(KEYS[i % 1000])
            i += 7
            c += 1
        count[n] = c
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    return sum(count) / (time.perf_counter() - t0)


def median_of(rounds: dict[str, list[float]]) -> dict[str, float]:
    return {k: statistics.median(v) for k, v in rounds.items()}


async def async_rows(url: str, rounds: int, seconds: float) -> tuple[dict[str, float], dict[str, float]]:
    import redis.asyncio as ra

    from fastcache import LRUCache
    from fastcache.redis import AsyncRedisCache
    from fastcache.tiered import AsyncTieredCache

    raw = ra.Redis.from_pool(ra.BlockingConnectionPool.from_url(url, max_connections=100, timeout=20))

    async def raw_get(k: str) -> Any:
        data = await raw.get("raw:" + k)
        return json.loads(data) if data is not None else None
    await raw.mset({"raw:" + k: json.dumps(value(i)) for i, k in enumerate(KEYS)})

    batched = AsyncRedisCache(url, prefix="", ttl=3600)
    unbatched = AsyncRedisCache(url, prefix="", ttl=3600, auto_batch=False)
    await batched.set_many({k: value(i) for i, k in enumerate(KEYS)})
    tiered = AsyncTieredCache(LRUCache(1), batched, invalidation=False)     # an L1 of one: every read misses
    getters: dict[str, Callable[[str], Awaitable[Any]]] = {
        "raw redis.asyncio GET + json.loads": raw_get,
        "fastcache AsyncRedisCache (auto_batch, default)": batched.get,
        "fastcache AsyncRedisCache(auto_batch=False)": unbatched.get,
        "fastcache AsyncTieredCache, L1 miss": tiered.get,
    }
    closers: list[Callable[[], Awaitable[Any]]] = [raw.aclose, batched.close, unbatched.close]
    try:
        from cashews import Cache
        cashews = Cache()
        cashews.setup(url, client_side=False)
        for i, k in enumerate(KEYS):
            await cashews.set(f"cw:{k}", value(i))

        async def cashews_get(k: str) -> Any:
            return await cashews.get(f"cw:{k}")
        getters["cashews (Redis backend)"] = cashews_get
        closers.append(cashews.close)
    except ImportError:
        pass
    try:
        from aiocache import RedisCache as AioRedis
        from aiocache.serializers import JsonSerializer
        host_port = url.split("//")[1].split("/")[0]
        aio = AioRedis(endpoint=host_port.split(":")[0], port=int(host_port.split(":")[1]),
                       serializer=JsonSerializer(), namespace="aio", pool_max_size=100,
                       connection_pool_class=ra.BlockingConnectionPool)
        for i, k in enumerate(KEYS):
            await aio.set(k, value(i))
        getters["aiocache (RedisCache)"] = aio.get
        closers.append(aio.close)
    except ImportError:
        pass
    for get in getters.values():                    # warm up: connections, scripts
        assert await get(KEYS[1]) == value(1), get
    tput: dict[str, list[float]] = {k: [] for k in getters}
    lat: dict[str, list[float]] = {k: [] for k in getters}
    for _ in range(rounds):
        for name, get in getters.items():
            tput[name].append(await throughput(get, seconds))
    for _ in range(2 * rounds - 1):             # latency apart: a quiet loop, more rounds
        for name, get in getters.items():
            lat[name].append(await latency(get, 1000))
    for close in closers:
        await close()
    return median_of(tput), median_of(lat)


def thread_rows(url: str, rounds: int, seconds: float) -> dict[str, float]:
    import redis

    from fastcache.redis import RedisCache
    raw = redis.Redis.from_url(url, max_connections=64)

    def raw_get(k: str) -> Any:
        data = raw.get("raw:" + k)
        return json.loads(data) if data is not None else None
    batched = RedisCache(url, prefix="", ttl=3600, auto_batch=True)
    plain = RedisCache(url, prefix="", ttl=3600)
    getters = {"raw redis-py GET + json.loads": raw_get,
               "fastcache RedisCache(auto_batch=True)": batched.get,
               "fastcache RedisCache (default, no batching)": plain.get}
    for get in getters.values():
        assert get(KEYS[2]) == value(2)
    out: dict[str, list[float]] = {k: [] for k in getters}
    for _ in range(rounds):
        for name, get in getters.items():
            out[name].append(thread_throughput(get, seconds))
    batched.close()
    plain.close()
    raw.close()
    return median_of(out)


def sharded_rows(urls: list[str], rounds: int) -> dict[str, float]:
    from fastcache.redis import RedisCache, ShardedRedisCache
    single = RedisCache(urls[0], prefix="sh:", ttl=3600)
    sharded = ShardedRedisCache(urls, prefix="sh:", ttl=3600)
    keys = KEYS[:100]
    single.set_many({k: value(i) for i, k in enumerate(keys)})
    sharded.set_many({k: value(i) for i, k in enumerate(keys)})
    assert len(single.get_many(keys)) == len(sharded.get_many(keys)) == 100
    out: dict[str, list[float]] = {"one node's get_many": [], "ShardedRedisCache.get_many, 3 shards": []}
    for _ in range(rounds):
        for name, fn in (("one node's get_many", single.get_many),
                         ("ShardedRedisCache.get_many, 3 shards", sharded.get_many)):
            t0 = time.perf_counter()
            for _ in range(200):
                fn(keys)
            out[name].append((time.perf_counter() - t0) / 200 * 1e6)
    single.close()
    sharded.close()
    return median_of(out)


async def memo_rows(rounds: int) -> dict[str, float]:
    """Nanoseconds per hit of an async memoizer (the same argument every call)."""
    from fastcache import LRUCache, cached

    async def work(x: int) -> int:
        return x * 2

    @cached(LRUCache(1024))
    async def fc(x: int) -> int:
        return x * 2
    hits: dict[str, Callable[[int], Awaitable[Any]]] = {"await the bare coroutine (no cache)": work,
                                                        "fastcache @cached": fc}
    try:
        from async_lru import alru_cache
        hits["async_lru.alru_cache"] = alru_cache(maxsize=1024)(work)
    except ImportError:
        pass
    try:
        from cashews import Cache
        cw = Cache()
        cw.setup("mem://")
        hits["cashews @cache (mem://)"] = cw(ttl="1h")(work)
    except ImportError:
        pass
    try:
        from aiocache import cached as aio_cached
        hits["aiocache @cached (memory)"] = aio_cached()(work)
    except ImportError:
        pass
    for fn in hits.values():
        assert await fn(3) == 6
    out: dict[str, list[float]] = {k: [] for k in hits}
    n = 20000
    for _ in range(rounds):
        for name, fn in hits.items():
            t0 = time.perf_counter()
            for _ in range(n):
                await fn(3)
            out[name].append((time.perf_counter() - t0) / n * 1e9)
    return median_of(out)


def table(title: str, unit: str, figures: dict[str, float], base: str, higher_is_better: bool) -> list[str]:
    lines = [title, "", f"| | {unit} | ratio to the first row |", "|---|---:|---:|"]
    for name, fig in figures.items():
        lines.append(f"| {name} | {fig:,.0f} | {fig / figures[base]:.2f}× |")
    lines.append("")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="one round, short runs")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    from redis_servers import RedisServer, find_binary
    binary = find_binary("redis-server")
    if binary is None:
        print("(Redis peer figures skipped: no redis-server)")
        return
    rounds, seconds = (1, 0.3) if args.quick else (5, 1.0)
    servers = [RedisServer(str(binary)).start() for _ in range(3)]
    try:
        tput, lat = asyncio.run(async_rows(servers[0].url, rounds, seconds))
        threads = thread_rows(servers[0].url, rounds, seconds)
        sharded = sharded_rows([s.url for s in servers], rounds)
        memo = asyncio.run(memo_rows(rounds))
    finally:
        for s in servers:
            s.stop()
    cmd = "`python benchmarks/redis_peers.py`"
    out: list[str] = []
    out += table(f"**Redis tier, asyncio: reads/s of {TASKS} concurrent tasks** ({cmd}; medians of "
                 f"{rounds} rounds, one loopback redis-server)", "reads/s", tput,
                 "raw redis.asyncio GET + json.loads", True)
    out += table(f"**Redis tier, asyncio: one task alone, µs per read** ({cmd})", "µs", lat,
                 "raw redis.asyncio GET + json.loads", False)
    out += table(f"**Redis tier, {THREADS} threads: reads/s** ({cmd})", "reads/s", threads,
                 "raw redis-py GET + json.loads", True)
    out += table(f"**ShardedRedisCache.get_many of 100 keys: µs per call** ({cmd})", "µs", sharded,
                 "one node's get_many", False)
    out += table(f"**Async memoization: ns per hit** ({cmd})", "ns", memo,
                 "await the bare coroutine (no cache)", False)
    print("\n".join(out))


if __name__ == "__main__":
    main()
