"""The walkthrough's patterns in asyncio: ``@cached`` on ``async def``, single-flight
across tasks, write-behind from a task, stale-while-revalidate.

    python examples/async_users.py                      # Redis L2 if one answers, else L1 only
"""
from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from typing import Any

from fastcache import AsyncTieredCache, LRUCache, cached
from fastcache.patterns import AsyncWriteBehind, CacheAside

DB = sqlite3.connect(":memory:", check_same_thread=False)
DB.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
DB.executemany("INSERT INTO users VALUES (?, ?)", [(i, f"user{i}") for i in range(1, 101)])
QUERIES = {"reads": 0, "writes": 0}


async def load_user(key: str) -> dict[str, Any]:
    QUERIES["reads"] += 1
    await asyncio.sleep(0.05)                            # a slow query
    uid = int(key.split(":")[1])
    row = DB.execute("SELECT id, name FROM users WHERE id = ?", (uid,)).fetchone()
    return {"id": row[0], "name": row[1]}


def save_users(batch: dict[str, dict[str, Any]]) -> None:
    QUERIES["writes"] += 1
    DB.executemany("UPDATE users SET name = ? WHERE id = ?", [(u["name"], u["id"]) for u in batch.values()])
    DB.commit()


async def make_cache() -> Any:
    url = os.environ.get("FASTCACHE_REDIS_URL", "redis://127.0.0.1:6379/0")
    try:
        from fastcache.redis import AsyncRedisCache
        l2 = AsyncRedisCache(url, prefix="walkthrough:async:", ttl=300)
        await l2.ping()
        await l2.clear()
    except Exception as exc:
        print(f"L1 only (no Redis at {url}: {type(exc).__name__})")
        return LRUCache(1000)
    print(f"L1 + Redis L2 at {url}")
    cache = AsyncTieredCache(LRUCache(1000), l2)
    await cache.start()
    return cache


async def main() -> None:
    cache = await make_cache()

    @cached(cache, key=lambda key: key)
    async def get_user(key: str) -> dict[str, Any]:
        return await load_user(key)

    users = await asyncio.gather(*(get_user("user:7") for _ in range(100)))
    print(f"100 concurrent tasks read user:7 ({users[0]['name']}) -> {QUERIES['reads']} query")

    async with AsyncWriteBehind(cache, save_users, max_batch=50, max_delay=0.05) as wb:
        for i in range(1000):
            uid = 1 + i % 10
            await wb.set(f"user:{uid}", {"id": uid, "name": f"renamed{i}"})
    print(f"1000 async sets -> {wb.stats().written} rows in {QUERIES['writes']} transactions")

    swr = CacheAside(LRUCache(100), load_user, ttl=0.2, stale_while_revalidate=5)
    await swr.aget("user:1")
    await asyncio.sleep(0.3)                             # expired, inside the stale window
    t0 = time.perf_counter()
    value = await swr.aget("user:1")
    print(f"stale read answered in {(time.perf_counter() - t0) * 1e6:.0f} us ({value['name']}); "
          "the reload runs in the background")
    await swr.await_refreshes()
    if isinstance(cache, AsyncTieredCache):
        await cache.close()
    print("done")


if __name__ == "__main__":
    asyncio.run(main())
