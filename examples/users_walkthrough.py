"""The classic caching-patterns walkthrough on a real SQLite users table.

    python examples/users_walkthrough.py                # Redis L2 if one answers, else L1 only
    FASTCACHE_REDIS_URL=redis://host:6379/0 python examples/users_walkthrough.py

Cache-aside (``@cached`` and ``get_or_load``), write-through, write-behind,
refresh-ahead and invalidation by tag and on write, each with the database
queries it saves counted.  With a Redis server reachable the cache is a
``TieredCache`` (an LRU in this process in front of Redis, shared by every
process); without one it is the LRU alone, and everything still runs.
"""
from __future__ import annotations

import os
import sqlite3
import tempfile
import threading
import time
from typing import Any, Optional

from fastcache import LRUCache, TieredCache, cached
from fastcache.patterns import CacheAside, RefreshAhead, WriteBehind, WriteThrough, invalidate_on_write
from fastcache.tags import TaggedCache


class UsersDB:
    """A SQLite users table that counts its queries (the cost caching saves)."""

    def __init__(self, path: str) -> None:
        self.db = sqlite3.connect(path, check_same_thread=False)
        self.lock = threading.Lock()
        self.reads = self.writes = 0
        self.db.execute("CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY, name TEXT, team TEXT)")
        self.db.executemany("INSERT OR REPLACE INTO users VALUES (?, ?, ?)",
                            [(i, f"user{i}", f"team{i % 3}") for i in range(1, 101)])
        self.db.commit()

    def load(self, key: str) -> Optional[dict[str, Any]]:
        uid = int(key.split(":")[1])
        with self.lock:
            self.reads += 1
            row = self.db.execute("SELECT id, name, team FROM users WHERE id = ?", (uid,)).fetchone()
        return None if row is None else {"id": row[0], "name": row[1], "team": row[2]}

    def save(self, key: str, user: dict[str, Any]) -> None:
        with self.lock:
            self.writes += 1
            self.db.execute("INSERT OR REPLACE INTO users VALUES (?, ?, ?)", (user["id"], user["name"], user["team"]))
            self.db.commit()

    def save_batch(self, batch: dict[str, dict[str, Any]]) -> None:
        with self.lock:
            self.writes += 1
            self.db.executemany("INSERT OR REPLACE INTO users VALUES (?, ?, ?)",
                                [(u["id"], u["name"], u["team"]) for u in batch.values()])
            self.db.commit()


def make_cache(namespace: str) -> Any:
    """A TieredCache over Redis when one answers, else an LRUCache."""
    url = os.environ.get("FASTCACHE_REDIS_URL", "redis://127.0.0.1:6379/0")
    try:
        from fastcache.redis import RedisCache
        l2 = RedisCache(url, prefix=f"walkthrough:{namespace}:", ttl=300)
        l2.ping()
    except Exception as exc:                             # no redis-py, or no server
        print(f"  [{namespace}] L1 only (no Redis at {url}: {type(exc).__name__})")
        return LRUCache(1000)
    l2.clear()
    print(f"  [{namespace}] L1 in this process + Redis L2 at {url}")
    return TieredCache(LRUCache(1000), l2)


def cache_aside(db: UsersDB) -> None:
    print("1. cache-aside: read through the cache, load on a miss")
    cache = make_cache("aside")

    @cached(cache, key=lambda key: key)
    def get_user(key: str) -> Optional[dict[str, Any]]:
        return db.load(key)

    before = db.reads
    for _ in range(50):
        for uid in range(1, 11):
            get_user(f"user:{uid}")
    print(f"   500 reads of 10 users -> {db.reads - before} database queries")

    # Single-flight: 20 threads missing the same key at once cost one query.
    slow = CacheAside(cache, lambda k: (time.sleep(0.2), db.load(k))[1])
    before = db.reads
    threads = [threading.Thread(target=slow.get, args=("user:42",)) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(f"   20 concurrent misses of user:42 -> {db.reads - before} database query")
    close(cache)


def write_through(db: UsersDB) -> None:
    print("2. write-through: the database first, then the cache")
    cache = make_cache("through")
    users = WriteThrough(cache, db.save)
    users.set("user:7", {"id": 7, "name": "grace", "team": "team1"})
    row = db.db.execute("SELECT name FROM users WHERE id = 7").fetchone()[0]
    print(f"   database has {row!r}, cache has {users.get('user:7')['name']!r}")
    close(cache)


def write_behind(db: UsersDB) -> None:
    print("3. write-behind: the cache now, the database in coalesced batches")
    cache = make_cache("behind")
    before = db.writes
    with WriteBehind(cache, db.save_batch, max_batch=100, max_delay=0.05) as users:
        t0 = time.perf_counter()
        for i in range(2000):
            uid = 1 + i % 20
            users.set(f"user:{uid}", {"id": uid, "name": f"renamed{i}", "team": "team0"})
        elapsed = time.perf_counter() - t0
    s = users.stats()
    print(f"   2000 sets in {elapsed * 1000:.0f} ms -> {s.written} rows written in {db.writes - before} "
          f"transactions ({s.coalesced} writes coalesced away)")
    close(cache)


def refresh_ahead(db: UsersDB) -> None:
    print("4. refresh-ahead: hot entries reload in the background before they expire")
    cache = make_cache("refresh")
    users = RefreshAhead(cache, db.load, ttl=0.5, refresh_threshold=0.6)
    users.get("user:1")
    before = db.reads
    t_end = time.monotonic() + 1.6
    slowest = 0.0
    while time.monotonic() < t_end:
        t0 = time.perf_counter()
        users.get("user:1")
        slowest = max(slowest, time.perf_counter() - t0)
        time.sleep(0.01)
    users.wait_refreshes()
    print(f"   1.6 s of reads on a 0.5 s TTL -> {db.reads - before} background reloads, "
          f"slowest read {slowest * 1e6:.0f} us (no reader waited for the database)")
    users.close()
    close(cache)


def invalidation(db: UsersDB) -> None:
    print("5. invalidation: by tag, and on write after the commit")
    cache = make_cache("tags")
    tagged = cache if isinstance(cache, TieredCache) else TaggedCache(cache)
    for uid in range(1, 31):
        user = db.load(f"user:{uid}")
        assert user is not None
        tagged.set(f"user:{uid}", user, tags=[user["team"]])
    removed = tagged.invalidate_tag("team1")
    print(f"   invalidate_tag('team1') removed {len(removed)} users (every process, every tier)")
    with invalidate_on_write(tagged, "user:3"):
        db.save("user:3", {"id": 3, "name": "renamed", "team": "team0"})
    print(f"   after the committed update user:3 is cached: {tagged.get('user:3') is not None}")
    close(cache)


def close(cache: Any) -> None:
    if isinstance(cache, TieredCache):
        cache.close()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = UsersDB(os.path.join(tmp, "users.db"))
        for step in (cache_aside, write_through, write_behind, refresh_ahead, invalidation):
            step(db)
        print("done")


if __name__ == "__main__":
    main()
