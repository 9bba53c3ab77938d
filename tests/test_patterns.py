"""WriteThrough and WriteBehind over real caches, with a store that fails, hangs and races."""
from __future__ import annotations

import random
import subprocess
import sys
import textwrap
import threading

import pytest

from fastcache import LRUCache, TTLCache
from fastcache.patterns import WriteBehind, WriteBehindFull, WriteThrough


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


# -- write-through ----------------------------------------------------------------

def test_write_through_store_first_then_cache():
    store, cache = Store(), LRUCache(100)
    wt = WriteThrough(cache, store.write)
    wt.set("a", 1)
    assert store.data == {"a": 1} and cache["a"] == 1 and wt.get("a") == 1
    store.fail_next = 1
    with pytest.raises(ConnectionError):
        wt.set("a", 2)
    assert cache["a"] == 1 and store.data["a"] == 1      # the rejected value reached neither


def test_write_through_invalidate_option_and_ttl():
    store, cache = Store(), TTLCache(100, ttl=1000)
    wt = WriteThrough(cache, store.write, invalidate=True)
    cache["a"] = "old"
    wt.set("a", "new")
    assert "a" not in cache and store.data["a"] == "new"
    WriteThrough(cache, store.write).set("b", 1, ttl=5)
    assert cache.expires_at("b") == pytest.approx(cache.timer() + 5, abs=1)
    with pytest.raises(TypeError, match="per-item TTL"):
        WriteThrough(LRUCache(10), store.write).set("c", 1, ttl=5)


def test_write_through_cache_failure_invalidates():
    store = Store()
    cache = LRUCache(100, getsizeof=lambda v: len(v))
    cache["k"] = "old"
    wt = WriteThrough(cache, store.write)
    wt.set("k", "x" * 1000)                              # too large for the cache: ValueError inside
    assert store.data["k"] == "x" * 1000 and "k" not in cache   # readers fall back to the store


def test_write_through_delete():
    store, cache = Store(), LRUCache(10)
    deleted = []
    wt = WriteThrough(cache, store.write, delete=deleted.append)
    wt.set("a", 1)
    wt.delete("a")
    assert deleted == ["a"] and "a" not in cache
    with pytest.raises(TypeError):
        WriteThrough(cache, store.write).delete("a")
    with pytest.raises(TypeError):
        WriteThrough(cache, "not callable")


# -- write-behind -------------------------------------------------------------------

def test_write_behind_coalesces_and_drains_on_close():
    store, cache = Store(), LRUCache(1000)
    store.gate.clear()                                   # hold the first batch
    wb = WriteBehind(cache, store.write_batch, max_batch=10, max_delay=60)
    for i in range(10):
        wb.set(f"k{i}", i)                               # a full batch: taken at once, blocked in the store
    for n in range(1000):
        wb.set("hot", n)                                 # one key, many values
    assert cache["hot"] == 999 and wb.get("hot") == 999  # the cache has it at once
    store.gate.set()
    assert wb.close(timeout=10)
    assert store.data["hot"] == 999
    assert all(store.data[f"k{i}"] == i for i in range(10))
    s = wb.stats()
    assert s.sets == 1010 and s.coalesced == 999 and s.written == 11 and s.pending == 0
    with pytest.raises(RuntimeError, match="closed"):
        wb.set("x", 1)


def test_write_behind_batches_by_size_and_flush():
    store = Store()
    wb = WriteBehind(LRUCache(1000), store.write_batch, max_batch=25, max_delay=60)
    for i in range(100):
        wb.set(i, i)
    assert wb.flush(timeout=10)
    assert store.data == {i: i for i in range(100)}
    assert all(len(b) <= 25 for b in store.batches) and len(store.batches) >= 4
    wb.set("late", 1)
    assert wb.flush(timeout=10) and store.data["late"] == 1
    wb.close()


def test_write_behind_writes_after_max_delay():
    store = Store()
    done = threading.Event()
    wb = WriteBehind(LRUCache(10), lambda b: (store.write_batch(b), done.set()), max_batch=100,
                     max_delay=0.05)
    wb.set("a", 1)
    assert done.wait(5)                                  # no flush(): the delay alone triggers it
    assert store.data == {"a": 1}
    wb.close()


def test_write_behind_store_failures_lose_nothing():
    store = Store()
    store.fail_next = 7
    wb = WriteBehind(LRUCache(1000), store.write_batch, max_batch=10, max_delay=0.01,
                     retry_delay=0.001, max_retry_delay=0.01)
    expected = {}
    rng = random.Random(3)
    for i in range(500):
        k = f"k{rng.randrange(80)}"
        wb.set(k, i)
        expected[k] = i
    assert wb.close(timeout=30)
    assert store.data == expected
    assert wb.stats().failures == 7 and wb.stats().dead_lettered == 0


def test_write_behind_dead_letter_after_attempts():
    store = Store()
    store.fail_next = 3
    dead = []
    wb = WriteBehind(LRUCache(10), store.write_batch, max_batch=5, max_delay=0, max_attempts=3,
                     retry_delay=0.001, dead_letter=lambda batch, exc: dead.append((batch, type(exc))))
    wb.set("a", 1)
    assert wb.flush(timeout=10)
    assert dead == [({"a": 1}, ConnectionError)] and "a" not in store.data
    wb.set("b", 2)
    assert wb.close(timeout=10) and store.data == {"b": 2}


def test_write_behind_backpressure_block_and_raise():
    store = Store()
    store.gate.clear()                                   # the store hangs
    wb = WriteBehind(LRUCache(100), store.write_batch, max_batch=2, max_delay=60, max_pending=3,
                     on_full="raise")
    wb.set("a", 1)
    wb.set("b", 2)                                       # a full batch: taken, stuck in the store
    assert not wb.flush(timeout=0.2)
    assert wb.stats().pending == 0 and wb.pending() == 2
    for k in "cde":
        wb.set(k, 1)
    with pytest.raises(WriteBehindFull):
        wb.set("f", 1)
    wb.set("c", 2)                                       # a queued key still coalesces
    store.gate.set()
    assert wb.close(timeout=10)

    store2 = Store()
    store2.gate.clear()
    blocking = WriteBehind(LRUCache(100), store2.write_batch, max_batch=1, max_delay=0, max_pending=1,
                           block_timeout=0.2)
    blocking.set("a", 1)
    blocking.flush(timeout=0.2)
    blocking.set("b", 1)
    with pytest.raises(WriteBehindFull, match="within"):
        blocking.set("c", 1)
    released = threading.Thread(target=lambda: (threading.Event().wait(0.1), store2.gate.set()))
    released.start()
    blocking.block_timeout = None
    blocking.set("c", 1)                                 # blocks until the store frees room
    released.join()
    assert blocking.close(timeout=10) and set(store2.data) == {"a", "b", "c"}


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


def test_write_behind_bad_arguments():
    with pytest.raises(TypeError):
        WriteBehind(LRUCache(1), None)
    with pytest.raises(ValueError):
        WriteBehind(LRUCache(1), print, max_batch=0)
    with pytest.raises(ValueError):
        WriteBehind(LRUCache(1), print, on_full="drop")
    with pytest.raises(ValueError):
        WriteBehind(LRUCache(1), print, max_delay=-1)
