"""Coherence at fleet scale: N processes each holding a TieredCache over one Redis.

    python benchmarks/coherence_scale.py                 # N = 1, 10, 50; pub/sub and tracking
    python benchmarks/coherence_scale.py --quick         # N = 1, 5

One redis-server on loopback; N reader processes (forked), each with a ``TieredCache``
whose L1 holds every key, in one coherence mode; one writer (this process) writes each
key once - at a fixed rate, then as fast as it can.  Pub/sub mode: the writer is a
fastcache ``TieredCache`` (each write is a SET and a PUBLISH); tracking mode: the writer
is plain redis-py (a client outside fastcache), and Redis reports the writes itself.

Measured per run: the invalidation delay of each write - from just before the writer
sends it to the moment the *last* of the N processes has its report (each reader records
when its ``on_invalidate`` saw the key) - p50 / p99 / max; messages received per write
per process; stale L1 copies left after the run (a reader's L1 value that differs from
Redis's: must be 0); the writer's writes/s; Redis's CPU seconds per 1,000 writes.
Everything shares this machine's cores with the N processes and Redis.
"""
from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import statistics
import sys
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))

PREFIX = "sc:"


def reader(url: str, mode: str, keys: list[str], conn: Any) -> None:
    """A process with a TieredCache holding every key; reports when each key's
    invalidation arrived, how many messages it got, and its stale copies."""
    logging.basicConfig(level=logging.ERROR)
    from fastcache import LRUCache, TieredCache
    from fastcache.redis import RedisCache
    seen: dict[str, float] = {}

    def on_invalidate(ks: Any, reason: str) -> None:
        now = time.time()
        for k in ks or ():
            if isinstance(k, str) and k not in seen:
                seen[k] = now
    l2 = RedisCache(url, prefix=PREFIX, ttl=3600)
    tc = TieredCache(LRUCache(100_000), l2, coherence=mode, on_invalidate=on_invalidate)
    tc.wait_ready(30)
    for k in keys:
        tc.get(k)
    conn.send("ready")
    conn.recv()                                     # the writer is done, and waited
    stale = 0
    for k in keys:
        held = tc.get_l1(k, None)
        if held is not None and held != l2.get(k):
            stale += 1
    conn.send((seen, stale, tc.stats().invalidations_received))
    tc.close()
    l2.close()


def run(url: str, mode: str, n: int, writes: int, rate: float) -> dict[str, Any]:
    import redis

    from fastcache import LRUCache, TieredCache
    from fastcache.redis import RedisCache
    raw = redis.Redis.from_url(url)
    keys = [f"k{i}" for i in range(writes)]
    seed = RedisCache(url, prefix=PREFIX, ttl=3600)
    seed.set_many({k: 0 for k in keys})
    seed.close()
    ctx = multiprocessing.get_context("fork")
    pipes, procs = [], []
    for _ in range(n):
        parent, child = ctx.Pipe()
        p = ctx.Process(target=reader, args=(url, mode, keys, child), daemon=True)
        p.start()
        pipes.append(parent)
        procs.append(p)
    for c in pipes:
        assert c.recv() == "ready"
    time.sleep(0.5)                                 # the seed's own reports have arrived
    writer: Any = None
    if mode == "pubsub":
        l2 = RedisCache(url, prefix=PREFIX, ttl=3600)
        writer = TieredCache(LRUCache(10), l2, coherence="pubsub")
        writer.wait_ready(10)

        def write(k: str) -> None:
            writer.set(k, 1)
    else:
        payload = b"j1"                             # a client outside fastcache: its bytes, no header

        def write(k: str) -> None:
            raw.set(PREFIX.encode() + k.encode(), payload)
    cpu0 = raw.info("cpu")
    sent: dict[str, float] = {}
    t0 = time.perf_counter()
    for i, k in enumerate(keys):
        if rate:
            wait = t0 + i / rate - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
        sent[k] = time.time()
        write(k)
    elapsed = time.perf_counter() - t0
    time.sleep(1.0)                                 # let the last reports arrive
    cpu1 = raw.info("cpu")
    results = []
    for c in pipes:
        c.send("done")
        results.append(c.recv())
    for p in procs:
        p.join(10)
    if writer is not None:
        writer.close()
        l2.close()
    raw.delete(*[PREFIX.encode() + k.encode() for k in keys])
    delays, lost = [], 0
    for k in keys:
        arrivals = [seen.get(k) for seen, _, _ in results]
        if any(a is None for a in arrivals):
            lost += 1
            continue
        delays.append(max(arrivals) - sent[k])         # to the last process's report
    delays.sort()
    cpu = (cpu1["used_cpu_sys"] + cpu1["used_cpu_user"]) - (cpu0["used_cpu_sys"] + cpu0["used_cpu_user"])
    return {
        "p50": delays[len(delays) // 2] * 1e3 if delays else float("nan"),
        "p99": delays[min(len(delays) - 1, int(len(delays) * 0.99))] * 1e3 if delays else float("nan"),
        "max": delays[-1] * 1e3 if delays else float("nan"),
        "lost": lost,
        "stale": sum(s for _, s, _ in results),
        "messages": statistics.mean(r for _, _, r in results) / writes,
        "writes_per_s": writes / elapsed,
        "redis_cpu_ms_per_1k": cpu / writes * 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--writes", type=int, default=500)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    from redis_servers import RedisServer, find_binary
    binary = find_binary("redis-server")
    if binary is None:
        print("(coherence figures skipped: no redis-server)")
        return
    sizes = (1, 5) if args.quick else (1, 10, 50)
    writes = 100 if args.quick else args.writes
    server = RedisServer(str(binary)).start()
    rows = []
    try:
        for mode in ("pubsub", "tracking"):
            for n in sizes:
                for rate, label in ((200.0, "200/s"), (0.0, "max")):
                    r = run(server.url, mode, n, writes, rate)
                    rows.append((mode, n, label, r))
                    print(f"{mode:8s} N={n:3d} {label:6s} p50 {r['p50']:7.2f} ms  p99 {r['p99']:7.2f} ms  "
                          f"max {r['max']:7.2f} ms  lost {r['lost']}  stale {r['stale']}  "
                          f"msgs/write/process {r['messages']:.2f}  writer {r['writes_per_s']:,.0f}/s  "
                          f"redis cpu {r['redis_cpu_ms_per_1k']:.1f} ms/1k writes", flush=True)
    finally:
        server.stop()
    print(f"\n**Coherence at scale** (`python benchmarks/coherence_scale.py`; {writes} writes per run, "
          "one loopback redis-server, N forked processes on the same 2 cores)\n")
    print("| mode | processes | write rate | delay to the last process p50 / p99 / max (ms) | "
          "lost | stale | messages per write per process | writer writes/s | Redis CPU ms per 1k writes |")
    print("|---|---:|---|---|---:|---:|---:|---:|---:|")
    for mode, n, label, r in rows:
        print(f"| {mode} | {n} | {label} | {r['p50']:.2f} / {r['p99']:.2f} / {r['max']:.2f} | {r['lost']} | "
              f"{r['stale']} | {r['messages']:.2f} | {r['writes_per_s']:,.0f} | {r['redis_cpu_ms_per_1k']:.1f} |")


if __name__ == "__main__":
    main()
