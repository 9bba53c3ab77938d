"""Write-behind where the modes differ: thread races, interpreter exit, a plain store
under the asyncio queue; and the journal across processes and server restarts.

The behaviour of both write-behind and write-through classes is tested once, in
both modes: tests/_async/test_write_behind.py and test_write_through.py."""
from __future__ import annotations

import random
import subprocess
import sys
import textwrap
import threading

import pytest

from fastcache import LRUCache
from fastcache.patterns import AsyncWriteBehind, WriteBehind, WriteBehindFull


class Store:
    """A dict-backed store whose writes can be made to fail or block."""

    def __init__(self):
        self.data = {}
        self.batches = []
        self.fail_next = 0
        self.gate = threading.Event()
        self.gate.set()
        self.lock = threading.Lock()

    def write(self, key, value):
        if self.fail_next:
            self.fail_next -= 1
            raise ConnectionError("store down")
        self.data[key] = value

    def write_batch(self, batch):
        self.gate.wait()
        with self.lock:
            if self.fail_next:
                self.fail_next -= 1
                raise ConnectionError("store down")
            self.batches.append(dict(batch))
            self.data.update(batch)


# -- write-behind -------------------------------------------------------------------

def test_write_behind_threads_end_consistent():
    store = Store()
    cache = LRUCache(10_000)
    wb = WriteBehind(cache, store.write_batch, max_batch=50, max_delay=0.001, max_pending=64)

    def worker(seed):
        rng = random.Random(seed)
        for i in range(3000):
            wb.set(f"k{rng.randrange(200)}", (seed, i))
    threads = [threading.Thread(target=worker, args=(s,)) for s in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wb.close(timeout=30)
    assert store.data == dict(cache.items())             # store and cache agree on every last value


def test_write_behind_drains_at_interpreter_exit(tmp_path):
    out = tmp_path / "store.txt"
    code = textwrap.dedent(f"""
        import time
        from fastcache import LRUCache
        from fastcache.patterns import WriteBehind
        def write_batch(batch):
            time.sleep(0.01)
            with open({str(out)!r}, "a") as f:
                for k, v in batch.items():
                    f.write(f"{{k}}={{v}}\\n")
        wb = WriteBehind(LRUCache(100), write_batch, max_batch=7, max_delay=60)
        for i in range(50):
            wb.set(i, i * i)
        # no close(): exit must drain
    """)
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    lines = out.read_text().split()
    assert sorted(lines) == sorted(f"{i}={i * i}" for i in range(50))


# -- asyncio write-behind ---------------------------------------------------------------

def test_async_write_behind_sync_store_failures_and_backpressure():
    import asyncio
    store = Store()
    store.fail_next = 4

    async def main():
        wb = AsyncWriteBehind(LRUCache(1000), store.write_batch, max_batch=5, max_delay=0.001,
                              retry_delay=0.001, max_retry_delay=0.005)   # a sync store: run in a thread
        expected = {}
        for i in range(300):
            await wb.set(f"k{i % 37}", i)
            expected[f"k{i % 37}"] = i
        assert await wb.close(timeout=20)
        assert store.data == expected and wb.stats().failures == 4

        store.gate.clear()                                   # the store hangs
        full = AsyncWriteBehind(LRUCache(10), store.write_batch, max_batch=1, max_delay=0, max_pending=1,
                                on_full="raise")
        await full.set("a", 1)
        await asyncio.sleep(0.05)                            # taken, stuck in the store
        await full.set("b", 1)
        with pytest.raises(WriteBehindFull):
            await full.set("c", 1)
        store.gate.set()
        assert await full.close(timeout=10)
    asyncio.run(main())


# -- the Redis Stream journal -----------------------------------------------------------

def test_journal_is_written_before_set_returns_and_acknowledged_after_the_store(redis_url):
    from fastcache.patterns import RedisStreamJournal
    store = Store()
    store.gate.clear()
    journal = RedisStreamJournal(redis_url, "orders")
    wb = WriteBehind(LRUCache(100), store.write_batch, max_batch=100, max_delay=60, journal=journal)
    for i in range(30):
        wb.set(f"o{i % 10}", i)
    assert len(journal) == 30                            # every accepted write is journaled
    store.gate.set()
    assert wb.flush(timeout=10)
    assert len(journal) == 0 and journal.acked == 30     # acknowledged once the store had them
    assert store.data == {f"o{j}": 20 + j for j in range(10)}
    with pytest.raises(TypeError, match="keys must be str"):
        wb.set(("tuple",), 1)                            # a journal needs keys it can encode
    assert "('tuple',)" not in map(repr, wb.cache.keys())
    wb.close()


KILL_PROBE = r"""
import sqlite3, sys, time
from fastcache import LRUCache
from fastcache.patterns import WriteBehind, RedisStreamJournal
url, name, db_path = sys.argv[1:4]
first = []
def write_batch(batch):
    if first:                                  # after one batch the store "hangs" for ever
        time.sleep(3600)
    first.append(1)
    db = sqlite3.connect(db_path)
    db.executemany("INSERT OR REPLACE INTO kv VALUES (?, ?)", [(k, v) for k, v in batch.items()])
    db.commit()
wb = WriteBehind(LRUCache(10_000), write_batch, max_batch=50, max_delay=0.01,
                 journal=RedisStreamJournal(url, name))
for i in range(2000):
    wb.set(f"k{i % 300}", i)
print("acked", flush=True)
time.sleep(3600)
"""


def test_journal_replays_the_writes_of_a_process_killed_with_sigkill(redis_url, tmp_path):
    import signal
    import sqlite3
    from fastcache.patterns import RedisStreamJournal
    db_path = str(tmp_path / "store.db")
    db = sqlite3.connect(db_path, check_same_thread=False)
    db.execute("CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER)")
    db.commit()
    child = subprocess.Popen([sys.executable, "-c", KILL_PROBE, redis_url, "kill-test", db_path],
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "acked"   # every set() returned: the writes were accepted
    child.send_signal(signal.SIGKILL)
    child.wait(10)
    child.stdout.close()
    before = dict(db.execute("SELECT k, v FROM kv"))
    assert len(before) < 300                             # the store missed most of them

    def write_batch(batch):
        db.executemany("INSERT OR REPLACE INTO kv VALUES (?, ?)", list(batch.items()))
        db.commit()
    journal = RedisStreamJournal(redis_url, "kill-test")
    wb = WriteBehind(LRUCache(10_000), write_batch, max_batch=50, max_delay=0.01, journal=journal)
    assert wb.stats().replayed > 0
    assert wb.close(timeout=30)
    expected = {f"k{j}": max(i for i in range(2000) if i % 300 == j) for j in range(300)}
    assert dict(db.execute("SELECT k, v FROM kv")) == expected   # zero lost writes
    assert len(journal) == 0


def test_journal_survives_redis_killed_mid_flush(own_redis):
    from fastcache.patterns import RedisStreamJournal
    store = Store()
    store.gate.clear()
    journal = RedisStreamJournal(own_redis.url, "mid-flush")
    wb = WriteBehind(LRUCache(100), store.write_batch, max_batch=10, max_delay=0.01, journal=journal)
    for i in range(10):
        wb.set(f"a{i}", i)
    while wb.stats().pending:                             # the batch is in the (hanging) store
        threading.Event().wait(0.005)
    own_redis.kill()                                     # Redis dies while the store write is in flight
    store.gate.set()
    assert wb.flush(timeout=10)                          # the store still gets the batch
    assert store.data == {f"a{i}": i for i in range(10)}
    with pytest.raises(Exception):
        wb.set("b", 1)                                   # no journal: the write is refused, not lost silently
    assert "b" not in wb.cache
    own_redis.restart()
    wb.set("b", 2)                                       # the journal is back (stream and group recreated)
    assert wb.close(timeout=10) and store.data["b"] == 2


def test_async_writer_replays_a_journal_backlog(redis_url):
    import asyncio
    from fastcache.patterns import AsyncRedisStreamJournal, RedisStreamJournal
    left = RedisStreamJournal(redis_url, "async-replay")
    for i in range(20):
        left.append(f"k{i % 5}", i)                      # a writer died with these unwritten
    written = {}

    async def main():
        journal = AsyncRedisStreamJournal(redis_url, "async-replay")
        async with AsyncWriteBehind(LRUCache(10), written.update, max_batch=3, max_delay=0.01,
                                    journal=journal) as wb:
            assert wb.stats().replayed == 20
            await wb.set("k0", "new")                    # newer than the backlog: wins
        assert written == {"k0": "new", "k1": 16, "k2": 17, "k3": 18, "k4": 19}
        assert await journal.client.xlen(journal.stream) == 0
    asyncio.run(main())


def test_async_write_through_takes_plain_functions_and_sync_caches():
    # the behaviour of both write-through classes: tests/_async/test_write_through.py
    import asyncio
    from fastcache.patterns import AsyncWriteThrough
    store = {}

    async def main():
        l1 = LRUCache(10, getsizeof=lambda v: len(str(v)))
        wt = AsyncWriteThrough(l1, store.__setitem__, delete=store.pop)
        await wt.set("a", 1)
        assert store == {"a": 1} and l1["a"] == 1 and await wt.get("a") == 1
        l1["k"] = "old"
        await wt.set("k", "x" * 100)                     # too large: invalidated, not stale
        assert "k" not in l1 and store["k"] == "x" * 100
        await wt.delete("a")
        assert "a" not in store and "a" not in l1
    asyncio.run(main())


def test_len_of_the_sync_journal(redis_url):
    # the journal's behaviour, in both modes: tests/_async/test_journal.py
    from fastcache.patterns.journal import AsyncRedisStreamJournal, RedisStreamJournal
    journal = RedisStreamJournal(redis_url, "j-len")
    journal.append("a", 1)
    assert len(journal) == 1 == journal.length()
    assert not hasattr(AsyncRedisStreamJournal, "__len__")


def test_sync_classes_refuse_coroutine_functions_instead_of_dropping_their_work():
    # the sync twins (generated from the asyncio source) cannot await: a coroutine function
    # is refused when the class is built, and an awaitable from a loader is a usage error
    from fastcache.loading import LoaderReturnedAwaitable
    from fastcache.patterns import WriteThrough

    async def write(key, value):
        pass

    async def write_batch(batch):
        pass
    with pytest.raises(TypeError, match="write is a coroutine function"):
        WriteThrough(LRUCache(10), write)
    with pytest.raises(TypeError, match="delete is a coroutine function"):
        WriteThrough(LRUCache(10), print, delete=write)
    with pytest.raises(TypeError, match="write_batch is a coroutine function"):
        WriteBehind(LRUCache(10), write_batch)

    async def load(key):
        return key
    cache = LRUCache(10)
    for _ in range(2):
        with pytest.raises(LoaderReturnedAwaitable, match="awaitable"):
            cache.get_or_load("k", load)
    assert "k" not in cache
